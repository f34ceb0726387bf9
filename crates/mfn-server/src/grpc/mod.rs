//! The gRPC door: the four `mfn.v1` services as thin adapters over [`MfnService`].
//! Each method converts the message, calls the service, converts the result.

use std::pin::Pin;

use futures::{Stream, StreamExt};
use mfn_proto::v1 as pb;
use mfn_proto::v1::mfn_features_service_server::MfnFeaturesService;
use mfn_proto::v1::mfn_simulation_service_server::MfnSimulationService;
use mfn_proto::v1::mfn_validation_service_server::MfnValidationService;
use mfn_proto::v1::mycelium_service_server::MyceliumService;
use mfn_service::{MfnService, RequestContext};
use tonic::{Request, Response, Status, Streaming};

pub(crate) mod convert;
pub mod health;

use convert::status;

/// A server-streaming response body.
pub type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// Implements every `mfn.v1` service over one [`MfnService`].
#[derive(Debug, Clone)]
pub struct GrpcApi {
    svc: MfnService,
}

impl GrpcApi {
    /// Adapters over `svc`.
    pub fn new(svc: MfnService) -> Self {
        GrpcApi { svc }
    }
}

/// The request id: the message's field, else the `x-request-id` header, else a new one.
fn context<T>(req: &Request<T>, in_message: &str) -> RequestContext {
    let header = req
        .metadata()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok());
    let id = if in_message.trim().is_empty() {
        header
    } else {
        Some(in_message)
    };
    RequestContext::new(id)
}

fn with_id<T>(body: T, request_id: &str) -> Response<T> {
    let mut r = Response::new(body);
    if let Ok(v) = request_id.parse() {
        r.metadata_mut().insert("x-request-id", v);
    }
    r
}

impl GrpcApi {
    async fn run_simulation(
        &self,
        req: Request<pb::RunSimulationRequest>,
    ) -> Result<Response<pb::RunSimulationResponse>, Status> {
        let ctx = context(&req, &req.get_ref().request_id);
        let r = convert::simulation_request(req.into_inner());
        let (out, meta) = self.svc.run_simulation(&ctx, &r).await.map_err(status)?;
        Ok(with_id(
            convert::simulation_response(&out, &meta),
            &ctx.request_id,
        ))
    }

    fn stream_simulation(
        &self,
        req: Request<pb::StreamSimulationRequest>,
    ) -> Result<Response<BoxStream<pb::SimulationFrame>>, Status> {
        let ctx = context(&req, &req.get_ref().request_id);
        let r = convert::stream_simulation_request(req.into_inner());
        let frames = self.svc.stream_simulation(&ctx, &r).map_err(status)?;
        let id = ctx.request_id.clone();
        let s = frames.map(move |f| f.map(|f| convert::sim_frame(&id, f)).map_err(status));
        Ok(with_id(Box::pin(s), &ctx.request_id))
    }

    async fn validate_pattern(
        &self,
        req: Request<pb::ValidatePatternRequest>,
    ) -> Result<Response<pb::ValidatePatternResponse>, Status> {
        let ctx = context(&req, &req.get_ref().request_id);
        let r = convert::validate_request(req.into_inner());
        let (report, meta) = self.svc.validate_pattern(&ctx, &r).await.map_err(status)?;
        Ok(with_id(
            convert::validate_response(&report, &meta),
            &ctx.request_id,
        ))
    }
}

#[tonic::async_trait]
impl MfnSimulationService for GrpcApi {
    async fn run_simulation(
        &self,
        req: Request<pb::RunSimulationRequest>,
    ) -> Result<Response<pb::RunSimulationResponse>, Status> {
        GrpcApi::run_simulation(self, req).await
    }

    type StreamSimulationStream = BoxStream<pb::SimulationFrame>;

    async fn stream_simulation(
        &self,
        req: Request<pb::StreamSimulationRequest>,
    ) -> Result<Response<Self::StreamSimulationStream>, Status> {
        GrpcApi::stream_simulation(self, req)
    }

    type SteerSimulationStream = BoxStream<pb::SteerEvent>;

    async fn steer_simulation(
        &self,
        req: Request<Streaming<pb::SteerCommand>>,
    ) -> Result<Response<Self::SteerSimulationStream>, Status> {
        let ctx = context(&req, "");
        let commands = req.into_inner().map(|m| match m {
            Ok(m) => convert::steer_command(m),
            Err(s) => Err(mfn_service::ServiceError::new(
                mfn_service::ErrorCode::Cancelled,
                format!("command stream failed: {}", s.message()),
            )),
        });
        let events = self.svc.steer_simulation(&ctx, Box::pin(commands));
        let id = ctx.request_id.clone();
        let s = events.map(move |e| e.map(|e| convert::steer_event(&id, e)).map_err(status));
        Ok(with_id(Box::pin(s), &ctx.request_id))
    }
}

#[tonic::async_trait]
impl MfnFeaturesService for GrpcApi {
    async fn extract_features(
        &self,
        req: Request<pb::ExtractFeaturesRequest>,
    ) -> Result<Response<pb::ExtractFeaturesResponse>, Status> {
        let ctx = context(&req, &req.get_ref().request_id);
        let r = convert::features_request(req.into_inner());
        let (out, meta) = self.svc.extract_features(&ctx, &r).await.map_err(status)?;
        Ok(with_id(
            convert::features_response(&out, &meta),
            &ctx.request_id,
        ))
    }

    type StreamFeaturesStream = BoxStream<pb::FeatureFrame>;

    async fn stream_features(
        &self,
        req: Request<pb::StreamFeaturesRequest>,
    ) -> Result<Response<Self::StreamFeaturesStream>, Status> {
        let ctx = context(&req, &req.get_ref().request_id);
        let r = convert::stream_features_request(req.into_inner());
        let frames = self.svc.stream_features(&ctx, &r).map_err(status)?;
        let id = ctx.request_id.clone();
        let s = frames.map(move |f| f.map(|f| convert::feature_frame(&id, f)).map_err(status));
        Ok(with_id(Box::pin(s), &ctx.request_id))
    }
}

#[tonic::async_trait]
impl MfnValidationService for GrpcApi {
    async fn validate_pattern(
        &self,
        req: Request<pb::ValidatePatternRequest>,
    ) -> Result<Response<pb::ValidatePatternResponse>, Status> {
        GrpcApi::validate_pattern(self, req).await
    }
}

#[tonic::async_trait]
impl MyceliumService for GrpcApi {
    async fn validate(
        &self,
        req: Request<pb::ValidatePatternRequest>,
    ) -> Result<Response<pb::ValidatePatternResponse>, Status> {
        GrpcApi::validate_pattern(self, req).await
    }

    async fn simulate(
        &self,
        req: Request<pb::RunSimulationRequest>,
    ) -> Result<Response<pb::RunSimulationResponse>, Status> {
        GrpcApi::run_simulation(self, req).await
    }

    type SimulateStreamStream = BoxStream<pb::SimulationFrame>;

    async fn simulate_stream(
        &self,
        req: Request<pb::StreamSimulationRequest>,
    ) -> Result<Response<Self::SimulateStreamStream>, Status> {
        GrpcApi::stream_simulation(self, req)
    }

    async fn compute_nernst(
        &self,
        req: Request<pb::NernstRequest>,
    ) -> Result<Response<pb::NernstResponse>, Status> {
        let ctx = context(&req, &req.get_ref().request_id);
        let r = convert::nernst_request(req.into_inner());
        let (out, meta) = self.svc.nernst(&ctx, &r).map_err(status)?;
        Ok(with_id(
            convert::nernst_response(&out, &meta),
            &ctx.request_id,
        ))
    }

    async fn aggregate_federated(
        &self,
        req: Request<pb::FederatedAggregateRequest>,
    ) -> Result<Response<pb::FederatedAggregateResponse>, Status> {
        let ctx = context(&req, &req.get_ref().request_id);
        let r = convert::aggregate_request(req.into_inner());
        let (out, meta) = self.svc.aggregate(&ctx, r).await.map_err(status)?;
        Ok(with_id(
            convert::aggregate_response(out, &meta),
            &ctx.request_id,
        ))
    }

    async fn compute_fractal_dimension(
        &self,
        req: Request<pb::FractalRequest>,
    ) -> Result<Response<pb::FractalResponse>, Status> {
        let ctx = context(&req, &req.get_ref().request_id);
        let r = convert::fractal_request(req.into_inner());
        let (out, meta) = self.svc.fractal_dimension(&ctx, r).await.map_err(status)?;
        Ok(with_id(
            convert::fractal_response(out, &meta),
            &ctx.request_id,
        ))
    }

    async fn generate_ifs(
        &self,
        req: Request<pb::IfsRequest>,
    ) -> Result<Response<pb::IfsResponse>, Status> {
        let ctx = context(&req, &req.get_ref().request_id);
        let r = convert::ifs_request(req.into_inner());
        let (out, meta) = self.svc.ifs(&ctx, &r).await.map_err(status)?;
        Ok(with_id(convert::ifs_response(out, &meta), &ctx.request_id))
    }

    async fn health_check(
        &self,
        _req: Request<pb::HealthCheckRequest>,
    ) -> Result<Response<pb::HealthCheckResponse>, Status> {
        Ok(Response::new(convert::health_response(self.svc.health())))
    }
}
