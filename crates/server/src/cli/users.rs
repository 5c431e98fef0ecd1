//! `warden user ...`: accounts managed straight on the database, beside a
//! running server or without one, on every backend. It writes the events
//! and audit entries the admin API writes (actor `cli`), so running
//! servers refuse a banned user's tokens as soon as their revocation feed
//! sees the ban, and the audit log says who did it. It is also the way
//! back in for an instance whose only admin lost their password.

use std::io::BufRead as _;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Subcommand;
use serde_json::{Value, json};
use warden_core::model::{Actor, Session, User};
use warden_core::ports::SystemClock;
use warden_core::service::{MAX_PAGE, MfaStatus, UserAdmin};
use warden_core::{Accounts, RequestContext, Role};

use super::{open_store, say_where};
use crate::app;
use crate::config::Config;

/// `warden user ...`. A user is named by id or e-mail address.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is read from stdin (one line).
    Add {
        /// E-mail address.
        #[arg(long)]
        email: String,
        /// Role (repeatable); `user` when none is given.
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Display name.
        #[arg(long)]
        username: Option<String>,
    },
    /// List users, ordered by id.
    List {
        /// Only those whose e-mail address or name contains this.
        #[arg(long)]
        query: Option<String>,
        /// At most this many.
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Show a user: account, second factors, live sessions.
    Show {
        /// User id or e-mail address.
        user: String,
    },
    /// Set a new password, read from stdin (one line): every session ends,
    /// the sign-in lockout is lifted and the owner is told by mail.
    SetPassword {
        /// User id or e-mail address.
        user: String,
    },
    /// Replace a user's roles; their tokens carry them from the next refresh.
    SetRoles {
        /// User id or e-mail address.
        user: String,
        /// Role (repeatable, at least one).
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
    },
    /// Ban a user: every session ends and live tokens are refused.
    Ban {
        /// User id or e-mail address.
        user: String,
        /// Why (kept in the audit log and the `user.banned` event).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Lift a ban; the sessions it ended stay ended.
    Unban {
        /// User id or e-mail address.
        user: String,
    },
    /// Delete a user, their sessions and second factors.
    Delete {
        /// User id or e-mail address.
        user: String,
        /// Confirm: deleting cannot be undone.
        #[arg(long)]
        yes: bool,
    },
    /// Remove every second factor (authenticator app, passkeys, recovery
    /// codes) and end every session; the owner is told by mail.
    ResetMfa {
        /// User id or e-mail address.
        user: String,
    },
}

/// Runs `warden user <action>`, printing JSON when `json`.
pub async fn run(config: &Config, action: UserCommand, json: bool) -> anyhow::Result<()> {
    // Said before opening anything: a command run from the wrong directory
    // would otherwise fill a new, empty data dir without a word.
    let new_data_dir = config.is_embedded_database() && !config.data_dir.exists();
    if let UserCommand::Delete { yes: false, user } = &action {
        anyhow::bail!("deleting {user} cannot be undone: add --yes to confirm");
    }
    // Authenticator-app secrets and queued mail are stored encrypted with
    // the key-encryption key: without it these would fail halfway.
    let encrypted = matches!(
        action,
        UserCommand::Show { .. } | UserCommand::SetPassword { .. } | UserCommand::ResetMfa { .. }
    );
    if encrypted && app::existing_keys_encryption_key(config)?.is_none() {
        anyhow::bail!(
            "this command reads or writes data encrypted with the servers' key-encryption key: \
             pass it as WARDEN_KEYS_ENCRYPTION_KEY (or [keys] encryption_key); with the embedded \
             database, run `warden serve` once on this data dir so that it makes one"
        );
    }
    // Read before the database opens, so a missing password changes nothing.
    let password = match &action {
        UserCommand::Add { email, .. } => Some(read_password(&format!(
            "echo '<password>' | warden user add --email {email}"
        ))?),
        UserCommand::SetPassword { user } => Some(read_password(&format!(
            "echo '<password>' | warden user set-password {user}"
        ))?),
        _ => None,
    };
    let store = open_store(config).await?;
    let settings = app::auth_settings(config);
    let hasher = app::hasher(config)?;
    let clock = Arc::new(SystemClock);
    let admin = UserAdmin::new(
        store.clone(),
        clock.clone(),
        hasher.clone(),
        settings.clone(),
    );
    let ctx = RequestContext {
        ip: None,
        user_agent: Some(format!("warden-cli/{}", env!("CARGO_PKG_VERSION"))),
    };
    let failed = |e: warden_core::CoreError| anyhow::anyhow!("{e}");
    let password = password.as_deref().unwrap_or_default();
    let out = Output { json };
    match action {
        UserCommand::Add {
            email,
            roles,
            username,
        } => {
            let mut roles = roles
                .iter()
                .map(|r| Role::parse(r).map_err(|e| anyhow::anyhow!("{e}")))
                .collect::<anyhow::Result<Vec<_>>>()?;
            if roles.is_empty() {
                roles.push(Role::user());
            }
            let accounts = Accounts::new(store, clock, hasher, settings.password_policy);
            let user = accounts
                .create_user(
                    &email,
                    password,
                    username.as_deref(),
                    roles,
                    Some(Actor::Cli),
                    &ctx,
                )
                .await
                .map_err(failed)?;
            out.say(user_json(&user), || {
                format!("created user {} <{}>", user.id, user.email)
            });
            say_where(config, new_data_dir, "this user");
            return Ok(());
        }
        UserCommand::List { query, limit } => {
            let limit = limit.unwrap_or(usize::MAX);
            let mut users = Vec::new();
            let mut cursor: Option<String> = None;
            while users.len() < limit {
                let page = admin
                    .list(query.as_deref(), cursor.as_deref(), Some(MAX_PAGE))
                    .await
                    .map_err(failed)?;
                users.extend(page.items);
                match page.next_cursor {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
            users.truncate(limit);
            if json {
                println!("{}", Value::Array(users.iter().map(user_json).collect()));
            } else {
                for user in &users {
                    println!("{}", user_line(user));
                }
                eprintln!("{} user(s)", users.len());
            }
        }
        UserCommand::Show { user } => {
            let user = admin.find(&user).await.map_err(failed)?;
            let (user, sessions) = admin.get(user.id).await.map_err(failed)?;
            let factors = admin.second_factors(&user).await.map_err(failed)?;
            out.say(show_json(&user, &factors, &sessions), || {
                show_text(&user, &factors, &sessions)
            });
        }
        UserCommand::SetPassword { user } => {
            let user = admin.find(&user).await.map_err(failed)?;
            let revoked = admin
                .set_password(Actor::Cli, user.id, password, &ctx)
                .await
                .map_err(failed)?;
            out.say(
                json!({"user": user_json(&user), "sessions_ended": revoked.len()}),
                || {
                    format!(
                        "new password set for {} <{}>; {} session(s) ended, sign-in lockout lifted",
                        user.id,
                        user.email,
                        revoked.len()
                    )
                },
            );
        }
        UserCommand::SetRoles { user, roles } => {
            let user = admin.find(&user).await.map_err(failed)?;
            let user = admin
                .set_roles(Actor::Cli, user.id, &roles, &ctx)
                .await
                .map_err(failed)?;
            out.say(user_json(&user), || {
                format!(
                    "{} <{}> now has the roles {}; tokens carry them from their next refresh",
                    user.id,
                    user.email,
                    role_list(&user)
                )
            });
        }
        UserCommand::Ban { user, reason } => {
            let user = admin.find(&user).await.map_err(failed)?;
            let (user, revoked) = admin
                .ban(Actor::Cli, user.id, reason.as_deref(), &ctx)
                .await
                .map_err(failed)?;
            // The first entry is the user's own; the rest are sessions.
            let sessions = revoked.len().saturating_sub(1);
            out.say(
                json!({"user": user_json(&user), "sessions_ended": sessions}),
                || {
                    format!(
                        "banned {} <{}>; {sessions} session(s) ended, and running servers \
                         refuse their tokens once they read the ban (within seconds)",
                        user.id, user.email
                    )
                },
            );
        }
        UserCommand::Unban { user } => {
            let user = admin.find(&user).await.map_err(failed)?;
            let unbanned = admin
                .unban(Actor::Cli, user.id, &ctx)
                .await
                .map_err(failed)?;
            let user = unbanned.user;
            out.say(user_json(&user), || {
                format!(
                    "unbanned {} <{}>; they may sign in again",
                    user.id, user.email
                )
            });
        }
        UserCommand::Delete { user, .. } => {
            let user = admin.find(&user).await.map_err(failed)?;
            admin
                .delete(Actor::Cli, user.id, &ctx)
                .await
                .map_err(failed)?;
            out.say(json!({"deleted": user.id.to_string()}), || {
                format!("deleted {} <{}>", user.id, user.email)
            });
        }
        UserCommand::ResetMfa { user } => {
            let user = admin.find(&user).await.map_err(failed)?;
            let revoked = admin
                .reset_mfa(Actor::Cli, user.id, &ctx)
                .await
                .map_err(failed)?;
            out.say(
                json!({"user": user_json(&user), "sessions_ended": revoked.len()}),
                || {
                    format!(
                        "second factors of {} <{}> removed; {} session(s) ended",
                        user.id,
                        user.email,
                        revoked.len()
                    )
                },
            );
        }
    }
    say_where(config, new_data_dir, "no users");
    Ok(())
}

/// Prints JSON for scripts or a sentence for people.
struct Output {
    json: bool,
}

impl Output {
    fn say(&self, value: Value, text: impl FnOnce() -> String) {
        if self.json {
            println!("{value}");
        } else {
            println!("{}", text());
        }
    }
}

/// One line from standard input, without its line end.
fn read_password(example: &str) -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if std::io::IsTerminal::is_terminal(&stdin) {
        eprintln!("password (one line):");
    }
    let mut password = String::new();
    let read = stdin
        .lock()
        .read_line(&mut password)
        .context("reading the password from standard input")?;
    let password = password.trim_end_matches(['\r', '\n']);
    if read == 0 || password.is_empty() {
        anyhow::bail!("no password on standard input: pipe one line, e.g. `{example}`");
    }
    Ok(password.to_owned())
}

fn role_list(user: &User) -> String {
    let roles: Vec<&str> = user.roles.iter().map(Role::as_str).collect();
    roles.join(",")
}

/// A user as `warden user list` prints it: id, e-mail, status, roles, created.
fn user_line(user: &User) -> String {
    format!(
        "{}\t{}\t{}\t{}\t{}",
        user.id,
        user.email,
        user.status.as_str(),
        role_list(user),
        user.created_at.to_rfc3339()
    )
}

/// A user as the admin API shows one.
fn user_json(user: &User) -> Value {
    json!({
        "id": user.id.to_string(),
        "email": user.email.as_str(),
        "username": user.username,
        "roles": user.roles.iter().map(Role::as_str).collect::<Vec<_>>(),
        "status": user.status.as_str(),
        "email_verified": user.email_verified,
        "has_password": user.has_password,
        "created_at": user.created_at.to_rfc3339(),
    })
}

fn show_json(user: &User, factors: &MfaStatus, sessions: &[Session]) -> Value {
    let mut value = user_json(user);
    value["second_factors"] = json!({
        "totp": factors.totp,
        "passkeys": factors.passkeys,
        "recovery_codes_left": factors.recovery_codes_left,
    });
    value["sessions"] = sessions
        .iter()
        .map(|s| {
            json!({
                "id": s.id.to_string(),
                "created_at": s.created_at.to_rfc3339(),
                "last_used_at": s.last_used_at.to_rfc3339(),
                "expires_at": s.expires_at.to_rfc3339(),
                "ip": s.ip,
                "user_agent": s.user_agent,
                "client_id": s.client_id.as_ref().map(|c| c.to_string()),
            })
        })
        .collect();
    value
}

fn show_text(user: &User, factors: &MfaStatus, sessions: &[Session]) -> String {
    let mut lines = vec![
        format!("id              {}", user.id),
        format!(
            "email           {} ({})",
            user.email,
            if user.email_verified {
                "verified"
            } else {
                "not verified"
            }
        ),
        format!(
            "username        {}",
            user.username.as_deref().unwrap_or("-")
        ),
        format!("status          {}", user.status.as_str()),
        format!("roles           {}", role_list(user)),
        format!("created         {}", user.created_at.to_rfc3339()),
        format!(
            "password        {}",
            if user.has_password { "set" } else { "none" }
        ),
    ];
    let mut factor_names = Vec::new();
    if factors.totp {
        factor_names.push("authenticator app".to_owned());
    }
    if factors.passkeys > 0 {
        factor_names.push(format!("{} passkey(s)", factors.passkeys));
    }
    if factors.recovery_codes_left > 0 {
        factor_names.push(format!(
            "{} recovery code(s) left",
            factors.recovery_codes_left
        ));
    }
    lines.push(format!(
        "second factors  {}",
        if factor_names.is_empty() {
            "none".to_owned()
        } else {
            factor_names.join(", ")
        }
    ));
    lines.push(format!("sessions        {} live", sessions.len()));
    for session in sessions {
        lines.push(format!(
            "  {}  since {}  last used {}  {}  {}",
            session.id,
            session.created_at.to_rfc3339(),
            session.last_used_at.to_rfc3339(),
            session.ip.as_deref().unwrap_or("-"),
            session.user_agent.as_deref().unwrap_or("-")
        ));
    }
    lines.join("\n")
}
