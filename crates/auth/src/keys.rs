//! Token verification keys, built once at start-up, and a signer for dev tokens.

use std::sync::Arc;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use support_domain::{Role, UserId};

use crate::principal::Principal;

/// jsonwebtoken panics on first use unless exactly one crypto provider is
/// installed for the process; installing ours explicitly in every constructor
/// turns that runtime trap into a non-issue. A second install is a no-op.
fn ensure_crypto_provider() {
    let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
}

/// Seconds of clock skew tolerated on `exp`.
const LEEWAY_SECS: u64 = 30;

/// Why a token was refused (all map to 401).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No token was sent.
    #[error("no bearer token")]
    MissingToken,
    /// The `Authorization` header or the token is not well formed.
    #[error("malformed token")]
    MalformedToken,
    /// Signature, algorithm, issuer or audience did not verify.
    #[error("invalid token")]
    InvalidToken,
    /// `exp` is in the past.
    #[error("token expired")]
    TokenExpired,
    /// No usable positive user id in `sub` or `id`.
    #[error("token names no valid user")]
    InvalidSubject,
}

impl AuthError {
    /// Machine-readable reason for `details.reason`.
    pub fn reason(self) -> &'static str {
        match self {
            Self::MissingToken => "MISSING_TOKEN",
            Self::MalformedToken => "MALFORMED_TOKEN",
            Self::InvalidToken => "INVALID_TOKEN",
            Self::TokenExpired => "TOKEN_EXPIRED",
            Self::InvalidSubject => "INVALID_SUBJECT",
        }
    }
}

/// A key that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The PEM is neither an RSA nor an EC (P-256) public key.
    #[error("JWT public key must be an RSA or EC P-256 public key in PEM format")]
    UnsupportedPublicKey,
    /// The secret is empty.
    #[error("JWT secret must not be empty")]
    EmptySecret,
    /// Signing a token failed.
    #[error("could not sign token: {0}")]
    Signing(String),
}

/// Issuer and audience the tokens must carry, when configured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JwtSettings {
    /// Required `iss`.
    pub issuer: Option<String>,
    /// Required `aud`.
    pub audience: Option<String>,
}

/// Verifies bearer tokens. Cheap to clone; keys and validation rules are
/// built once, never per request.
#[derive(Clone)]
pub struct JwtKeys {
    inner: Arc<KeysInner>,
}

struct KeysInner {
    key: DecodingKey,
    validation: Validation,
}

/// The claims this service reads. Everything else in a token is ignored.
#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    sub: Option<Value>,
    #[serde(default)]
    id: Option<Value>,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    permissions: Option<Vec<String>>,
    /// Required and checked by the validation; kept to end sockets on time.
    exp: i64,
}

impl JwtKeys {
    /// HS256 with a shared secret.
    pub fn hs256(secret: &[u8], settings: &JwtSettings) -> Result<Self, KeyError> {
        if secret.is_empty() {
            return Err(KeyError::EmptySecret);
        }
        Ok(Self::build(
            DecodingKey::from_secret(secret),
            Algorithm::HS256,
            settings,
        ))
    }

    /// RS256 or ES256, chosen by the key's type (never by the token's header).
    pub fn public_key_pem(pem: &[u8], settings: &JwtSettings) -> Result<Self, KeyError> {
        if let Ok(key) = DecodingKey::from_rsa_pem(pem) {
            return Ok(Self::build(key, Algorithm::RS256, settings));
        }
        if let Ok(key) = DecodingKey::from_ec_pem(pem) {
            return Ok(Self::build(key, Algorithm::ES256, settings));
        }
        Err(KeyError::UnsupportedPublicKey)
    }

    fn build(key: DecodingKey, algorithm: Algorithm, settings: &JwtSettings) -> Self {
        ensure_crypto_provider();
        let mut validation = Validation::new(algorithm);
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        let mut required = vec!["exp"];
        if let Some(iss) = &settings.issuer {
            validation.set_issuer(&[iss]);
            required.push("iss");
        }
        match &settings.audience {
            Some(aud) => {
                validation.set_audience(&[aud]);
                required.push("aud");
            }
            None => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&required);
        Self {
            inner: Arc::new(KeysInner { key, validation }),
        }
    }

    /// Checks a token and extracts the caller.
    pub fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.inner.key, &self.inner.validation)
            .map_err(|e| match e.kind() {
            ErrorKind::ExpiredSignature => AuthError::TokenExpired,
            ErrorKind::InvalidToken | ErrorKind::Base64(_) | ErrorKind::Utf8(_) => {
                AuthError::MalformedToken
            }
            _ => AuthError::InvalidToken,
        })?;
        let claims = data.claims;
        let user_id = match (&claims.sub, &claims.id) {
            (Some(sub), _) => parse_user_id(sub),
            (None, Some(id)) => parse_user_id(id),
            (None, None) => None,
        }
        .ok_or(AuthError::InvalidSubject)?;
        Ok(Principal {
            user_id,
            role: claims.role.as_deref().map(Role::parse),
            permissions: claims.permissions,
            expires_at: claims.exp,
        })
    }
}

/// A positive integer, or its plain decimal string (`"42"`, not `"+42"` or `"4.2e1"`).
fn parse_user_id(value: &Value) -> Option<UserId> {
    let id = match value {
        Value::Number(n) => n.as_i64()?,
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().ok()?
        }
        _ => return None,
    };
    UserId::new(id).ok()
}

/// Signs HS256 tokens with the configured secret: the `token` CLI command and
/// the dev-mode tokens printed at start-up.
#[derive(Clone)]
pub struct TokenSigner {
    key: EncodingKey,
    settings: JwtSettings,
}

#[derive(Serialize)]
struct SignedClaims<'a> {
    sub: String,
    role: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    permissions: Option<&'a [String]>,
    iat: i64,
    exp: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<&'a str>,
}

impl TokenSigner {
    /// A signer for the HS256 secret the server verifies with.
    pub fn hs256(secret: &[u8], settings: JwtSettings) -> Result<Self, KeyError> {
        if secret.is_empty() {
            return Err(KeyError::EmptySecret);
        }
        ensure_crypto_provider();
        Ok(Self {
            key: EncodingKey::from_secret(secret),
            settings,
        })
    }

    /// A token for `user_id` with `role`, valid for `ttl_secs`.
    pub fn sign(
        &self,
        user_id: UserId,
        role: &str,
        permissions: Option<&[String]>,
        ttl_secs: i64,
    ) -> Result<String, KeyError> {
        let now = chrono::Utc::now().timestamp();
        let claims = SignedClaims {
            sub: user_id.to_string(),
            role,
            permissions,
            iat: now,
            exp: now.saturating_add(ttl_secs),
            iss: self.settings.issuer.as_deref(),
            aud: self.settings.audience.as_deref(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.key)
            .map_err(|e| KeyError::Signing(e.to_string()))
    }
}
