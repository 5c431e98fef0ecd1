//! The service's own database: SQLite by default, PostgreSQL by URL. The
//! SQL is portable (`$N` parameters, text ids, integer times), so one set of
//! queries and one migration directory serve both; `on_pool!` runs a query
//! on whichever pool was configured.

use std::str::FromStr as _;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use uuid::Uuid;

use crate::domain::{Body, Page, PageRequest, Status, Ticket, Title};

/// Why the store failed. The cause is for the log, never for a client.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or could not be reached.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// A migration failed.
    #[error("migration: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// A stored row breaks the domain's rules (edited by hand?).
    #[error("corrupt row {id}: {what}")]
    Corrupt {
        /// The row's id.
        id: String,
        /// What is wrong.
        what: String,
    },
    /// The URL names no supported database.
    #[error("unsupported database URL (use sqlite:// or postgres://)")]
    Url,
}

enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$p` bound to the concrete pool: the query text is the
/// same, only the driver differs.
macro_rules! on_pool {
    ($pool:expr, |$p:ident| $body:expr) => {
        match $pool {
            Pool::Sqlite($p) => $body,
            Pool::Postgres($p) => $body,
        }
    };
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

const COLUMNS: &str = "ticket_id, owner_id, title, body, status, created_at, updated_at";

/// Tickets with what is known of their owners.
const SELECT: &str = "SELECT ticket.ticket_id, ticket.owner_id, known_user.email AS owner_email, \
     ticket.title, ticket.body, ticket.status, ticket.created_at, ticket.updated_at \
     FROM ticket LEFT JOIN known_user ON known_user.user_id = ticket.owner_id";

#[derive(sqlx::FromRow)]
struct TicketRow {
    ticket_id: String,
    owner_id: String,
    owner_email: Option<String>,
    title: String,
    body: String,
    status: String,
    created_at: i64,
    updated_at: i64,
}

impl TicketRow {
    fn into_ticket(self) -> Result<Ticket, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt {
            id: self.ticket_id.clone(),
            what: what.to_owned(),
        };
        Ok(Ticket {
            id: Uuid::parse_str(&self.ticket_id).map_err(|_| corrupt("ticket_id"))?,
            owner_id: Uuid::parse_str(&self.owner_id).map_err(|_| corrupt("owner_id"))?,
            owner_email: self.owner_email.clone(),
            title: Title::parse(&self.title).map_err(|_| corrupt("title"))?,
            body: Body::parse(&self.body).map_err(|_| corrupt("body"))?,
            status: Status::parse(&self.status).ok_or_else(|| corrupt("status"))?,
            created_at: from_millis(self.created_at).ok_or_else(|| corrupt("created_at"))?,
            updated_at: from_millis(self.updated_at).ok_or_else(|| corrupt("updated_at"))?,
        })
    }
}

fn from_millis(millis: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(millis)
}

/// The ticket store.
pub struct Store {
    pool: Pool,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let backend = on_pool!(&self.pool, |_p| std::any::type_name_of_val(_p));
        f.debug_struct("Store").field("pool", &backend).finish()
    }
}

impl Store {
    /// Connects to `url` (`sqlite://tickets.db`, created if missing, or
    /// `postgres://...`) and applies the migrations.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        let pool = if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                // Writers wait for each other instead of failing at once.
                .busy_timeout(std::time::Duration::from_secs(5))
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
            Pool::Sqlite(
                SqlitePoolOptions::new()
                    .max_connections(4)
                    .connect_with(options)
                    .await?,
            )
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Pool::Postgres(PgPoolOptions::new().max_connections(8).connect(url).await?)
        } else {
            return Err(StoreError::Url);
        };
        on_pool!(&pool, |p| MIGRATOR.run(p).await)?;
        Ok(Store { pool })
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_pool!(&self.pool, |p| sqlx::query("SELECT 1")
            .execute(p)
            .await
            .map(drop))?;
        Ok(())
    }

    /// Stores a new ticket.
    pub async fn create_ticket(&self, ticket: &Ticket) -> Result<(), StoreError> {
        let sql = format!("INSERT INTO ticket ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)");
        on_pool!(&self.pool, |p| sqlx::query(&sql)
            .bind(ticket.id.to_string())
            .bind(ticket.owner_id.to_string())
            .bind(ticket.title.as_str())
            .bind(ticket.body.as_str())
            .bind(ticket.status.as_str())
            .bind(ticket.created_at.timestamp_millis())
            .bind(ticket.updated_at.timestamp_millis())
            .execute(p)
            .await
            .map(drop))?;
        Ok(())
    }

    /// The ticket `id`, whoever owns it.
    pub async fn find_ticket(&self, id: Uuid) -> Result<Option<Ticket>, StoreError> {
        let sql = format!("{SELECT} WHERE ticket.ticket_id = $1");
        let row: Option<TicketRow> = on_pool!(&self.pool, |p| sqlx::query_as(&sql)
            .bind(id.to_string())
            .fetch_optional(p)
            .await)?;
        row.map(TicketRow::into_ticket).transpose()
    }

    /// A page of tickets, newest first; of `owner` only, or of everyone.
    pub async fn list_tickets(
        &self,
        owner: Option<Uuid>,
        page: PageRequest,
    ) -> Result<Page, StoreError> {
        // One row more than asked says whether there is a next page.
        let sql = format!(
            "{SELECT} \
             WHERE ($1 IS NULL OR ticket.owner_id = $1) AND ($2 IS NULL OR ticket.ticket_id < $2) \
             ORDER BY ticket.ticket_id DESC LIMIT $3"
        );
        let rows: Vec<TicketRow> = on_pool!(&self.pool, |p| sqlx::query_as(&sql)
            .bind(owner.map(|o| o.to_string()))
            .bind(page.after.map(|a| a.to_string()))
            .bind(i64::from(page.limit) + 1)
            .fetch_all(p)
            .await)?;
        let mut tickets = rows
            .into_iter()
            .map(TicketRow::into_ticket)
            .collect::<Result<Vec<_>, _>>()?;
        let next_cursor = if tickets.len() > page.limit as usize {
            tickets.truncate(page.limit as usize);
            tickets.last().map(|t| t.id)
        } else {
            None
        };
        Ok(Page {
            tickets,
            next_cursor,
        })
    }

    /// Saves the changed fields of `ticket`; `false` if it no longer exists.
    pub async fn update_ticket(&self, ticket: &Ticket) -> Result<bool, StoreError> {
        let sql = "UPDATE ticket SET title = $2, body = $3, status = $4, updated_at = $5 \
                   WHERE ticket_id = $1";
        let result = on_pool!(&self.pool, |p| sqlx::query(sql)
            .bind(ticket.id.to_string())
            .bind(ticket.title.as_str())
            .bind(ticket.body.as_str())
            .bind(ticket.status.as_str())
            .bind(ticket.updated_at.timestamp_millis())
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(result == 1)
    }

    /// Remembers (or updates) a user's e-mail, from `user.created`.
    pub async fn remember_user(&self, user_id: Uuid, email: &str) -> Result<(), StoreError> {
        // ON CONFLICT ... DO UPDATE: SQLite 3.24+ and PostgreSQL alike.
        on_pool!(&self.pool, |p| sqlx::query(
            "INSERT INTO known_user (user_id, email) VALUES ($1, $2) \
             ON CONFLICT (user_id) DO UPDATE SET email = excluded.email"
        )
        .bind(user_id.to_string())
        .bind(email)
        .execute(p)
        .await
        .map(drop))?;
        Ok(())
    }

    /// Forgets a deleted user: their tickets and what was known of them,
    /// together. Returns how many tickets went.
    pub async fn delete_user(&self, user_id: Uuid) -> Result<u64, StoreError> {
        let id = user_id.to_string();
        let deleted = on_pool!(&self.pool, |p| {
            let mut tx = p.begin().await?;
            let deleted = sqlx::query("DELETE FROM ticket WHERE owner_id = $1")
                .bind(&id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query("DELETE FROM known_user WHERE user_id = $1")
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<u64, sqlx::Error>(deleted)
        })?;
        Ok(deleted)
    }

    /// Closes the pool (waits for running queries).
    pub async fn close(&self) {
        on_pool!(&self.pool, |p| p.close().await);
    }
}
