//! The messaging resources as the contract (`openapi.yaml`) shows them, and the
//! request bodies with their limits.

use serde::{Deserialize, Serialize};

use stackpro_runtime::ApiError;

pub const TITLE_MAX_CHARS: usize = 200;
pub const BODY_MAX_CHARS: usize = 4000;
pub const PAGE_DEFAULT: i32 = 20;
pub const PAGE_MAX: i32 = 100;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Thread {
    pub id: String,
    pub title: String,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
    pub message_count: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub id: String,
    pub thread_id: String,
    pub author: String,
    pub body: String,
    pub created_at: String,
}

/// One page of a listing; `next_cursor` is opaque to clients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateThread {
    pub title: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostMessage {
    pub body: String,
}

/// A text field: at least one non-space character, at most `max` characters.
pub fn check_text(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.trim().is_empty() {
        return Err(ApiError::invalid(
            field,
            format!("{field} must not be empty"),
        ));
    }
    let n = value.chars().count();
    if n > max {
        return Err(ApiError::invalid(
            field,
            format!("{field} is {n} characters; the limit is {max}"),
        ));
    }
    Ok(())
}

/// `limit` query parameter: 1 to 100, default 20.
pub fn page_limit(raw: Option<&str>) -> Result<i32, ApiError> {
    match raw {
        None => Ok(PAGE_DEFAULT),
        Some(s) => s
            .parse::<i32>()
            .ok()
            .filter(|n| (1..=PAGE_MAX).contains(n))
            .ok_or_else(|| {
                ApiError::invalid(
                    "limit",
                    format!("limit must be a whole number from 1 to {PAGE_MAX}"),
                )
            }),
    }
}

/// Thread ids are lower-case hyphenated UUIDs (v7, so they sort by creation time).
pub fn is_thread_id(id: &str) -> bool {
    uuid::Uuid::parse_str(id).is_ok_and(|u| u.hyphenated().to_string() == id)
}

pub use stackpro_runtime::time::now_rfc3339;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits() {
        assert_eq!(page_limit(None).unwrap(), 20);
        assert_eq!(page_limit(Some("100")).unwrap(), 100);
        for bad in ["0", "101", "-1", "x", ""] {
            assert_eq!(page_limit(Some(bad)).unwrap_err().details["field"], "limit");
        }
        assert!(check_text("title", " a ", 3).is_ok());
        assert!(check_text("title", "   ", 3).is_err());
        assert!(check_text("title", "abcd", 3).is_err());
        assert!(check_text("title", "ééé", 3).is_ok());
    }

    #[test]
    fn thread_ids() {
        let id = uuid::Uuid::now_v7().to_string();
        assert!(is_thread_id(&id));
        assert!(!is_thread_id(&id.to_uppercase()));
        assert!(!is_thread_id("THREAD#x"));
        assert!(now_rfc3339().ends_with('Z'));
    }
}
