//! Timestamps in the formats OpenStack APIs use.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};

pub type Timestamp = DateTime<Utc>;

pub fn now() -> Timestamp {
    Utc::now()
}

/// Keystone token times: `2026-01-01T00:00:00.000000Z`.
pub fn iso_micro(t: &Timestamp) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Parses an ISO 8601 time as clients send it (`expires_at`), with or without
/// a zone (no zone means UTC) and fractional seconds.
pub fn parse_iso(s: &str) -> Option<Timestamp> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let s = s.trim_end_matches('Z');
    for f in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(n) = NaiveDateTime::parse_from_str(s, f) {
            return Some(n.and_utc());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_round_trip() {
        let t = parse_iso("2026-03-04T05:06:07.123456Z").unwrap();
        assert_eq!(iso_micro(&t), "2026-03-04T05:06:07.123456Z");
        assert_eq!(parse_iso("2026-03-04T05:06:07").map(|t| iso_micro(&t)).unwrap(), "2026-03-04T05:06:07.000000Z");
        assert_eq!(parse_iso("2026-03-04T07:06:07+02:00"), parse_iso("2026-03-04T05:06:07Z"));
        assert!(parse_iso("yesterday").is_none());
    }
}
