//! Claim fuzzing.

use super::*;

/// Reference model of the acceptance rules, written independently over
/// untyped JSON.
fn model_accepts(k: &SigningKey, token_len: usize, h: &Value, p: &Value, now: i64) -> bool {
    if token_len > MAX_TOKEN_LEN {
        return false;
    }
    let Some(h) = h.as_object() else { return false };
    let typ_ok = h.get("typ").and_then(Value::as_str).is_some_and(|t| {
        t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt")
    });
    let alg_ok = h.get("alg").and_then(Value::as_str) == Some(k.algorithm().as_str());
    let kid_ok = h.get("kid").and_then(Value::as_str) == Some(k.kid());
    let forbidden = ["jwk", "jku", "x5u", "x5c", "crit", "b64", "zip"]
        .iter()
        .any(|m| h.contains_key(*m));
    if !typ_ok || !alg_ok || !kid_ok || forbidden {
        return false;
    }
    let Some(p) = p.as_object() else { return false };
    let int = |n: &str| p.get(n).and_then(Value::as_i64);
    let string = |n: &str| p.get(n).and_then(Value::as_str);
    let (Some(exp), Some(iat), Some(nbf)) = (int("exp"), int("iat"), int("nbf")) else {
        return false;
    };
    if string("sub").is_none() || string("jti").is_none() || string("sid").is_none() {
        return false;
    }
    let strings = |v: &Value| v.as_array().is_some_and(|a| a.iter().all(Value::is_string));
    if !p.get("roles").is_some_and(strings) {
        return false;
    }
    let aud_ok = match p.get("aud") {
        Some(Value::String(a)) => a == AUD,
        Some(v @ Value::Array(a)) => strings(v) && a.iter().any(|x| x == AUD),
        _ => return false,
    };
    let aud_typed =
        matches!(p.get("aud"), Some(Value::String(_))) || p.get("aud").is_some_and(strings);
    if !aud_typed {
        return false;
    }
    // The authentication context may be missing (older tokens), never
    // mistyped.
    let context_typed = p.get("amr").is_none_or(strings)
        && p.get("acr").is_none_or(Value::is_string)
        && p.get("auth_time").is_none_or(|t| t.as_i64().is_some());
    if !context_typed {
        return false;
    }
    // The OAuth claims may be missing or null, never mistyped.
    let oauth_typed = ["client_id", "scope"]
        .iter()
        .all(|n| p.get(*n).is_none_or(|v| v.is_string() || v.is_null()));
    if !oauth_typed {
        return false;
    }
    exp > now - LEEWAY
        && nbf <= now + LEEWAY
        && iat <= now + LEEWAY
        && string("iss") == Some(ISS)
        && aud_ok
}

fn retypes() -> Vec<Value> {
    vec![
        json!(42),
        json!("42"),
        json!([1]),
        json!(["x"]),
        json!([]),
        json!(null),
        json!({}),
        json!({"a": 1}),
        json!(true),
        json!(1.5),
    ]
}

fn extremes() -> Vec<Value> {
    vec![
        json!(i64::MAX),
        json!(i64::MIN),
        json!(u64::MAX),
        json!(-1),
        json!(0),
        json!(1e300),
        json!(NOW as f64),
        json!(""),
        json!("x".repeat(7000)),
        json!("\u{0000}\u{202e}é"),
        json!(AUD),
        json!(ISS),
        json!([AUD]),
        json!([AUD, "x"]),
        json!([AUD, 1]),
        json!(["admin", null]),
        json!(NOW - LEEWAY),
        json!(NOW + LEEWAY + 1),
    ]
}

fn mutations(k: &SigningKey) -> Vec<(String, Value, Value)> {
    let (h0, p0) = (header(k), payload());
    let mut out = Vec::new();
    for name in p0.as_object().unwrap().keys() {
        let mut p = p0.clone();
        p.as_object_mut().unwrap().remove(name);
        out.push((format!("remove claim {name}"), h0.clone(), p));
        for v in retypes().into_iter().chain(extremes()) {
            let mut p = p0.clone();
            p[name] = v.clone();
            out.push((format!("claim {name} = {v:.40}"), h0.clone(), p));
        }
    }
    for (name, v) in [
        ("scope", json!("admin")),
        ("scope", json!(["admin"])),
        ("scope", json!(null)),
        ("client_id", json!("app")),
        ("client_id", json!(1)),
        ("roles2", json!(["root"])),
        ("", json!(1)),
    ] {
        let mut p = p0.clone();
        p[name] = v;
        out.push((format!("add claim {name:?}"), h0.clone(), p));
    }
    for payload in [json!(null), json!([]), json!("x"), json!(1), json!({})] {
        out.push((format!("payload {payload}"), h0.clone(), payload));
    }
    for name in h0.as_object().unwrap().keys() {
        let mut h = h0.clone();
        h.as_object_mut().unwrap().remove(name);
        out.push((format!("remove header {name}"), h, p0.clone()));
        for v in retypes().into_iter().chain([
            json!(""),
            json!("none"),
            json!("HS256"),
            json!("ES384"),
            json!("JWT"),
            json!("application/at+jwt"),
            json!(k.kid().to_uppercase()),
            json!(format!("{} ", k.kid())),
        ]) {
            let mut h = h0.clone();
            h[name] = v.clone();
            out.push((format!("header {name} = {v}"), h, p0.clone()));
        }
    }
    for (name, v) in [
        ("jwk", serde_json::to_value(k.public_jwk()).unwrap()),
        ("jku", json!("http://127.0.0.1:9/")),
        ("x5u", json!("http://127.0.0.1:9/")),
        ("x5c", json!([])),
        ("crit", json!([])),
        ("zip", json!("DEF")),
        ("cty", json!("JWT")),
        ("x5t", json!("AAAA")),
    ] {
        let mut h = h0.clone();
        h[name] = v;
        out.push((format!("add header {name}"), h, p0.clone()));
    }
    for header in [json!(null), json!([]), json!("at+jwt"), json!({})] {
        out.push((format!("header {header}"), header, p0.clone()));
    }
    out
}

#[test]
fn claim_fuzzing() {
    let v = verifier();
    let mut checked = 0usize;
    let mut accepted_resigned = 0usize;
    for k in keys() {
        let (h0, p0) = (header(k), payload());
        let base = sign_json(k, &h0, &p0);
        assert!(v.verify(&base, NOW).is_ok());
        let (bh, bp, bs) = split(&base);
        for (what, h, p) in mutations(k) {
            // 1. Original signature: must be rejected unless byte-identical.
            let t = unsigned(&h, &p, bs);
            let (th, tp, _) = split(&t);
            if (th, tp) != (bh, bp) {
                assert!(
                    v.verify(&t, NOW).is_err(),
                    "{}: accepted with original signature: {what}",
                    k.algorithm()
                );
            }
            // 2. Re-signed with the real key: accepted iff the model says so.
            let t = sign_json(k, &h, &p);
            let expected = model_accepts(k, t.len(), &h, &p, NOW);
            let got = v.verify(&t, NOW);
            assert_eq!(got.is_ok(), expected, "{}: {what}: {got:?}", k.algorithm());
            if let Ok(claims) = got {
                accepted_resigned += 1;
                let oauth =
                    usize::from(claims.client_id.is_some()) + usize::from(claims.scope.is_some());
                assert_eq!(
                    serde_json::to_value(&claims)
                        .unwrap()
                        .as_object()
                        .unwrap()
                        .len(),
                    12 + oauth
                );
                let mut expected_claims = p.clone();
                let expected = expected_claims.as_object_mut().unwrap();
                expected.retain(|name, v| {
                    p0.as_object().unwrap().contains_key(name)
                        || (["client_id", "scope"].contains(&name.as_str()) && !v.is_null())
                });
                // What a missing authentication context decodes as.
                expected.entry("amr").or_insert(json!([]));
                expected.entry("acr").or_insert(json!("aal1"));
                expected.entry("auth_time").or_insert(json!(0));
                assert_eq!(
                    serde_json::to_value(&claims).unwrap(),
                    expected_claims,
                    "{what}"
                );
            }
            checked += 1;
        }
    }
    eprintln!("fuzz: {checked} mutations, {accepted_resigned} accepted after re-signing");
    assert!(checked > 300, "only {checked} mutations");
    assert!(accepted_resigned > 0 && accepted_resigned < checked / 2);
}
