//! Public-key verification: the key's type fixes the algorithm, and tokens
//! signed any other way (including with the public key as an HMAC secret) fail.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use support_auth::{AuthError, JwtKeys, JwtSettings};

const RSA_PRIVATE: &[u8] = include_bytes!("fixtures/rsa_private.pem");
const RSA_PUBLIC: &[u8] = include_bytes!("fixtures/rsa_public.pem");
const EC_PRIVATE: &[u8] = include_bytes!("fixtures/ec_private.pem");
const EC_PUBLIC: &[u8] = include_bytes!("fixtures/ec_public.pem");

fn claims() -> serde_json::Value {
    json!({"sub": "8", "role": "customer", "exp": chrono::Utc::now().timestamp() + 600})
}

fn keys(pem: &[u8]) -> JwtKeys {
    JwtKeys::public_key_pem(pem, &JwtSettings::default()).unwrap()
}

#[test]
fn rs256_tokens_verify_against_an_rsa_public_key() {
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::RS256),
        &claims(),
        &EncodingKey::from_rsa_pem(RSA_PRIVATE).unwrap(),
    )
    .unwrap();
    let principal = keys(RSA_PUBLIC).verify(&token).unwrap();
    assert_eq!(principal.user_id.get(), 8);
}

#[test]
fn es256_tokens_verify_against_an_ec_public_key() {
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::ES256),
        &claims(),
        &EncodingKey::from_ec_pem(EC_PRIVATE).unwrap(),
    )
    .unwrap();
    assert_eq!(keys(EC_PUBLIC).verify(&token).unwrap().user_id.get(), 8);
    // The algorithm is the key's: an ES256 token is no good against the RSA key.
    assert_eq!(
        keys(RSA_PUBLIC).verify(&token),
        Err(AuthError::InvalidToken)
    );
}

#[test]
fn the_public_key_used_as_an_hmac_secret_is_refused() {
    for public in [RSA_PUBLIC, EC_PUBLIC] {
        let forged = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims(),
            &EncodingKey::from_secret(public),
        )
        .unwrap();
        assert_eq!(keys(public).verify(&forged), Err(AuthError::InvalidToken));
    }
}

#[test]
fn anything_but_an_rsa_or_ec_public_key_is_refused_at_start_up() {
    for bad in [&b"not a pem"[..], b"", RSA_PRIVATE.get(..40).unwrap()] {
        assert!(JwtKeys::public_key_pem(bad, &JwtSettings::default()).is_err());
    }
    assert!(JwtKeys::hs256(b"", &JwtSettings::default()).is_err());
}
