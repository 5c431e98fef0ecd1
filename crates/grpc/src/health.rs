//! `grpc.health.v1.Health` whose answer is the readiness `/readyz` reports
//! (one `ReadinessMonitor`, decision 0017): SERVING while the instance can
//! serve (a degraded event bus included), NOT_SERVING while the store is
//! unavailable, so Kubernetes gRPC probes see what the HTTP probe sees.
//! Answered from the monitor's last check: a probe never waits on a
//! hanging database, and logs nothing (the monitor logs changes once).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_server::Health;
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};
use warden_core::readiness::ReadinessMonitor;

/// The service names `Check` knows: the whole server ("") and each API.
pub const SERVICES: &[&str] = &["", "warden.v1.AuthService", "warden.v1.AdminService"];

/// How often a `Watch` stream re-reads readiness (cheap: no I/O).
const WATCH_INTERVAL: Duration = Duration::from_secs(1);

/// The health service.
#[derive(Clone)]
pub struct ReadinessHealth {
    /// The monitor `/readyz` reads too.
    readiness: Arc<ReadinessMonitor>,
}

impl ReadinessHealth {
    /// Health as `readiness` sees it.
    pub fn new(readiness: Arc<ReadinessMonitor>) -> Self {
        Self { readiness }
    }

    async fn status(&self) -> ServingStatus {
        if self.readiness.current().await.is_ready() {
            ServingStatus::Serving
        } else {
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
