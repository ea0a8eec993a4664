//! Environment variables the stack template sets on every handler function (the CLI's
//! `render::environment_variables`) and the runtime's `Config` reads.

/// `sandbox`, `production`, `local`, ...
pub const ENV: &str = "STACKPRO_ENV";
/// The capability's name: `messaging`, `datalake`, ...
pub const CAPABILITY: &str = "STACKPRO_CAPABILITY";
/// `/stackpro/<env>` ([`crate::ssm::prefix`]).
pub const SSM_PREFIX: &str = "STACKPRO_SSM_PREFIX";
/// The CloudWatch namespace of the handlers' EMF metrics ([`crate::metrics::NAMESPACE`]).
pub const METRICS_NAMESPACE: &str = "STACKPRO_METRICS_NAMESPACE";
/// The SSM SecureString holding the JWT secret ([`crate::ssm::jwt_secret`]).
pub const JWT_SECRET_PARAMETER: &str = "STACKPRO_JWT_SECRET_PARAMETER";
/// The HS256 secret itself: local development and tests only.
pub const JWT_SECRET: &str = "STACKPRO_JWT_SECRET";
/// The `aud` a token must carry (default `stackpro`).
pub const JWT_AUDIENCE: &str = "STACKPRO_JWT_AUDIENCE";
/// How long flags and discovered URLs are cached, in seconds (default 60).
pub const FLAGS_TTL_SECONDS: &str = "STACKPRO_FLAGS_TTL_SECONDS";
/// Larger request bodies are refused (default 65536; a capability may raise it).
pub const MAX_BODY_BYTES: &str = "STACKPRO_MAX_BODY_BYTES";
/// How long an Idempotency-Key is remembered, in seconds (default 86400).
pub const IDEMPOTENCY_TTL_SECONDS: &str = "STACKPRO_IDEMPOTENCY_TTL_SECONDS";

const TABLE_PREFIX: &str = "STACKPRO_TABLE_";
const SETTING_PREFIX: &str = "STACKPRO_SETTING_";
const BUCKET_PREFIX: &str = "STACKPRO_BUCKET_";

/// `STACKPRO_TABLE_<NAME>`: the physical name of the capability's table `name`.
pub fn table(name: &str) -> String {
    format!("{TABLE_PREFIX}{}", upper(name))
}

/// `STACKPRO_BUCKET_<NAME>`: the physical name of the capability's bucket `name`.
pub fn bucket(name: &str) -> String {
    format!("{BUCKET_PREFIX}{}", upper(name))
}

/// `STACKPRO_SETTING_<NAME>`: the value of the capability's setting `name`
/// (`capability.yaml`'s `settings:`, the environment file's `settings.<capability>:`).
pub fn setting(name: &str) -> String {
    format!("{SETTING_PREFIX}{}", name.to_ascii_uppercase())
}

/// The setting name of a `STACKPRO_SETTING_<NAME>` variable, lower-case.
pub fn setting_of(var: &str) -> Option<String> {
    var.strip_prefix(SETTING_PREFIX)
        .map(|n| n.to_ascii_lowercase())
}

/// The logical table name of a `STACKPRO_TABLE_<NAME>` variable, lower-case.
pub fn table_of(var: &str) -> Option<String> {
    var.strip_prefix(TABLE_PREFIX).map(lower)
}

/// The logical bucket name of a `STACKPRO_BUCKET_<NAME>` variable, lower-case.
pub fn bucket_of(var: &str) -> Option<String> {
    var.strip_prefix(BUCKET_PREFIX).map(lower)
}

fn upper(name: &str) -> String {
    name.to_ascii_uppercase().replace('-', "_")
}

fn lower(name: &str) -> String {
    name.to_ascii_lowercase().replace('_', "-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_variables_round_trip() {
        assert_eq!(table("threads"), "STACKPRO_TABLE_THREADS");
        assert_eq!(bucket("raw-exports"), "STACKPRO_BUCKET_RAW_EXPORTS");
        assert_eq!(
            table_of("STACKPRO_TABLE_THREADS").as_deref(),
            Some("threads")
        );
        assert_eq!(
            bucket_of(&bucket("raw-exports")).as_deref(),
            Some("raw-exports")
        );
        assert_eq!(table_of("STACKPRO_ENV"), None);
    }
}
