//! `grpc.health.v1` with one change to tonic-health: a `Watch` stream ends after it
//! has delivered `NOT_SERVING` during a drain. Otherwise every open `Watch` (load
//! balancers keep them open) would hold the graceful shutdown for the whole timeout.

use futures::StreamExt;
use mfn_service::MfnService;
use tonic::{Request, Response, Status};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_server::{Health, HealthServer};
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};
use tonic_health::server::{HealthReporter, HealthService};

use super::BoxStream;

/// Health checks that know about the drain.
#[derive(Debug)]
pub struct DrainAwareHealth {
    inner: HealthService,
    svc: MfnService,
}

impl DrainAwareHealth {
    /// A `grpc.health.v1.Health` server over `reporter`'s statuses.
    pub fn server(reporter: HealthReporter, svc: MfnService) -> HealthServer<Self> {
        HealthServer::new(DrainAwareHealth {
            inner: HealthService::from_health_reporter(reporter),
            svc,
        })
    }
}

#[tonic::async_trait]
impl Health for DrainAwareHealth {
    async fn check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        self.inner.check(request).await
    }

    type WatchStream = BoxStream<HealthCheckResponse>;

    async fn watch(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let updates = self.inner.watch(request).await?.into_inner();
        let svc = self.svc.clone();
        // Unlike `scan`, this ends right after the NOT_SERVING update instead of
        // waiting for one more update that never comes.
        let until_drained = futures::stream::unfold(Some(updates), move |state| {
            let svc = svc.clone();
            async move {
                let mut updates = state?;
                let item = updates.next().await?;
                let not_serving = matches!(&item, Ok(r) if r.status() == ServingStatus::NotServing);
                let next = (!(not_serving && svc.is_draining())).then_some(updates);
                Some((item, next))
            }
        });
        Ok(Response::new(Box::pin(until_drained)))
    }
}
