//! Optional OpenTelemetry trace export: when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, every
//! tracing span (the `request` span of each call, with its `request_id`, and what runs
//! under it) is exported over OTLP/gRPC to that collector, and an incoming W3C
//! `traceparent` header makes the request's span a child of the caller's trace.
//!
//! The SDK's batch processor exports from its own OS thread, but the tonic exporter
//! needs a Tokio reactor; the exporter is therefore wrapped so each export runs on a
//! one-thread runtime owned by [`Otel`], which keeps the reactor alive for the
//! exporter's whole life. A collector that is down costs dropped spans (bounded queue),
//! never a blocked request.

use std::sync::Arc;
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{BatchSpanProcessor, SdkTracerProvider, SpanData, SpanExporter};
use tracing::Subscriber;
use tracing_subscriber::registry::LookupSpan;

/// Why export could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum OtelError {
    /// The exporter's runtime could not start.
    #[error("otlp: cannot start the exporter runtime: {0}")]
    Runtime(#[from] std::io::Error),
    /// The exporter could not be built from the endpoint.
    #[error("otlp: invalid exporter configuration: {0}")]
    Exporter(String),
}

/// A running trace pipeline; dropping it flushes and stops export.
pub struct Otel {
    provider: SdkTracerProvider,
}

impl std::fmt::Debug for Otel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Otel").finish_non_exhaustive()
    }
}

impl Otel {
    /// Export to `endpoint` (e.g. `http://collector:4317`) as `service_name`.
    pub fn start(endpoint: &str, service_name: &str) -> Result<Otel, OtelError> {
        let runtime = Arc::new(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("mfn-otlp")
                .enable_all()
                .build()?,
        );
        let resource = Resource::builder()
            .with_service_name(service_name.to_string())
            .with_attribute(KeyValue::new(
                "service.version",
                mfn_service::SERVER_VERSION,
            ))
            .build();
        // The tonic channel binds to the reactor current at build time.
        let mut exporter = {
            let _entered = runtime.enter();
            opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint)
                .with_timeout(Duration::from_secs(5))
                .build()
                .map_err(|e| OtelError::Exporter(e.to_string()))?
        };
        // Set here: the wrapper shares the exporter and cannot pass it on later.
        exporter.set_resource(&resource);
        let exporter = OnRuntime {
            inner: Arc::new(exporter),
            runtime,
        };
        let provider = SdkTracerProvider::builder()
            .with_span_processor(BatchSpanProcessor::builder(exporter).build())
            .with_resource(resource)
            .build();
        Ok(Otel { provider })
    }

    /// The `tracing` layer that hands spans to this pipeline.
    pub fn layer<S>(&self) -> impl tracing_subscriber::Layer<S> + use<S>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        tracing_opentelemetry::layer().with_tracer(self.provider.tracer("mfn"))
    }

    /// Export what is buffered now.
    pub fn flush(&self) -> OTelSdkResult {
        self.provider.force_flush()
    }
}

impl Drop for Otel {
    fn drop(&mut self) {
        let _ = self.provider.shutdown();
    }
}

/// Make `span` a child of the W3C trace context in `headers`, when there is one.
pub fn set_parent_from(span: &tracing::Span, headers: &http::HeaderMap) {
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    if !headers.contains_key("traceparent") {
        return;
    }
    let cx = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    let _ = span.set_parent(cx);
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl opentelemetry::propagation::Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

/// A span exporter whose exports run on a runtime it owns.
#[derive(Debug)]
struct OnRuntime<E> {
    inner: Arc<E>,
    runtime: Arc<tokio::runtime::Runtime>,
}

impl<E: SpanExporter + 'static> SpanExporter for OnRuntime<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let inner = self.inner.clone();
        self.runtime
            .spawn(async move { inner.export(batch).await })
            .await
            .map_err(|e| OTelSdkError::InternalFailure(e.to_string()))?
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }
}
