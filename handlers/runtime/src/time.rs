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

/// The epoch milliseconds of an RFC 3339 timestamp (`Z` or a `+HH:MM` offset), if it
/// is one.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let utc = |t: &str| {
        DateTime::from_str(t, Format::DateTime)
            .ok()
            .and_then(|d| d.to_millis().ok())
    };
    if text.ends_with(['Z', 'z']) {
        return utc(text);
    }
    // Smithy reads UTC only: move an offset into the number.
    let (local, offset) = text.split_at(text.len().checked_sub(6)?);
    let sign = match offset.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (h, m) = offset[1..].split_once(':')?;
    let minutes = h.parse::<i64>().ok()? * 60 + m.parse::<i64>().ok()?;
    Some(utc(&format!("{local}Z"))? - sign * minutes * 60_000)
}

/// The epoch milliseconds of the RFC 3339 `field`, or `default` when it is absent;
/// INVALID_INPUT naming the field when it is not a time.
pub fn millis_of(field: &str, text: Option<&str>, default: i64) -> Result<i64, crate::ApiError> {
    match text {
        None => Ok(default),
        Some(t) => parse_rfc3339(t).ok_or_else(|| {
            crate::ApiError::invalid(field, format!("{field} `{t}` is not an RFC 3339 time"))
        }),
    }
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
        assert_eq!(
            parse_rfc3339("2025-11-30T01:35:13.123-01:00"),
            Some(1_764_470_113_123)
        );
        assert_eq!(parse_rfc3339("yesterday"), None);
        assert_eq!(parse_rfc3339("2025-11-30T03:35:13+0100"), None);
        assert!(now_rfc3339().ends_with('Z'));
        assert!(now_millis() > 1_764_470_113_123);
    }
}
