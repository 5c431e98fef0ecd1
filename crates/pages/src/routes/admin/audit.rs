//! `/admin/audit`: the audit log with filters (user, action, outcome, time
//! range), paged newest first, and the same filters exported as CSV.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::Serialize;
use warden_core::model::{Actor, AuditEntry};
use warden_core::ports::AuditFilter;
use warden_core::service::MAX_PAGE;
use warden_core::{CoreError, UserId};

use super::{Admin, Chrome, admin, day, page};
use crate::PageState;
use crate::form::Form;
use crate::routes::{Errors, query, unavailable};

/// Entries per page.
const PER_PAGE: u32 = 50;
/// The most entries one CSV export holds (newest first).
pub const EXPORT_LIMIT: usize = 50_000;

/// The filters as typed, kept to fill the form again.
#[derive(Serialize, Default)]
struct Typed<'a> {
    user: &'a str,
    action: &'a str,
    outcome: &'a str,
    from: &'a str,
    to: &'a str,
}

#[derive(Serialize)]
struct AuditPage<'a> {
    #[serde(flatten)]
    chrome: Chrome<'a>,
    filters: Typed<'a>,
    entries: Vec<Row>,
    next: Option<String>,
    first: Option<String>,
    /// The CSV link with the same filters.
    csv: String,
    /// The actions the filter offers.
    actions: &'static [&'static str],
}

#[derive(Serialize)]
struct Row {
    at: String,
    at_text: String,
    action: String,
    success: bool,
    actor: Party,
    target: Option<Party>,
    ip: Option<String>,
    detail: Option<String>,
}

/// Who acted or was acted on: a user (by address when they still exist),
/// or the CLI.
#[derive(Serialize)]
struct Party {
    /// The user's console page, for a user.
    href: Option<String>,
    text: String,
}

/// The actions Warden writes, offered in the filter's list.
const ACTIONS: &[&str] = &[
    "ban",
    "client_create",
    "client_delete",
    "client_secret_rotate",
    "client_update",
    "delete",
    "email_change",
    "email_change_request",
    "identity_link",
    "identity_unlink",
    "mfa_enrol",
    "mfa_recovery_codes",
    "mfa_remove",
    "mfa_reset",
    "oauth_authorize",
    "oauth_code_replay",
    "oauth_consent",
    "oauth_exchange",
    "oauth_revoke",
    "passkey_register",
    "passkey_remove",
    "password_change",
    "password_forgot",
    "password_reset",
    "password_reset_sent",
    "password_set",
    "refresh_retry",
    "refresh_reuse",
    "roles_change",
    "session_revoke",
    "signin",
    "signin_mfa",
    "signin_social",
    "signout",
    "signout_all",
    "signup",
    "signup_social",
    "unban",
    "verify_email",
    "verify_email_send",
];

/// The filter a query asks for, or the field it got wrong.
async fn filter_of(state: &PageState, q: &Form) -> Result<AuditFilter, (String, String)> {
    let catalogue = &state.pages.catalogue;
    let bad = |field: &str, key: &str| (field.to_owned(), catalogue.text(key));
    let user = match q.text("user").trim() {
        "" => None,
        who => match state.app.auth.user_admin().find(who).await {
            Ok(user) => Some(user.id),
            // Entries may outlive the account: an id still filters.
            Err(CoreError::NotFound(_)) => match who.parse::<UserId>() {
                Ok(id) => Some(id),
                Err(_) => return Err(bad("user", "admin.audit_no_user")),
            },
            Err(CoreError::InvalidInput(_)) => return Err(bad("user", "admin.audit_bad_user")),
            Err(_) => return Err(bad("user", "errors.unavailable")),
        },
    };
    let action = match q.text("action").trim() {
        "" => None,
        action if ACTIONS.contains(&action) => Some(action.to_owned()),
        _ => return Err(bad("action", "admin.audit_bad_action")),
    };
    let success = match q.text("outcome") {
        "" => None,
        "success" => Some(true),
        "failure" => Some(false),
        _ => return Err(bad("outcome", "admin.audit_bad_outcome")),
    };
    let time = |field: &str, end_of_day: bool| -> Result<Option<DateTime<Utc>>, (String, String)> {
        match q.text(field).trim() {
            "" => Ok(None),
            raw => parse_time(raw, end_of_day)
                .map(Some)
                .ok_or_else(|| bad(field, "admin.audit_bad_time")),
        }
    };
    let from = time("from", false)?;
    let to = time("to", true)?;
    if let (Some(from), Some(to)) = (from, to)
        && from >= to
    {
        return Err(bad("to", "admin.audit_bad_range"));
    }
    Ok(AuditFilter {
        user,
        action,
        success,
        from,
        to,
    })
}

/// A time as a `datetime-local` field sends it (`2026-12-07T14:05`, UTC
/// here) or a day (`2026-12-07`: its start, or the next day's start for
/// the end of a range).
fn parse_time(raw: &str, end_of_day: bool) -> Option<DateTime<Utc>> {
    for format in ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(at) = NaiveDateTime::parse_from_str(raw, format) {
            return Some(at.and_utc());
        }
    }
    let day = NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok()?;
    let day = if end_of_day { day.succ_opt()? } else { day };
    Some(day.and_hms_opt(0, 0, 0)?.and_utc())
}

/// The query string of the filters as typed (for paging and the CSV link).
fn filter_query(typed: &Typed<'_>) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair("user", typed.user)
        .append_pair("action", typed.action)
        .append_pair("outcome", typed.outcome)
        .append_pair("from", typed.from)
        .append_pair("to", typed.to)
        .finish()
}

/// `GET /admin/audit?user=&action=&outcome=&from=&to=&cursor=`.
pub async fn show(State(state): State<PageState>, uri: Uri, headers: HeaderMap) -> Response {
    let admin = match admin(&state, &headers, "/admin/audit").await {
        Ok(admin) => admin,
        Err(response) => return response,
    };
    let q = query(&uri);
    let typed = Typed {
        user: q.text("user").trim(),
        action: q.text("action").trim(),
        outcome: q.text("outcome"),
        from: q.text("from").trim(),
        to: q.text("to").trim(),
    };
    let base = &state.pages.base;
    let filters = filter_query(&typed);
    let cursor = q.get("cursor").filter(|c| !c.is_empty());
    let mut chrome = Chrome::new(&admin, "audit");
    let (status, entries, next) = match filter_of(&state, &q).await {
        Ok(filter) => match state
            .app
            .auth
            .audit_page(&filter, cursor, Some(PER_PAGE))
            .await
        {
            Ok(found) => {
                let next = found
                    .next_cursor
                    .map(|c| format!("{base}/admin/audit?{filters}&cursor={c}"));
                (StatusCode::OK, found.items, next)
            }
            Err(CoreError::InvalidInput(_)) => {
                chrome.errors =
                    Errors::one("user", state.pages.catalogue.text("admin.audit_bad_cursor"));
                (StatusCode::BAD_REQUEST, Vec::new(), None)
            }
            Err(_) => return unavailable(&state),
        },
        Err((field, message)) => {
            chrome.errors = Errors::one(&field, message);
            (StatusCode::BAD_REQUEST, Vec::new(), None)
        }
    };
    let rows = rows(&state, &admin, &entries).await;
    let context = AuditPage {
        chrome,
        csv: format!("{base}/admin/audit.csv?{filters}"),
        first: cursor.map(|_| format!("{base}/admin/audit?{filters}")),
        filters: typed,
        entries: rows,
        next,
        actions: ACTIONS,
    };
    page(&state, &admin, "admin/audit.html", status, context)
}

/// The entries as the page shows them: users by address where the
/// account still exists (one read per distinct user on the page).
async fn rows(state: &PageState, admin: &Admin, entries: &[AuditEntry]) -> Vec<Row> {
    let base = &state.pages.base;
    let mut emails: HashMap<UserId, Option<String>> = HashMap::new();
    emails.insert(admin.user.id, Some(admin.user.email.as_str().to_owned()));
    for entry in entries {
        for id in entry
            .actor
            .and_then(Actor::user)
            .into_iter()
            .chain(entry.target)
        {
            if let std::collections::hash_map::Entry::Vacant(slot) = emails.entry(id) {
                let email = state
                    .app
                    .auth
                    .user_admin()
                    .account(id)
                    .await
                    .ok()
                    .map(|u| u.email.as_str().to_owned());
                slot.insert(email);
            }
        }
    }
    let party = |id: UserId| Party {
        href: Some(format!("{base}/admin/users/{id}")),
        text: emails
            .get(&id)
            .cloned()
            .flatten()
            .unwrap_or_else(|| id.to_string()),
    };
    entries
        .iter()
        .map(|e| Row {
            at: e.at.to_rfc3339(),
            at_text: day(e.at),
            action: e.action.clone(),
            success: e.outcome == "success",
            actor: match e.actor {
                Some(Actor::User(id)) => party(id),
                Some(Actor::Cli) => Party {
                    href: None,
                    text: state.pages.catalogue.text("admin.actor_cli"),
                },
                None => Party {
                    href: None,
                    text: state.pages.catalogue.text("admin.actor_unknown"),
                },
            },
            target: e.target.map(party),
            ip: e.ip.clone(),
            detail: e.detail.clone(),
        })
        .collect()
}

/// `GET /admin/audit.csv?<filters>`: every matching entry (newest first,
/// at most [`EXPORT_LIMIT`]) as RFC 4180 CSV.
pub async fn export(State(state): State<PageState>, uri: Uri, headers: HeaderMap) -> Response {
    let admin = match admin(&state, &headers, "/admin/audit").await {
        Ok(admin) => admin,
        Err(response) => return response,
    };
    let q = query(&uri);
    let filter = match filter_of(&state, &q).await {
        Ok(filter) => filter,
        Err((_, message)) => {
            return super::problem_page(
                &state,
                &admin,
                StatusCode::BAD_REQUEST,
                &message,
                "/admin/audit",
            );
        }
    };
    let mut csv = String::from("id,at,actor,action,target,ip,user_agent,outcome,detail\r\n");
    let mut cursor: Option<String> = None;
    let mut written = 0;
    while written < EXPORT_LIMIT {
        let page = match state
            .app
            .auth
            .audit_page(&filter, cursor.as_deref(), Some(MAX_PAGE))
            .await
        {
            Ok(page) => page,
            Err(_) => return unavailable(&state),
        };
        for entry in page.items.iter().take(EXPORT_LIMIT - written) {
            csv_line(&mut csv, entry);
            written += 1;
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let name = format!(
        "attachment; filename=\"warden-audit-{}.csv\"",
        state.app.auth.now().format("%Y%m%d-%H%M%S")
    );
    (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&name)
                    .unwrap_or_else(|_| HeaderValue::from_static("attachment")),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        csv,
    )
        .into_response()
}

fn csv_line(out: &mut String, e: &AuditEntry) {
    let fields = [
        e.id.to_string(),
        e.at.to_rfc3339(),
        e.actor.map(|a| a.to_string()).unwrap_or_default(),
        e.action.clone(),
        e.target.map(|t| t.to_string()).unwrap_or_default(),
        e.ip.clone().unwrap_or_default(),
        e.user_agent.clone().unwrap_or_default(),
        e.outcome.clone(),
        e.detail.clone().unwrap_or_default(),
    ];
    let cells: Vec<String> = fields.iter().map(|f| csv_cell(f)).collect();
    out.push_str(&cells.join(","));
    out.push_str("\r\n");
}

/// One CSV cell: quoted when it must be (RFC 4180), and a value a
/// spreadsheet would run as a formula (a user agent is anyone's to choose)
/// starts with `'` so that it is shown, never evaluated.
fn csv_cell(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_and_formulas_defused() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("line\nbreak"), "\"line\nbreak\"");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell(""), "");
    }

    #[test]
    fn times_are_read_as_utc_and_a_day_ends_at_the_next_midnight() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert_eq!(
            parse_time("2026-12-07T14:05", false),
            Some(at("2026-12-07T14:05:00Z"))
        );
        assert_eq!(
            parse_time("2026-12-07", false),
            Some(at("2026-12-07T00:00:00Z"))
        );
        assert_eq!(
            parse_time("2026-12-07", true),
            Some(at("2026-12-08T00:00:00Z"))
        );
        assert_eq!(parse_time("yesterday", false), None);
        assert_eq!(parse_time("2026-13-01", false), None);
    }
}
