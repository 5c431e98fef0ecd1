//! Writing the audit log. A builder rather than a six-argument function, so
//! a call site names who acted on whom and whether it worked, instead of
//! passing a bare `bool` and a row of `None`s.

use crate::ids::{AuditId, UserId};
use crate::model::{Actor, AuditEntry};
use crate::ports::{Clock, Store};
use crate::service::RequestContext;

/// Longest user agent kept in the audit log.
const MAX_USER_AGENT: usize = 256;

/// An audit entry about to be recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "an audit entry does nothing until it is recorded"]
pub(crate) struct Audit<'a> {
    action: &'a str,
    success: bool,
    actor: Option<Actor>,
    target: Option<UserId>,
    detail: Option<&'a str>,
}

impl<'a> Audit<'a> {
    /// `action` worked.
    pub(crate) fn success(action: &'a str) -> Self {
        Self::new(action, true)
    }

    /// `action` was refused or failed.
    pub(crate) fn failure(action: &'a str) -> Self {
        Self::new(action, false)
    }

    fn new(action: &'a str, success: bool) -> Self {
        Self {
            action,
            success,
            actor: None,
            target: None,
            detail: None,
        }
    }

    /// Who acted, if known.
    pub(crate) fn actor(mut self, actor: impl Into<Option<Actor>>) -> Self {
        self.actor = actor.into();
        self
    }

    /// Whom it was done to, if anyone.
    pub(crate) fn target(mut self, target: impl Into<Option<UserId>>) -> Self {
        self.target = target.into();
        self
    }

    /// A short, secret-free explanation (the failure reason, the new roles).
    pub(crate) fn detail(mut self, detail: impl Into<Option<&'a str>>) -> Self {
        self.detail = detail.into();
        self
    }

    /// The entry as stored, made at `clock`'s now.
    fn entry(&self, clock: &dyn Clock, ctx: &RequestContext) -> AuditEntry {
        AuditEntry {
            id: AuditId::new(),
            at: clock.now(),
            actor: self.actor,
            action: self.action.to_owned(),
            target: self.target,
            ip: ctx.ip.clone(),
            user_agent: ctx
                .user_agent
                .as_deref()
                .map(|ua| ua.chars().take(MAX_USER_AGENT).collect()),
            outcome: if self.success { "success" } else { "failure" }.to_owned(),
            detail: self.detail.map(str::to_owned),
        }
    }

    /// Appends the entry and logs it; a failed write is logged, never
    /// fails the action it records.
    pub(crate) async fn record(self, store: &dyn Store, clock: &dyn Clock, ctx: &RequestContext) {
        let entry = self.entry(clock, ctx);
        let action = self.action;
        let detail = self.detail;
        // Plain values (absent ones left out), so a log line reads
        // `actor=0193... ip=10.0.0.1`, never `Some("...")`.
        let actor = self.actor.map(|a| a.to_string());
        let target_user = self.target.map(|t| t.to_string());
        tracing::info!(
            target: "warden::audit",
            action,
            actor = actor.as_deref(),
            target_user = target_user.as_deref(),
            ip = ctx.ip.as_deref(),
            outcome = %entry.outcome,
            detail,
            "audit"
        );
        if let Err(e) = store.append_audit(&entry).await {
            tracing::error!(error = %e, action, "could not write the audit entry");
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone as _, Utc};

    use super::*;
    use crate::ports::FakeClock;

    fn ctx() -> RequestContext {
        RequestContext {
            ip: Some("10.0.0.1".to_owned()),
            user_agent: Some("x".repeat(300)),
        }
    }

    #[test]
    fn a_success_names_actor_target_and_detail() {
        let clock = FakeClock::new(Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap());
        let (actor, target) = (UserId::new(), UserId::new());
        let entry = Audit::success("roles_change")
            .actor(actor)
            .target(target)
            .detail("admin,user")
            .entry(&clock, &ctx());
        assert_eq!(entry.action, "roles_change");
        assert_eq!(entry.outcome, "success");
        assert_eq!(entry.actor, Some(Actor::User(actor)));
        assert_eq!(entry.target, Some(target));
        assert_eq!(entry.detail.as_deref(), Some("admin,user"));
        assert_eq!(entry.at, clock.now());
        assert_eq!(entry.ip.as_deref(), Some("10.0.0.1"));
        assert_eq!(entry.user_agent.map(|ua| ua.len()), Some(MAX_USER_AGENT));
    }

    #[test]
    fn a_failure_leaves_out_what_is_not_given() {
        let clock = FakeClock::new(Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap());
        let entry = Audit::failure("signin")
            .target(None)
            .detail(None)
            .entry(&clock, &RequestContext::default());
        assert_eq!(entry.outcome, "failure");
        assert_eq!(
            (entry.actor, entry.target, entry.detail),
            (None, None, None)
        );
        assert_eq!((entry.ip, entry.user_agent), (None, None));
    }
}
