//! `grpc.health.v1.Health` whose answer is the readiness `/readyz` reports
//! (`AuthService::readiness`): SERVING when every dependency answers, else
//! NOT_SERVING, asked afresh on every `Check` so Kubernetes gRPC probes see
//! what the HTTP probe sees.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_server::Health;
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};
use warden_core::AuthService;
use warden_core::readiness::ReadinessCheck;

/// The service names `Check` knows: the whole server ("") and each API.
pub const SERVICES: &[&str] = &["", "warden.v1.AuthService", "warden.v1.AdminService"];

/// How often a `Watch` stream re-checks readiness.
const WATCH_INTERVAL: Duration = Duration::from_secs(5);

/// The health service.
#[derive(Clone)]
pub struct ReadinessHealth {
    auth: Arc<AuthService>,
    /// The checks beyond the store that `/readyz` is given too (the bus).
    checks: Arc<[ReadinessCheck]>,
}

impl ReadinessHealth {
    /// Health of the server around `auth`, with `checks` beyond the store.
    pub fn new(auth: Arc<AuthService>, checks: Vec<ReadinessCheck>) -> Self {
        Self {
            auth,
            checks: checks.into(),
        }
    }

    async fn status(&self) -> ServingStatus {
        let readiness = self.auth.readiness(&self.checks).await;
        if readiness.is_ready() {
            ServingStatus::Serving
        } else {
            tracing::warn!(failing = ?readiness.failing(), "gRPC health: not serving");
            ServingStatus::NotServing
        }
    }
}

fn response(status: ServingStatus) -> HealthCheckResponse {
    HealthCheckResponse {
        status: status as i32,
    }
}

#[tonic::async_trait]
impl Health for ReadinessHealth {
    async fn check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        if !SERVICES.contains(&request.get_ref().service.as_str()) {
            return Err(Status::not_found("service not registered"));
        }
        Ok(Response::new(response(self.status().await)))
    }

    type WatchStream = ReceiverStream<Result<HealthCheckResponse, Status>>;

    async fn watch(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let (tx, rx) = mpsc::channel(1);
        let known = SERVICES.contains(&request.get_ref().service.as_str());
        let health = self.clone();
        tokio::spawn(async move {
            if !known {
                // The protocol: say SERVICE_UNKNOWN and keep the call open.
                if tx
                    .send(Ok(response(ServingStatus::ServiceUnknown)))
                    .await
                    .is_ok()
                {
                    tx.closed().await;
                }
                return;
            }
            let mut last = None;
            loop {
                let status = health.status().await;
                if last != Some(status) {
                    if tx.send(Ok(response(status))).await.is_err() {
                        return;
                    }
                    last = Some(status);
                }
                tokio::select! {
                    () = tokio::time::sleep(WATCH_INTERVAL) => {}
                    () = tx.closed() => return,
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}
