//! OS-OAUTH1: consumers, request and access tokens, and the oauth1 method.
//!
//! Requests are signed as RFC 5849 says (HMAC-SHA1, also HMAC-SHA256 and
//! PLAINTEXT): the signature base string is the method, the normalized URL and
//! the sorted, percent-encoded parameters (the `Authorization: OAuth ...`
//! parameters and the query string), keyed with
//! `<consumer secret>&<token secret>`.

use base64::Engine;
use hmac::{Hmac, Mac};
use rustack_common::Error;
use subtle::ConstantTimeEq;

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

/// How far a request's `oauth_timestamp` may be from now, in seconds (oauthlib's).
const TIMESTAMP_LIFETIME: i64 = 600;

/// RFC 3986 percent-encoding: everything but `A-Z a-z 0-9 - . _ ~`.
pub(crate) fn pct_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes (and `+` as a space when `plus` is set, as in forms).
pub(crate) fn pct_decode(s: &str, plus: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let h = std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
                match h {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' if plus => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `a=1&b=2` as pairs, form-decoded.
pub(crate) fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (pct_decode(k, true), pct_decode(v, true))
        })
        .collect()
}

/// The parameters of an `Authorization: OAuth k="v", ...` header, decoded;
/// None when the header is not an OAuth one.
pub(crate) fn parse_authorization(h: &str) -> Option<Vec<(String, String)>> {
    let h = h.trim();
    let (scheme, rest) = h.split_at(h.find(char::is_whitespace).unwrap_or(h.len()));
    if !scheme.eq_ignore_ascii_case("OAuth") {
        return None;
    }
    let mut out = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ',' {
                break;
            }
            key.push(c);
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'=') {
            chars.next();
            while chars.peek().is_some_and(|c| c.is_whitespace()) {
                chars.next();
            }
            if chars.peek() == Some(&'"') {
                chars.next();
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => {
                            if let Some(n) = chars.next() {
                                value.push(n);
                            }
                        }
                        c => value.push(c),
                    }
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c == ',' {
                        break;
                    }
                    value.push(c);
                    chars.next();
                }
            }
        }
        out.push((pct_decode(key.trim(), false), pct_decode(value.trim_end(), false)));
    }
    Some(out)
}

/// The normalized base-string URL: scheme and host lower-cased, the default
/// port dropped, no query.
pub(crate) fn normalize_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
    let scheme = scheme.to_ascii_lowercase();
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let path = path.split(['?', '#']).next().unwrap_or("/");
    let mut host = authority.to_ascii_lowercase();
    let default = if scheme == "https" { ":443" } else { ":80" };
    if host.ends_with(default) {
        host.truncate(host.len() - default.len());
    }
    format!("{scheme}://{host}{path}")
}

/// The signature base string of RFC 5849 section 3.4.1.
pub(crate) fn base_string(method: &str, url: &str, params: &[(String, String)]) -> String {
    let mut enc: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| k != "oauth_signature" && k != "realm")
        .map(|(k, v)| (pct_encode(k), pct_encode(v)))
        .collect();
    enc.sort();
    let norm: Vec<String> = enc.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!(
        "{}&{}&{}",
        pct_encode(&method.to_ascii_uppercase()),
        pct_encode(&normalize_url(url)),
        pct_encode(&norm.join("&"))
    )
}

/// The signature of `base` with `method`, keyed by the two secrets.
pub(crate) fn sign(method: &str, base: &str, consumer_secret: &str, token_secret: &str) -> Option<String> {
    let key = format!("{}&{}", pct_encode(consumer_secret), pct_encode(token_secret));
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    match method {
        "HMAC-SHA1" => {
            let mut m = Hmac::<sha1::Sha1>::new_from_slice(key.as_bytes()).ok()?;
            m.update(base.as_bytes());
            Some(b64(&m.finalize().into_bytes()))
        }
        "HMAC-SHA256" => {
            let mut m = Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).ok()?;
            m.update(base.as_bytes());
            Some(b64(&m.finalize().into_bytes()))
        }
        "PLAINTEXT" => Some(key),
        _ => None,
    }
}

fn validation(detail: &str) -> Error {
    Error::bad_request(format!("Validation failed with errors: invalid_request, detail message is: {detail}."))
}

/// An OAuth1-signed request: what was signed and how.
#[derive(Debug, Clone)]
pub(crate) struct SignedRequest {
    pub method: String,
    /// URLs the client may have signed (the Host it used, the public URL).
    pub urls: Vec<String>,
    /// The `Authorization` header's parameters (realm left out).
    pub oauth: Vec<(String, String)>,
    /// The query string's parameters.
    pub query: Vec<(String, String)>,
}

impl SignedRequest {
    /// Reads a request; 400 when it carries no OAuth `Authorization` header.
    pub fn new<'a>(
        id: &Identity,
        method: &str,
        path: &str,
        query: Option<&str>,
        headers: impl Iterator<Item = (&'a str, &'a str)>,
    ) -> Result<SignedRequest, Error> {
        let mut auth = None;
        let mut host = None;
        for (k, v) in headers {
            if k.eq_ignore_ascii_case("authorization") {
                auth = parse_authorization(v);
            } else if k.eq_ignore_ascii_case("host") {
                host = Some(v.to_string());
            }
        }
        let oauth = auth.ok_or_else(|| Error::bad_request("Cannot retrieve Authorization headers: an OAuth-signed request needs an 'Authorization: OAuth ...' header."))?;
        let public = id.public_url();
        let scheme = public.split_once("://").map(|(s, _)| s).unwrap_or("http");
        let mut urls = Vec::new();
        if let Some(h) = host {
            urls.push(format!("{scheme}://{h}{path}"));
        }
        urls.push(format!("{public}{path}"));
        Ok(SignedRequest {
            method: method.to_string(),
            urls,
            oauth: oauth.into_iter().filter(|(k, _)| k != "realm").collect(),
            query: query.map(parse_query).unwrap_or_default(),
        })
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.oauth.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
    }

    /// oauthlib's checks of the protocol parameters (400s), before the signature.
    pub fn check_parameters(&self, extra: &[&str]) -> Result<(), Error> {
        for p in ["oauth_signature", "oauth_consumer_key", "oauth_nonce", "oauth_timestamp", "oauth_signature_method"]
            .iter()
            .chain(extra)
        {
            if self.get(p).is_none() {
                return Err(validation(&format!("Missing mandatory OAuth parameters ({p})")));
            }
        }
        let method = self.get("oauth_signature_method").unwrap_or_default();
        if !["HMAC-SHA1", "HMAC-SHA256", "PLAINTEXT"].contains(&method) {
            return Err(validation(&format!("Invalid signature method {method}")));
        }
        if let Some(v) = self.get("oauth_version") {
            if v != "1.0" {
                return Err(validation("Invalid OAuth version"));
            }
        }
        let ts: i64 = self
            .get("oauth_timestamp")
            .unwrap_or_default()
            .parse()
            .map_err(|_| validation("Timestamp must be an integer"))?;
        if (rustack_common::time::now().timestamp() - ts).abs() > TIMESTAMP_LIFETIME {
            return Err(validation(&format!(
                "Timestamp given is invalid, differ from allowed by over {TIMESTAMP_LIFETIME} seconds"
            )));
        }
        Ok(())
    }

    /// Whether the signature is right for one of the URLs.
    pub fn verify(&self, consumer_secret: &str, token_secret: &str) -> bool {
        let Some(given) = self.get("oauth_signature") else { return false };
        let method = self.get("oauth_signature_method").unwrap_or("HMAC-SHA1");
        let mut params = self.oauth.clone();
        params.extend(self.query.iter().cloned());
        self.urls.iter().any(|u| {
            let base = base_string(&self.method, u, &params);
            sign(method, &base, consumer_secret, token_secret)
                .is_some_and(|s| s.len() == given.len() && bool::from(s.as_bytes().ct_eq(given.as_bytes())))
        })
    }
}

fn expired(expires_at: &Option<String>) -> bool {
    expires_at.as_deref().and_then(rustack_common::time::parse_iso).is_some_and(|t| t <= rustack_common::time::now())
}

/// Whether a stored request or access token has expired.
pub(crate) fn is_expired(expires_at: &Option<String>) -> bool {
    expired(expires_at)
}

/// Verifies an OAuth1-signed `POST /v3/auth/tokens`.
pub async fn prove(id: &Identity, http: &AuthHttp) -> Result<OAuthProof, Error> {
    let path = http.url.strip_prefix(id.public_url()).unwrap_or("/v3/auth/tokens");
    let (path, query) = match path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path, None),
    };
    let req =
        SignedRequest::new(id, &http.method, path, query, http.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
    let token_id = req
        .get("oauth_token")
        .ok_or_else(|| Error::bad_request("Expecting to find oauth_token in request."))?
        .to_string();
    let invalid = || Error::unauthorized("Could not validate the access token");
    let at = id.store().get_oauth_access_token(&token_id).await?.ok_or_else(invalid)?;
    if expired(&at.expires_at) {
        return Err(Error::unauthorized("Access token is expired"));
    }
    req.check_parameters(&["oauth_token"])?;
    if req.get("oauth_consumer_key") != Some(at.consumer_id.as_str()) {
        return Err(invalid());
    }
    let consumer = id.store().get_consumer(&at.consumer_id).await?.ok_or_else(invalid)?;
    if !req.verify(&consumer.secret, &at.access_secret) {
        return Err(invalid());
    }
    let user = id.store().get_user(&at.authorizing_user_id).await?.ok_or_else(invalid)?;
    Ok(OAuthProof {
        user,
        access_token_id: at.id.clone(),
        project_id: at.project_id.clone(),
        expires_at: at.expires_at.as_deref().and_then(rustack_common::time::parse_iso),
    })
}

/// The roles of an oauth1 token: those its access token was authorized for
/// (with the roles they imply), as far as the user still holds them.
pub async fn token_roles(
    id: &Identity,
    access_token_id: &str,
    roles: Vec<crate::model::Role>,
) -> Result<(Vec<crate::model::Role>, String), Error> {
    let at = id.store().get_oauth_access_token(access_token_id).await?.ok_or_else(crate::token::token_not_found)?;
    let granted = id.expand_implied(&at.role_ids).await?;
    let roles = roles.into_iter().filter(|r| granted.iter().any(|g| g.id == r.id)).collect();
    Ok((roles, at.consumer_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_and_decodes_as_rfc_3986() {
        assert_eq!(pct_encode("a b&c=d~e.f-g_h/é"), "a%20b%26c%3Dd~e.f-g_h%2F%C3%A9");
        assert_eq!(pct_decode("a%20b%2Fc+d", false), "a b/c+d");
        assert_eq!(pct_decode("a%20b+d", true), "a b d");
        assert_eq!(pct_decode("100%", false), "100%");
        assert_eq!(pct_decode("%zz%4", false), "%zz%4");
        assert_eq!(
            parse_query("a=1&b=x%20y&c"),
            vec![("a".into(), "1".into()), ("b".into(), "x y".into()), ("c".into(), "".into())]
        );
    }

    #[test]
    fn reads_authorization_headers() {
        let p = parse_authorization(
            r#"OAuth realm="", oauth_consumer_key="ck", oauth_signature="a%2Bb%3D", oauth_callback="oob""#,
        )
        .unwrap();
        assert_eq!(p[0], ("realm".into(), "".into()));
        assert_eq!(p[2], ("oauth_signature".into(), "a+b=".into()));
        assert_eq!(p.len(), 4);
        assert!(parse_authorization("Bearer x").is_none());
    }

    #[test]
    fn signs_the_rfc_5849_example() {
        // the request of RFC 5849 section 3.4.1.1, whose base string the RFC gives
        assert_eq!(normalize_url("HTTP://Example.COM:80/r%20v/X?id=123"), "http://example.com/r%20v/X");
        assert_eq!(normalize_url("https://example.com:443"), "https://example.com/");
        assert_eq!(normalize_url("http://example.com:8080/a"), "http://example.com:8080/a");
        let params: Vec<(String, String)> = [
            ("oauth_consumer_key", "9djdj82h48djs9d2"),
            ("oauth_token", "kkk9d7dh3k39sjv7"),
            ("oauth_signature_method", "HMAC-SHA1"),
            ("oauth_timestamp", "137131201"),
            ("oauth_nonce", "7d8f3e4a"),
            ("b5", "=%3D"),
            ("a3", "a"),
            ("c@", ""),
            ("a2", "r b"),
            ("c2", ""),
            ("a3", "2 q"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let base = base_string("post", "http://example.com/request", &params);
        assert_eq!(
            base,
            "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7"
        );
        assert_eq!(sign("HMAC-SHA1", &base, "j49sk3j29djd", "dh893hdasih9").unwrap(), "r6/TJjbCOr97/+UU0NsvSne7s5g=");
        assert_eq!(sign("PLAINTEXT", &base, "c s", "t").unwrap(), "c%20s&t");
        assert!(sign("RSA-SHA1", &base, "c", "t").is_none());
    }
}
