//! `[database]`: pool and timeouts of a network database.

use std::time::Duration;

use anyhow::bail;
use serde::{Deserialize, Serialize};

use super::millis;

/// `[database]`.
#[derive(Debug, Clone)]
pub struct DatabaseSection {
    /// Most pooled connections (PostgreSQL, MySQL).
    pub max_connections: u32,
    /// How long a request waits for the database before `503 store_unavailable`.
    pub timeout: Duration,
    /// Longest a statement may run; `None` (`statement_timeout_ms = 0`):
    /// the server's default.
    pub statement_timeout: Option<Duration>,
}

impl Default for DatabaseSection {
    fn default() -> Self {
        Self {
            max_connections: 10,
            timeout: Duration::from_millis(2000),
            statement_timeout: Some(Duration::from_millis(2000)),
        }
    }
}

/// `[database]` as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawDatabase {
    max_connections: u32,
    timeout_ms: u64,
    statement_timeout_ms: u64,
}

impl Default for RawDatabase {
    fn default() -> Self {
        (&DatabaseSection::default()).into()
    }
}

impl From<&DatabaseSection> for RawDatabase {
    fn from(database: &DatabaseSection) -> Self {
        Self {
            max_connections: database.max_connections,
            timeout_ms: millis(database.timeout),
            statement_timeout_ms: database.statement_timeout.map_or(0, millis),
        }
    }
}

impl TryFrom<RawDatabase> for DatabaseSection {
    type Error = anyhow::Error;

    fn try_from(raw: RawDatabase) -> anyhow::Result<Self> {
        if raw.max_connections == 0 || raw.timeout_ms == 0 {
            bail!("database.max_connections and database.timeout_ms must be positive");
        }
        Ok(Self {
            max_connections: raw.max_connections,
            timeout: Duration::from_millis(raw.timeout_ms),
            statement_timeout: (raw.statement_timeout_ms > 0)
                .then(|| Duration::from_millis(raw.statement_timeout_ms)),
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::config::test_env as env;
    use crate::config::{Config, Overrides};

    #[test]
    fn database_url_comes_from_a_file_and_its_password_is_never_shown() {
        let dir = tempfile::tempdir().unwrap();
        let url_file = dir.path().join("database-url");
        std::fs::write(
            &url_file,
            "postgres://warden:hunter2-secret@db:5432/warden\n",
        )
        .unwrap();
        let config = Config::load(
            None,
            &env(&[
                ("WARDEN_DATABASE_URL_FILE", url_file.to_str().unwrap()),
                (
                    "WARDEN_KEYS_ENCRYPTION_KEY",
                    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
                ),
            ]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(
            config.database_url(),
            "postgres://warden:hunter2-secret@db:5432/warden"
        );
        let shown = config.to_redacted_toml().unwrap();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains("postgres://warden:[redacted]@db:5432/warden"),
            "{shown}"
        );
        let missing = Config::load(
            None,
            &env(&[("WARDEN_DATABASE_URL_FILE", "/nonexistent/database-url")]),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(format!("{missing:#}").contains("database_url_file"));
    }

    #[test]
    fn database_url_and_database_section_come_from_the_environment() {
        let config = Config::load(
            None,
            &env(&[
                ("WARDEN_DATABASE_URL", "postgres://db.internal/warden"),
                ("WARDEN_DATABASE_MAX_CONNECTIONS", "25"),
                (
                    "WARDEN_KEYS_ENCRYPTION_KEY",
                    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
                ),
            ]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(config.database_url(), "postgres://db.internal/warden");
        assert_eq!(config.database.max_connections, 25);
        assert!(!config.is_embedded_database());
        // Loading succeeds (`user add` needs no key); signing needs it.
        let err = Config::load(
            None,
            &env(&[("WARDEN_DATABASE_URL", "postgres://db.internal/warden")]),
            &Overrides::default(),
        )
        .unwrap()
        .check_signing()
        .unwrap_err();
        assert!(
            err.to_string().contains("WARDEN_KEYS_ENCRYPTION_KEY"),
            "{err}"
        );
    }

    #[test]
    fn serving_on_a_shared_database_requires_an_issuer() {
        const KEK: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        for url in [
            "postgres://db.internal/warden",
            "mysql://db.internal/warden",
        ] {
            let load = |issuer: Option<&str>| {
                let mut vars = vec![
                    ("WARDEN_DATABASE_URL", url),
                    ("WARDEN_KEYS_ENCRYPTION_KEY", KEK),
                ];
                vars.extend(issuer.map(|i| ("WARDEN_ISSUER", i)));
                Config::load(None, &env(&vars), &Overrides::default()).unwrap()
            };
            let err = load(None).validate_serving().unwrap_err();
            assert!(err.to_string().contains("WARDEN_ISSUER"), "{err}");
            load(Some("https://auth.example.com"))
                .validate_serving()
                .unwrap();
        }
        // The embedded database serves one process: its listen address is
        // a fine default.
        Config::load(None, &env(&[]), &Overrides::default())
            .unwrap()
            .validate_serving()
            .unwrap();
    }
}
