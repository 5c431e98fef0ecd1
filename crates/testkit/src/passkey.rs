//! A software passkey for API tests: it answers Warden's WebAuthn options
//! as an authenticator and a browser would (packed-less `none`
//! attestation, ES256, CBOR and client data built here), so the ceremonies
//! run against the real webauthn-rs verification without a browser. The
//! browser tests use Chromium's virtual authenticator instead.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{DerSignature, SigningKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// One credential on a software authenticator.
pub struct SoftPasskey {
    key: SigningKey,
    /// The credential id.
    pub credential_id: Vec<u8>,
    /// The user handle it was registered with (the account's id, as bytes).
    pub user_handle: Vec<u8>,
    origin: String,
    counter: u32,
    /// Whether it reports user verification (a PIN or a fingerprint).
    pub user_verified: bool,
    /// Whether it says it is synced (backup-eligible and backed up).
    pub synced: bool,
}

impl SoftPasskey {
    /// A new key for pages at `origin` (`https://warden.test` in tests).
    pub fn new(origin: &str) -> Self {
        let id: [u8; 16] = rand::random();
        Self {
            key: SigningKey::random(&mut rand::rngs::OsRng),
            credential_id: id.to_vec(),
            user_handle: Vec::new(),
            origin: origin.to_owned(),
            counter: 0,
            user_verified: true,
            synced: false,
        }
    }

    /// The credential id, base64url.
    pub fn id(&self) -> String {
        URL_SAFE_NO_PAD.encode(&self.credential_id)
    }

    /// Answers creation options (`{"publicKey": ...}`) with a new
    /// credential, as `PublicKeyCredential.toJSON()` would.
    pub fn register(&mut self, options: &Value) -> Value {
        let public_key = &options["publicKey"];
        let rp_id = public_key["rp"]["id"].as_str().expect("rp.id");
        self.user_handle = URL_SAFE_NO_PAD
            .decode(public_key["user"]["id"].as_str().expect("user.id"))
            .expect("user.id is base64url");
        let client_data = self.client_data("webauthn.create", public_key);
        let point = self.key.verifying_key().to_encoded_point(false);
        let mut cose = Vec::new();
        cbor_map(&mut cose, 5);
        cbor_int(&mut cose, 1);
        cbor_int(&mut cose, 2); // kty: EC2
        cbor_int(&mut cose, 3);
        cbor_int(&mut cose, -7); // alg: ES256
        cbor_int(&mut cose, -1);
        cbor_int(&mut cose, 1); // crv: P-256
        cbor_int(&mut cose, -2);
        cbor_bytes(&mut cose, point.x().expect("x"));
        cbor_int(&mut cose, -3);
        cbor_bytes(&mut cose, point.y().expect("y"));
        let mut auth_data = self.auth_data(rp_id, 0x40);
        auth_data.extend_from_slice(&[0u8; 16]); // AAGUID
        let id_len = u16::try_from(self.credential_id.len()).expect("short id");
        auth_data.extend_from_slice(&id_len.to_be_bytes());
        auth_data.extend_from_slice(&self.credential_id);
        auth_data.extend_from_slice(&cose);
        let mut attestation = Vec::new();
        cbor_map(&mut attestation, 3);
        cbor_text(&mut attestation, "fmt");
        cbor_text(&mut attestation, "none");
        cbor_text(&mut attestation, "attStmt");
        cbor_map(&mut attestation, 0);
        cbor_text(&mut attestation, "authData");
        cbor_bytes(&mut attestation, &auth_data);
        json!({
            "id": self.id(),
            "rawId": self.id(),
            "type": "public-key",
            "response": {
                "attestationObject": URL_SAFE_NO_PAD.encode(attestation),
                "clientDataJSON": URL_SAFE_NO_PAD.encode(client_data),
                "transports": ["internal"],
            },
            "extensions": {},
        })
    }

    /// Answers request options (`{"publicKey": ...}`, or the body of
    /// `POST /v1/webauthn/signin/options`) with an assertion.
    pub fn sign_in(&mut self, options: &Value) -> Value {
        let public_key = &options["publicKey"];
        let rp_id = public_key["rpId"].as_str().expect("rpId");
        let client_data = self.client_data("webauthn.get", public_key);
        self.counter += 1;
        let auth_data = self.auth_data(rp_id, 0);
        let mut signed = auth_data.clone();
        signed.extend_from_slice(&Sha256::digest(&client_data));
        let signature: DerSignature = self.key.sign(&signed);
        json!({
            "id": self.id(),
            "rawId": self.id(),
            "type": "public-key",
            "response": {
                "authenticatorData": URL_SAFE_NO_PAD.encode(&auth_data),
                "clientDataJSON": URL_SAFE_NO_PAD.encode(client_data),
                "signature": URL_SAFE_NO_PAD.encode(signature.as_bytes()),
                "userHandle": URL_SAFE_NO_PAD.encode(&self.user_handle),
            },
            "extensions": {},
        })
    }

    fn client_data(&self, kind: &str, public_key: &Value) -> Vec<u8> {
        let challenge = public_key["challenge"].as_str().expect("challenge");
        serde_json::to_vec(&json!({
            "type": kind,
            "challenge": challenge,
            "origin": self.origin,
            "crossOrigin": false,
        }))
        .expect("client data")
    }

    /// rpIdHash, flags (user present, `extra`, and verified / backed up as
    /// set), the signature counter.
    fn auth_data(&self, rp_id: &str, extra: u8) -> Vec<u8> {
        let mut flags = 0x01 | extra;
        if self.user_verified {
            flags |= 0x04;
        }
        if self.synced {
            flags |= 0x08 | 0x10;
        }
        let mut data = Sha256::digest(rp_id.as_bytes()).to_vec();
        data.push(flags);
        data.extend_from_slice(&self.counter.to_be_bytes());
        data
    }
}

fn cbor_head(out: &mut Vec<u8>, major: u8, len: u64) {
    let major = major << 5;
    match len {
        0..=23 => out.push(major | len as u8),
        24..=0xff => out.extend_from_slice(&[major | 24, len as u8]),
        0x100..=0xffff => {
            out.push(major | 25);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(major | 26);
            out.extend_from_slice(&(len as u32).to_be_bytes());
        }
    }
}

fn cbor_int(out: &mut Vec<u8>, value: i64) {
    if value >= 0 {
        cbor_head(out, 0, value as u64);
    } else {
        cbor_head(out, 1, (-1 - value) as u64);
    }
}

fn cbor_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    cbor_head(out, 2, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn cbor_text(out: &mut Vec<u8>, text: &str) {
    cbor_head(out, 3, text.len() as u64);
    out.extend_from_slice(text.as_bytes());
}

fn cbor_map(out: &mut Vec<u8>, entries: u64) {
    cbor_head(out, 5, entries);
}
