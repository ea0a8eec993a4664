//! Feature flag names and values: the convention every capability follows
//! (`CAP_<CAPABILITY>_ENABLED`, `_VERSION`, `_DEGRADED`) plus the extra flags a
//! capability declares. The CLI writes them (env files, `stackpro flags`); the handler
//! runtime reads them, with [`is_on`] deciding what counts as on.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A flag's value: flags are booleans or short strings (a version like `v2`, a variant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlagValue {
    Bool(bool),
    Text(String),
}

impl FlagValue {
    pub fn kind(&self) -> FlagKind {
        match self {
            FlagValue::Bool(_) => FlagKind::Bool,
            FlagValue::Text(_) => FlagKind::Text,
        }
    }
}

impl fmt::Display for FlagValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlagValue::Bool(b) => write!(f, "{b}"),
            FlagValue::Text(s) => f.write_str(s),
        }
    }
}

impl Serialize for FlagValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Lambda environment variables are strings; so are SSM values.
        serializer.serialize_str(&self.to_string())
    }
}

/// Serialized as its text (`true`, `v2`), as SSM and Lambda's environment hold it.
#[cfg(feature = "schemars")]
impl schemars::JsonSchema for FlagValue {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "FlagValue".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "A flag's value as text: `true`, `false`, a version (`v2`) or a short string"
        })
    }
}

impl<'de> Deserialize<'de> for FlagValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FlagVisitor;
        impl Visitor<'_> for FlagVisitor {
            type Value = FlagValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a flag value: true, false, or a string such as v1")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<FlagValue, E> {
                Ok(FlagValue::Bool(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<FlagValue, E> {
                Ok(FlagValue::Text(v.to_string()))
            }
        }
        deserializer.deserialize_any(FlagVisitor)
    }
}

/// What kind of value a flag takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum FlagKind {
    /// `true` or `false`.
    Bool,
    /// `v1`, `v2`, ...
    Version,
    /// Any short string.
    Text,
}

impl FlagKind {
    pub fn describe(self) -> &'static str {
        match self {
            FlagKind::Bool => "true or false",
            FlagKind::Version => "a version such as v1 or v2",
            FlagKind::Text => "a string",
        }
    }

    /// Checks `value` fits this kind; `Err` says what was expected.
    pub fn check(self, value: &FlagValue) -> Result<(), String> {
        match (self, value) {
            (FlagKind::Bool, FlagValue::Bool(_)) => Ok(()),
            (FlagKind::Version, FlagValue::Text(v)) if is_version(v) => Ok(()),
            (FlagKind::Text, FlagValue::Text(v)) if !v.is_empty() && v.len() <= 256 => Ok(()),
            _ => Err(format!("expected {}, found `{value}`", self.describe())),
        }
    }
}

fn is_version(v: &str) -> bool {
    v.strip_prefix('v').is_some_and(|n| {
        !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) && !n.starts_with('0')
    })
}

/// The conventional flags every capability has, by suffix.
pub const CONVENTIONAL: [(&str, FlagKind); 3] = [
    (ENABLED, FlagKind::Bool),
    (VERSION, FlagKind::Version),
    (DEGRADED, FlagKind::Bool),
];

/// Whether a flag's stored value means on: `true`, `1`, `on` or `yes`, any case. Anything
/// else, and an absent flag, is off.
pub fn is_on(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "true" | "1" | "on" | "yes"
    )
}

/// The suffix of a capability's `ENABLED` flag.
pub const ENABLED: &str = "ENABLED";
/// The suffix of a capability's `VERSION` flag.
pub const VERSION: &str = "VERSION";
/// The suffix of a capability's `DEGRADED` flag.
pub const DEGRADED: &str = "DEGRADED";
/// The suffix of a capability's discovery override, `CAP_<X>_BASE_URL` (a variable, not a flag).
pub const BASE_URL: &str = "BASE_URL";

/// `CAP_<CAPABILITY>_` for a capability name.
pub fn prefix(capability: &str) -> String {
    format!("CAP_{}_", capability.to_ascii_uppercase().replace('-', "_"))
}

/// The name of one of a capability's conventional flags.
pub fn flag_name(capability: &str, suffix: &str) -> String {
    format!("{}{suffix}", prefix(capability))
}

/// Whether `name` is shaped like a flag name: `CAP_` then upper-case words.
pub fn is_well_formed(name: &str) -> bool {
    name.strip_prefix("CAP_").is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            && !rest.starts_with('_')
            && !rest.ends_with('_')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert!(FlagKind::Version
            .check(&FlagValue::Text("v1".into()))
            .is_ok());
        assert!(FlagKind::Version
            .check(&FlagValue::Text("v12".into()))
            .is_ok());
        assert!(FlagKind::Version
            .check(&FlagValue::Text("v0".into()))
            .is_err());
        assert!(FlagKind::Version
            .check(&FlagValue::Text("1".into()))
            .is_err());
        assert!(FlagKind::Version.check(&FlagValue::Bool(true)).is_err());
    }

    #[test]
    fn names() {
        assert_eq!(flag_name("messaging", "ENABLED"), "CAP_MESSAGING_ENABLED");
        assert!(is_well_formed("CAP_AI_MODEL"));
        assert!(!is_well_formed("cap_ai_model"));
        assert!(!is_well_formed("CAP_"));
        assert!(!is_well_formed("FEATURE_X"));
        assert!(is_on("TRUE") && is_on(" yes") && is_on("1"));
        assert!(!is_on("false") && !is_on("") && !is_on("v1"));
    }
}
