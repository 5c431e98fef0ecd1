//! Revocations ([`RevocationStore`](warden_core::ports::RevocationStore)).

use std::sync::Arc;

use chrono::Duration;
use warden_core::model::{Revocation, RevocationKind, UserStatus};
use warden_core::ports::Store;

use super::{base_time, create_session, create_user, session_revocation};

/// Only revocations whose `until` is after `now` are listed, with their fields intact.
pub async fn revocations_active_filter(store: Arc<dyn Store>) {
    let now = base_time();
    let user = create_user(&*store, "uma@example.com", now).await;
    let (s1, _) = create_session(&*store, user.id, now, Duration::days(30)).await;
    let (s2, _) = create_session(&*store, user.id, now, Duration::days(30)).await;
    let past = session_revocation(s1.id, now - Duration::seconds(1));
    let at_now = session_revocation(s2.id, now);
    store
        .revoke_session(s1.id, now, &past, &[])
        .await
        .expect("revoke");
    store
        .revoke_session(s2.id, now, &at_now, &[])
        .await
        .expect("revoke");
    let ban = Revocation {
        kind: RevocationKind::User,
        id: user.id.as_uuid(),
        not_before: Some(now - Duration::milliseconds(1)),
        until: now + Duration::minutes(15),
    };
    store
        .update_user_status(user.id, UserStatus::Banned, Some(&ban), &[])
        .await
        .expect("ban");

    assert_eq!(
        store.list_active_revocations(now).await.expect("active"),
        std::slice::from_ref(&ban)
    );
    let earlier = now - Duration::minutes(1);
    assert_eq!(
        store
            .list_active_revocations(earlier)
            .await
            .expect("active"),
        [past, at_now, ban.clone()]
    );
    assert!(
        store
            .list_active_revocations(ban.until)
            .await
            .expect("active")
            .is_empty()
    );
}
