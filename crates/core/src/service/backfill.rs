//! The start-up backfill of e-mail skeletons for accounts older than them.

use crate::email::Email;
use crate::error::StoreError;
use crate::ports::Store;

/// What [`backfill_email_skeletons`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SkeletonBackfill {
    /// Accounts that got their skeleton.
    pub filled: u64,
    /// Accounts left without one because an older account already holds the
    /// same skeleton (look-alikes created before the rule); logged.
    pub collisions: u64,
}

/// Computes the e-mail skeleton of every account created before migration
/// 0004 (the skeleton needs Rust code, so SQL cannot fill it in; see
/// docs/decisions/0015-email-identity.md). Runs at start, before requests;
/// cheap when nothing is missing. Accounts whose skeleton an older account
/// already holds keep none: both stay usable, and a warning names them for
/// an operator to resolve.
pub async fn backfill_email_skeletons(store: &dyn Store) -> Result<SkeletonBackfill, StoreError> {
    const PAGE: u32 = 500;
    let mut done = SkeletonBackfill::default();
    let mut after = None;
    loop {
        let page = store.find_users_without_email_skeleton(after, PAGE).await?;
        for (id, stored) in &page {
            let Ok(email) = Email::from_stored(stored) else {
                tracing::warn!(user_id = %id, "stored e-mail cannot be read; no skeleton");
                continue;
            };
            match store.update_email_skeleton(*id, &email.skeleton()).await {
                Ok(()) => done.filled += 1,
                Err(StoreError::Conflict) => {
                    done.collisions += 1;
                    tracing::warn!(
                        user_id = %id,
                        "e-mail looks like another account's; left without a skeleton"
                    );
                }
                Err(StoreError::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
        after = page.last().map(|(id, _)| *id);
        if page.len() < PAGE as usize {
            break;
        }
    }
    if done.filled > 0 || done.collisions > 0 {
        tracing::info!(
            filled = done.filled,
            collisions = done.collisions,
            "computed e-mail skeletons of existing accounts"
        );
    }
    Ok(done)
}
