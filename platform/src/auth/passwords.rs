//! Password hashing with argon2id at OWASP's recommended minimum (19 MiB, 2 iterations, 1 lane).
//!
//! Hashing is deliberately slow, so it runs on the blocking pool, never on the async workers, and
//! a semaphore bounds how many hashes run at once (each holds 19 MiB): a login storm queues
//! instead of exhausting memory or starving other requests of threads.

use std::sync::Arc;

use anyhow::Context;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Semaphore;

use crate::error::ApiError;

/// A password a user chose: 10 to 128 characters (the cap keeps hashing cost bounded).
pub struct Password(SecretString);

impl Password {
    pub const MIN_CHARS: usize = 10;
    pub const MAX_CHARS: usize = 128;

    pub fn parse(raw: String, field: &str) -> Result<Self, ApiError> {
        let chars = raw.chars().count();
        if !(Self::MIN_CHARS..=Self::MAX_CHARS).contains(&chars) || raw.trim().is_empty() {
            return Err(ApiError::validation(
                field,
                "weak_password",
                format!(
                    "must be {} to {} characters",
                    Self::MIN_CHARS,
                    Self::MAX_CHARS
                ),
            ));
        }
        Ok(Self(SecretString::from(raw)))
    }

    /// Whether both are the same text.
    pub fn same_as(&self, other: &Self) -> bool {
        self.0.expose_secret() == other.0.expose_secret()
    }

    /// A password as typed at login: never validated (so rules can change), only capped.
    pub fn candidate(raw: String) -> Self {
        Self(SecretString::from(
            raw.chars().take(Self::MAX_CHARS * 2).collect::<String>(),
        ))
    }
}

#[derive(Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    /// Verified against when the account does not exist, so timing does not reveal it.
    dummy_hash: Arc<str>,
}

fn argon2() -> Argon2<'static> {
    // OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

impl PasswordHasher {
    pub fn new(max_concurrent: usize) -> anyhow::Result<Self> {
        let salt = SaltString::generate(&mut OsRng);
        let dummy = argon2()
            .hash_password(b"not-a-real-password-for-timing", &salt)
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .to_string();
        Ok(Self {
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
            dummy_hash: dummy.into(),
        })
    }

    pub async fn hash(&self, password: &Password) -> anyhow::Result<String> {
        let secret = password.0.clone();
        self.run(move || {
            let salt = SaltString::generate(&mut OsRng);
            argon2()
                .hash_password(secret.expose_secret().as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))
        })
        .await
    }

    /// Whether `password` matches `hash`; with no hash, spends the same time and answers false.
    pub async fn verify(&self, password: &Password, hash: Option<&str>) -> anyhow::Result<bool> {
        let secret = password.0.clone();
        let (hash, real) = match hash {
            Some(h) => (h.to_owned(), true),
            None => (self.dummy_hash.to_string(), false),
        };
        self.run(move || {
            let parsed = PasswordHash::new(&hash)
                .map_err(|e| anyhow::anyhow!("stored hash is malformed: {e}"))?;
            Ok(real
                && argon2()
                    .verify_password(secret.expose_secret().as_bytes(), &parsed)
                    .is_ok())
        })
        .await
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let _permit = self
            .permits
            .acquire()
            .await
            .context("password hasher closed")?;
        tokio::task::spawn_blocking(work)
            .await
            .context("password hashing task")?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_use_owasp_parameters() -> anyhow::Result<()> {
        let hasher = PasswordHasher::new(2)?;
        let password = Password::parse("correct horse battery".into(), "password")
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let hash = hasher.hash(&password).await?;
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(hasher.verify(&password, Some(&hash)).await?);
        assert!(
            !hasher
                .verify(
                    &Password::candidate("wrong horse battery".into()),
                    Some(&hash)
                )
                .await?
        );
        assert!(!hasher.verify(&password, None).await?);
        Ok(())
    }

    #[test]
    fn short_and_huge_passwords_are_refused() {
        assert!(Password::parse("short".into(), "password").is_err());
        assert!(Password::parse("x".repeat(129), "password").is_err());
        assert!(Password::parse("          ".into(), "password").is_err());
        assert!(Password::parse("long enough pass".into(), "password").is_ok());
    }
}
