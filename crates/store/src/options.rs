//! Connection settings shared by every backend.

use std::time::Duration;

/// Pool and timeout settings (`[database]` in the configuration).
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Most connections in the pool.
    pub max_connections: u32,
    /// How long a request waits for a connection (and a new connection for
    /// the server) before the store counts as unavailable: `store_unavailable`.
    pub acquire_timeout: Duration,
    /// Longest a single statement may run (PostgreSQL `statement_timeout`,
    /// MySQL `max_execution_time` for reads); `None` for the server default.
    pub statement_timeout: Option<Duration>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(2),
            statement_timeout: Some(Duration::from_secs(5)),
        }
    }
}
