//! Passwords: the policy a new password must meet, and argon2id hashing on a
//! bounded pool so a sign-in storm can neither exhaust memory nor starve the
//! cheap requests (token validation) of CPU.

use std::fmt;
use std::sync::Arc;

use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::{OnceCell, Semaphore};
use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroizing;

use crate::error::{CoreError, FieldError};

/// A password as typed, NFKC-normalised, never truncated. `Debug` is redacted.
pub struct Password(Zeroizing<String>);

impl Password {
    /// Normalises `raw`, refusing overlong input before any further work so a
    /// megabyte "password" costs nothing.
    pub fn parse(raw: &str, field: &'static str, max_chars: usize) -> Result<Password, CoreError> {
        // A char is at most 4 bytes; anything longer is refused before normalising.
        if raw.len() > max_chars * 4 {
            return Err(too_long(field, max_chars));
        }
        let normalised: String = raw.nfkc().collect();
        if normalised.chars().count() > max_chars {
            return Err(too_long(field, max_chars));
        }
        Ok(Password(Zeroizing::new(normalised)))
    }

    /// The normalised text.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

fn too_long(field: &'static str, max_chars: usize) -> CoreError {
    CoreError::InvalidInput(FieldError::new(
        field,
        format!("is longer than {max_chars} characters"),
    ))
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([redacted])")
    }
}

/// What a new password must satisfy.
#[derive(Debug, Clone)]
pub struct PasswordPolicy {
    /// Fewest characters (after normalisation).
    pub min_chars: usize,
    /// Most characters; longer input is refused before hashing.
    pub max_chars: usize,
    /// Lowest acceptable zxcvbn score, 0-4.
    pub min_score: u8,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_chars: 8,
            max_chars: 256,
            min_score: 3,
        }
    }
}

impl PasswordPolicy {
    /// Checks a new password; `context` holds words the user is tied to
    /// (e-mail, username, the service name) that must not make it guessable.
    pub fn check(&self, password: &Password, context: &[&str]) -> Result<(), CoreError> {
        let text = password.expose();
        if text.chars().count() < self.min_chars {
            return Err(CoreError::WeakPassword(format!(
                "must be at least {} characters",
                self.min_chars
            )));
        }
        // zxcvbn credits separators between known words generously
        // ("alice-warden" scores 3), so the part left after removing the
        // user's own words must be strong on its own as well.
        let lowered = text.to_lowercase();
        let mut remainder = lowered.clone();
        for word in context.iter().filter(|w| w.chars().count() >= 4) {
            remainder = remainder.replace(&word.to_lowercase(), "");
        }
        if remainder.chars().filter(|c| c.is_alphanumeric()).count() < 4 {
            return Err(CoreError::WeakPassword(
                "is too easy to guess: it is mostly your own name or address".into(),
            ));
        }
        let weakest = if remainder == lowered {
            zxcvbn::zxcvbn(text, context)
        } else {
            zxcvbn::zxcvbn(&remainder, context)
        };
        let estimate = weakest;
        if u8::from(estimate.score()) < self.min_score {
            // zxcvbn gives no warning for many weak passwords; repeating
            // "too easy to guess" then says nothing, so offer a way out.
            let hint = estimate
                .feedback()
                .and_then(|f| {
                    f.warning()
                        .map(|w| w.to_string())
                        .or_else(|| f.suggestions().first().map(|s| s.to_string()))
                })
                .unwrap_or_else(|| "add a few more uncommon words".to_owned());
            return Err(CoreError::WeakPassword(format!(
                "is too easy to guess: {hint}"
            )));
        }
        Ok(())
    }
}

/// argon2id cost parameters. Defaults are OWASP's: 19 MiB, 2 passes, 1 lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for HashParams {
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

/// Size of the hashing pool.
#[derive(Debug, Clone, Copy)]
pub struct PoolLimits {
    /// Hashes running at once (default: the number of cores).
    pub max_concurrent: usize,
    /// Requests allowed to wait for a slot; more are answered `Overloaded`.
    pub max_queued: usize,
}

impl Default for PoolLimits {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            max_concurrent: cores,
            max_queued: cores * 64,
        }
    }
}

/// Outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verification {
    /// The password matched.
    pub is_match: bool,
    /// The hash uses other parameters than the current ones and should be replaced.
    pub needs_rehash: bool,
}

/// argon2id hashing on a bounded blocking pool.
#[derive(Clone)]
pub struct PasswordHasher {
    inner: Arc<HasherInner>,
}

struct HasherInner {
    params: HashParams,
    argon2_params: Params,
    /// Permits to *be in* the pool (running or waiting); bounds memory and queueing.
    admission: Arc<Semaphore>,
    admission_capacity: usize,
    /// Jobs for the hashing threads. A fixed set of long-lived threads (not
    /// tokio's elastic blocking pool) bounds CPU, and bounds memory too: each
    /// 19 MiB argon2 buffer is retained by its thread's malloc arena, so the
    /// number of threads that ever hash must stay small.
    jobs: std::sync::mpsc::Sender<Job>,
    dummy_hash: OnceCell<String>,
}

type Job = Box<dyn FnOnce() + Send + 'static>;

fn spawn_workers(count: usize) -> Result<std::sync::mpsc::Sender<Job>, CoreError> {
    let (sender, receiver) = std::sync::mpsc::channel::<Job>();
    let receiver = Arc::new(std::sync::Mutex::new(receiver));
    for n in 0..count {
        let receiver = receiver.clone();
        std::thread::Builder::new()
            .name(format!("warden-hash-{n}"))
            .spawn(move || {
                loop {
                    // The lock is held only while waiting for the next job.
                    let job = match receiver.lock() {
                        Ok(guard) => guard.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(),
                        // Every sender is gone: the hasher was dropped.
                        Err(_) => return,
                    }
                }
            })
            .map_err(|e| CoreError::Unexpected(format!("cannot start hashing thread: {e}")))?;
    }
    Ok(sender)
}

impl PasswordHasher {
    /// A hasher with the given cost and pool limits.
    pub fn new(params: HashParams, limits: PoolLimits) -> Result<Self, CoreError> {
        let argon2_params = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            None,
        )
        .map_err(|e| CoreError::Unexpected(format!("invalid argon2 parameters: {e}")))?;
        let max_concurrent = limits.max_concurrent.max(1);
        let admission_capacity = max_concurrent + limits.max_queued;
        Ok(Self {
            inner: Arc::new(HasherInner {
                params,
                argon2_params,
                admission: Arc::new(Semaphore::new(admission_capacity)),
                admission_capacity,
                jobs: spawn_workers(max_concurrent)?,
                dummy_hash: OnceCell::new(),
            }),
        })
    }

    /// The parameters new hashes use.
    pub fn params(&self) -> HashParams {
        self.inner.params
    }

    /// Requests in the pool (running or waiting); exported as a metric.
    pub fn queue_depth(&self) -> usize {
        self.inner.admission_capacity - self.inner.admission.available_permits()
    }

    /// Hashes a password into a PHC string.
    pub async fn hash(&self, password: &Password) -> Result<String, CoreError> {
        let secret = Zeroizing::new(password.expose().to_owned());
        let params = self.inner.argon2_params.clone();
        self.run(move || {
            let salt = SaltString::generate(&mut rand::rngs::OsRng);
            let mut salt_buf = [0_u8; 64];
            let salt_bytes = salt
                .as_salt()
                .decode_b64(&mut salt_buf)
                .map_err(|e| CoreError::Unexpected(format!("salt encoding failed: {e}")))?;
            let mut out = [0_u8; argon2::Params::DEFAULT_OUTPUT_LEN];
            compute(
                &params,
                Version::V0x13,
                secret.as_bytes(),
                salt_bytes,
                &mut out,
            )?;
            let output = argon2::password_hash::Output::new(&out)
                .map_err(|e| CoreError::Unexpected(format!("argon2 output: {e}")))?;
            Ok(format!(
                "$argon2id$v=19$m={},t={},p={}${}${}",
                params.m_cost(),
                params.t_cost(),
                params.p_cost(),
                salt.as_str(),
                output
            ))
        })
        .await
    }

    /// Checks `password` against `phc`.
    pub async fn verify(&self, password: &Password, phc: &str) -> Result<Verification, CoreError> {
        let secret = Zeroizing::new(password.expose().to_owned());
        let phc = phc.to_owned();
        let current = self.inner.params;
        self.run(move || {
            let unreadable = |e: &dyn std::fmt::Display| {
                CoreError::Unexpected(format!("stored hash unreadable: {e}"))
            };
            let parsed = PasswordHash::new(&phc).map_err(|e| unreadable(&e))?;
            if parsed.algorithm.as_str() != "argon2id" {
                return Err(unreadable(&"not argon2id"));
            }
            let params = Params::try_from(&parsed).map_err(|e| unreadable(&e))?;
            let version = match parsed.version {
                Some(v) => Version::try_from(v).map_err(|e| unreadable(&e))?,
                None => Version::V0x13,
            };
            let expected = parsed.hash.ok_or_else(|| unreadable(&"no hash"))?;
            let salt = parsed.salt.ok_or_else(|| unreadable(&"no salt"))?;
            let mut salt_buf = [0_u8; 64];
            let salt_bytes = salt.decode_b64(&mut salt_buf).map_err(|e| unreadable(&e))?;
            let mut out = Zeroizing::new(vec![0_u8; expected.len()]);
            compute(&params, version, secret.as_bytes(), salt_bytes, &mut out)?;
            let computed = argon2::password_hash::Output::new(&out).map_err(|e| unreadable(&e))?;
            // `Output`'s equality is constant-time.
            let is_match = computed == expected;
            Ok(Verification {
                is_match,
                needs_rehash: is_match && !uses_params(&parsed, current),
            })
        })
        .await
    }

    /// Spends the same work as a real verification, for unknown accounts, so
    /// the response time does not tell which e-mails have an account.
    pub async fn verify_dummy(&self, password: &Password) -> Result<(), CoreError> {
        let dummy = self
            .inner
            .dummy_hash
            .get_or_try_init(|| async {
                let random = Password(Zeroizing::new(uuid::Uuid::new_v4().to_string()));
                self.hash(&random).await
            })
            .await?
            .clone();
        self.verify(password, &dummy).await.map(|_| ())
    }

    async fn run<T, F>(&self, work: F) -> Result<T, CoreError>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T, CoreError> + Send + 'static,
    {
        // The permit travels with the job: a cancelled request's job still
        // occupies its slot until it has run, so the queue stays bounded.
        let admitted = self
            .inner
            .admission
            .clone()
            .try_acquire_owned()
            .map_err(|_| CoreError::Overloaded)?;
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work))
                .unwrap_or_else(|_| Err(CoreError::Unexpected("hashing job panicked".into())));
            // Free the slot before answering, so a caller that has its answer
            // never sees its own job still counted.
            drop(admitted);
            // The receiver is gone only if the request was cancelled.
            let _ = done.send(outcome);
        });
        self.inner
            .jobs
            .send(job)
            .map_err(|_| CoreError::Unexpected("hashing threads stopped".into()))?;
        result
            .await
            .map_err(|_| CoreError::Unexpected("hashing job was dropped".into()))?
    }
}

thread_local! {
    /// The argon2 work area of this hashing thread, reused across hashes.
    /// Allocating 19 MiB per hash makes glibc raise its mmap threshold and
    /// keep the freed buffers in its arenas: hundreds of MiB of RSS after a
    /// sign-in burst. One buffer per thread keeps it at threads x m_cost.
    static BLOCKS: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn compute(
    params: &Params,
    version: Version,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), CoreError> {
    BLOCKS.with(|cell| {
        let mut blocks = cell.borrow_mut();
        let needed = params.block_count();
        if blocks.len() < needed {
            blocks.resize(needed, argon2::Block::default());
        }
        Argon2::new(Algorithm::Argon2id, version, params.clone())
            .hash_password_into_with_memory(password, salt, out, &mut blocks[..needed])
            .map_err(|e| CoreError::Unexpected(format!("argon2 failed: {e}")))
    })
}

fn uses_params(hash: &PasswordHash<'_>, current: HashParams) -> bool {
    let Ok(params) = Params::try_from(hash) else {
        return false;
    };
    hash.algorithm.as_str() == "argon2id"
        && hash.version == Some(0x13)
        && params.m_cost() == current.memory_kib
        && params.t_cost() == current.iterations
        && params.p_cost() == current.parallelism
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> HashParams {
        HashParams {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        }
    }

    #[test]
    fn policy_rejects_guessable_and_accepts_passphrases() {
        let policy = PasswordPolicy::default();
        let weak = Password::parse("password", "password", 256).unwrap();
        assert!(matches!(
            policy.check(&weak, &["alice@example.com"]),
            Err(CoreError::WeakPassword(_))
        ));
        let strong = Password::parse("correct horse battery staple 9!", "password", 256).unwrap();
        assert!(policy.check(&strong, &["alice@example.com"]).is_ok());
        let short = Password::parse("Zq9!x", "password", 256).unwrap();
        assert!(matches!(
            policy.check(&short, &[]),
            Err(CoreError::WeakPassword(_))
        ));
    }

    #[test]
    fn policy_uses_the_users_own_words_as_context() {
        let policy = PasswordPolicy::default();
        let pw = Password::parse("quentinblakeley-authservice", "password", 256).unwrap();
        assert!(
            policy
                .check(
                    &pw,
                    &[
                        "quentinblakeley@example.com",
                        "quentinblakeley",
                        "authservice"
                    ]
                )
                .is_err()
        );
    }

    #[test]
    fn overlong_passwords_are_refused_before_normalising() {
        let huge = "a".repeat(1 << 20);
        assert!(matches!(
            Password::parse(&huge, "password", 256),
            Err(CoreError::InvalidInput(_))
        ));
        assert!(Password::parse(&"é".repeat(256), "password", 256).is_ok());
        assert!(Password::parse(&"é".repeat(257), "password", 256).is_err());
    }

    #[test]
    fn normalisation_makes_composed_and_decomposed_forms_equal() {
        let nfc = Password::parse("pässwörd ☃", "password", 256).unwrap();
        let nfd = Password::parse("pa\u{308}sswo\u{308}rd ☃", "password", 256).unwrap();
        assert_eq!(nfc.expose(), nfd.expose());
    }

    #[tokio::test]
    async fn hashes_are_argon2id_phc_and_verify_whole_passwords_only() {
        let hasher = PasswordHasher::new(cheap(), PoolLimits::default()).unwrap();
        let long = "Tr0ub4dor&3-".repeat(9);
        let phc = hasher
            .hash(&Password::parse(&long, "password", 256).unwrap())
            .await
            .unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{phc}");
        let check = |p: String| {
            let hasher = hasher.clone();
            let phc = phc.clone();
            async move {
                hasher
                    .verify(&Password::parse(&p, "password", 256).unwrap(), &phc)
                    .await
                    .unwrap()
                    .is_match
            }
        };
        assert!(check(long.clone()).await);
        assert!(!check(long[..72].to_owned()).await);
        assert!(!check(format!("{long}x")).await);
        assert!(!check(long.to_uppercase()).await);
    }

    #[tokio::test]
    async fn hashes_interoperate_with_the_argon2_crates_own_phc_functions() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let hasher = PasswordHasher::new(cheap(), PoolLimits::default()).unwrap();
        let pw = Password::parse("correct horse battery staple 9!", "password", 256).unwrap();
        let ours = hasher.hash(&pw).await.unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            Argon2::default()
                .verify_password(pw.expose().as_bytes(), &parsed)
                .is_ok()
        );
        let params = Params::new(1024, 1, 1, None).unwrap();
        let theirs = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(
                pw.expose().as_bytes(),
                &SaltString::generate(&mut rand::rngs::OsRng),
            )
            .unwrap()
            .to_string();
        assert!(hasher.verify(&pw, &theirs).await.unwrap().is_match);
        let wrong = Password::parse("correct horse battery staple 8!", "password", 256).unwrap();
        assert!(!hasher.verify(&wrong, &theirs).await.unwrap().is_match);
    }

    #[tokio::test]
    async fn old_parameters_ask_for_a_rehash() {
        let old = PasswordHasher::new(cheap(), PoolLimits::default()).unwrap();
        let pw = Password::parse("correct horse battery staple 9!", "password", 256).unwrap();
        let phc = old.hash(&pw).await.unwrap();
        let newer = PasswordHasher::new(
            HashParams {
                memory_kib: 2048,
                ..cheap()
            },
            PoolLimits::default(),
        )
        .unwrap();
        let v = newer.verify(&pw, &phc).await.unwrap();
        assert!(v.is_match && v.needs_rehash);
        assert!(!old.verify(&pw, &phc).await.unwrap().needs_rehash);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_pool_answers_overloaded_instead_of_queueing_forever() {
        let hasher = PasswordHasher::new(
            HashParams {
                memory_kib: 8192,
                iterations: 3,
                parallelism: 1,
            },
            PoolLimits {
                max_concurrent: 1,
                max_queued: 1,
            },
        )
        .unwrap();
        let pw =
            Arc::new(Password::parse("correct horse battery staple 9!", "password", 256).unwrap());
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let hasher = hasher.clone();
            let pw = pw.clone();
            tasks.push(tokio::spawn(async move { hasher.hash(&pw).await }));
        }
        let mut overloaded = 0;
        let mut ok = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => ok += 1,
                Err(CoreError::Overloaded) => overloaded += 1,
                Err(e) => panic!("{e}"),
            }
        }
        // One runs and at most one waits at a time; with eight arriving
        // within one hash, some are refused (how many depends on scheduling).
        assert!(
            ok >= 1 && overloaded >= 1 && ok + overloaded == 8,
            "ok={ok} overloaded={overloaded}"
        );
        assert_eq!(hasher.queue_depth(), 0);
    }
}
