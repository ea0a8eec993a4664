//! Time as the contracts show it: RFC 3339 in UTC, and epoch milliseconds for sort keys.

use aws_smithy_types::date_time::Format;
use aws_smithy_types::DateTime;

/// Now, in epoch milliseconds.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Now, as the contracts' timestamps: RFC 3339 in UTC.
pub fn now_rfc3339() -> String {
    DateTime::from(std::time::SystemTime::now())
        .fmt(Format::DateTime)
        .unwrap_or_default()
}

/// Epoch milliseconds as RFC 3339 in UTC (`2026-11-30T02:55:13.123Z`).
pub fn rfc3339(millis: i64) -> String {
    DateTime::from_millis(millis)
        .fmt(Format::DateTime)
        .unwrap_or_default()
}

/// The epoch milliseconds of an RFC 3339 timestamp (any offset), if it is one.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    DateTime::from_str(text, Format::DateTime)
        .ok()
        .and_then(|d| d.to_millis().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        assert_eq!(rfc3339(1_764_470_113_123), "2025-11-30T02:35:13.123Z");
        assert_eq!(
            parse_rfc3339("2025-11-30T02:35:13.123Z"),
            Some(1_764_470_113_123)
        );
        assert_eq!(
            parse_rfc3339("2025-11-30T03:35:13.123+01:00"),
            Some(1_764_470_113_123)
        );
        assert_eq!(parse_rfc3339("yesterday"), None);
        assert!(now_rfc3339().ends_with('Z'));
        assert!(now_millis() > 1_764_470_113_123);
    }
}
