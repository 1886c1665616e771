//! The websocket ↔ VNC relay: binary frames from the browser are written to
//! the instance's VNC socket, bytes read from it go back as binary frames,
//! until either side closes. Memory per connection is bounded by the read
//! buffer and the websocket's frame/message limits.

use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

/// Bytes read from the VNC server per frame sent.
const READ_CHUNK: usize = 64 * 1024;
/// The largest frame or message accepted from the browser (RFB client
/// messages are small; a clipboard paste is the largest).
pub(super) const MAX_CLIENT_MESSAGE: usize = 1 << 20;

pub(super) async fn relay(mut ws: WebSocket, mut vnc: UnixStream, instance: String) {
    let mut buf = vec![0u8; READ_CHUNK];
    let (mut to_vnc, mut from_vnc) = (0u64, 0u64);
    loop {
        tokio::select! {
            m = ws.recv() => match m {
                Some(Ok(Message::Binary(b))) => {
                    if vnc.write_all(&b).await.is_err() {
                        break;
                    }
                    to_vnc += b.len() as u64;
                }
                // websockify's binary subprotocol only; a text frame is taken as its bytes
                Some(Ok(Message::Text(t))) => {
                    if vnc.write_all(t.as_bytes()).await.is_err() {
                        break;
                    }
                    to_vnc += t.len() as u64;
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
            },
            n = vnc.read(&mut buf) => match n {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if ws.send(Message::Binary(Bytes::copy_from_slice(&buf[..n]))).await.is_err() {
                        break;
                    }
                    from_vnc += n as u64;
                }
            },
        }
    }
    let _ = vnc.shutdown().await;
    let _ = ws.send(Message::Close(None)).await;
    tracing::info!(instance = %instance, to_vnc, from_vnc, "console session closed");
}
