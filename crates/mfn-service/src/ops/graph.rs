//! The graph engine's tools (`mfn_graph::tools`) as registry entries: each runs on the
//! compute gate with the caller's tenant, the gate's cancellation and the caller's
//! progress.

use mfn_graph::tools::{ToolContext, ToolSpec};
use serde_json::Value;

use crate::error::ServiceError;
use crate::gate::{Admission, JobControl};
use crate::ops::{BoxFuture, Call, Entry, Handler, OpSpec, Reply};
use crate::service::MfnService;

/// Every graph tool as an entry.
pub(crate) fn entries() -> impl Iterator<Item = Entry> {
    mfn_graph::tools::tools().iter().map(|t| {
        let spec = OpSpec {
            mutates: t.mutates,
            aliases: t.aliases,
            ..OpSpec::new(t.name, t.description)
        };
        Entry::with_handler(spec, t.input_schema(), t.output_schema(), GraphTool(*t))
    })
}

struct GraphTool(ToolSpec);

impl Handler for GraphTool {
    fn call<'a>(
        &'a self,
        svc: &'a MfnService,
        call: &'a Call,
        args: Value,
    ) -> BoxFuture<'a, Result<Reply, ServiceError>> {
        Box::pin(async move {
            let store = svc.graph_store().clone();
            let tenant = call.tenant.clone();
            let progress = call.progress.clone();
            let tool = self.0;
            let text = svc
                .gate()
                .run(Admission::FailFast, move |token| {
                    let control = JobControl::new(token, progress.as_ref());
                    let ctx = ToolContext {
                        store: &*store,
                        tenant: &tenant,
                        control: &control,
                    };
                    Ok(tool.call_json(&ctx, args)?)
                })
                .await?;
            Ok(Reply::json_text(text))
        })
    }
}
