//! Fresh, uniquely named databases for tests against real servers, so
//! parallel runs never collide. The server URLs come from
//! `WARDEN_TEST_POSTGRES_URL` and `WARDEN_TEST_MYSQL_URL`; without them a
//! test is skipped (with a message), unless `WARDEN_TEST_REQUIRE_SERVICES=1`,
//! under which a missing service is a failure.

use sqlx::Connection as _;

/// A server kind the tests can run against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKind {
    /// PostgreSQL.
    Postgres,
    /// MySQL or MariaDB.
    MySql,
}

impl ServerKind {
    fn env_var(self) -> &'static str {
        match self {
            ServerKind::Postgres => "WARDEN_TEST_POSTGRES_URL",
            ServerKind::MySql => "WARDEN_TEST_MYSQL_URL",
        }
    }
}

/// Says a test was skipped, on the process's stderr itself: the test
/// harness captures `eprintln!` of passing tests, and a skip must be seen.
fn skipped(why: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "skipped: {why}");
}

/// Whether missing services must fail tests instead of skipping them.
pub fn services_required() -> bool {
    std::env::var("WARDEN_TEST_REQUIRE_SERVICES").is_ok_and(|v| v == "1" || v == "true")
}

/// A database created for one test; drop it with [`TestDatabase::drop_database`].
#[derive(Debug, Clone)]
pub struct TestDatabase {
    /// URL of the fresh database.
    pub url: String,
    admin_url: String,
    name: String,
    kind: ServerKind,
}

impl TestDatabase {
    /// Creates a uniquely named database on the server `kind`'s variable
    /// names, or returns `None` (printing why) when it is unset and services
    /// are not required.
    pub async fn create(kind: ServerKind) -> Option<TestDatabase> {
        let Ok(admin_url) = std::env::var(kind.env_var()) else {
            if services_required() {
                panic!(
                    "{} is not set but WARDEN_TEST_REQUIRE_SERVICES=1",
                    kind.env_var()
                );
            }
            skipped(&format!("{} is not set", kind.env_var()));
            return None;
        };
        Self::create_at(kind, &admin_url).await
    }

    /// Creates a uniquely named database on the server of `admin_url`
    /// (`postgres://` or `mysql://`).
    pub async fn create_on(admin_url: &str) -> Option<TestDatabase> {
        let kind = if admin_url.starts_with("postgres") {
            ServerKind::Postgres
        } else {
            ServerKind::MySql
        };
        Self::create_at(kind, admin_url).await
    }

    async fn create_at(kind: ServerKind, admin_url: &str) -> Option<TestDatabase> {
        let admin_url = admin_url.to_owned();
        let name = format!("warden_test_{}", uuid::Uuid::new_v4().simple());
        let create = format!("CREATE DATABASE {name}");
        let result = match kind {
            ServerKind::Postgres => match sqlx::PgConnection::connect(&admin_url).await {
                Ok(mut conn) => sqlx::query(&create).execute(&mut conn).await.map(|_| ()),
                Err(e) => Err(e),
            },
            ServerKind::MySql => match sqlx::MySqlConnection::connect(&admin_url).await {
                Ok(mut conn) => sqlx::query(&create).execute(&mut conn).await.map(|_| ()),
                Err(e) => Err(e),
            },
        };
        if let Err(e) = result {
            if services_required() {
                panic!("cannot create a test database on {}: {e}", kind.env_var());
            }
            skipped(&format!("cannot reach {}: {e}", kind.env_var()));
            return None;
        }
        let url = with_database(&admin_url, &name);
        Some(TestDatabase {
            url,
            admin_url,
            name,
            kind,
        })
    }

    /// Drops the database (best effort: a leftover is harmless, its name is unique).
    pub async fn drop_database(&self) {
        let drop = format!("DROP DATABASE IF EXISTS {}", self.name);
        let outcome = match self.kind {
            ServerKind::Postgres => match sqlx::PgConnection::connect(&self.admin_url).await {
                Ok(mut conn) => sqlx::query(&format!("{drop} WITH (FORCE)"))
                    .execute(&mut conn)
                    .await
                    .map(|_| ()),
                Err(e) => Err(e),
            },
            ServerKind::MySql => match sqlx::MySqlConnection::connect(&self.admin_url).await {
                Ok(mut conn) => sqlx::query(&drop).execute(&mut conn).await.map(|_| ()),
                Err(e) => Err(e),
            },
        };
        if let Err(e) = outcome {
            eprintln!("could not drop test database {}: {e}", self.name);
        }
    }
}

/// Replaces the database path of `url` with `name`, keeping the query string.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{name}", &base[..path_start]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// Runs `test` with the URL of a fresh database on the server of `kind`
/// (skipping when none is configured), then drops the database whether the
/// test passed or not, re-raising its panic.
#[cfg(test)]
pub(crate) async fn in_fresh_database<F, Fut>(kind: ServerKind, test: F)
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let Some(db) = TestDatabase::create(kind).await else {
        return;
    };
    let outcome = tokio::spawn(test(db.url.clone())).await;
    db.drop_database().await;
    if let Err(err) = outcome {
        match err.try_into_panic() {
            Ok(payload) => std::panic::resume_unwind(payload),
            Err(err) => panic!("test task failed: {err}"),
        }
    }
}

/// The migrations of `all` before `version`: a database as an older
/// Warden left it, to test what a later migration does to existing rows.
#[cfg(test)]
pub(crate) fn migrations_before(
    all: &sqlx::migrate::Migrator,
    version: i64,
) -> sqlx::migrate::Migrator {
    sqlx::migrate::Migrator {
        migrations: std::borrow::Cow::Owned(
            all.iter()
                .filter(|m| m.version < version)
                .cloned()
                .collect(),
        ),
        ..sqlx::migrate::Migrator::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn swaps_the_database_name() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("mysql://root@127.0.0.1:3306/test?ssl-mode=disabled", "x"),
            "mysql://root@127.0.0.1:3306/x?ssl-mode=disabled"
        );
        assert_eq!(
            with_database("mysql://root@127.0.0.1:3306", "x"),
            "mysql://root@127.0.0.1:3306/x"
        );
    }
}
