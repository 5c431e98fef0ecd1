//! `impl AuditStore for PgStore`: the audit log.

use async_trait::async_trait;
use warden_core::model::AuditEntry;
use warden_core::ports::AuditStore;
use warden_core::{AuditId, StoreError, UserId};

use super::convert;
use crate::postgres::{PgStore, retry};
use crate::rows::{AUDIT_COLUMNS, AuditRow, to_millis};

#[async_trait]
impl AuditStore for PgStore {
    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO audit_entry ({AUDIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        );
        retry(|| {
            sqlx::query(&sql)
                .bind(entry.id.to_string())
                .bind(to_millis(entry.at))
                .bind(entry.actor.map(|a| a.to_string()))
                .bind(&entry.action)
                .bind(entry.target.map(|t| t.to_string()))
                .bind(entry.ip.as_deref())
                .bind(entry.user_agent.as_deref())
                .bind(&entry.outcome)
                .bind(entry.detail.as_deref())
                .execute(&self.pool)
        })
        .await?;
        Ok(())
    }

    async fn list_audit(
        &self,
        user: Option<UserId>,
        before: Option<AuditId>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let sql = format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_entry \
             WHERE ($1::text IS NULL OR audit_id < $1) \
               AND ($2::text IS NULL OR actor = $2 OR target = $2) \
             ORDER BY audit_id DESC LIMIT $3"
        );
        let before = before.map(|b| b.to_string());
        let user = user.map(|u| u.to_string());
        let rows = retry(|| {
            sqlx::query_as::<_, AuditRow>(&sql)
                .bind(before.as_deref())
                .bind(user.as_deref())
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
        })
        .await?;
        convert(rows)
    }
}
