//! Encryption of signing keys at rest: AES-256-GCM under the configured
//! key-encryption key (`WARDEN_KEYS_ENCRYPTION_KEY`), a random 96-bit nonce per
//! key, and the `kid` as associated data so a ciphertext cannot be moved to
//! another key id. Queued mail's template values are sealed the same way,
//! bound to the message id.

use std::fmt;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use warden_core::{StoreError, UserId};
use zeroize::Zeroizing;

/// Length of the AES-GCM nonce in bytes.
pub const NONCE_LEN: usize = 12;

/// The message returned when stored keys cannot be decrypted.
pub const WRONG_KEK: &str = "signing keys cannot be decrypted: wrong WARDEN_KEYS_ENCRYPTION_KEY?";

/// Encrypts and decrypts private signing keys.
///
/// A store opened without a key-encryption key ([`KeyCipher::none`]) serves
/// every use case but signing keys: commands that never sign (`warden user
/// add`, `warden migrate`) need no key-encryption key.
#[derive(Clone)]
pub struct KeyCipher {
    cipher: Option<Aes256Gcm>,
}

/// The message returned when signing keys are needed without the key.
pub const NO_KEK: &str = "signing keys need the key-encryption key (WARDEN_KEYS_ENCRYPTION_KEY), which this command was not given";

impl From<[u8; 32]> for KeyCipher {
    fn from(mut kek: [u8; 32]) -> Self {
        let cipher = KeyCipher::new(&kek);
        zeroize::Zeroize::zeroize(&mut kek);
        cipher
    }
}

impl fmt::Debug for KeyCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyCipher([redacted])")
    }
}

/// A private key as stored: nonce and ciphertext (with the GCM tag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// The 96-bit nonce.
    pub nonce: Vec<u8>,
    /// Ciphertext followed by the 128-bit tag.
    pub ciphertext: Vec<u8>,
}

impl KeyCipher {
    /// A cipher under the 32-byte key-encryption key.
    pub fn new(kek: &[u8; 32]) -> Self {
        let key: &Key<Aes256Gcm> = kek.into();
        Self {
            cipher: Some(Aes256Gcm::new(key)),
        }
    }

    /// A cipher without a key: sealing and opening signing keys fail with
    /// [`NO_KEK`].
    pub fn none() -> Self {
        Self { cipher: None }
    }

    fn cipher(&self) -> Result<&Aes256Gcm, StoreError> {
        self.cipher
            .as_ref()
            .ok_or_else(|| StoreError::Unexpected(NO_KEK.into()))
    }

    /// Encrypts `plaintext` bound to `kid`.
    pub fn seal(&self, kid: &str, plaintext: &[u8]) -> Result<Sealed, StoreError> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let ciphertext = self
            .cipher()?
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: kid.as_bytes(),
                },
            )
            .map_err(|_| StoreError::Unexpected("signing key encryption failed".into()))?;
        Ok(Sealed {
            nonce: nonce.to_vec(),
            ciphertext,
        })
    }

    /// Decrypts a key sealed for `kid`; a wrong key-encryption key, a tampered
    /// ciphertext or a ciphertext of another kid all fail with [`WRONG_KEK`].
    pub fn open(&self, kid: &str, sealed: &Sealed) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        let nonce_bytes: [u8; NONCE_LEN] = sealed.nonce.as_slice().try_into().map_err(|_| {
            StoreError::Unexpected(format!("signing key {kid} has a malformed nonce"))
        })?;
        let nonce = Nonce::from(nonce_bytes);
        self.cipher()?
            .decrypt(
                &nonce,
                Payload {
                    msg: &sealed.ciphertext,
                    aad: kid.as_bytes(),
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| StoreError::Unexpected(WRONG_KEK.into()))
    }
}

/// The associated data binding a queued message's values to its id, so
/// sealed values cannot be moved to another message (or taken for a key).
fn mail_aad(mail_id: &str) -> String {
    format!("mail_queue:{mail_id}")
}

impl KeyCipher {
    /// Encrypts a queued message's template values (they may hold a
    /// secret link), bound to the message id.
    pub fn seal_mail_values(&self, mail_id: &str, plaintext: &[u8]) -> Result<Sealed, StoreError> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let ciphertext = self
            .cipher()
            .map_err(|_| StoreError::Unexpected(NO_KEK_MAIL.into()))?
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: mail_aad(mail_id).as_bytes(),
                },
            )
            .map_err(|_| StoreError::Unexpected("mail values encryption failed".into()))?;
        Ok(Sealed {
            nonce: nonce.to_vec(),
            ciphertext,
        })
    }

    /// Decrypts what [`KeyCipher::seal_mail_values`] sealed for `mail_id`.
    pub fn open_mail_values(
        &self,
        mail_id: &str,
        sealed: &Sealed,
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        let nonce_bytes: [u8; NONCE_LEN] = sealed.nonce.as_slice().try_into().map_err(|_| {
            StoreError::Unexpected(format!("queued mail {mail_id} has a malformed nonce"))
        })?;
        self.cipher()
            .map_err(|_| StoreError::Unexpected(NO_KEK_MAIL.into()))?
            .decrypt(
                &Nonce::from(nonce_bytes),
                Payload {
                    msg: &sealed.ciphertext,
                    aad: mail_aad(mail_id).as_bytes(),
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| {
                StoreError::Unexpected(format!(
                    "queued mail {mail_id} cannot be decrypted: wrong WARDEN_KEYS_ENCRYPTION_KEY?"
                ))
            })
    }
}

/// The message returned when mail is queued or read without the key.
pub const NO_KEK_MAIL: &str = "queued mail needs the key-encryption key (WARDEN_KEYS_ENCRYPTION_KEY), which this command was not given";

/// The message returned when a TOTP secret is stored or read without the key.
pub const NO_KEK_TOTP: &str = "TOTP secrets need the key-encryption key (WARDEN_KEYS_ENCRYPTION_KEY), which this command was not given";

/// The associated data binding a TOTP secret to its account, so a sealed
/// secret cannot be moved to another account (or taken for a key or mail).
fn totp_aad(user: UserId) -> String {
    format!("totp:{user}")
}

impl KeyCipher {
    /// Encrypts an account's TOTP secret, bound to the user id.
    pub fn seal_totp(&self, user: UserId, plaintext: &[u8]) -> Result<Sealed, StoreError> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let ciphertext = self
            .cipher()
            .map_err(|_| StoreError::Unexpected(NO_KEK_TOTP.into()))?
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: totp_aad(user).as_bytes(),
                },
            )
            .map_err(|_| StoreError::Unexpected("TOTP secret encryption failed".into()))?;
        Ok(Sealed {
            nonce: nonce.to_vec(),
            ciphertext,
        })
    }

    /// Decrypts what [`KeyCipher::seal_totp`] sealed for `user`; a wrong
    /// key-encryption key, a tampered ciphertext or one of another account
    /// all fail.
    pub fn open_totp(
        &self,
        user: UserId,
        sealed: &Sealed,
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        let nonce_bytes: [u8; NONCE_LEN] = sealed.nonce.as_slice().try_into().map_err(|_| {
            StoreError::Unexpected(format!("the TOTP secret of {user} has a malformed nonce"))
        })?;
        self.cipher()
            .map_err(|_| StoreError::Unexpected(NO_KEK_TOTP.into()))?
            .decrypt(
                &Nonce::from(nonce_bytes),
                Payload {
                    msg: &sealed.ciphertext,
                    aad: totp_aad(user).as_bytes(),
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| {
                StoreError::Unexpected(format!(
                    "the TOTP secret of {user} cannot be decrypted: wrong WARDEN_KEYS_ENCRYPTION_KEY?"
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_key_nothing_is_sealed_or_opened() {
        let sealed = KeyCipher::new(&[7; 32]).seal("k1", b"secret der").unwrap();
        let none = KeyCipher::none();
        for err in [
            none.seal("k1", b"secret der").unwrap_err(),
            none.open("k1", &sealed).unwrap_err(),
        ] {
            assert!(
                err.to_string().contains("WARDEN_KEYS_ENCRYPTION_KEY"),
                "{err}"
            );
        }
    }

    #[test]
    fn round_trips_and_binds_the_kid() {
        let cipher = KeyCipher::new(&[7; 32]);
        let sealed = cipher.seal("k1", b"secret der").unwrap();
        assert_eq!(sealed.nonce.len(), NONCE_LEN);
        assert_ne!(sealed.ciphertext, b"secret der");
        assert_eq!(
            cipher.open("k1", &sealed).unwrap().as_slice(),
            b"secret der"
        );
        assert!(cipher.open("k2", &sealed).is_err());
        let other = KeyCipher::new(&[8; 32]);
        match other.open("k1", &sealed) {
            Err(StoreError::Unexpected(msg)) => assert_eq!(msg, WRONG_KEK),
            other => panic!("expected the wrong-KEK error, got {other:?}"),
        }
    }

    #[test]
    fn mail_values_round_trip_bound_to_their_message() {
        let cipher = KeyCipher::new(&[7; 32]);
        let sealed = cipher.seal_mail_values("m1", b"{\"link\":\"x\"}").unwrap();
        assert_eq!(
            cipher.open_mail_values("m1", &sealed).unwrap().as_slice(),
            b"{\"link\":\"x\"}"
        );
        assert!(cipher.open_mail_values("m2", &sealed).is_err());
        assert!(cipher.open("m1", &sealed).is_err());
        assert!(KeyCipher::none().seal_mail_values("m1", b"x").is_err());
    }

    #[test]
    fn totp_secrets_round_trip_bound_to_their_account() {
        let cipher = KeyCipher::new(&[7; 32]);
        let (ada, bob) = (UserId::new(), UserId::new());
        let sealed = cipher.seal_totp(ada, b"twenty secret bytes!").unwrap();
        assert_ne!(sealed.ciphertext, b"twenty secret bytes!");
        assert_eq!(
            cipher.open_totp(ada, &sealed).unwrap().as_slice(),
            b"twenty secret bytes!"
        );
        // Moved to another account, or read as anything else, it does not open.
        assert!(cipher.open_totp(bob, &sealed).is_err());
        assert!(cipher.open(&ada.to_string(), &sealed).is_err());
        assert!(cipher.open_mail_values(&ada.to_string(), &sealed).is_err());
        assert!(KeyCipher::new(&[8; 32]).open_totp(ada, &sealed).is_err());
        assert!(KeyCipher::none().seal_totp(ada, b"x").is_err());
    }

    #[test]
    fn nonces_differ_per_key() {
        let cipher = KeyCipher::new(&[7; 32]);
        let a = cipher.seal("k1", b"x").unwrap();
        let b = cipher.seal("k1", b"x").unwrap();
        assert_ne!(a.nonce, b.nonce);
    }
}
