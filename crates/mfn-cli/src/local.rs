//! The service layer in process: every local verb runs its operation through
//! [`mfn_service`] exactly as the server does — the same defaults, limits (`MFN_*`
//! settings of `mfn serve`), validation and error messages — on a compute gate of its
//! own, with the result cache off (so `--repeat` times real runs) and graphs in memory,
//! or in the shared store when `MFN_GRAPH_STORE` names one (under the tenant `local`).

use anyhow::{Context, Result};
use mfn_service::ops::{Call, Door, Operation, Progress, Reply};
use mfn_service::{MfnService, RequestContext, ServiceConfig};
use serde_json::Value;

/// The tenant of local runs.
pub const LOCAL_TENANT: &str = "local";

/// A service and the runtime that drives it from synchronous code.
pub struct Local {
    svc: MfnService,
    runtime: tokio::runtime::Runtime,
}

impl std::fmt::Debug for Local {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Local").finish_non_exhaustive()
    }
}

impl Local {
    /// The service `mfn serve` would build from this environment, minus the cache and
    /// the embedded graph store (a shared one is kept).
    pub fn new() -> Result<Self> {
        let vars: std::collections::HashMap<String, String> = std::env::vars().collect();
        let config = mfn_server::config::ServerConfig::from_env(&vars)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut service = config.service;
        service.cache_entries = 0;
        service.cache_bytes = 0;
        service.graphs.data_dir = None;
        Self::with_config(service)
    }

    /// A service with `config`.
    pub fn with_config(config: ServiceConfig) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the runtime")?;
        Ok(Local {
            svc: MfnService::new(config)?,
            runtime,
        })
    }

    /// The service.
    pub fn service(&self) -> &MfnService {
        &self.svc
    }

    /// The call of a local run, reporting progress to `progress`.
    pub fn call(progress: Option<Progress>) -> Call {
        Call::new(Door::Cli, RequestContext::new(None))
            .tenant(LOCAL_TENANT)
            .progress(progress)
    }

    /// Run operation `O`.
    pub fn run<O: Operation>(&self, req: O::Request) -> Result<O::Response> {
        Ok(self
            .runtime
            .block_on(self.svc.run_op::<O>(&Self::call(None), req))?)
    }

    /// Run the operation called `name` with JSON arguments.
    pub fn call_op(&self, name: &str, args: Value) -> Result<Reply> {
        Ok(self
            .runtime
            .block_on(self.svc.call_op(&Self::call(None), name, args))?)
    }

    /// Drive any future of the service to completion.
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.runtime.block_on(f)
    }
}
