//! SSM Parameter Store paths. Everything stackpro keeps for an environment lives under
//! `/stackpro/<env>`; handlers may read only their own capability's path, the flags,
//! the auth secret and other capabilities' base URLs (the stack's IAM policy).

/// `/stackpro/<env>`
pub fn prefix(env: &str) -> String {
    format!("/stackpro/{env}")
}

/// `<prefix>/flags`: environment-wide flags are `<root>/<KEY>`, tenant overrides
/// `<root>/tenants/<tenant>/<KEY>`.
pub fn flags_root(prefix: &str) -> String {
    format!("{prefix}/flags")
}

/// The parameter of flag `key`, for the environment (`tenant` None) or one tenant.
pub fn flag(prefix: &str, tenant: Option<&str>, key: &str) -> String {
    match tenant {
        Some(t) => format!("{}/tenants/{t}/{key}", flags_root(prefix)),
        None => format!("{}/{key}", flags_root(prefix)),
    }
}

/// A flag parameter's place, from its name relative to [`flags_root`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlagParameter<'a> {
    Environment { key: &'a str },
    Tenant { tenant: &'a str, key: &'a str },
}

/// Parses a full parameter name under `root` ([`flags_root`]); None for names outside
/// the convention.
pub fn parse_flag<'a>(root: &str, name: &'a str) -> Option<FlagParameter<'a>> {
    let rel = name
        .strip_prefix(root.trim_end_matches('/'))?
        .strip_prefix('/')?;
    let parts: Vec<&str> = rel.split('/').collect();
    match parts.as_slice() {
        [key] if !key.is_empty() => Some(FlagParameter::Environment { key }),
        ["tenants", tenant, key] if !tenant.is_empty() && !key.is_empty() => {
            Some(FlagParameter::Tenant { tenant, key })
        }
        _ => None,
    }
}

/// `<prefix>/capabilities/<capability>`: what a capability's stack publishes.
pub fn capability(prefix: &str, capability: &str) -> String {
    format!("{prefix}/capabilities/{capability}")
}

/// `<prefix>/capabilities/<capability>/base-url`: discovery reads it.
pub fn base_url(prefix: &str, capability: &str) -> String {
    format!("{}/base-url", self::capability(prefix, capability))
}

/// `<prefix>/auth/jwt-secret`: the HS256 secret, a SecureString.
pub fn jwt_secret(prefix: &str) -> String {
    format!("{prefix}/auth/jwt-secret")
}

/// `<prefix>/deployments`: where the deployment records of an environment live.
pub fn deployments(prefix: &str) -> String {
    format!("{prefix}/deployments")
}

/// `<prefix>/deployments/<capability>`: the deployment record, one JSON document whose
/// parameter history is the list of deployments.
pub fn deployment_record(prefix: &str, capability: &str) -> String {
    format!("{}/{capability}", deployments(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_parameters_round_trip() {
        let p = prefix("sandbox");
        let root = flags_root(&p);
        let env = flag(&p, None, "CAP_AI_ENABLED");
        let tenant = flag(&p, Some("acme"), "CAP_AI_ENABLED");
        assert_eq!(env, "/stackpro/sandbox/flags/CAP_AI_ENABLED");
        assert_eq!(
            tenant,
            "/stackpro/sandbox/flags/tenants/acme/CAP_AI_ENABLED"
        );
        assert_eq!(
            parse_flag(&root, &env),
            Some(FlagParameter::Environment {
                key: "CAP_AI_ENABLED"
            })
        );
        assert_eq!(
            parse_flag(&root, &tenant),
            Some(FlagParameter::Tenant {
                tenant: "acme",
                key: "CAP_AI_ENABLED"
            })
        );
        assert_eq!(parse_flag(&root, "/stackpro/sandbox/flags/a/b"), None);
        assert_eq!(parse_flag(&root, "/stackpro/other/flags/X"), None);
        assert_eq!(parse_flag(&root, "/stackpro/sandbox/flagsX"), None);
    }

    #[test]
    fn capability_paths() {
        let p = prefix("local");
        assert_eq!(
            base_url(&p, "billing"),
            "/stackpro/local/capabilities/billing/base-url"
        );
        assert_eq!(jwt_secret(&p), "/stackpro/local/auth/jwt-secret");
        assert_eq!(
            deployment_record(&p, "ai"),
            "/stackpro/local/deployments/ai"
        );
    }
}
