//! The store contract: conformance tests every adapter of
//! [`Store`](warden_core::ports::Store) must pass (SQLite, PostgreSQL and
//! MySQL/MariaDB run them all through [`contract_tests!`]). Each function
//! takes a freshly migrated, empty store and panics on a violation. Run the
//! concurrency checks on a multi-threaded runtime, for example:
//!
//! ```ignore
//! #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
//! async fn refresh_rotation_is_single_use_under_concurrency() {
//!     let (_db, store) = fresh_store().await;
//!     warden_store::contract::refresh_rotation_is_single_use_under_concurrency(store).await;
//! }
//! ```
//!
//! Every function is listed in [`ALL`] by name so adapters can check they run them all.
//!
//! The functions live in one file per section of the port (`users`,
//! `sessions`, `refresh`, `keys`, `revocations`, `relay` for the outbox and its
//! relay, `audit`, `lockout`, `links` for mailed link tokens, `identities`
//! for social sign-in, `mfa` for second factors, `passkeys`, `clients` for
//! the OAuth clients of Warden as a provider, `grants` for what it grants
//! them (authorization codes, consents, client sessions), `mail` for the
//! mail queue, with its own list [`MAIL`] and macro) and are re-exported here, so
//! `warden_store::contract::<name>` names each one; the shared fixtures are
//! below.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use warden_core::model::{
    AuthMethod, Authentication, OutboxEvent, RefreshRecord, Revocation, RevocationKind, Role,
    Session, TokenHash, User, UserStatus,
};
use warden_core::ports::{NewUser, Store};
use warden_core::{Email, SessionId, UserId};

mod audit;
mod clients;
mod grants;
mod identities;
mod keys;
mod lease;
mod links;
mod lockout;
mod mail;
mod mfa;
mod passkeys;
mod refresh;
mod relay;
mod revocations;
mod sessions;
mod users;

pub use self::audit::{audit_filters_and_tallies, audit_pages_newest_first, console_counts};
pub use self::clients::{
    clients_create_find_and_list_in_pages, clients_delete_reports_whether_it_existed,
    clients_duplicate_id_is_a_conflict, clients_rotate_secret_replaces_the_hash,
    clients_update_changes_settings_only,
};
pub use self::grants::{
    authorization_code_redemption_is_single_use_under_concurrency,
    authorization_codes_are_redeemed_once_and_replays_name_the_first_session,
    client_sessions_keep_their_client_and_scope, consents_are_saved_replaced_and_found,
    expired_authorization_codes_are_deleted, grants_go_with_their_client_and_user,
    revoke_client_sessions_revokes_only_that_clients_live_sessions,
};
pub use self::identities::{
    exchange_codes_are_single_use_and_expire, identities_link_find_list_and_touch,
    identities_sign_up_atomically_and_go_with_the_account,
    identities_unlink_keeps_one_under_concurrency, identities_unlink_keeps_the_last_credential,
};
pub use self::keys::{
    signing_keys_first_is_created_once_under_concurrency,
    signing_keys_need_the_right_encryption_key, signing_keys_round_trip_retire_delete,
};
pub use self::links::{
    email_in_use_matches_addresses_and_look_alikes,
    link_completion_applies_its_change_mail_and_events_atomically,
    link_completion_is_single_use_under_concurrency,
    links_are_single_use_and_checked_on_completion,
    password_change_voids_reset_links_and_queues_its_notice,
    prune_links_drops_expired_links_and_idle_throttles,
    send_throttle_allows_one_per_interval_under_concurrency,
};
pub use self::lockout::{
    login_throttle_counts_and_clears, login_throttle_counts_exactly_under_concurrency,
};
#[cfg(test)]
pub(crate) use self::mail::mail_contract_tests;
pub use self::mail::{
    MAIL, RawMailValues, mail_is_due_oldest_first_and_retries_later,
    mail_lease_has_one_holder_under_concurrency, mail_prune_removes_only_finished_mail,
    mail_sent_or_given_up_leaves_the_queue,
    mail_values_are_encrypted_at_rest_and_erased_after_delivery,
};
pub use self::mfa::{
    mfa_challenges_count_failures_and_are_taken_once,
    recovery_codes_are_single_use_and_replaced_as_a_set,
    second_factors_are_deleted_with_events_and_the_account,
    totp_confirm_is_bound_to_the_secret_it_checked, totp_pending_confirm_and_replace,
    totp_steps_are_single_use_under_concurrency,
};
pub use self::passkeys::{
    passkeys_count_as_a_credential_when_unlinking, passkeys_delete_keeps_the_last_credential,
    passkeys_register_list_find_and_touch, webauthn_challenges_are_taken_once_and_expire,
};
pub use self::refresh::{
    refresh_retry_within_the_grace_window, refresh_retry_within_the_grace_window_under_concurrency,
    refresh_rotation, refresh_rotation_is_single_use_under_concurrency, reuse_policy,
};
pub use self::relay::{
    outbox_in_commit_order, outbox_relay_lease_has_one_holder_under_concurrency,
    outbox_relay_only_the_lease_holder_publishes,
    outbox_relay_publishes_a_prefix_and_prunes_only_published,
    outbox_relay_publishes_in_order_and_retries_after_a_failure,
};
pub use self::revocations::revocations_active_filter;
pub use self::sessions::{
    revoke_session_is_idempotent, revoke_user_sessions_keeps_one_and_replaces_hash,
    session_tokens_follow_their_session_and_user, sessions_create_find_list,
    sessions_keep_their_authentication,
};
pub use self::users::{
    ForgetEmailSkeletons, legacy_emails_get_skeletons_at_start, users_create_and_find,
    users_delete_cascades, users_list_pages_and_filters, users_status_roles_and_password,
    users_unique_email_under_concurrency,
};

/// The names of every contract function, for adapters to check coverage.
pub const ALL: &[&str] = &[
    "users_create_and_find",
    "users_unique_email_under_concurrency",
    "users_list_pages_and_filters",
    "users_status_roles_and_password",
    "users_delete_cascades",
    "sessions_create_find_list",
    "refresh_rotation",
    "refresh_rotation_is_single_use_under_concurrency",
    "refresh_retry_within_the_grace_window",
    "refresh_retry_within_the_grace_window_under_concurrency",
    "revoke_session_is_idempotent",
    "revoke_user_sessions_keeps_one_and_replaces_hash",
    "login_throttle_counts_and_clears",
    "login_throttle_counts_exactly_under_concurrency",
    "signing_keys_round_trip_retire_delete",
    "signing_keys_first_is_created_once_under_concurrency",
    "signing_keys_need_the_right_encryption_key",
    "revocations_active_filter",
    "audit_pages_newest_first",
    "audit_filters_and_tallies",
    "console_counts",
    "outbox_in_commit_order",
    // session tokens (tokens.access = "session")
    "session_tokens_follow_their_session_and_user",
    "outbox_relay_publishes_a_prefix_and_prunes_only_published",
    "outbox_relay_lease_has_one_holder_under_concurrency",
    "outbox_relay_publishes_in_order_and_retries_after_a_failure",
    "outbox_relay_only_the_lease_holder_publishes",
    // e-mail skeletons (migration 0004)
    "legacy_emails_get_skeletons_at_start",
    // mailed links (migration 0007)
    "links_are_single_use_and_checked_on_completion",
    "link_completion_is_single_use_under_concurrency",
    "link_completion_applies_its_change_mail_and_events_atomically",
    "password_change_voids_reset_links_and_queues_its_notice",
    "send_throttle_allows_one_per_interval_under_concurrency",
    "email_in_use_matches_addresses_and_look_alikes",
    "prune_links_drops_expired_links_and_idle_throttles",
    // social sign-in (migration 0009)
    "identities_link_find_list_and_touch",
    "identities_sign_up_atomically_and_go_with_the_account",
    "identities_unlink_keeps_the_last_credential",
    "identities_unlink_keeps_one_under_concurrency",
    "exchange_codes_are_single_use_and_expire",
    // second factors (migration 0010)
    "sessions_keep_their_authentication",
    "totp_pending_confirm_and_replace",
    "totp_confirm_is_bound_to_the_secret_it_checked",
    "totp_steps_are_single_use_under_concurrency",
    "recovery_codes_are_single_use_and_replaced_as_a_set",
    "mfa_challenges_count_failures_and_are_taken_once",
    "second_factors_are_deleted_with_events_and_the_account",
    // passkeys (migration 0011)
    "passkeys_register_list_find_and_touch",
    "passkeys_delete_keeps_the_last_credential",
    "passkeys_count_as_a_credential_when_unlinking",
    "webauthn_challenges_are_taken_once_and_expire",
    // OAuth clients (migration 0012)
    "clients_create_find_and_list_in_pages",
    "clients_duplicate_id_is_a_conflict",
    "clients_update_changes_settings_only",
    "clients_rotate_secret_replaces_the_hash",
    "clients_delete_reports_whether_it_existed",
    // the provider's grants (migration 0013)
    "authorization_codes_are_redeemed_once_and_replays_name_the_first_session",
    "authorization_code_redemption_is_single_use_under_concurrency",
    "expired_authorization_codes_are_deleted",
    "consents_are_saved_replaced_and_found",
    "grants_go_with_their_client_and_user",
    "client_sessions_keep_their_client_and_scope",
    "revoke_client_sessions_revokes_only_that_clients_live_sessions",
];

/// Generates one test per contract function for an adapter. `$with_store`
/// names an async function taking a closure `FnOnce(Arc<dyn Store>) -> Fut`
/// that hands it a fresh, migrated store and cleans up afterwards (whether
/// the test passed or not); `$with_two` does the same with two stores over one
/// database that use different key-encryption keys; `$with_legacy` hands a
/// store and a [`ForgetEmailSkeletons`] that turns its accounts into ones
/// written before migration 0004.
#[cfg(test)]
macro_rules! contract_tests {
    ($with_store:ident, $with_two:ident, $with_legacy:ident) => {
        $crate::contract::contract_tests!(
            @each $with_store;
            users_create_and_find,
            users_unique_email_under_concurrency,
            users_list_pages_and_filters,
            users_status_roles_and_password,
            users_delete_cascades,
            sessions_create_find_list,
            refresh_rotation,
            refresh_rotation_is_single_use_under_concurrency,
            refresh_retry_within_the_grace_window,
            refresh_retry_within_the_grace_window_under_concurrency,
            revoke_session_is_idempotent,
            revoke_user_sessions_keeps_one_and_replaces_hash,
            login_throttle_counts_and_clears,
            login_throttle_counts_exactly_under_concurrency,
            signing_keys_round_trip_retire_delete,
            signing_keys_first_is_created_once_under_concurrency,
            revocations_active_filter,
            audit_pages_newest_first,
            audit_filters_and_tallies,
            console_counts,
            outbox_in_commit_order,
            session_tokens_follow_their_session_and_user,
            outbox_relay_publishes_a_prefix_and_prunes_only_published,
            outbox_relay_lease_has_one_holder_under_concurrency,
            outbox_relay_publishes_in_order_and_retries_after_a_failure,
            outbox_relay_only_the_lease_holder_publishes,
            links_are_single_use_and_checked_on_completion,
            link_completion_is_single_use_under_concurrency,
            link_completion_applies_its_change_mail_and_events_atomically,
            password_change_voids_reset_links_and_queues_its_notice,
            send_throttle_allows_one_per_interval_under_concurrency,
            email_in_use_matches_addresses_and_look_alikes,
            prune_links_drops_expired_links_and_idle_throttles,
            identities_link_find_list_and_touch,
            identities_sign_up_atomically_and_go_with_the_account,
            identities_unlink_keeps_the_last_credential,
            identities_unlink_keeps_one_under_concurrency,
            exchange_codes_are_single_use_and_expire,
            sessions_keep_their_authentication,
            totp_pending_confirm_and_replace,
            totp_confirm_is_bound_to_the_secret_it_checked,
            totp_steps_are_single_use_under_concurrency,
            recovery_codes_are_single_use_and_replaced_as_a_set,
            mfa_challenges_count_failures_and_are_taken_once,
            second_factors_are_deleted_with_events_and_the_account,
            passkeys_register_list_find_and_touch,
            passkeys_delete_keeps_the_last_credential,
            passkeys_count_as_a_credential_when_unlinking,
            webauthn_challenges_are_taken_once_and_expire,
            clients_create_find_and_list_in_pages,
            clients_duplicate_id_is_a_conflict,
            clients_update_changes_settings_only,
            clients_rotate_secret_replaces_the_hash,
            clients_delete_reports_whether_it_existed,
            authorization_codes_are_redeemed_once_and_replays_name_the_first_session,
            authorization_code_redemption_is_single_use_under_concurrency,
            expired_authorization_codes_are_deleted,
            consents_are_saved_replaced_and_found,
            grants_go_with_their_client_and_user,
            client_sessions_keep_their_client_and_scope,
            revoke_client_sessions_revokes_only_that_clients_live_sessions,
        );

        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn signing_keys_need_the_right_encryption_key() {
            $with_two($crate::contract::signing_keys_need_the_right_encryption_key).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn legacy_emails_get_skeletons_at_start() {
            $with_legacy($crate::contract::legacy_emails_get_skeletons_at_start).await;
        }
    };
    (@each $with_store:ident; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                $with_store($crate::contract::$name).await;
            }
        )*

        #[test]
        fn every_contract_function_runs() {
            let mut ran: Vec<&str> = vec![$(stringify!($name)),*];
            ran.push("signing_keys_need_the_right_encryption_key");
            ran.push("legacy_emails_get_skeletons_at_start");
            ran.sort_unstable();
            let mut all = $crate::contract::ALL.to_vec();
            all.sort_unstable();
            assert_eq!(ran, all);
        }
    };
}
#[cfg(test)]
pub(crate) use contract_tests;

// ----- fixtures -----

/// A time with millisecond precision (what every adapter stores).
pub fn base_time() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap_or_default()
}

fn new_user(email: &str, username: Option<&str>, at: DateTime<Utc>) -> NewUser {
    NewUser {
        user: User {
            id: UserId::new(),
            email: Email::parse(email).expect("valid e-mail"),
            username: username.map(str::to_owned),
            roles: vec![Role::user()],
            status: UserStatus::Active,
            created_at: at,
            email_verified: false,
            has_password: true,
        },
        password_hash: format!("$argon2id$v=19$m=19456,t=2,p=1$salt${email}"),
        verification: None,
        mail: Vec::new(),
        identity: None,
    }
}

fn event(name: &str, at: DateTime<Utc>) -> OutboxEvent {
    OutboxEvent::new(name, json!({"name": name, "n": 1}), at)
}

fn token(label: &str) -> TokenHash {
    TokenHash(format!("{label}-{}", uuid::Uuid::now_v7().simple()))
}

fn session(
    user: UserId,
    created_at: DateTime<Utc>,
    lifetime: Duration,
) -> (Session, RefreshRecord) {
    let id = SessionId::new();
    let session = Session {
        id,
        user_id: user,
        created_at,
        last_used_at: created_at,
        expires_at: created_at + lifetime,
        revoked_at: None,
        user_agent: Some("contract-test/1.0".into()),
        ip: Some("192.0.2.1".into()),
        authentication: Authentication::new(&[AuthMethod::Pwd], created_at),
        client_id: None,
        scope: None,
    };
    let refresh = RefreshRecord {
        token_hash: token("rt"),
        session_id: id,
        created_at,
    };
    (session, refresh)
}

fn session_revocation(id: SessionId, until: DateTime<Utc>) -> Revocation {
    Revocation {
        kind: RevocationKind::Session,
        id: id.as_uuid(),
        not_before: None,
        until,
    }
}

async fn create_user(store: &dyn Store, email: &str, at: DateTime<Utc>) -> User {
    let new = new_user(email, None, at);
    store.create_user(&new, &[]).await.expect("create user");
    new.user
}

async fn create_session(
    store: &dyn Store,
    user: UserId,
    at: DateTime<Utc>,
    lifetime: Duration,
) -> (Session, RefreshRecord) {
    let (session, refresh) = session(user, at, lifetime);
    store
        .create_session(&session, &refresh, &[])
        .await
        .expect("create session");
    (session, refresh)
}

async fn outbox(store: &dyn Store) -> Vec<(i64, OutboxEvent)> {
    store.list_outbox(0, 10_000).await.expect("list outbox")
}

async fn outbox_names(store: &dyn Store) -> Vec<String> {
    outbox(store)
        .await
        .into_iter()
        .map(|(_, e)| e.name)
        .collect()
}
