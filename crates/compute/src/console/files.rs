//! noVNC's web files (`[vnc] novnc_path`, Debian's `novnc` package) served
//! as static files. Only paths made of plain segments below that directory
//! are served: `..`, backslashes and NULs are refused whatever their encoding.

use std::path::{Path, PathBuf};

use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

/// The largest file served (noVNC's biggest is a few hundred KiB).
const MAX_FILE_BYTES: u64 = 16 << 20;

pub(super) async fn serve(root: &Path, method: &Method, uri_path: &str) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return (StatusCode::METHOD_NOT_ALLOWED, [(header::ALLOW, "GET, HEAD")], "").into_response();
    }
    if uri_path == "/" {
        return (StatusCode::FOUND, [(header::LOCATION, "/vnc_lite.html")], "").into_response();
    }
    let Some(path) = resolve(root, uri_path) else {
        return not_found();
    };
    let meta = match tokio::fs::metadata(&path).await {
        Ok(m) if m.is_file() && m.len() <= MAX_FILE_BYTES => m,
        _ => return not_found(),
    };
    let body = match tokio::fs::read(&path).await {
        Ok(b) => b,
        Err(_) => return not_found(),
    };
    let mut r = (StatusCode::OK, body).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(&path)));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(meta.len()));
    r
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "text/plain")], "404 Not Found\n").into_response()
}

/// The file a request path names under `root`, or None for anything that
/// could leave it.
fn resolve(root: &Path, uri_path: &str) -> Option<PathBuf> {
    let decoded = percent_decode(uri_path)?;
    let mut out = root.to_path_buf();
    let mut any = false;
    for seg in decoded.split('/') {
        match seg {
            "" | "." => continue,
            ".." => return None,
            s if s.contains(['\\', '\0']) => return None,
            s => {
                out.push(s);
                any = true;
            }
        }
    }
    any.then_some(out)
}

/// `%XX` decoding of a path; None when it is malformed or not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn content_type(p: &Path) -> &'static str {
    match p.extension().and_then(|e| e.to_str()).unwrap_or_default() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "application/javascript",
        "css" => "text/css",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "gif" => "image/gif",
        "jpg" | "jpeg" => "image/jpeg",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        "mp3" => "audio/mpeg",
        "oga" | "ogg" => "audio/ogg",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_below_the_root() {
        let root = Path::new("/usr/share/novnc");
        assert_eq!(resolve(root, "/vnc_lite.html"), Some(root.join("vnc_lite.html")));
        assert_eq!(resolve(root, "/app//ui.js"), Some(root.join("app/ui.js")));
        assert_eq!(resolve(root, "/core/./rfb.js"), Some(root.join("core/rfb.js")));
        assert_eq!(resolve(root, "/../etc/passwd"), None);
        assert_eq!(resolve(root, "/app/../../etc/passwd"), None);
        assert_eq!(resolve(root, "/%2e%2e/etc/passwd"), None);
        assert_eq!(resolve(root, "/app/%2E%2E/%2e%2e/etc/passwd"), None);
        assert_eq!(resolve(root, "/a%5c..%5cb"), None);
        assert_eq!(resolve(root, "/a%00b"), None);
        assert_eq!(resolve(root, "/bad%zz"), None);
        assert_eq!(resolve(root, "/%"), None);
        assert_eq!(resolve(root, "/"), None);
    }
}
