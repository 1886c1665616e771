//! The one internal error type. Each API renders it in its upstream shape
//! (Keystone: `{"error": {"code", "title", "message"}}`); this type only
//! carries the kind and a message that is safe to show to a client.

use std::fmt;

/// What went wrong, in the terms of an HTTP API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    NotAcceptable,
    Conflict,
    Gone,
    PreconditionFailed,
    PayloadTooLarge,
    UnsupportedMediaType,
    RangeNotSatisfiable,
    NotImplemented,
    ServiceUnavailable,
    Internal,
}

impl ErrorKind {
    pub fn status(self) -> u16 {
        match self {
            ErrorKind::BadRequest => 400,
            ErrorKind::Unauthorized => 401,
            ErrorKind::Forbidden => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::MethodNotAllowed => 405,
            ErrorKind::NotAcceptable => 406,
            ErrorKind::Conflict => 409,
            ErrorKind::Gone => 410,
            ErrorKind::PreconditionFailed => 412,
            ErrorKind::PayloadTooLarge => 413,
            ErrorKind::UnsupportedMediaType => 415,
            ErrorKind::RangeNotSatisfiable => 416,
            ErrorKind::NotImplemented => 501,
            ErrorKind::ServiceUnavailable => 503,
            ErrorKind::Internal => 500,
        }
    }

    /// The reason phrase upstream services put in `title`.
    pub fn title(self) -> &'static str {
        match self {
            ErrorKind::BadRequest => "Bad Request",
            ErrorKind::Unauthorized => "Unauthorized",
            ErrorKind::Forbidden => "Forbidden",
            ErrorKind::NotFound => "Not Found",
            ErrorKind::MethodNotAllowed => "Method Not Allowed",
            ErrorKind::NotAcceptable => "Not Acceptable",
            ErrorKind::Conflict => "Conflict",
            ErrorKind::Gone => "Gone",
            ErrorKind::PreconditionFailed => "Precondition Failed",
            ErrorKind::PayloadTooLarge => "Request Entity Too Large",
            ErrorKind::UnsupportedMediaType => "Unsupported Media Type",
            ErrorKind::RangeNotSatisfiable => "Requested Range Not Satisfiable",
            ErrorKind::NotImplemented => "Not Implemented",
            ErrorKind::ServiceUnavailable => "Service Unavailable",
            ErrorKind::Internal => "Internal Server Error",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    /// An API-specific error name some upstream shapes carry: Neutron's
    /// `type` (`NetworkNotFound`), Placement's `code` (`placement.inventory.inuse`).
    pub code: Option<String>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into(), code: None }
    }
    /// Names the error for the APIs whose shape carries a name (see [`Error::code`]).
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }
    pub fn bad_request(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadRequest, m)
    }
    pub fn unauthorized(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unauthorized, m)
    }
    pub fn forbidden(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::Forbidden, m)
    }
    pub fn not_found(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, m)
    }
    /// Keystone's wording: "Could not find project: 1234."
    pub fn not_found_entity(entity: &str, id: &str) -> Self {
        Self::new(ErrorKind::NotFound, format!("Could not find {entity}: {id}."))
    }
    pub fn conflict(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, m)
    }
    pub fn not_implemented(m: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotImplemented, m)
    }
    /// A bug or an infrastructure failure. The cause is logged here, with its
    /// chain, and never shown to the client.
    pub fn internal(cause: &dyn std::error::Error) -> Self {
        let mut chain = cause.to_string();
        let mut src = cause.source();
        while let Some(s) = src {
            chain.push_str(": ");
            chain.push_str(&s.to_string());
            src = s.source();
        }
        tracing::error!(cause = %chain, "internal error");
        Self::new(ErrorKind::Internal, "An unexpected error prevented the server from fulfilling your request.")
    }
    pub fn status(&self) -> u16 {
        self.kind.status()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.kind.title(), self.kind.status(), self.message)
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_hides_the_cause_from_the_message() {
        let io = std::io::Error::other("disk on fire");
        let e = Error::internal(&io);
        assert_eq!(e.status(), 500);
        assert!(!e.message.contains("disk"));
    }

    #[test]
    fn not_found_uses_keystone_wording() {
        let e = Error::not_found_entity("user", "abc");
        assert_eq!(e.message, "Could not find user: abc.");
        assert_eq!(e.kind.title(), "Not Found");
    }
}
