//! The gRPC door: the four `mfn.v1` services as thin adapters over the operation
//! registry. Each unary method converts the message, runs the operation
//! ([`MfnService::run_op`]: admission, deadline, metrics) and converts the result;
//! `convert` only renames fields.

use std::pin::Pin;

use futures::{Stream, StreamExt};
use mfn_proto::v1 as pb;
use mfn_proto::v1::mfn_features_service_server::MfnFeaturesService;
use mfn_proto::v1::mfn_simulation_service_server::MfnSimulationService;
use mfn_proto::v1::mfn_validation_service_server::MfnValidationService;
use mfn_proto::v1::mycelium_service_server::MyceliumService;
use mfn_service::ops::aggregate::Aggregate;
use mfn_service::ops::features::ExtractFeatures;
use mfn_service::ops::fractal::FractalDimension;
use mfn_service::ops::ifs::Ifs;
use mfn_service::ops::nernst::Nernst;
use mfn_service::ops::simulate::Simulate;
use mfn_service::ops::validate::Validate;
use mfn_service::ops::{AuditNotes, Call, Door, Operation};
use mfn_service::{MfnService, RequestContext};
use tonic::{Request, Response, Status, Streaming};

pub(crate) mod convert;
pub mod decode;
pub mod health;

pub use decode::DecodeErrorLayer;

use convert::status;

use crate::security::Caller;

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

/// The service call of a gRPC request: the request id (the message's field, else the
/// `x-request-id` header, else a new one) and the caller's tenant.
fn call<T>(req: &Request<T>, in_message: &str) -> Call {
    let header = req
        .metadata()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok());
    let id = if in_message.trim().is_empty() {
        header
    } else {
        Some(in_message)
    };
    let call = Call::new(Door::Grpc, RequestContext::new(id))
        .notes(req.extensions().get::<AuditNotes>().cloned());
    match req.extensions().get::<Caller>() {
        Some(c) => call.tenant(c.key.name.clone()),
        None => call,
    }
}

fn with_id<T>(body: T, request_id: &str) -> Response<T> {
    let mut r = Response::new(body);
    if let Ok(v) = request_id.parse() {
        r.metadata_mut().insert("x-request-id", v);
    }
    r
}

/// A request message that carries its own request id.
trait HasRequestId {
    fn request_id(&self) -> &str;
}

macro_rules! has_request_id {
    ($($t:ty),*) => { $(impl HasRequestId for $t { fn request_id(&self) -> &str { &self.request_id } })* };
}

has_request_id!(
    pb::RunSimulationRequest,
    pb::StreamSimulationRequest,
    pb::ExtractFeaturesRequest,
    pb::StreamFeaturesRequest,
    pb::ValidatePatternRequest,
    pb::NernstRequest,
    pb::FederatedAggregateRequest,
    pb::FractalRequest,
    pb::IfsRequest
);

impl GrpcApi {
    /// A unary method: the message → the operation's request → the registry → the
    /// response message. Every unary method is this one line.
    async fn unary<O, M, R>(
        &self,
        req: Request<M>,
        into: fn(M) -> O::Request,
        out: fn(O::Response) -> R,
    ) -> Result<Response<R>, Status>
    where
        O: Operation,
        M: HasRequestId,
    {
        let call = call(&req, req.get_ref().request_id());
        let response = self
            .svc
            .run_op::<O>(&call, into(req.into_inner()))
            .await
            .map_err(status)?;
        Ok(with_id(out(response), &call.ctx.request_id))
    }

    async fn run_simulation(
        &self,
        req: Request<pb::RunSimulationRequest>,
    ) -> Result<Response<pb::RunSimulationResponse>, Status> {
        self.unary::<Simulate, _, _>(
            req,
            convert::simulation_request,
            convert::simulation_response,
        )
        .await
    }

    fn stream_simulation(
        &self,
        req: Request<pb::StreamSimulationRequest>,
    ) -> Result<Response<BoxStream<pb::SimulationFrame>>, Status> {
        let call = call(&req, &req.get_ref().request_id);
        let r = convert::stream_simulation_request(req.into_inner());
        let frames = self.svc.stream_simulation(&call.ctx, &r).map_err(status)?;
        let id = call.ctx.request_id.clone();
        let s = frames.map(move |f| f.map(|f| convert::sim_frame(&id, &f)).map_err(status));
        Ok(with_id(Box::pin(s), &call.ctx.request_id))
    }

    async fn validate_pattern(
        &self,
        req: Request<pb::ValidatePatternRequest>,
    ) -> Result<Response<pb::ValidatePatternResponse>, Status> {
        self.unary::<Validate, _, _>(req, convert::validate_request, convert::validate_response)
            .await
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
        let ctx = call(&req, "").ctx;
        let commands = req.into_inner().map(|m| match m {
            Ok(m) => convert::steer_command(m),
            Err(s) if decode::decode_failure(&s).is_some() => Err(decode::invalid_message(
                "SteerCommand",
                decode::decode_failure(&s).unwrap_or_default(),
            )),
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
        self.unary::<ExtractFeatures, _, _>(
            req,
            convert::features_request,
            convert::features_response,
        )
        .await
    }

    type StreamFeaturesStream = BoxStream<pb::FeatureFrame>;

    async fn stream_features(
        &self,
        req: Request<pb::StreamFeaturesRequest>,
    ) -> Result<Response<Self::StreamFeaturesStream>, Status> {
        let call = call(&req, &req.get_ref().request_id);
        let r = convert::stream_features_request(req.into_inner());
        let frames = self.svc.stream_features(&call.ctx, &r).map_err(status)?;
        let id = call.ctx.request_id.clone();
        let s = frames.map(move |f| f.map(|f| convert::feature_frame(&id, &f)).map_err(status));
        Ok(with_id(Box::pin(s), &call.ctx.request_id))
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
        self.unary::<Nernst, _, _>(req, convert::nernst_request, convert::nernst_response)
            .await
    }

    async fn aggregate_federated(
        &self,
        req: Request<pb::FederatedAggregateRequest>,
    ) -> Result<Response<pb::FederatedAggregateResponse>, Status> {
        self.unary::<Aggregate, _, _>(req, convert::aggregate_request, convert::aggregate_response)
            .await
    }

    async fn compute_fractal_dimension(
        &self,
        req: Request<pb::FractalRequest>,
    ) -> Result<Response<pb::FractalResponse>, Status> {
        self.unary::<FractalDimension, _, _>(
            req,
            convert::fractal_request,
            convert::fractal_response,
        )
        .await
    }

    async fn generate_ifs(
        &self,
        req: Request<pb::IfsRequest>,
    ) -> Result<Response<pb::IfsResponse>, Status> {
        self.unary::<Ifs, _, _>(req, convert::ifs_request, convert::ifs_response)
            .await
    }

    async fn health_check(
        &self,
        _req: Request<pb::HealthCheckRequest>,
    ) -> Result<Response<pb::HealthCheckResponse>, Status> {
        Ok(Response::new(convert::health_response(self.svc.health())))
    }
}
