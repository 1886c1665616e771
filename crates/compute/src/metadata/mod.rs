//! The metadata API (port 8775): what a guest reads at 169.254.169.254,
//! reached through the network service's proxy, which names the instance
//! (`X-Instance-ID`, signed when a shared secret is set). The same content
//! fills config drives.

use crate::Compute;

/// The metadata API's routes.
pub(crate) fn router(_c: Compute) -> axum::Router {
    axum::Router::new()
}
