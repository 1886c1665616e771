//! Microversion negotiation, as Nova and Placement do it: the client asks
//! with `OpenStack-API-Version: <service> X.Y` (Nova also reads the legacy
//! `X-OpenStack-Nova-API-Version: X.Y`); no header means the minimum,
//! `latest` the maximum; a version outside the range is a 406, a malformed
//! one a 400. The answer names the version served and `Vary` on the headers.

use std::fmt;

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use rustack_common::{Error, ErrorKind};

use crate::ApiError;

/// A microversion `major.minor`; ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    pub major: u16,
    pub minor: u16,
}

impl Version {
    pub const fn new(major: u16, minor: u16) -> Version {
        Version { major, minor }
    }

    /// Parses `2.60` (no leading zeros beyond a single `0`, as upstream).
    pub fn parse(s: &str) -> Option<Version> {
        let (a, b) = s.trim().split_once('.')?;
        let num = |x: &str| -> Option<u16> {
            if x.is_empty() || (x.len() > 1 && x.starts_with('0')) || !x.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            x.parse().ok()
        };
        Some(Version { major: num(a)?, minor: num(b)? })
    }

    /// `self >= X.Y`
    pub fn at_least(self, major: u16, minor: u16) -> bool {
        self >= Version::new(major, minor)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// What one API accepts.
#[derive(Debug, Clone, Copy)]
pub struct Microversions {
    /// The service name in `OpenStack-API-Version` (`compute`, `placement`).
    pub service: &'static str,
    /// A legacy header read when the standard one is absent (Nova's
    /// `X-OpenStack-Nova-API-Version`), and also sent back.
    pub legacy_header: Option<&'static str>,
    pub min: Version,
    pub max: Version,
}

impl Microversions {
    /// The version a request asks for.
    pub fn negotiate(&self, headers: &HeaderMap) -> Result<Version, Error> {
        let mut asked: Option<String> = None;
        for v in headers.get_all("openstack-api-version") {
            let Ok(v) = v.to_str() else { continue };
            // the header may list several services: "compute 2.1, placement 1.2"
            for part in v.split(',') {
                let mut it = part.split_whitespace();
                if it.next().is_some_and(|s| s.eq_ignore_ascii_case(self.service)) {
                    asked = Some(it.collect::<Vec<_>>().join(" "));
                }
            }
        }
        if asked.is_none() {
            if let Some(h) = self.legacy_header {
                asked = headers.get(h).and_then(|v| v.to_str().ok()).map(|s| s.trim().to_string());
            }
        }
        let Some(asked) = asked else { return Ok(self.min) };
        if asked.eq_ignore_ascii_case("latest") {
            return Ok(self.max);
        }
        let v = Version::parse(&asked).ok_or_else(|| {
            Error::bad_request(format!(
                "API Version String {asked} is of invalid format. Must be of format MajorNum.MinorNum."
            ))
        })?;
        if v < self.min || v > self.max {
            return Err(Error::new(
                ErrorKind::NotAcceptable,
                format!(
                    "Version {v} is not supported by the API. Minimum is {} and maximum is {}.",
                    self.min, self.max
                ),
            ));
        }
        Ok(v)
    }

    /// Writes the version served into a response.
    pub fn stamp(&self, headers: &mut HeaderMap, v: Version) {
        if let Ok(val) = HeaderValue::from_str(&format!("{} {v}", self.service)) {
            headers.insert(HeaderName::from_static("openstack-api-version"), val);
        }
        let mut vary = String::from("OpenStack-API-Version");
        if let Some(h) = self.legacy_header {
            if let (Ok(name), Ok(val)) = (HeaderName::try_from(h), HeaderValue::from_str(&v.to_string())) {
                headers.insert(name, val);
            }
            vary.push_str(", ");
            vary.push_str(h);
        }
        if let Ok(val) = HeaderValue::from_str(&vary) {
            headers.insert(axum::http::header::VARY, val);
        }
    }
}

/// Middleware: negotiates the version, puts it in the request's extensions
/// (handlers take `Extension<Version>`), and stamps the response. Install
/// with `middleware::from_fn_with_state(MICROVERSIONS, microversion::layer)`.
pub async fn layer(
    axum::extract::State(mv): axum::extract::State<Microversions>,
    mut req: Request,
    next: Next,
) -> Response {
    use axum::response::IntoResponse;
    let v = match mv.negotiate(req.headers()) {
        Ok(v) => v,
        Err(e) => {
            let mut r = ApiError(e).into_response();
            mv.stamp(r.headers_mut(), mv.min);
            return r;
        }
    };
    req.extensions_mut().insert(v);
    let mut r = next.run(req).await;
    mv.stamp(r.headers_mut(), v);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOVA: Microversions = Microversions {
        service: "compute",
        legacy_header: Some("X-OpenStack-Nova-API-Version"),
        min: Version::new(2, 1),
        max: Version::new(2, 96),
    };

    fn hdr(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn negotiates_like_nova() {
        assert_eq!(NOVA.negotiate(&hdr(&[])).unwrap(), Version::new(2, 1));
        assert_eq!(NOVA.negotiate(&hdr(&[("openstack-api-version", "compute 2.60")])).unwrap(), Version::new(2, 60));
        assert_eq!(NOVA.negotiate(&hdr(&[("openstack-api-version", "compute latest")])).unwrap(), NOVA.max);
        assert_eq!(NOVA.negotiate(&hdr(&[("x-openstack-nova-api-version", "2.10")])).unwrap(), Version::new(2, 10));
        // the standard header wins over the legacy one; other services' entries are ignored
        let h =
            hdr(&[("openstack-api-version", "placement 1.2, compute 2.5"), ("x-openstack-nova-api-version", "2.9")]);
        assert_eq!(NOVA.negotiate(&h).unwrap(), Version::new(2, 5));
        assert_eq!(NOVA.negotiate(&hdr(&[("openstack-api-version", "compute 2.97")])).unwrap_err().status(), 406);
        assert_eq!(NOVA.negotiate(&hdr(&[("openstack-api-version", "compute 1.1")])).unwrap_err().status(), 406);
        assert_eq!(NOVA.negotiate(&hdr(&[("openstack-api-version", "compute 2.x")])).unwrap_err().status(), 400);
        assert_eq!(NOVA.negotiate(&hdr(&[("openstack-api-version", "compute 2.01")])).unwrap_err().status(), 400);
    }

    #[test]
    fn stamps_the_answer() {
        let mut h = HeaderMap::new();
        NOVA.stamp(&mut h, Version::new(2, 42));
        assert_eq!(h["openstack-api-version"], "compute 2.42");
        assert_eq!(h["x-openstack-nova-api-version"], "2.42");
        assert!(h["vary"].to_str().unwrap().contains("X-OpenStack-Nova-API-Version"));
    }
}
