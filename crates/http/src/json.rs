//! The JSON request body extractor: a body that is not JSON, or does not match
//! the expected shape, is a 400 that says why and names the field.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use rustack_common::{Error, ErrorKind};
use serde::de::DeserializeOwned;

use crate::ApiError;

/// A JSON body deserialized into `T`.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                Error::new(ErrorKind::PayloadTooLarge, "Request is too large.")
            } else {
                Error::bad_request(format!("Could not read the request body: {e}"))
            }
        })?;
        parse_json(&bytes).map(JsonBody).map_err(ApiError)
    }
}

/// Parses a request body; the error names the field that broke the schema.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(Error::bad_request("The request body is empty; expected a JSON object."));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let v: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            Error::bad_request(format!("Malformed request body: {inner}"))
        } else if path == "." || path.is_empty() {
            Error::bad_request(format!("Invalid input for the request body: {inner}"))
        } else {
            Error::bad_request(format!("Invalid input for field '{path}': {inner}"))
        }
    })?;
    de.end().map_err(|e| Error::bad_request(format!("Malformed request body: {e}")))?;
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        user: Inner,
    }
    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Inner {
        name: String,
        enabled: Option<bool>,
    }

    #[test]
    fn errors_name_the_field() {
        let e = parse_json::<Outer>(br#"{"user": {"name": "a", "enabled": "yes"}}"#).unwrap_err();
        assert_eq!(e.status(), 400);
        assert!(e.message.contains("user.enabled"), "{}", e.message);
        let e = parse_json::<Outer>(br#"{"user": {}}"#).unwrap_err();
        assert!(e.message.contains("name"), "{}", e.message);
        let e = parse_json::<Outer>(b"{not json").unwrap_err();
        assert!(e.message.starts_with("Malformed"), "{}", e.message);
        let e = parse_json::<Outer>(b"  ").unwrap_err();
        assert!(e.message.contains("empty"));
        assert!(parse_json::<Outer>(br#"{"user": {"name": "a"}}"#).is_ok());
        assert!(parse_json::<Outer>(br#"{"user": {"name": "a"}} x"#).is_err());
    }
}
