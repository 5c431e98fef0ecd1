//! The `WARDEN_*` environment layer.
//!
//! Hand-kept rather than figment's `Env::prefixed("WARDEN_").split("__")`,
//! which cannot keep today's behaviour:
//!
//! - `Env` reads only the process environment (`std::env::vars_os`), while
//!   [`Config::load`](super::Config::load) takes the environment as an
//!   argument so its tests never touch global state (setting variables is
//!   `unsafe` in edition 2024, and the workspace forbids `unsafe`).
//! - The names have one `_` between section and key
//!   (`WARDEN_TOKENS_ACCESS_TTL_SECS`, while `WARDEN_DATABASE_URL` is the
//!   top-level `database_url`): `split("__")` would rename every variable,
//!   and mapping them still needs the list of sections below.
//! - `Env` parses values with figment's own grammar (arrays, tables,
//!   quoted strings), so a secret or URL starting with `[`, `{` or `"`
//!   would change meaning; here only whole numbers, booleans and decimals
//!   become typed ([`parse_env_value`]).
//! - Merged as one provider, an unknown variable is an error (not a
//!   warning naming the nearest setting) and a bad one is reported with
//!   its value, which may be a secret.
//!
//! `_FILE` variants are ordinary keys (`database_url_file`,
//! `keys.encryption_key_file`, `revocations_token_file`, `mail.smtp_url_file`) read after all
//! layers are merged. The test `sections_are_the_tables_of_the_config`
//! keeps [`SECTIONS`] in step with the configuration's shape.

use anyhow::bail;
use figment::Figment;
use figment::providers::Serialized;

use super::RawConfig;

/// Sections whose keys the environment spells `WARDEN_<SECTION>_<KEY>`.
const SECTIONS: &[&str] = &[
    "http",
    "grpc",
    "database",
    "tokens",
    "sessions",
    "passwords",
    "signin",
    "keys",
    "log",
    "events",
    "verify",
    "otel",
    "mail",
    "ui",
    "signup",
    "links",
    "oauth",
    "mfa",
    "oauth2",
    "webauthn",
];

/// Merges the `WARDEN_*` variables of `env` over `figment`. Unknown
/// variables come back as warnings; a variable of the wrong type is an
/// error naming it.
pub(super) fn merge(
    mut figment: Figment,
    env: &[(String, String)],
) -> anyhow::Result<(Figment, Vec<String>)> {
    let mut warnings = Vec::new();
    let mut from_env = std::collections::BTreeMap::new();
    for (name, value) in env {
        let Some(key) = name.strip_prefix("WARDEN_") else {
            continue;
        };
        // Test-harness variables share the prefix but are not
        // configuration; WARDEN_CONFIG is `--config`, read by the CLI.
        if key.starts_with("TEST_") || key == "CONFIG" {
            continue;
        }
        from_env.insert(env_key(key), (name, value));
    }
    for (key, (name, value)) in from_env {
        let value = parse_env_value(value.clone().into());
        // Each variable is checked alone on the defaults, so a problem
        // names the variable rather than figment's merged view. Other
        // programs share the prefix (a demo's WARDEN_BIN): an unknown
        // variable is a warning, an unknown key in a file an error.
        let alone = Figment::from(Serialized::defaults(RawConfig::default()))
            .merge((key.as_str(), value.clone()));
        match alone.extract::<RawConfig>() {
            Ok(_) => figment = figment.merge((key.as_str(), value)),
            Err(e) => match env_problem(name, &key, e) {
                EnvProblem::Unknown(warning) => warnings.push(warning),
                EnvProblem::Invalid(error) => bail!("{error}"),
            },
        }
    }
    Ok((figment, warnings))
}

/// Maps `WARDEN_HTTP_LISTEN` to `http.listen`, `WARDEN_DATA_DIR` to `data_dir`.
fn env_key(key: &str) -> String {
    let key = key.to_ascii_lowercase();
    // The contract's WARDEN_DATABASE_URL is the top-level `database_url`.
    if key == "database_url" || key == "database_url_file" {
        return key;
    }
    for section in SECTIONS {
        if let Some(rest) = key.strip_prefix(&format!("{section}_")) {
            return format!("{section}.{rest}");
        }
    }
    key
}

enum EnvProblem {
    Unknown(String),
    Invalid(String),
}

/// What is wrong with one `WARDEN_*` variable, in its own terms: the
/// variable's name, the type it needs or the nearest real variable. Never
/// the value, which may be a secret.
fn env_problem(name: &str, key: &str, error: figment::Error) -> EnvProblem {
    use figment::error::Kind;
    let section = key.split_once('.').map(|(section, _)| section);
    let as_env = |field: &str| match section {
        Some(section) => format!("WARDEN_{}_{}", section, field).to_ascii_uppercase(),
        None => format!("WARDEN_{field}").to_ascii_uppercase(),
    };
    let mut invalid = Vec::new();
    for e in error {
        match &e.kind {
            Kind::UnknownField(field, expected) => {
                // A section (`WARDEN_UI`) is not a setting: never suggest one.
                let settings: Vec<&str> = expected
                    .iter()
                    .copied()
                    .filter(|c| section.is_some() || !SECTIONS.contains(c))
                    .collect();
                let hint = nearest(field, &settings)
                    .map(|n| format!(" (did you mean {}?)", as_env(n)))
                    .unwrap_or_default();
                return EnvProblem::Unknown(format!(
                    "ignoring {name}: it is not a Warden setting{hint}"
                ));
            }
            Kind::InvalidType(_, expected) | Kind::InvalidValue(_, expected) => {
                invalid.push(format!("{name} must be {}", friendly_type(expected)));
            }
            Kind::Message(message) => invalid.push(format!("{name}: {message}")),
            _ => invalid.push(format!("{name} is not valid here")),
        }
    }
    EnvProblem::Invalid(format!("invalid environment: {}", invalid.join("; ")))
}

/// serde's name for a type, as an operator would say it.
fn friendly_type(expected: &str) -> String {
    match expected {
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number (an integer, 0 or more)".into(),
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number (an integer)".into(),
        "f32" | "f64" => "a number".into(),
        "a boolean" | "bool" => "true or false".into(),
        other => other.to_owned(),
    }
}

/// The candidate closest to `word` by edit distance, if close enough to be
/// a typo rather than another word.
fn nearest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    // A left-out unit suffix (`ACCESS_TTL` for `ACCESS_TTL_SECS`) is the
    // commonest slip, and far in edit distance: it ranks first.
    let limit = (word.len() / 3).max(2);
    candidates
        .iter()
        .map(|c| (!c.starts_with(word), edit_distance(word, c), *c))
        // A short name is "near" anything of similar length (`bin` is two
        // edits from `ui`): a suggestion must keep some of its letters.
        .filter(|(not_prefix, d, c)| !*not_prefix || (*d <= limit && *d < c.chars().count()))
        .min_by_key(|(not_prefix, d, _)| (*not_prefix, *d))
        .map(|(_, _, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// Environment values are strings; numbers and booleans become typed so
/// `WARDEN_TOKENS_ACCESS_TTL_SECS=600` works.
fn parse_env_value(value: figment::value::Value) -> figment::value::Value {
    use figment::value::Value;
    match &value {
        Value::String(tag, s) => {
            if let Ok(n) = s.parse::<u64>() {
                Value::Num(*tag, figment::value::Num::U64(n))
            } else if let Ok(b) = s.parse::<bool>() {
                Value::Bool(*tag, b)
            } else if let Ok(x) = s.parse::<f64>()
                && s.contains('.')
            {
                Value::Num(*tag, figment::value::Num::F64(x))
            } else {
                value
            }
        }
        _ => value,
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use super::*;
    use crate::config::test_env as env;
    use crate::config::{Config, Overrides, TokensSection};

    #[test]
    fn environment_overrides_file_and_flags_override_environment() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("warden.toml");
        std::fs::write(
            &file,
            "issuer = \"https://file.example\"\n[tokens]\naccess_ttl_secs = 300\n",
        )
        .unwrap();
        let config = Config::load(
            Some(&file),
            &env(&[
                ("WARDEN_TOKENS_ACCESS_TTL_SECS", "600"),
                ("WARDEN_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.0.1"),
                ("WARDEN_DATA_DIR", "/from/env"),
                ("WARDEN_TEST_REQUIRE_SERVICES", "1"),
                ("OTHER", "x"),
            ]),
            &Overrides {
                data_dir: Some("/from/flag".into()),
                ..Overrides::default()
            },
        )
        .unwrap();
        assert_eq!(config.issuer(), "https://file.example");
        assert_eq!(config.tokens.access_ttl, Duration::from_secs(600));
        assert_eq!(config.trusted_proxies.len(), 2);
        assert_eq!(config.data_dir, PathBuf::from("/from/flag"));
    }

    #[test]
    fn unknown_variables_are_warnings_naming_the_nearest_setting() {
        let config = Config::load(
            None,
            &env(&[
                ("WARDEN_BIN", "/usr/local/bin/warden"),
                ("WARDEN_TOKENS_ACCESS_TTL", "5"),
                ("WARDEN_HTTP_LISTN", "127.0.0.1:9000"),
            ]),
            &Overrides::default(),
        )
        .expect("unknown variables do not stop the server");
        let warnings = config.warnings.join("\n");
        assert!(
            warnings.contains("ignoring WARDEN_BIN: it is not a Warden setting\n"),
            "{warnings}"
        );
        assert!(
            warnings.contains("ignoring WARDEN_TOKENS_ACCESS_TTL: it is not a Warden setting (did you mean WARDEN_TOKENS_ACCESS_TTL_SECS?)"),
            "{warnings}"
        );
        assert!(
            warnings.contains("(did you mean WARDEN_HTTP_LISTEN?)"),
            "{warnings}"
        );
        assert_eq!(
            config.tokens.access_ttl,
            TokensSection::default().access_ttl
        );
    }

    #[test]
    fn a_bad_variable_names_itself_and_the_type_without_its_value() {
        let err = Config::load(
            None,
            &env(&[("WARDEN_TOKENS_ACCESS_TTL_SECS", "five-minutes-secret")]),
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("WARDEN_TOKENS_ACCESS_TTL_SECS must be"),
            "{err}"
        );
        assert!(err.contains("integer"), "{err}");
        assert!(!err.contains("five-minutes-secret"), "{err}");
    }

    #[test]
    fn unknown_keys_are_errors_naming_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("warden.toml");
        std::fs::write(&file, "[tokens]\naccess_tll_secs = 300\n").unwrap();
        let err = Config::load(Some(&file), &[], &Overrides::default()).unwrap_err();
        assert!(err.to_string().contains("access_tll_secs"), "{err}");
        // The same slip in the environment is a warning (see below).
        let config = Config::load(
            None,
            &env(&[("WARDEN_HTTP_LISTNE", "x")]),
            &Overrides::default(),
        )
        .unwrap();
        assert!(
            config.warnings[0].contains("WARDEN_HTTP_LISTNE"),
            "{:?}",
            config.warnings
        );
    }

    /// The hand-kept sections are exactly the configuration's tables, and
    /// the variable of each key the defaults show maps back to that key.
    #[test]
    fn sections_are_the_tables_of_the_config() {
        let toml::Value::Table(shape) = toml::Value::try_from(RawConfig::default()).unwrap() else {
            panic!("the configuration is a table");
        };
        let mut tables: Vec<&str> = shape
            .iter()
            .filter(|(_, value)| value.is_table())
            .map(|(key, _)| key.as_str())
            .collect();
        tables.sort_unstable();
        let mut sections = SECTIONS.to_vec();
        sections.sort_unstable();
        assert_eq!(tables, sections);
        for (key, value) in &shape {
            match value.as_table() {
                Some(section) => {
                    for field in section.keys() {
                        let name = format!("{key}_{field}").to_ascii_uppercase();
                        assert_eq!(env_key(&name), format!("{key}.{field}"), "WARDEN_{name}");
                    }
                }
                None => assert_eq!(env_key(&key.to_ascii_uppercase()), *key),
            }
        }
    }
}
