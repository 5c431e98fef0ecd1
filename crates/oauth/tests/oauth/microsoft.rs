use chrono::Utc;
use serde_json::json;
use warden_oauth::{IdTokenProblem, OAuthError, ProviderKind};

use crate::keys::{self, TestKey};
use crate::op::Op;
use crate::{claims, config, discover, sign_in};

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

/// A multi-tenant ("common") Microsoft provider on the local OP, whose
/// discovery names the `{tenantid}` issuer template as Microsoft's does.
async fn microsoft(key: &TestKey) -> (Op, warden_oauth::Provider) {
    let op = Op::start().await;
    op.set_jwks(keys::jwks(&[key]));
    op.set_document_issuer(&format!("{}/{{tenantid}}/v2.0", op.base));
    let provider = discover(config(
        ProviderKind::Microsoft,
        &format!("{}/common/v2.0", op.base),
    ))
    .await;
    (op, provider)
}

fn microsoft_claims(op: &Op, iss_tenant: &str, tid: &str) -> serde_json::Value {
    let mut c = claims(op, Utc::now());
    c["iss"] = json!(format!("{}/{iss_tenant}/v2.0", op.base));
    c["tid"] = json!(tid);
    c["oid"] = json!("00000000-0000-0000-66f3-3332eca7ea81");
    c["sub"] = json!("pairwise-subject-for-this-app");
    c
}

#[tokio::test]
async fn a_multi_tenant_sign_in_takes_the_issuer_from_tid_and_the_subject_from_oid() {
    let key = TestKey::rsa(0, "ms");
    let (op, provider) = microsoft(&key).await;
    let mut c = microsoft_claims(&op, TENANT, TENANT);
    c.as_object_mut().unwrap().remove("email_verified");
    let profile = sign_in(&provider, &op, Some(key.sign(&c)), Utc::now())
        .await
        .unwrap();
    assert_eq!(profile.issuer, format!("{}/{TENANT}/v2.0", op.base));
    assert_eq!(profile.subject, "00000000-0000-0000-66f3-3332eca7ea81");
    // Microsoft's `email` is not verified unless the token says so.
    assert!(!profile.email_verified);
}

#[tokio::test]
async fn a_token_whose_issuer_names_another_tenant_than_its_tid_is_refused() {
    let key = TestKey::rsa(0, "ms");
    let (op, provider) = microsoft(&key).await;
    let c = microsoft_claims(&op, "another-tenant", TENANT);
    let result = sign_in(&provider, &op, Some(key.sign(&c)), Utc::now()).await;
    assert!(
        matches!(
            result,
            Err(OAuthError::InvalidIdToken {
                reason: IdTokenProblem::Issuer,
                ..
            })
        ),
        "{result:?}"
    );
}
