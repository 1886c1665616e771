//! The noVNC console: tokens issued through the compute API, the admin view
//! of a token, and the proxy — noVNC's static files and the websocket relay
//! to an instance's VNC socket. A fake VNC server on a Unix socket (it sends
//! the RFB banner, then echoes) stands in for QEMU's.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use common::{action, boot, get_v, image, post_v, url, wait_status};
use futures_util::{SinkExt, StreamExt};
use rustack_test_utils::TestCloud;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};

const BANNER: &[u8] = b"RFB 003.008\n";
const PAGE: &str = "<!DOCTYPE html>\n<html lang=\"en\"><head><title>noVNC</title>\
                    <script type=\"module\" src=\"core/rfb.js\"></script></head><body></body></html>\n";

struct Console {
    cloud: TestCloud,
    /// Where the proxy listens.
    proxy: SocketAddr,
    dir: PathBuf,
    admin: String,
    demo: String,
    server: String,
}

/// A cloud whose noVNC files are a made-up tree, its proxy served on a port
/// of its own, and an ACTIVE server whose VNC socket is a fake VNC server.
async fn setup() -> Console {
    let dir = rustack_db::testing::temp_dir("rustack-console");
    let web = dir.join("novnc");
    std::fs::create_dir_all(web.join("core")).unwrap();
    std::fs::write(web.join("vnc_lite.html"), PAGE).unwrap();
    std::fs::write(web.join("core/rfb.js"), "export default class RFB {}\n").unwrap();
    std::fs::write(dir.join("secret.txt"), "not for the web\n").unwrap();
    let conf = format!("[vnc]\nnovnc_path = {}\nport = 6080\n", web.display());
    let cloud = TestCloud::start_with(rustack_db::testing::sqlite().await, &conf).await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy = listener.local_addr().unwrap();
    let router = cloud.compute.svc.console_router();
    tokio::spawn(async move { axum::serve(listener, router).await });

    let sock = dir.join("vnc.sock");
    fake_vnc_server(&sock);

    let admin = cloud.admin_token().await;
    let demo = cloud.demo_token().await;
    let img = image(&cloud, &admin).await;
    let server = boot(&cloud, &demo, &img, json!({})).await;
    wait_status(&cloud, &demo, &server, "ACTIVE").await;
    let s = get_v(&cloud, &format!("/servers/{server}"), &admin, "2.79").await.expect(200);
    let host = s.body["server"]["OS-EXT-SRV-ATTR:host"].as_str().unwrap().to_string();
    cloud.compute.svc.fake_driver(&host).unwrap().set_vnc_socket(&server, sock);
    Console { cloud, proxy, dir, admin, demo, server }
}

/// Sends the RFB banner to each client, then echoes what it gets.
fn fake_vnc_server(path: &Path) {
    let listener = tokio::net::UnixListener::bind(path).unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                if s.write_all(BANNER).await.is_err() {
                    return;
                }
                let mut buf = [0u8; 4096];
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
}

/// A console URL through `os-getVNCConsole` (legacy) or `remote-consoles` (2.6+).
async fn console_url(c: &Console, legacy: bool) -> String {
    if legacy {
        let r = action(&c.cloud, &c.demo, &c.server, json!({"os-getVNCConsole": {"type": "novnc"}})).await.expect(200);
        assert_eq!(r.body["console"]["type"], "novnc");
        r.body["console"]["url"].as_str().unwrap().to_string()
    } else {
        let body = json!({"remote_console": {"protocol": "vnc", "type": "novnc"}});
        let r =
            post_v(&c.cloud, &format!("/servers/{}/remote-consoles", c.server), &c.demo, body, "2.6").await.expect(200);
        assert_eq!(r.body["remote_console"]["protocol"], "vnc");
        assert_eq!(r.body["remote_console"]["type"], "novnc");
        r.body["remote_console"]["url"].as_str().unwrap().to_string()
    }
}

fn token_of(url: &str) -> String {
    let (_, t) = url.split_once("?path=%3Ftoken%3D").expect("noVNC's path parameter");
    assert!(!t.is_empty() && !t.contains(['&', '/']), "{url}");
    t.to_string()
}

/// Opens the websocket at `path` (with `?token=`…) as a browser's noVNC
/// would, asking for the `binary` subprotocol; Err is the HTTP refusal.
async fn ws(
    c: &Console,
    path: &str,
    origin: Option<&str>,
) -> Result<tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>, u16> {
    let mut req = format!("ws://{}{path}", c.proxy).into_client_request().unwrap();
    req.headers_mut().insert("sec-websocket-protocol", "binary".parse().unwrap());
    if let Some(o) = origin {
        req.headers_mut().insert("origin", o.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((s, resp)) => {
            assert_eq!(resp.headers().get("sec-websocket-protocol").unwrap(), "binary");
            Ok(s)
        }
        Err(tungstenite::Error::Http(resp)) => Err(resp.status().as_u16()),
        Err(e) => panic!("websocket to {path}: {e}"),
    }
}

async fn next_binary<S>(s: &mut S) -> Vec<u8>
where
    S: futures_util::Stream<Item = Result<Message, tungstenite::Error>> + Unpin,
{
    loop {
        let m = tokio::time::timeout(std::time::Duration::from_secs(10), s.next())
            .await
            .expect("a frame within 10 s")
            .expect("the stream is open")
            .expect("a good frame");
        match m {
            Message::Binary(b) => return b.to_vec(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("expected a binary frame, got {other:?}"),
        }
    }
}

/// One raw HTTP/1.1 exchange: the response head, and what follows it
/// until the server closes (or 3 s pass).
async fn raw(addr: SocketAddr, request: &str) -> (String, Vec<u8>) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    let read_all = async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => all.extend_from_slice(&buf[..n]),
            }
        }
    };
    let closed = tokio::time::timeout(std::time::Duration::from_secs(3), read_all).await.is_ok();
    assert!(closed, "the server closed the connection");
    let end = all.windows(4).position(|w| w == b"\r\n\r\n").expect("a response head") + 4;
    (String::from_utf8_lossy(&all[..end]).into_owned(), all[end..].to_vec())
}

#[tokio::test]
async fn a_console_token_relays_the_vnc_server_once() {
    let c = setup().await;
    for legacy in [false, true] {
        let url = console_url(&c, legacy).await;
        assert!(url.starts_with("http://127.0.0.1:6080/vnc_lite.html?path=%3Ftoken%3D"), "{url}");
        let token = token_of(&url);
        // noVNC ≥ 1.1 asks for `/<path>`, i.e. `/?token=…`; the legacy form is checked
        // through the `path` parameter
        let path = if legacy { format!("/websockify?path=%3Ftoken%3D{token}") } else { format!("/?token={token}") };
        let mut s = ws(&c, &path, None).await.expect("the websocket opens");
        assert_eq!(next_binary(&mut s).await, BANNER, "the RFB banner is relayed");
        s.send(Message::Binary(BANNER.to_vec().into())).await.unwrap();
        assert_eq!(next_binary(&mut s).await, BANNER, "the client's bytes reach the VNC server");
        let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        s.send(Message::Binary(big.clone().into())).await.unwrap();
        let mut back = Vec::new();
        while back.len() < big.len() {
            back.extend(next_binary(&mut s).await);
        }
        assert_eq!(back, big, "large writes come back whole, in order");
        s.close(None).await.unwrap();
        // single-use
        assert_eq!(ws(&c, &path, None).await.err(), Some(403), "a used token is refused");
    }
}

#[tokio::test]
async fn bad_expired_and_cross_origin_tokens_are_refused() {
    let c = setup().await;
    assert_eq!(ws(&c, "/?token=nonsense", None).await.err(), Some(403));
    assert_eq!(ws(&c, "/websockify", None).await.err(), Some(403), "no token at all");

    // Tempest's test_novnc_bad_token: the upgrade is answered, then the
    // connection closes without a byte of websocket data
    let token = token_of(&console_url(&c, false).await);
    let req = format!(
        "GET /?token=bad{token} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Cookie: path=%3Ftoken%3Dbad{token}\r\nSec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: binary\r\n\r\n",
        c.proxy.port()
    );
    let (head, rest) = raw(c.proxy, &req).await;
    assert!(head.starts_with("HTTP/1.1 403"), "{head}");
    assert!(rest.is_empty(), "no data after the refusal: {rest:?}");

    // another site's page may not use the token, and does not use it up
    let path = format!("/?token={token}");
    assert_eq!(ws(&c, &path, Some("http://evil.example")).await.err(), Some(403));
    let origin = format!("http://127.0.0.1:{}", c.proxy.port());
    let mut s = ws(&c, &path, Some(&origin)).await.expect("the same-origin page connects");
    assert_eq!(next_binary(&mut s).await, BANNER);

    // expired
    let token = token_of(&console_url(&c, true).await);
    rustack_db::sqlx::query("UPDATE compute_console_token SET expires = $1")
        .bind("2000-01-01T00:00:00.000000Z")
        .execute(c.cloud.db.db.pool())
        .await
        .unwrap();
    let r = get_v(&c.cloud, &format!("/os-console-auth-tokens/{token}"), &c.admin, "2.31").await;
    r.expect(404);
    assert_eq!(ws(&c, &format!("/?token={token}"), None).await.err(), Some(403), "an expired token is refused");

    // the VNC server is gone (QEMU died): the token is used up, the browser gets 502
    let token = token_of(&console_url(&c, false).await);
    let s = get_v(&c.cloud, &format!("/servers/{}", c.server), &c.admin, "2.79").await.expect(200);
    let host = s.body["server"]["OS-EXT-SRV-ATTR:host"].as_str().unwrap().to_string();
    let driver = c.cloud.compute.svc.fake_driver(&host).unwrap();
    driver.set_vnc_socket(&c.server, c.dir.join("no-such.sock"));
    assert_eq!(ws(&c, &format!("/?token={token}"), None).await.err(), Some(502));

    // the instance is deleted: its token no longer connects
    driver.set_vnc_socket(&c.server, c.dir.join("vnc.sock"));
    let token = token_of(&console_url(&c, false).await);
    c.cloud.delete(&url(&c.cloud, &format!("/servers/{}", c.server)), &c.demo).await.expect(204);
    wait_status(&c.cloud, &c.demo, &c.server, "DELETED").await;
    assert_eq!(ws(&c, &format!("/?token={token}"), None).await.err(), Some(404));
    std::fs::remove_dir_all(&c.dir).ok();
}

#[tokio::test]
async fn the_admin_api_shows_what_a_token_connects_to() {
    let c = setup().await;
    let token = token_of(&console_url(&c, false).await);
    let path = format!("/os-console-auth-tokens/{token}");
    let r = get_v(&c.cloud, &path, &c.admin, "2.31").await.expect(200);
    let con = &r.body["console"];
    assert_eq!(con["instance_uuid"], c.server.as_str());
    assert!(con["host"].as_str().is_some_and(|h| !h.is_empty()), "{con}");
    assert_eq!(con["port"], 0, "a Unix socket has no port");
    assert_eq!(con["internal_access_path"], c.dir.join("vnc.sock").to_str().unwrap());
    // upstream: before 2.31 only RDP tokens are shown; only admins; unknown is 404
    get_v(&c.cloud, &path, &c.admin, "2.30").await.expect(401);
    get_v(&c.cloud, &path, &c.demo, "2.31").await.expect(403);
    get_v(&c.cloud, "/os-console-auth-tokens/no-such-token", &c.admin, "2.31").await.expect(404);
    // looking does not use the token up
    let mut s = ws(&c, &format!("/?token={token}"), None).await.expect("still usable");
    assert_eq!(next_binary(&mut s).await, BANNER);
}

#[tokio::test]
async fn console_requests_follow_upstream_errors() {
    let c = setup().await;
    let rc = format!("/servers/{}/remote-consoles", c.server);
    let body = |p: &str, t: &str| json!({"remote_console": {"protocol": p, "type": t}});
    // remote-consoles is 2.6+
    post_v(&c.cloud, &rc, &c.demo, body("vnc", "novnc"), "2.5").await.expect(404);
    // types with no proxy here
    let r = post_v(&c.cloud, &rc, &c.demo, body("spice", "spice-html5"), "2.6").await.expect(400);
    assert_eq!(r.body["badRequest"]["message"], "Unavailable console type spice-html5.");
    post_v(&c.cloud, &rc, &c.demo, body("serial", "serial"), "2.6").await.expect(400);
    post_v(&c.cloud, &rc, &c.demo, body("rdp", "rdp-html5"), "2.6").await.expect(400);
    post_v(&c.cloud, &rc, &c.demo, body("mks", "webmks"), "2.8").await.expect(400);
    post_v(&c.cloud, &rc, &c.demo, body("vnc", "spice-html5"), "2.6").await.expect(400);
    let r = action(&c.cloud, &c.demo, &c.server, json!({"os-getVNCConsole": {"type": "xvpvnc"}})).await.expect(400);
    assert_eq!(r.body["badRequest"]["message"], "Invalid console type xvpvnc");
    action(&c.cloud, &c.demo, &c.server, json!({"os-getSPICEConsole": {"type": "spice-html5"}})).await.expect(400);
    // a server whose driver has no VNC server (the fake driver's default)
    let img = image(&c.cloud, &c.admin).await;
    let plain = boot(&c.cloud, &c.demo, &img, json!({})).await;
    wait_status(&c.cloud, &c.demo, &plain, "ACTIVE").await;
    let r = action(&c.cloud, &c.demo, &plain, json!({"os-getVNCConsole": {"type": "novnc"}})).await.expect(400);
    assert_eq!(r.body["badRequest"]["message"], "Unavailable console type novnc.");
    // not ACTIVE: 409
    action(&c.cloud, &c.demo, &c.server, json!({"os-stop": null})).await.expect(202);
    wait_status(&c.cloud, &c.demo, &c.server, "SHUTOFF").await;
    let r = action(&c.cloud, &c.demo, &c.server, json!({"os-getVNCConsole": {"type": "novnc"}})).await.expect(409);
    assert_eq!(r.body["conflictingRequest"]["message"], format!("Instance {} is not ready", c.server));
    post_v(&c.cloud, &rc, &c.demo, body("vnc", "novnc"), "2.6").await.expect(409);
}

#[tokio::test]
async fn the_proxy_serves_novnc_files_and_nothing_else() {
    let c = setup().await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let base = format!("http://{}", c.proxy);
    // the console URL's page, as Tempest's validate_novnc_html fetches it
    let url = console_url(&c, false).await.replace("127.0.0.1:6080", &c.proxy.to_string());
    let r = http.get(&url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
    let page = r.text().await.unwrap();
    assert!(page.contains("noVNC") && page.contains("<script") && page.contains("</html>"));
    // fetching the page does not use the token
    let mut s = ws(&c, &format!("/?token={}", token_of(&url)), None).await.expect("token still good");
    assert_eq!(next_binary(&mut s).await, BANNER);

    let r = http.get(format!("{base}/core/rfb.js")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-type"], "application/javascript");
    let r = http.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 302);
    assert_eq!(r.headers()["location"], "/vnc_lite.html");
    assert_eq!(http.get(format!("{base}/missing.html")).send().await.unwrap().status().as_u16(), 404);
    assert_eq!(http.get(format!("{base}/core")).send().await.unwrap().status().as_u16(), 404, "no listings");
    assert_eq!(http.post(format!("{base}/vnc_lite.html")).send().await.unwrap().status().as_u16(), 405);
    // `..` in every spelling (raw, so no client normalises it away)
    let port = c.proxy.port();
    for p in ["/../secret.txt", "/core/../../secret.txt", "/%2e%2e/secret.txt", "/core/%2E%2E/%2e%2e/secret.txt"] {
        let req = format!("GET {p} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
        let (head, body) = raw(c.proxy, &req).await;
        assert!(head.starts_with("HTTP/1.1 404") || head.starts_with("HTTP/1.1 400"), "{p}: {head}");
        assert!(!String::from_utf8_lossy(&body).contains("not for the web"), "{p} leaked the file");
    }
}
