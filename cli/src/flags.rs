//! Feature flags in SSM Parameter Store, where the running handlers read them:
//! `/stackpro/<env>/flags/<KEY>` for the environment, and
//! `/stackpro/<env>/flags/tenants/<tenant>/<KEY>` for one tenant. What is not in SSM
//! comes from the environment file's defaults, which the stack passes to the handlers
//! as environment variables.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::aws::{ssm, AwsContext};
use crate::config::{Catalogue, EnvConfig, FlagKind, FlagValue};
use crate::error::{nearest, Error, Result};

/// How long running handlers keep flags before reading them again (the handler
/// runtime's default `STACKPRO_FLAGS_TTL_SECONDS`).
pub const HANDLER_CACHE_SECONDS: u64 = 60;

/// A flag the project knows: its name, kind and capability.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct FlagSpec {
    pub name: String,
    pub kind: FlagKind,
    pub capability: String,
}

/// Every flag of every capability.
pub fn all_flags(catalogue: &Catalogue) -> Vec<FlagSpec> {
    catalogue
        .capabilities
        .iter()
        .flat_map(|c| {
            c.flag_kinds().into_iter().map(|(name, kind)| FlagSpec {
                name,
                kind,
                capability: c.name.clone(),
            })
        })
        .collect()
}

/// The flag named `name`; an unknown name is a usage error naming the nearest one.
pub fn resolve(catalogue: &Catalogue, name: &str) -> Result<FlagSpec> {
    let all = all_flags(catalogue);
    if let Some(spec) = all.iter().find(|f| f.name == name) {
        return Ok(spec.clone());
    }
    let suggestion = nearest(name, all.iter().map(|f| f.name.as_str())).or_else(|| {
        nearest(
            &name.to_ascii_uppercase(),
            all.iter().map(|f| f.name.as_str()),
        )
    });
    Err(Error::Config {
        message: format!("unknown flag `{name}`"),
        help: Some(match suggestion {
            Some(s) => format!(
                "did you mean `{s}`? flags are CAP_<CAPABILITY>_ENABLED (true/false), _VERSION (v1, v2...), _DEGRADED (true/false) or one a capability declares (`stackpro flags list`)"
            ),
            None => "flags are CAP_<CAPABILITY>_ENABLED (true/false), _VERSION (v1, v2...), _DEGRADED (true/false) or one a capability declares (`stackpro flags list`)".into(),
        }),
    })
}

/// Parses a value given on the command line for `spec`.
pub fn parse_value(spec: &FlagSpec, text: &str) -> Result<FlagValue> {
    let value = match text {
        "true" => FlagValue::Bool(true),
        "false" => FlagValue::Bool(false),
        other => FlagValue::Text(other.to_string()),
    };
    spec.kind.check(&value).map_err(|why| Error::Config {
        message: format!("invalid value for {}: {why}", spec.name),
        help: Some(format!("{} takes {}", spec.name, spec.kind.describe())),
    })?;
    Ok(value)
}

/// `KEY=VALUE`, split.
pub fn split_assignment(text: &str) -> Result<(&str, &str)> {
    text.split_once('=')
        .filter(|(k, v)| !k.is_empty() && !v.is_empty())
        .ok_or_else(|| Error::Config {
            message: format!("`{text}` is not KEY=VALUE"),
            help: Some("write it as CAP_MESSAGING_ENABLED=false".into()),
        })
}

/// A tenant id as the handlers see it in tokens: letters, digits, `-`, `_`, `.`.
pub fn check_tenant(tenant: &str) -> Result<()> {
    let ok = !tenant.is_empty()
        && tenant.len() <= 64
        && tenant
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(Error::Config {
            message: format!("`{tenant}` is not a tenant id"),
            help: Some("tenant ids are 1 to 64 letters, digits, `-`, `_` or `.`".into()),
        })
    }
}

/// `/stackpro/<env>/flags`
pub fn root(env: &str) -> String {
    stackpro_conventions::ssm::flags_root(&stackpro_conventions::ssm::prefix(env))
}

/// The SSM parameter of a flag, for the environment or one tenant.
pub fn parameter_name(env: &str, tenant: Option<&str>, key: &str) -> String {
    stackpro_conventions::ssm::flag(&stackpro_conventions::ssm::prefix(env), tenant, key)
}

/// Sets (`Some`) or removes (`None`) one flag parameter, for the environment or a
/// tenant; `actor` is written into the description (who changed it). Removing an absent
/// flag is not an error: the default applies, which is what was asked. Names and values
/// are the caller's to check first ([`resolve`], [`parse_value`]).
pub async fn write(
    ctx: &AwsContext,
    env: &str,
    tenant: Option<&str>,
    name: &str,
    value: Option<&str>,
    actor: &str,
) -> Result<()> {
    let parameter = parameter_name(env, tenant, name);
    match value {
        Some(value) => {
            ssm::put_parameter(
                ctx,
                &parameter,
                value,
                &format!("stackpro flag, set by {actor}"),
            )
            .await?;
        }
        None => {
            ssm::delete_parameter(ctx, &parameter).await?;
        }
    }
    Ok(())
}

/// One flag value held in SSM.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema, PartialEq)]
pub struct Stored {
    pub value: String,
    pub version: i64,
    /// RFC 3339.
    pub changed_at: Option<String>,
    pub changed_by: Option<String>,
}

/// Every flag parameter of the environment, by parameter name: one paginated
/// GetParametersByPath (values) and DescribeParameters (who changed them).
pub async fn stored(ctx: &AwsContext, env: &str) -> Result<BTreeMap<String, Stored>> {
    let path = root(env);
    let mut out = BTreeMap::new();
    for p in ssm::parameters_by_path(ctx, &path).await? {
        if let (Some(name), Some(value)) = (p.name(), p.value()) {
            out.insert(
                name.to_string(),
                Stored {
                    value: value.to_string(),
                    version: p.version(),
                    changed_at: p.last_modified_date().and_then(rfc3339),
                    changed_by: None,
                },
            );
        }
    }
    if out.is_empty() {
        return Ok(out);
    }
    // Who changed each one: DescribeParameters has the last modifying user.
    for p in ssm::describe_parameters(ctx, &path).await? {
        if let Some(stored) = p.name().and_then(|n| out.get_mut(n)) {
            stored.changed_by = author(p.last_modified_user(), p.description());
        }
    }
    Ok(out)
}

/// Who changed a parameter: SSM's own record of the user where it keeps one, else the
/// identity stackpro wrote into the description (`stackpro flag, set by <arn>`).
pub fn author(last_modified_user: Option<&str>, description: Option<&str>) -> Option<String> {
    last_modified_user
        .filter(|u| !u.is_empty() && *u != "N/A")
        .map(str::to_string)
        .or_else(|| {
            description
                .and_then(|d| d.split_once("set by "))
                .map(|(_, who)| who.trim().to_string())
        })
}

fn rfc3339(t: &aws_smithy_types::DateTime) -> Option<String> {
    t.fmt(aws_smithy_types::date_time::Format::DateTime).ok()
}

/// Where a flag's effective value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// `/stackpro/<env>/flags/tenants/<tenant>/<KEY>`
    TenantOverride,
    /// `/stackpro/<env>/flags/<KEY>`
    Ssm,
    /// The environment file (or the capability's declared default).
    EnvFile,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Origin::TenantOverride => "tenant override",
            Origin::Ssm => "ssm",
            Origin::EnvFile => "env file",
        })
    }
}

/// One flag's effective value for the environment (or a tenant), and why.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Effective {
    pub name: String,
    pub capability: String,
    pub kind: FlagKind,
    pub value: String,
    pub origin: Origin,
    /// The environment file's default (what applies when SSM holds nothing).
    pub default: String,
    /// The SSM parameter that decides it, when one does.
    pub parameter: Option<String>,
    pub changed_at: Option<String>,
    pub changed_by: Option<String>,
}

/// The effective value of every flag, from what SSM holds and the environment's defaults.
pub fn effective(
    catalogue: &Catalogue,
    env: &EnvConfig,
    tenant: Option<&str>,
    stored: &BTreeMap<String, Stored>,
) -> Vec<Effective> {
    let mut out = Vec::new();
    for cap in &catalogue.capabilities {
        let defaults = env.flag_defaults(cap);
        for (name, kind) in cap.flag_kinds() {
            let default = defaults
                .get(&name)
                .map(FlagValue::to_string)
                .unwrap_or_default();
            let tenant_param = tenant.map(|t| parameter_name(&env.name, Some(t), &name));
            let env_param = parameter_name(&env.name, None, &name);
            let (origin, parameter) = match tenant_param.filter(|p| stored.contains_key(p)) {
                Some(p) => (Origin::TenantOverride, Some(p)),
                None if stored.contains_key(&env_param) => (Origin::Ssm, Some(env_param)),
                None => (Origin::EnvFile, None),
            };
            let held = parameter.as_ref().and_then(|p| stored.get(p));
            out.push(Effective {
                value: held
                    .map(|s| s.value.clone())
                    .unwrap_or_else(|| default.clone()),
                changed_at: held.and_then(|s| s.changed_at.clone()),
                changed_by: held.and_then(|s| s.changed_by.clone()),
                name,
                capability: cap.name.clone(),
                kind,
                origin,
                default,
                parameter,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_names_follow_the_handler_runtime() {
        assert_eq!(
            parameter_name("sandbox", None, "CAP_AI_ENABLED"),
            "/stackpro/sandbox/flags/CAP_AI_ENABLED"
        );
        assert_eq!(
            parameter_name("sandbox", Some("acme"), "CAP_AI_ENABLED"),
            "/stackpro/sandbox/flags/tenants/acme/CAP_AI_ENABLED"
        );
    }

    #[test]
    fn assignments_and_tenants() {
        assert_eq!(
            split_assignment("CAP_AI_ENABLED=false").unwrap(),
            ("CAP_AI_ENABLED", "false")
        );
        assert!(split_assignment("CAP_AI_ENABLED").is_err());
        assert!(split_assignment("=x").is_err());
        assert!(check_tenant("acme-1.eu_west").is_ok());
        assert!(check_tenant("a/b").is_err());
        assert!(check_tenant("").is_err());
    }
}
