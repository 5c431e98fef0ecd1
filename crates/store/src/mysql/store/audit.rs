//! `impl AuditStore for MySqlStore`: the audit log.

use async_trait::async_trait;
use warden_core::model::AuditEntry;
use warden_core::ports::AuditStore;
use warden_core::{AuditId, StoreError, UserId};

use super::convert;
use crate::mysql::{MySqlStore, retry};
use crate::rows::{AUDIT_COLUMNS, AuditRow, to_millis};

#[async_trait]
impl AuditStore for MySqlStore {
    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let sql =
            format!("INSERT INTO audit_entry ({AUDIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
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
        let before = before.map(|b| b.to_string());
        let user = user.map(|u| u.to_string());
        let mut sql = format!("SELECT {AUDIT_COLUMNS} FROM audit_entry WHERE 1 = 1");
        if before.is_some() {
            sql.push_str(" AND audit_id < ?");
        }
        if user.is_some() {
            sql.push_str(" AND (actor = ? OR target = ?)");
        }
        sql.push_str(" ORDER BY audit_id DESC LIMIT ?");
        let rows = retry(|| {
            let mut q = sqlx::query_as::<_, AuditRow>(&sql);
            if let Some(before) = &before {
                q = q.bind(before);
            }
            if let Some(user) = &user {
                q = q.bind(user).bind(user);
            }
            q.bind(i64::from(limit)).fetch_all(&self.pool)
        })
        .await?;
        convert(rows)
    }
}
