//! (to be written)

use axum::Router;

use crate::Identity;

pub(super) fn routes() -> Router<Identity> {
    Router::new()
}

/// Policy rules of this API: (name, check string, allowed with a domain-scoped token).
pub(crate) const RULES: &[(&str, &str, bool)] = &[];
