//! `[passwords]` and `[signin]`: password policy, hashing and sign-in throttling.

use std::time::Duration;

use anyhow::bail;
use serde::{Deserialize, Serialize};

/// `[passwords]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordsSection {
    /// Fewest characters.
    pub min_length: usize,
    /// Most characters (refused before hashing).
    pub max_length: usize,
    /// Lowest zxcvbn score accepted, 0-4.
    pub min_score: u8,
    /// argon2id memory, KiB.
    pub argon2_memory_kib: u32,
    /// argon2id passes.
    pub argon2_iterations: u32,
    /// argon2id lanes.
    pub argon2_parallelism: u32,
    /// Hashes at once (default: cores).
    pub max_concurrent_hashes: Option<usize>,
    /// Hash requests allowed to wait (default: 64 per core).
    pub max_queued_hashes: Option<usize>,
}

impl Default for PasswordsSection {
    fn default() -> Self {
        Self {
            min_length: 8,
            max_length: 256,
            min_score: 3,
            argon2_memory_kib: 19_456,
            argon2_iterations: 2,
            argon2_parallelism: 1,
            max_concurrent_hashes: None,
            max_queued_hashes: None,
        }
    }
}

impl PasswordsSection {
    /// Checks the lengths and the score.
    pub(super) fn validate(&self) -> anyhow::Result<()> {
        if self.min_length == 0 || self.min_length > self.max_length {
            bail!("passwords.min_length must be between 1 and passwords.max_length");
        }
        if self.min_score > 4 {
            bail!("passwords.min_score must be 0-4");
        }
        Ok(())
    }
}

/// `[signin]`.
#[derive(Debug, Clone)]
pub struct SigninSection {
    /// Consecutive failures before back-off.
    pub lockout_threshold: u32,
    /// First back-off.
    pub lockout_base: Duration,
    /// Longest back-off.
    pub lockout_max: Duration,
    /// Failed sign-ins per client IP per minute (0: no limit).
    pub ip_failures_per_minute: u32,
}

impl Default for SigninSection {
    fn default() -> Self {
        Self {
            lockout_threshold: 5,
            lockout_base: Duration::from_secs(1),
            lockout_max: Duration::from_secs(900),
            ip_failures_per_minute: 60,
        }
    }
}

/// `[signin]` as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawSignin {
    lockout_threshold: u32,
    lockout_base_secs: u64,
    lockout_max_secs: u64,
    ip_failures_per_minute: u32,
}

impl Default for RawSignin {
    fn default() -> Self {
        (&SigninSection::default()).into()
    }
}

impl From<&SigninSection> for RawSignin {
    fn from(signin: &SigninSection) -> Self {
        Self {
            lockout_threshold: signin.lockout_threshold,
            lockout_base_secs: signin.lockout_base.as_secs(),
            lockout_max_secs: signin.lockout_max.as_secs(),
            ip_failures_per_minute: signin.ip_failures_per_minute,
        }
    }
}

impl From<RawSignin> for SigninSection {
    fn from(raw: RawSignin) -> Self {
        Self {
            lockout_threshold: raw.lockout_threshold,
            lockout_base: Duration::from_secs(raw.lockout_base_secs),
            lockout_max: Duration::from_secs(raw.lockout_max_secs),
            ip_failures_per_minute: raw.ip_failures_per_minute,
        }
    }
}
