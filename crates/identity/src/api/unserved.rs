//! Parts of the Identity API rustack does not serve yet: they answer 501 in
//! Keystone's error shape rather than a bare 404, so a client can tell "not
//! here yet" from "no such thing". docs/compat/identity.md lists them.

use axum::routing::any;
use axum::Router;
use rustack_common::Error;
use rustack_http::ApiError;

use crate::Identity;

/// (route, what it is)
const UNSERVED: &[(&str, &str)] = &[
    ("/v3/OS-FEDERATION/{*rest}", "Federation (OS-FEDERATION)"),
    ("/v3/auth/OS-FEDERATION/{*rest}", "Federated authentication (OS-FEDERATION)"),
    ("/v3/OS-REVOKE/events", "The revocation event list (OS-REVOKE)"),
    ("/v3/OS-SIMPLE-CERT/{*rest}", "PKI certificates (OS-SIMPLE-CERT)"),
    ("/v3/s3tokens", "S3 token validation (s3tokens)"),
];

pub(super) fn routes() -> Router<Identity> {
    UNSERVED.iter().fold(Router::new(), |r, (path, what)| {
        r.route(path, any(move || async move { ApiError(Error::not_implemented(format!("{what} is not served by rustack yet."))) }))
    })
}
