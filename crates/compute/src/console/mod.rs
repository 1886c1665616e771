//! The noVNC console proxy (port 6080): checks a console token, then relays
//! the browser's websocket to the instance's VNC socket.

use crate::Compute;

/// The console proxy's routes.
pub(crate) fn router(_c: Compute) -> axum::Router {
    axum::Router::new()
}
