//! OS-OAUTH1: consumers, request and access tokens, and the oauth1 method.

use rustack_common::Error;

use crate::auth::AuthHttp;
use crate::model::User;
use crate::Identity;

/// What a valid OAuth1-signed authentication request proves.
pub struct OAuthProof {
    pub user: User,
    pub access_token_id: String,
    pub project_id: String,
    pub expires_at: Option<rustack_common::time::Timestamp>,
}

/// Verifies an OAuth1-signed `POST /v3/auth/tokens`.
pub async fn prove(_id: &Identity, _http: &AuthHttp) -> Result<OAuthProof, Error> {
    Err(Error::not_implemented("OAuth1 authentication is not served yet."))
}

/// The roles of an oauth1 token: those its access token was authorized for.
pub async fn token_roles(_id: &Identity, _access_token_id: &str, roles: Vec<crate::model::Role>) -> Result<Vec<crate::model::Role>, Error> {
    Ok(roles)
}
