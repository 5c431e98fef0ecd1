//! The refresh grace window's rule, shared by every backend (decision 0018).

use warden_core::ports::ReuseRevocation;

use crate::rows::to_millis;

/// Whether a refresh token that was already used (at `used_at`, epoch
/// milliseconds) may come back once as a retry: the window is open, the
/// token was rotated inside it, and it was never retried before. The caller
/// still has to void the successor, which must be unused.
pub(crate) fn retry_allowed(
    on_reuse: &ReuseRevocation<'_>,
    used_at: Option<i64>,
    retried_at: Option<i64>,
) -> bool {
    matches!(
        (on_reuse.retry_since, used_at, retried_at),
        (Some(since), Some(used), None) if used >= to_millis(since)
    )
}
