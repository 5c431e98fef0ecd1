//! `impl AuditStore for PgStore`: the audit log.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use warden_core::model::AuditEntry;
use warden_core::ports::{AuditFilter, AuditStore, AuditTally};
use warden_core::{AuditId, StoreError};

use super::convert;
use crate::postgres::{PgStore, retry};
use crate::rows::{
    AUDIT_COLUMNS, AuditRow, Bind, audit_list_query, audit_tallies, audit_tally_query, to_millis,
};

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
        filter: &AuditFilter,
        before: Option<AuditId>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let (sql, binds) = audit_list_query(filter, before, limit, |n| format!("${n}"));
        let rows = retry(|| {
            let mut q = sqlx::query_as::<_, AuditRow>(&sql);
            for bind in &binds {
                q = match bind {
                    Bind::Text(text) => q.bind(text.as_str()),
                    Bind::Int(int) => q.bind(*int),
                };
            }
            q.fetch_all(&self.pool)
        })
        .await?;
        convert(rows)
    }

    async fn audit_tally(
        &self,
        since: DateTime<Utc>,
        actions: &[&str],
    ) -> Result<Vec<AuditTally>, StoreError> {
        if actions.is_empty() {
            return Ok(Vec::new());
        }
        let sql = audit_tally_query(actions.len(), "at / 3600000", |n| format!("${n}"));
        let since = to_millis(since);
        let rows = retry(|| {
            let mut q = sqlx::query_as(&sql).bind(since);
            for action in actions {
                q = q.bind(*action);
            }
            q.fetch_all(&self.pool)
        })
        .await?;
        Ok(audit_tallies(rows))
    }
}
