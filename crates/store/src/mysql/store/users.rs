//! `impl UserStore for MySqlStore`: users and their accounts.

use async_trait::async_trait;
use warden_core::model::{OutboxEvent, Revocation, Role, User, UserCredentials, UserStatus};
use warden_core::ports::{NewUser, UserStore};
use warden_core::{Email, StoreError, UserId};

use super::convert;
use super::identities::insert_identity;
use super::links::insert_link;
use super::mail::queue_in;
use crate::mysql::{MySqlStore, insert_events, insert_revocation, retry};
use crate::retry::TxError;
use crate::rows::{
    CredentialsRow, SEARCH_FEW, TRIGRAM, Text, USER_COLUMNS, UserRow, escape_like, parse_uuid,
    roles_to_json, to_millis,
};

/// The distinct trigrams of one account (`?`: its user_id) with its
/// search_id, as migration 0014 indexed them: the address, a newline and
/// the lower-cased username, three characters at a time, up to character
/// 512 (addresses are at most 254, usernames 64).
const ACCOUNT_GRAMS: &str = "SELECT DISTINCT CAST(SUBSTRING(a.s, pos.i, 3) AS BINARY) AS gram, \
     a.search_id AS search_id \
     FROM (SELECT search_id, \
                  CONCAT(email, CHAR(10 USING utf8mb4), LOWER(COALESCE(username, ''))) AS s \
           FROM user_account WHERE user_id = ?) a \
     JOIN (WITH RECURSIVE p (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM p WHERE i < 512) \
           SELECT i FROM p) pos \
       ON pos.i + 2 <= CHAR_LENGTH(a.s)";

/// The most a search looks up: enough to find a rare one among them.
const MAX_TERM_GRAMS: usize = 32;

/// The distinct trigrams of a lower-cased search term (up to
/// [`MAX_TERM_GRAMS`], spread over the term), or `None` when it is too short.
fn trigrams(term: &str) -> Option<Vec<String>> {
    let chars: Vec<char> = term.chars().collect();
    if chars.len() < TRIGRAM {
        return None;
    }
    let mut grams: Vec<String> = chars
        .windows(TRIGRAM)
        .map(|w| w.iter().collect::<String>())
        .collect();
    grams.sort_unstable();
    grams.dedup();
    let step = grams.len().div_ceil(MAX_TERM_GRAMS);
    Some(grams.into_iter().step_by(step).collect())
}

#[async_trait]
impl UserStore for MySqlStore {
    async fn create_user(&self, new: &NewUser, events: &[OutboxEvent]) -> Result<(), StoreError> {
        let user = &new.user;
        let roles = roles_to_json(&user.roles)?;
        write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO user_account \
                 (user_id, email, username, password_hash, roles, status, created_at, email_skeleton, \
                  email_verified, has_password) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(user.id.to_string())
            .bind(user.email.as_str())
            .bind(user.username.as_deref())
            .bind(&new.password_hash)
            .bind(&roles)
            .bind(user.status.as_str())
            .bind(to_millis(user.created_at))
            .bind(user.email.skeleton())
            .bind(user.email_verified)
            .bind(user.has_password)
            .execute(&mut *tx)
            .await?;
            sqlx::query(&format!(
                "INSERT INTO user_search_gram (gram, search_id) {ACCOUNT_GRAMS}"
            ))
            .bind(user.id.to_string())
            .execute(&mut *tx)
            .await?;
            if let Some(link) = &new.verification {
                insert_link(&mut tx, link).await?;
            }
            if let Some(identity) = &new.identity {
                insert_identity(&mut tx, identity).await?;
            }
            queue_in(&mut tx, &self.cipher, &new.mail).await?;
            insert_events(&mut tx, events).await?;
        })
    }

    async fn find_user_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM user_account WHERE user_id = ?");
        let id = id.to_string();
        let row = retry(|| {
            sqlx::query_as::<_, UserRow>(&sql)
                .bind(&id)
                .fetch_optional(&self.pool)
        })
        .await?;
        row.map(User::try_from).transpose()
    }

    async fn find_credentials_by_email(
        &self,
        email: &Email,
    ) -> Result<Option<UserCredentials>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS}, password_hash FROM user_account WHERE email = ?");
        let row = retry(|| {
            sqlx::query_as::<_, CredentialsRow>(&sql)
                .bind(email.as_str())
                .fetch_optional(&self.pool)
        })
        .await?;
        row.map(UserCredentials::try_from).transpose()
    }

    async fn find_credentials_by_id(
        &self,
        id: UserId,
    ) -> Result<Option<UserCredentials>, StoreError> {
        let sql =
            format!("SELECT {USER_COLUMNS}, password_hash FROM user_account WHERE user_id = ?");
        let id = id.to_string();
        let row = retry(|| {
            sqlx::query_as::<_, CredentialsRow>(&sql)
                .bind(&id)
                .fetch_optional(&self.pool)
        })
        .await?;
        row.map(UserCredentials::try_from).transpose()
    }

    async fn list_users(
        &self,
        query: Option<&str>,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<User>, StoreError> {
        // E-mails are stored lower-cased; usernames are compared through
        // LOWER() (the columns are utf8mb4_bin), so a lower-cased pattern
        // matches both case-insensitively. `!` escapes the wildcards.
        let term = query.map(str::to_lowercase);
        let pattern = term.as_deref().map(|q| format!("%{}%", escape_like(q)));
        let after = after.map(|a| a.to_string());
        // A term with trigrams: the accounts holding its rarest trigram are
        // the only candidates (migration 0014), unless even that one is
        // common, when walking the accounts in id order fills a page sooner.
        let mut candidates = None;
        if let Some(grams) = term.as_deref().and_then(trigrams) {
            let counts = grams
                .iter()
                .enumerate()
                .map(|(i, _)| {
                    format!(
                        "SELECT CAST({i} AS SIGNED) AS i, COUNT(*) AS n FROM \
                         (SELECT 1 FROM user_search_gram WHERE gram = ? LIMIT ?) c"
                    )
                })
                .collect::<Vec<_>>()
                .join(" UNION ALL ");
            let counts: Vec<(i64, i64)> = retry(|| {
                let mut q = sqlx::query_as(&counts);
                for gram in &grams {
                    q = q.bind(gram.as_bytes()).bind(SEARCH_FEW);
                }
                q.fetch_all(&self.pool)
            })
            .await?;
            let rarest = counts.iter().min_by_key(|(_, n)| *n);
            match rarest {
                Some((_, 0)) => return Ok(Vec::new()),
                Some((i, n)) if *n < SEARCH_FEW => {
                    candidates = usize::try_from(*i).ok().and_then(|i| grams.get(i).cloned());
                }
                _ => {}
            }
        }
        let mut sql = format!("SELECT {USER_COLUMNS} FROM user_account WHERE 1 = 1");
        if candidates.is_some() {
            sql.push_str(
                " AND search_id IN (SELECT search_id FROM user_search_gram WHERE gram = ?)",
            );
        }
        if after.is_some() {
            sql.push_str(" AND user_id > ?");
        }
        if pattern.is_some() {
            sql.push_str(" AND (email LIKE ? ESCAPE '!' OR LOWER(username) LIKE ? ESCAPE '!')");
        }
        sql.push_str(" ORDER BY user_id ASC LIMIT ?");
        let rows = retry(|| {
            let mut q = sqlx::query_as::<_, UserRow>(&sql);
            if let Some(gram) = &candidates {
                q = q.bind(gram.as_bytes());
            }
            if let Some(after) = &after {
                q = q.bind(after);
            }
            if let Some(pattern) = &pattern {
                q = q.bind(pattern).bind(pattern);
            }
            q.bind(i64::from(limit)).fetch_all(&self.pool)
        })
        .await?;
        convert(rows)
    }

    async fn count_users(&self) -> Result<u64, StoreError> {
        let count: i64 =
            retry(|| sqlx::query_scalar("SELECT COUNT(*) FROM user_account").fetch_one(&self.pool))
                .await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn find_users_without_email_skeleton(
        &self,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<(UserId, String)>, StoreError> {
        let after = after.map_or_else(String::new, |id| id.to_string());
        let rows: Vec<(Text, Text)> = retry(|| {
            sqlx::query_as(
                "SELECT user_id, email FROM user_account \
                 WHERE email_skeleton IS NULL AND user_id > ? ORDER BY user_id LIMIT ?",
            )
            .bind(&after)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
        })
        .await?;
        rows.into_iter()
            .map(|(id, email)| Ok((UserId::from_uuid(parse_uuid(&id)?), email.into_string())))
            .collect()
    }

    async fn update_email_skeleton(&self, id: UserId, skeleton: &str) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            let done = sqlx::query("UPDATE user_account SET email_skeleton = ? WHERE user_id = ?")
                .bind(skeleton)
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Err(TxError::Store(StoreError::NotFound));
            }
        })
    }

    async fn update_password_hash(&self, id: UserId, phc: &str) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            let done = sqlx::query(
                "UPDATE user_account SET password_hash = ?, has_password = TRUE WHERE user_id = ?",
            )
            .bind(phc)
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(TxError::Store(StoreError::NotFound));
            }
        })
    }

    async fn update_user_status(
        &self,
        id: UserId,
        status: UserStatus,
        revocation: Option<&Revocation>,
        events: &[OutboxEvent],
    ) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            let done = sqlx::query("UPDATE user_account SET status = ? WHERE user_id = ?")
                .bind(status.as_str())
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Err(TxError::Store(StoreError::NotFound));
            }
            if status == UserStatus::Active {
                // The ban revoked every session one by one, and those entries
                // stay; the user-wide entry would only refuse new sign-ins.
                sqlx::query("DELETE FROM revocation WHERE kind = 'user' AND subject_id = ?")
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await?;
            }
            if let Some(revocation) = revocation {
                insert_revocation(&mut tx, revocation).await?;
            }
            insert_events(&mut tx, events).await?;
        })
    }

    async fn update_user_roles(
        &self,
        id: UserId,
        roles: &[Role],
        events: &[OutboxEvent],
    ) -> Result<(), StoreError> {
        let roles = roles_to_json(roles)?;
        write_tx!(self, |tx| {
            let done = sqlx::query("UPDATE user_account SET roles = ? WHERE user_id = ?")
                .bind(&roles)
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Err(TxError::Store(StoreError::NotFound));
            }
            insert_events(&mut tx, events).await?;
        })
    }

    async fn delete_user(
        &self,
        id: UserId,
        revocation: &Revocation,
        events: &[OutboxEvent],
    ) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            // The search rows have no foreign key (migration 0014): found
            // through the account's own trigrams, while it still exists.
            sqlx::query(&format!(
                "DELETE g FROM user_search_gram g JOIN ({ACCOUNT_GRAMS}) t \
                 ON g.gram = t.gram AND g.search_id = t.search_id"
            ))
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
            // Sessions and their refresh tokens go with the user (ON DELETE CASCADE).
            let done = sqlx::query("DELETE FROM user_account WHERE user_id = ?")
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Err(TxError::Store(StoreError::NotFound));
            }
            // Links have no foreign key (migration 0008: placeholder links
            // of unknown addresses name no account), so they go here.
            sqlx::query("DELETE FROM link_token WHERE user_id = ?")
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
            insert_revocation(&mut tx, revocation).await?;
            insert_events(&mut tx, events).await?;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{MAX_TERM_GRAMS, trigrams};

    #[test]
    fn a_term_is_split_into_its_distinct_trigrams() {
        assert_eq!(trigrams("ab"), None);
        assert_eq!(trigrams("zoë"), Some(vec!["zoë".to_owned()]));
        assert_eq!(
            trigrams("aaaab"),
            Some(vec!["aaa".to_owned(), "aab".to_owned()])
        );
        let long = "x".repeat(10) + &('a'..='z').collect::<String>() + &"y".repeat(80);
        let grams = trigrams(&long).expect("grams");
        assert!(grams.len() <= MAX_TERM_GRAMS && grams.len() > MAX_TERM_GRAMS / 2);
        assert!(grams.iter().all(|g| long.contains(g.as_str())));
    }
}
