//! Managing the OAuth clients Warden serves as a provider (front-door
//! contract, section 7): register, list, read, change settings, rotate a
//! confidential client's secret, delete. The admin API reaches these through
//! [`AuthService::clients`]; `warden client ...` builds a [`ClientRegistry`]
//! over the store alone, as `warden user add` does with `Accounts`: none of
//! it needs the signing keys.

use std::sync::Arc;

use super::admin::{next_cursor, not_found, page_limit};
use super::sessions::session_revoked_event;
use super::{AuthService, Page, RequestContext};
use crate::audit::Audit;
use crate::clients::{
    ClientId, ClientKind, ClientSecret, ClientSettings, OAuthClient, service_revocation,
};
use crate::denylist::DenyList;
use crate::error::{CoreError, FieldError};
use crate::events::DomainEvent;
use crate::model::{Actor, Revocation, RevocationKind};
use crate::ports::{Clock, Store};

/// The client use cases over a store and a clock. Every change writes its
/// `client.*` event with it and an audit entry naming who acted (`None`:
/// the command line, run by whoever has the database).
#[derive(Clone)]
pub struct ClientRegistry {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    /// How long a deleted client's revocations must be kept: as long as a
    /// token issued just before could live.
    revocation_ttl: chrono::Duration,
    /// The running server's deny-list, updated at once on deletion (the
    /// command line has none: servers learn of it through the feed).
    denylist: Option<Arc<DenyList>>,
    /// The running server's remembered clients, forgotten at once when
    /// a client changes here.
    checks: Option<Arc<ClientChecks>>,
}

/// Clients as the store gave them and when, to authenticate introspection
/// callers without a store read each (kept `session_cache_ttl` at most).
pub(crate) type ClientChecks =
    quick_cache::sync::Cache<ClientId, (OAuthClient, chrono::DateTime<chrono::Utc>)>;

impl AuthService {
    /// The client registry, over this service's store, clock and deny-list.
    pub fn clients(&self) -> ClientRegistry {
        ClientRegistry::new(
            self.store.clone(),
            self.clock.clone(),
            self.settings.revocation_ttl(),
        )
        .with_denylist(self.denylist.clone())
        .forgetting_in(self.client_checks.clone())
    }
}

impl ClientRegistry {
    /// The registry over `store`; `revocation_ttl` as
    /// [`crate::AuthSettings::revocation_ttl`].
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        revocation_ttl: chrono::Duration,
    ) -> Self {
        Self {
            store,
            clock,
            revocation_ttl,
            denylist: None,
            checks: None,
        }
    }

    fn forgetting_in(mut self, checks: Arc<ClientChecks>) -> Self {
        self.checks = Some(checks);
        self
    }

    /// Drops what this server remembers of a client that is changing.
    fn forget(&self, id: &ClientId) {
        if let Some(checks) = &self.checks {
            checks.remove(id);
        }
    }

    /// Also puts deletions' revocations into `denylist` at once.
    pub fn with_denylist(mut self, denylist: Arc<DenyList>) -> Self {
        self.denylist = Some(denylist);
        self
    }

    /// Registers a client; a confidential one comes with its secret, which
    /// is returned here and never again.
    pub async fn create(
        &self,
        actor: Option<Actor>,
        kind: ClientKind,
        settings: ClientSettings,
        ctx: &RequestContext,
    ) -> Result<(OAuthClient, Option<ClientSecret>), CoreError> {
        let now = self.clock.now();
        // The id is 131 random bits: a taken one is not the caller's doing
        // and never happens in practice, so it stays an unexpected error.
        let (client, secret) = OAuthClient::register(kind, settings, now)?;
        let event = DomainEvent::ClientCreated {
            client_id: client.id.clone(),
            name: client.name.clone(),
            kind,
        }
        .into_outbox(now);
        self.store.create_client(&client, &[event]).await?;
        self.audit("client_create", actor, &client.id, ctx).await;
        Ok((client, secret))
    }

    /// A page of clients ordered by id.
    pub async fn list(
        &self,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> Result<Page<OAuthClient>, CoreError> {
        let after = cursor
            .map(|c| ClientId::parse(c).ok_or(FieldError::new("cursor", "is not a valid cursor")))
            .transpose()?;
        let limit = page_limit(limit)?;
        let mut clients = self.store.list_clients(after.as_ref(), limit + 1).await?;
        let next_cursor = next_cursor(&mut clients, limit, |c| c.id.to_string());
        Ok(Page {
            items: clients,
            next_cursor,
        })
    }

    /// The client named `id`.
    pub async fn get(&self, id: &str) -> Result<OAuthClient, CoreError> {
        let id = client_id(id)?;
        self.store
            .find_client(&id)
            .await?
            .ok_or(CoreError::NotFound("client"))
    }

    /// Replaces a client's settings, checked as at registration; its id,
    /// kind and secret stay.
    pub async fn update(
        &self,
        actor: Option<Actor>,
        id: &str,
        settings: ClientSettings,
        ctx: &RequestContext,
    ) -> Result<OAuthClient, CoreError> {
        let current = self.get(id).await?;
        let now = self.clock.now();
        let client = current.with_settings(settings, now)?;
        let event = DomainEvent::ClientUpdated {
            client_id: client.id.clone(),
            name: client.name.clone(),
        }
        .into_outbox(now);
        self.store
            .update_client(&client, &[event])
            .await
            .map_err(not_found("client"))?;
        self.forget(&client.id);
        self.audit("client_update", actor, &client.id, ctx).await;
        Ok(client)
    }

    /// Gives a confidential client a new secret, returned here and never
    /// again; the old one stops working at once (at introspection on other
    /// instances, within `session_cache_ttl`: see `authenticate_reader`).
    pub async fn rotate_secret(
        &self,
        actor: Option<Actor>,
        id: &str,
        ctx: &RequestContext,
    ) -> Result<(OAuthClient, ClientSecret), CoreError> {
        let mut client = self.get(id).await?;
        if client.kind == ClientKind::Public {
            return Err(FieldError::new(
                "client_id",
                "names a public client, which has no secret to rotate",
            )
            .into());
        }
        let now = self.clock.now();
        let secret = ClientSecret::generate();
        let hash = secret.hash();
        let event = DomainEvent::ClientSecretRotated {
            client_id: client.id.clone(),
        }
        .into_outbox(now);
        self.store
            .rotate_client_secret(&client.id, &hash, now, &[event])
            .await
            .map_err(not_found("client"))?;
        self.forget(&client.id);
        self.audit("client_secret_rotate", actor, &client.id, ctx)
            .await;
        client.secret_hash = Some(hash);
        client.secret_rotated_at = Some(now);
        Ok((client, secret))
    }

    /// Deletes a client, and ends what it holds like a ban does: its own
    /// tokens (client credentials) and the sessions users opened through
    /// it are revoked through the deny-list, the feed and the bus.
    pub async fn delete(
        &self,
        actor: Option<Actor>,
        id: &str,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        let id = client_id(id)?;
        if self.store.find_client(&id).await?.is_none() {
            return Err(CoreError::NotFound("client"));
        }
        let now = self.clock.now();
        let until = now + self.revocation_ttl;
        // Sessions first: should the deletion then fail, a retry finds the
        // client still there and finishes, where the other order would
        // leave its users' sessions live under a client that is gone.
        let event_for = move |session, user| session_revoked_event(session, user, until, now);
        let sessions = self
            .store
            .revoke_client_sessions(&id, now, until, &event_for)
            .await?;
        let revocation = service_revocation(&id, now, until);
        let event = DomainEvent::ClientDeleted {
            client_id: id.clone(),
            not_before: revocation.not_before.unwrap_or(now),
            until,
        }
        .into_outbox(now);
        let deleted = self.store.delete_client(&id, &revocation, &[event]).await?;
        self.forget(&id);
        if let Some(denylist) = &self.denylist {
            denylist.insert(&revocation);
            for session in &sessions {
                denylist.insert(&Revocation {
                    kind: RevocationKind::Session,
                    id: session.as_uuid(),
                    not_before: None,
                    until,
                });
            }
        }
        if !deleted {
            // Deleted meanwhile by another caller, who announced it.
            return Err(CoreError::NotFound("client"));
        }
        self.audit("client_delete", actor, &id, ctx).await;
        Ok(())
    }

    /// The audit log's target column holds users; the client goes in the
    /// detail.
    async fn audit(
        &self,
        action: &str,
        actor: Option<Actor>,
        client: &ClientId,
        ctx: &RequestContext,
    ) {
        Audit::success(action)
            .actor(actor)
            .detail(client.as_str())
            .record(&*self.store, &*self.clock, ctx)
            .await;
    }
}

/// An id that cannot name a client names none: 404, as an unknown one.
fn client_id(raw: &str) -> Result<ClientId, CoreError> {
    ClientId::parse(raw).ok_or(CoreError::NotFound("client"))
}
