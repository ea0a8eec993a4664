//! Bearer JWT authentication (HS256) and the role/scope checks of a route.
//!
//! The secret is the `STACKPRO_JWT_SECRET` variable locally, or the SSM SecureString
//! named by `STACKPRO_JWT_SECRET_PARAMETER` in AWS, read once and kept. The tenant of a
//! request is always the token's `tenant_id`, never anything the client sends elsewhere.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use tokio::sync::RwLock;

use crate::error::ApiError;

/// The claims stackpro tokens carry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub tenant_id: String,
    pub role: String,
    /// Space-separated scopes, OAuth style: `messaging:read messaging:write`.
    pub scope: String,
    pub exp: u64,
    pub aud: String,
}

/// Who is calling, from a verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub subject: String,
    pub tenant_id: String,
    pub role: Role,
    pub scopes: Vec<String>,
}

/// Roles, from least to most privileged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Reads only.
    Viewer,
    /// Reads and writes.
    Member,
    Admin,
}

impl Role {
    fn parse(text: &str) -> Option<Role> {
        match text {
            "viewer" => Some(Role::Viewer),
            "member" => Some(Role::Member),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// What a route needs from its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No token (health).
    Public,
    /// Scope `<capability>:read` (or `:write`), any role.
    Read,
    /// Scope `<capability>:write`, role member or admin.
    Write,
    /// Scope `<capability>:write`, role admin.
    Admin,
}

enum SecretSource {
    Literal(String),
    Parameter {
        client: aws_sdk_ssm::Client,
        name: String,
    },
    None,
}

/// Verifies tokens. The key is loaded once; when loading from SSM fails at init it is
/// retried on the next request rather than failing every request of the instance.
pub struct Authenticator {
    source: SecretSource,
    key: RwLock<Option<(DecodingKey, jsonwebtoken::EncodingKey)>>,
    validation: Validation,
    audience: String,
    capability: String,
}

/// How long a token this capability mints for a call to another one lives.
pub const SERVICE_TOKEN_SECONDS: u64 = 300;

/// Tenant ids go into DynamoDB keys: keep them to a safe alphabet.
fn valid_tenant(tenant: &str) -> bool {
    (1..=64).contains(&tenant.len())
        && tenant
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl Authenticator {
    pub fn new(config: &crate::Config, ssm: Option<aws_sdk_ssm::Client>) -> Self {
        let source = match (&config.jwt_secret, &config.jwt_secret_parameter, ssm) {
            (Some(secret), _, _) => SecretSource::Literal(secret.clone()),
            (None, Some(name), Some(client)) => SecretSource::Parameter {
                client,
                name: name.clone(),
            },
            _ => SecretSource::None,
        };
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[config.jwt_audience.as_str()]);
        validation.set_required_spec_claims(&["exp", "aud", "sub"]);
        validation.leeway = 30;
        Authenticator {
            source,
            key: RwLock::new(None),
            validation,
            audience: config.jwt_audience.clone(),
            capability: config.capability.clone(),
        }
    }

    /// A short-lived token ([`SERVICE_TOKEN_SECONDS`]) for calling capability `target`
    /// on behalf of `tenant`: subject `capability:<this one>`, role member, scope
    /// `<target>:write`, signed with the environment's secret, so the target's runtime
    /// verifies it like any other token and logs the calling capability as its subject.
    pub async fn service_token(&self, tenant: &str, target: &str) -> Result<String, ApiError> {
        let (_, encoding) = self.keys().await?;
        let exp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
            + SERVICE_TOKEN_SECONDS;
        let claims = Claims {
            sub: format!("capability:{}", self.capability),
            tenant_id: tenant.to_string(),
            role: "member".into(),
            scope: format!("{target}:read {target}:write"),
            exp,
            aud: self.audience.clone(),
        };
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(Algorithm::HS256),
            &claims,
            &encoding,
        )
        .map_err(|e| {
            tracing::error!("cannot sign a service token: {e}");
            ApiError::internal()
        })
    }

    /// Loads the secret now (at init); a failure is logged and retried later.
    pub async fn warm(&self) {
        if let Err(e) = self.key().await {
            tracing::warn!(error = %e.message, "JWT secret not loaded at init; will retry on the next request");
        }
    }

    async fn key(&self) -> Result<DecodingKey, ApiError> {
        self.keys().await.map(|(decoding, _)| decoding)
    }

    async fn keys(&self) -> Result<(DecodingKey, jsonwebtoken::EncodingKey), ApiError> {
        if let Some(keys) = self.key.read().await.as_ref() {
            return Ok(keys.clone());
        }
        let mut slot = self.key.write().await;
        if let Some(keys) = slot.as_ref() {
            return Ok(keys.clone());
        }
        let secret = match &self.source {
            SecretSource::Literal(s) => s.clone(),
            SecretSource::Parameter { client, name } => {
                let out = client
                    .get_parameter()
                    .name(name)
                    .with_decryption(true)
                    .send()
                    .await
                    .map_err(|e| {
                        tracing::error!(parameter = %name, "cannot read the JWT secret parameter: {}", crate::describe_sdk_error(&e));
                        ApiError::unavailable("authentication is unavailable: the token secret could not be read")
                    })?;
                out.parameter.and_then(|p| p.value).ok_or_else(|| {
                    ApiError::unavailable(
                        "authentication is unavailable: the token secret parameter is empty",
                    )
                })?
            }
            SecretSource::None => {
                tracing::error!(
                    "neither STACKPRO_JWT_SECRET nor STACKPRO_JWT_SECRET_PARAMETER is set"
                );
                return Err(ApiError::unavailable(
                    "authentication is not configured for this function",
                ));
            }
        };
        let keys = (
            DecodingKey::from_secret(secret.as_bytes()),
            jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
        );
        *slot = Some(keys.clone());
        Ok(keys)
    }

    /// Verifies the `Authorization` header and checks `access`.
    pub async fn authenticate(
        &self,
        authorization: Option<&str>,
        access: Access,
    ) -> Result<Option<Principal>, ApiError> {
        if access == Access::Public {
            return Ok(None);
        }
        let header = authorization.ok_or_else(|| {
            ApiError::auth_failed(
                "missing Authorization header: send `Authorization: Bearer <token>`",
            )
        })?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::auth_failed("the Authorization header is not `Bearer <token>`")
            })?;
        let key = self.key().await?;
        let data = jsonwebtoken::decode::<Claims>(token, &key, &self.validation).map_err(|e| {
            ApiError::auth_failed(match e.kind() {
                ErrorKind::ExpiredSignature => "the token has expired",
                ErrorKind::InvalidAudience => "the token is for another audience",
                ErrorKind::InvalidSignature => "the token signature does not verify",
                ErrorKind::InvalidAlgorithm => "the token must be signed with HS256",
                ErrorKind::MissingRequiredClaim(_) | ErrorKind::Json(_) => {
                    "the token lacks a required claim (sub, tenant_id, role, scope, exp, aud)"
                }
                _ => "the token is malformed",
            })
        })?;
        let claims = data.claims;
        if !valid_tenant(&claims.tenant_id) {
            return Err(ApiError::auth_failed(
                "the token's tenant_id is empty or has characters outside A-Z a-z 0-9 - _",
            ));
        }
        let role = Role::parse(&claims.role).ok_or_else(|| {
            ApiError::forbidden(format!("role `{}` is not allowed here", claims.role))
        })?;
        let principal = Principal {
            subject: claims.sub,
            tenant_id: claims.tenant_id,
            role,
            scopes: claims
                .scope
                .split_whitespace()
                .map(str::to_string)
                .collect(),
        };
        self.authorize(&principal, access)?;
        Ok(Some(principal))
    }

    fn authorize(&self, principal: &Principal, access: Access) -> Result<(), ApiError> {
        let read = format!("{}:read", self.capability);
        let write = format!("{}:write", self.capability);
        let has = |s: &str| principal.scopes.iter().any(|p| p == s);
        match access {
            Access::Public => Ok(()),
            Access::Read if has(&read) || has(&write) => Ok(()),
            Access::Read => Err(ApiError::forbidden(format!("the token lacks scope {read}"))),
            Access::Write if !has(&write) => Err(ApiError::forbidden(format!(
                "the token lacks scope {write}"
            ))),
            Access::Write if principal.role < Role::Member => {
                Err(ApiError::forbidden("role viewer may read but not write"))
            }
            Access::Write => Ok(()),
            Access::Admin if !has(&write) => Err(ApiError::forbidden(format!(
                "the token lacks scope {write}"
            ))),
            Access::Admin if principal.role < Role::Admin => {
                Err(ApiError::forbidden("this route needs role admin"))
            }
            Access::Admin => Ok(()),
        }
    }
}

/// Signs a token (tests, `scripts/dev-token.py` does the same for people).
pub fn sign(claims: &Claims, secret: &str) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("HS256 signing with a byte secret cannot fail")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn config() -> crate::Config {
        crate::Config::from_vars([
            ("STACKPRO_ENV".to_string(), "local".to_string()),
            ("STACKPRO_CAPABILITY".to_string(), "messaging".to_string()),
            ("STACKPRO_JWT_SECRET".to_string(), "s3cret".to_string()),
        ])
        .unwrap()
    }

    fn claims(role: &str, scope: &str, exp_offset: i64, aud: &str) -> Claims {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        Claims {
            sub: "user-1".into(),
            tenant_id: "acme".into(),
            role: role.into(),
            scope: scope.into(),
            exp: (now + exp_offset) as u64,
            aud: aud.into(),
        }
    }

    async fn check(token: Option<String>, access: Access) -> Result<Option<Principal>, ApiError> {
        let auth = Authenticator::new(&config(), None);
        let header = token.map(|t| format!("Bearer {t}"));
        auth.authenticate(header.as_deref(), access).await
    }

    #[tokio::test]
    async fn a_valid_token_gives_the_tenant_from_the_token() {
        let t = sign(
            &claims("member", "messaging:write", 600, "stackpro"),
            "s3cret",
        );
        let p = check(Some(t), Access::Write).await.unwrap().unwrap();
        assert_eq!((p.tenant_id.as_str(), p.role), ("acme", Role::Member));
    }

    #[tokio::test]
    async fn bad_tokens_are_401() {
        let cases = [
            None,
            Some("not-a-jwt".to_string()),
            Some(sign(
                &claims("member", "messaging:read", -3600, "stackpro"),
                "s3cret",
            )),
            Some(sign(
                &claims("member", "messaging:read", 600, "other"),
                "s3cret",
            )),
            Some(sign(
                &claims("member", "messaging:read", 600, "stackpro"),
                "wrong",
            )),
        ];
        for token in cases {
            let e = check(token.clone(), Access::Read).await.unwrap_err();
            assert_eq!(
                (e.status, e.code),
                (401, ErrorCode::AuthFailed),
                "{token:?}: {e}"
            );
        }
    }

    #[tokio::test]
    async fn wrong_scope_or_role_is_403() {
        for (role, scope, access) in [
            ("member", "billing:write", Access::Read),
            ("member", "messaging:read", Access::Write),
            ("viewer", "messaging:write", Access::Write),
            ("root", "messaging:write", Access::Read),
        ] {
            let t = sign(&claims(role, scope, 600, "stackpro"), "s3cret");
            let e = check(Some(t), access).await.unwrap_err();
            assert_eq!(
                (e.status, e.code),
                (403, ErrorCode::Unauthorized),
                "{role} {scope}"
            );
        }
        let t = sign(
            &claims("viewer", "messaging:read", 600, "stackpro"),
            "s3cret",
        );
        assert!(check(Some(t), Access::Read).await.is_ok());
    }

    #[tokio::test]
    async fn public_routes_need_no_token() {
        assert_eq!(check(None, Access::Public).await.unwrap(), None);
    }
}
