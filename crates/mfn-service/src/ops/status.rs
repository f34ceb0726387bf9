//! Status tools under seed 003's names (`health_check`, `resource_status`,
//! `get_metrics`), for agents written against the NetworkX MCP server. Read-only, and
//! about the caller: `get_metrics` counts the caller's own graphs and shows the limits
//! that apply to it, never another tenant's usage.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::ServiceError;
use crate::gate::Admission;
use crate::ops::{Call, OpSpec, Operation, Runs};
use crate::service::MfnService;

/// No arguments.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

/// `health_check` result. A draining server refuses the call (`UNAVAILABLE`) instead.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Health {
    /// `healthy`.
    pub status: &'static str,
    /// Server version.
    pub version: &'static str,
    /// Seconds since the server started.
    pub uptime_seconds: f64,
}

/// `health_check`.
#[derive(Debug)]
pub struct HealthCheck;

impl Operation for HealthCheck {
    type Request = NoArgs;
    type Response = Health;
    const SPEC: OpSpec = OpSpec {
        runs: Runs::Inline,
        ..OpSpec::new(
            "health_check",
            "Whether the server is serving, its version and uptime",
        )
    };

    async fn run(svc: &MfnService, _: &Call, _: NoArgs) -> Result<Health, ServiceError> {
        let h = svc.health();
        Ok(Health {
            status: "healthy",
            version: h.version,
            uptime_seconds: h.uptime_seconds,
        })
    }
}

/// `resource_status` result: the server's load, the same for every caller.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Resources {
    /// Compute threads.
    pub workers: usize,
    /// Jobs running on them.
    pub running: usize,
    /// Jobs waiting for one (bounded; a full queue answers `RESOURCE_EXHAUSTED`).
    pub queued: usize,
    /// Jobs refused because the gate was full, since start.
    pub rejected: u64,
    /// Streams (simulations, feature streams) running now.
    pub active_streams: i64,
    /// Result-cache entries and bytes.
    pub cache_entries: usize,
    /// Result-cache bytes.
    pub cache_bytes: usize,
    /// True while draining (new work is refused).
    pub draining: bool,
}

/// `resource_status`.
#[derive(Debug)]
pub struct ResourceStatus;

impl Operation for ResourceStatus {
    type Request = NoArgs;
    type Response = Resources;
    const SPEC: OpSpec = OpSpec {
        runs: Runs::Inline,
        ..OpSpec::new(
            "resource_status",
            "The server's load: compute threads busy and queued, jobs refused, streams, cache use",
        )
    };

    async fn run(svc: &MfnService, _: &Call, _: NoArgs) -> Result<Resources, ServiceError> {
        let (gate, stats) = (svc.gate(), svc.gate().stats());
        let (_, _, cache_entries, cache_bytes) = svc.cache_stats();
        Ok(Resources {
            workers: gate.workers(),
            running: stats.running(),
            queued: stats.queued(),
            rejected: stats.rejected(),
            active_streams: svc.stream_stats().active(),
            cache_entries,
            cache_bytes,
            draining: svc.is_draining(),
        })
    }
}

/// `get_metrics` result: the caller's own usage and the limits that apply to it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Usage {
    /// The caller's tenant (its API key's name; `default` without authentication).
    pub tenant: String,
    /// Graphs the tenant stores.
    pub graphs: usize,
    /// Nodes over those graphs.
    pub nodes: u64,
    /// Edges over those graphs.
    pub edges: u64,
    /// Bytes the tenant stores (counted against `limits.graph.max_tenant_bytes`).
    pub stored_bytes: u64,
    /// Limits.
    pub limits: UsageLimits,
}

/// The limits a caller works under.
#[derive(Debug, Serialize, JsonSchema)]
pub struct UsageLimits {
    /// Graph engine limits (GRAPH.md "Limits").
    pub graph: mfn_graph::Limits,
    /// Largest simulation grid side.
    pub max_grid_size: usize,
    /// Most simulation steps.
    pub max_steps: usize,
    /// Deadline of one call, seconds.
    pub tool_timeout_seconds: f64,
}

/// `get_metrics`.
#[derive(Debug)]
pub struct GetMetrics;

impl Operation for GetMetrics {
    type Request = NoArgs;
    type Response = Usage;
    const SPEC: OpSpec = OpSpec::new(
        "get_metrics",
        "Your own usage (graphs, nodes, edges, stored bytes) and the limits that apply to you",
    );

    async fn run(svc: &MfnService, call: &Call, _: NoArgs) -> Result<Usage, ServiceError> {
        let store = svc.graph_store().clone();
        let tenant = call.tenant.clone();
        // The durable store reads its database: off the reactor, like any graph tool.
        let (graphs, stored_bytes) = svc
            .gate()
            .run(Admission::FailFast, move |_| {
                Ok((store.list(&tenant)?, store.stored_bytes(&tenant)?))
            })
            .await?;
        let config = svc.config();
        Ok(Usage {
            tenant: call.tenant.clone(),
            graphs: graphs.len(),
            nodes: graphs.iter().map(|g| g.num_nodes as u64).sum(),
            edges: graphs.iter().map(|g| g.num_edges as u64).sum(),
            stored_bytes,
            limits: UsageLimits {
                graph: config.graphs.limits.clone(),
                max_grid_size: config.limits.max_grid_size,
                max_steps: config.limits.max_steps,
                tool_timeout_seconds: config.tool_timeout.as_secs_f64(),
            },
        })
    }
}
