//! Dev mode: with no key configured the server still starts, on a random
//! secret that dies with the process, and hands out two working tokens.

use rand::RngCore;
use support_domain::UserId;
use support_http::{JwtKeys, JwtSettings, KeyError, TokenSigner};

/// Tokens printed at start-up in dev mode.
#[derive(Debug, Clone)]
pub struct DevTokens {
    /// A `customer` token for user 1.
    pub customer: String,
    /// A `staff` token for user 1000.
    pub staff: String,
}

/// Lifetime of dev tokens; they stop working anyway when the process exits.
const DEV_TOKEN_TTL_SECS: i64 = 7 * 24 * 3600;

/// A random 256-bit secret, the keys that verify it and two signed tokens.
pub fn generate(settings: &JwtSettings) -> Result<(JwtKeys, DevTokens), KeyError> {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let keys = JwtKeys::hs256(&secret, settings)?;
    let signer = TokenSigner::hs256(&secret, settings.clone())?;
    let customer = signer.sign(dev_user(1)?, "customer", None, DEV_TOKEN_TTL_SECS)?;
    let staff = signer.sign(dev_user(1000)?, "staff", None, DEV_TOKEN_TTL_SECS)?;
    Ok((keys, DevTokens { customer, staff }))
}

fn dev_user(id: i64) -> Result<UserId, KeyError> {
    UserId::new(id).map_err(|e| KeyError::Signing(e.to_string()))
}
