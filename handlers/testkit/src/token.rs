//! Bearer tokens as an identity provider would mint them: HS256 JWTs with the claims
//! the runtime reads (`sub`, `tenant_id`, `role`, `scope`, `exp`, `aud`). They are
//! signed here with `jsonwebtoken`, not with the runtime's own code, so a test of the
//! handler's verification does not lean on the code it tests.

use serde::Serialize;

/// The secret the harness gives the handler (`STACKPRO_JWT_SECRET`).
pub const SECRET: &str = "test-secret-0123456789abcdef";

/// The audience the runtime expects unless `STACKPRO_JWT_AUDIENCE` says otherwise.
pub const AUDIENCE: &str = "stackpro";

/// A token to mint: a member of `tenant` with no scope, for [`AUDIENCE`], valid for
/// ten minutes, signed with [`SECRET`]. Change what the test is about, then [`sign`].
///
/// [`sign`]: Token::sign
#[derive(Debug, Clone)]
pub struct Token {
    subject: String,
    tenant: String,
    role: String,
    scope: String,
    audience: String,
    ttl_seconds: i64,
    secret: String,
}

#[derive(Serialize)]
struct Claims<'a> {
    sub: &'a str,
    tenant_id: &'a str,
    role: &'a str,
    scope: &'a str,
    exp: i64,
    aud: &'a str,
}

impl Token {
    pub fn new(tenant: &str) -> Self {
        Token {
            subject: format!("user@{tenant}"),
            tenant: tenant.to_string(),
            role: "member".into(),
            scope: String::new(),
            audience: AUDIENCE.into(),
            ttl_seconds: 600,
            secret: SECRET.into(),
        }
    }

    /// A member of `tenant` who may read and write `capability`.
    pub fn writer(capability: &str, tenant: &str) -> Self {
        Self::new(tenant).scope(&format!("{capability}:read {capability}:write"))
    }

    /// `sub`, by default `user@<tenant>`.
    pub fn subject(mut self, subject: &str) -> Self {
        self.subject = subject.to_string();
        self
    }

    /// `viewer`, `member` or `admin` (or anything else, to test the refusal).
    pub fn role(mut self, role: &str) -> Self {
        self.role = role.to_string();
        self
    }

    /// Space-separated scopes: `messaging:read messaging:write`.
    pub fn scope(mut self, scope: &str) -> Self {
        self.scope = scope.to_string();
        self
    }

    pub fn audience(mut self, audience: &str) -> Self {
        self.audience = audience.to_string();
        self
    }

    /// Seconds from now until `exp`; negative for a token that has expired.
    pub fn expires_in(mut self, seconds: i64) -> Self {
        self.ttl_seconds = seconds;
        self
    }

    /// Signed with another secret than the handler's.
    pub fn bad_signature(self) -> Self {
        self.signed_with("not-the-handlers-secret")
    }

    pub fn signed_with(mut self, secret: &str) -> Self {
        self.secret = secret.to_string();
        self
    }

    /// The compact JWT.
    pub fn sign(&self) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs() as i64;
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &Claims {
                sub: &self.subject,
                tenant_id: &self.tenant,
                role: &self.role,
                scope: &self.scope,
                exp: now + self.ttl_seconds,
                aud: &self.audience,
            },
            &jsonwebtoken::EncodingKey::from_secret(self.secret.as_bytes()),
        )
        .expect("HS256 signing with a byte secret cannot fail")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{decode, DecodingKey, Validation};

    #[test]
    fn claims_are_what_was_asked_and_the_signature_is_the_secrets() {
        let t = Token::writer("messaging", "acme")
            .role("admin")
            .audience("api")
            .sign();
        let mut v = Validation::new(jsonwebtoken::Algorithm::HS256);
        v.set_audience(&["api"]);
        let claims =
            decode::<serde_json::Value>(&t, &DecodingKey::from_secret(SECRET.as_bytes()), &v)
                .unwrap()
                .claims;
        assert_eq!(claims["tenant_id"], "acme");
        assert_eq!(claims["sub"], "user@acme");
        assert_eq!(claims["role"], "admin");
        assert_eq!(claims["scope"], "messaging:read messaging:write");
        let bad = Token::new("acme").audience("api").bad_signature().sign();
        assert!(decode::<serde_json::Value>(
            &bad,
            &DecodingKey::from_secret(SECRET.as_bytes()),
            &v
        )
        .is_err());
        let expired = Token::new("acme").audience("api").expires_in(-3600).sign();
        assert!(decode::<serde_json::Value>(
            &expired,
            &DecodingKey::from_secret(SECRET.as_bytes()),
            &v
        )
        .is_err());
    }
}
