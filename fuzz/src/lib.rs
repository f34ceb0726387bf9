//! Shared parts of the fuzz targets (`fuzz_targets/*.rs`, one per decoder; see
//! `scripts/fuzz.sh`):
//!
//! - a global allocator that turns amplification into a crash: one allocation over
//!   [`MAX_ALLOCATION`] or more than [`MAX_LIVE`] bytes live at once aborts, so libFuzzer
//!   saves the input. libFuzzer's own `-malloc_limit_mb` needs a sanitizer's malloc
//!   hooks, which `--sanitizer none` does not have, and `-rss_limit_mb` only samples
//!   once a second;
//! - the limits every target uses: small, so that each input runs in microseconds;
//! - [`operation`]: what every door does with an operation name and its JSON arguments
//!   before any computation (REST bodies and query strings, MCP `tools/call`, the
//!   pipeline's messages): the strict decoding into the operation's request type and
//!   its `resolve`, or for a graph tool the tool call itself on an empty in-memory store.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use mfn_graph::store::MemoryStore;
use mfn_graph::tools::ToolContext;
use mfn_service::decode::decode_value;
use mfn_service::ops::{self, Operation};
use mfn_service::request::Limits;
use serde_json::Value;

/// Largest single allocation a target may make (64 MiB). Inputs are at most a few
/// hundred KiB and the limits below are small: more is an amplification bug.
pub const MAX_ALLOCATION: usize = 64 << 20;
/// Most bytes a target may hold at once (256 MiB), for the same reason.
pub const MAX_LIVE: usize = 256 << 20;

/// The allocator of every target: the system allocator, counting.
pub struct Capped;

static LIVE: AtomicUsize = AtomicUsize::new(0);

fn over_limit(size: usize) -> ! {
    // No allocation here: we are inside the allocator.
    let live = LIVE.load(Ordering::Relaxed);
    let mut msg =
        *b"mfn-fuzz: allocation limit: request 0x0000000000000000 B, live 0x0000000000000000 B\n";
    let hex = |buf: &mut [u8], v: usize| {
        for (i, b) in buf.iter_mut().enumerate() {
            let nibble = (v >> (4 * (15 - i))) & 0xf;
            *b = b"0123456789abcdef"[nibble];
        }
    };
    hex(&mut msg[38..54], size);
    hex(&mut msg[65..81], live);
    use std::io::Write as _;
    let _ = std::io::stderr().write_all(&msg);
    std::process::abort();
}

#[inline]
fn charge(size: usize) {
    if size > MAX_ALLOCATION {
        over_limit(size);
    }
    let live = LIVE.fetch_add(size, Ordering::Relaxed) + size;
    if live > MAX_LIVE {
        over_limit(size);
    }
}

// SAFETY: every call is forwarded to `System` unchanged; the counting has no effect on
// the memory handed out.
unsafe impl GlobalAlloc for Capped {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        charge(layout.size());
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        charge(layout.size());
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            charge(new_size - layout.size());
        } else {
            LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
        }
        if new_size > MAX_ALLOCATION {
            over_limit(new_size);
        }
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Capped = Capped;

/// The service's limits in the targets: the server's defaults with a 64-cell grid side
/// (uploads are decoded up to 64² cells).
pub fn service_limits() -> Limits {
    Limits {
        max_grid_size: 64,
        ..Limits::default()
    }
}

/// The graph engine's limits in the targets: small graphs, small documents, a small
/// memory budget; every other limit as the server's.
pub fn graph_limits() -> mfn_graph::Limits {
    mfn_graph::Limits {
        max_graphs_per_tenant: 8,
        max_tenant_bytes: 4 << 20,
        max_nodes: 256,
        max_edges: 1024,
        max_items_per_call: 1024,
        max_nodes_all_pairs: 64,
        max_nodes_matching: 64,
        max_layout_nodes: 64,
        max_input_bytes: 1 << 20,
        max_csv_columns: 16,
        max_cycles: 64,
        max_call_bytes: 8 << 20,
    }
}

/// Decode `args` as the request of `O`, strictly, as every door does.
fn decode<O: Operation>(args: Value) -> Option<O::Request> {
    decode_value::<O::Request>(args).ok()
}

/// What a door does with `args` of the operation called `name` (or an alias) before any
/// computation: decode them into the operation's request and resolve it against the
/// limits, as the operation's handler does first. Graph tools run for real on an empty
/// in-memory store with [`graph_limits`]: they parse their arguments, then find no graph
/// (or create a small one).
pub fn operation(name: &str, args: Value) {
    use mfn_service::ops::{
        aggregate::Aggregate, extract_network::ExtractNetwork, features::ExtractFeatures,
        fractal::FractalDimension, fractal_upload::FractalDimensionUpload, ifs::Ifs,
        nernst::Nernst, render_field::RenderField, simulate::Simulate, status::GetMetrics,
        status::HealthCheck, status::ResourceStatus, validate::Validate,
        visualize_graph::VisualizeGraph,
    };
    let Some(entry) = ops::find(name) else {
        return;
    };
    let limits = service_limits();
    let n = entry.spec.name;
    if n == Simulate::SPEC.name {
        if let Some(r) = decode::<Simulate>(args) {
            let _ = r.sim.resolve(&limits);
        }
    } else if n == ExtractFeatures::SPEC.name {
        if let Some(r) = decode::<ExtractFeatures>(args) {
            let _ = r.resolve(&limits);
        }
    } else if n == FractalDimension::SPEC.name {
        if let Some(r) = decode::<FractalDimension>(args) {
            let _ = r.resolve(&limits);
        }
    } else if n == FractalDimensionUpload::SPEC.name {
        if let Some(r) = decode::<FractalDimensionUpload>(args)
            && let Some(upload) = r.upload
        {
            use mfn_service::ops::fractal_upload::{binarise, decode_square};
            if let Ok(array) = decode_square(upload, limits.max_grid_size) {
                let size = array.width as u32;
                let inner = mfn_service::request::FractalRequest {
                    values: binarise(array, r.threshold.filter(|t| t.is_finite())),
                    size,
                    threshold: Some(0.5),
                    num_scales: r.num_scales,
                    min_box: r.min_box,
                };
                let _ = inner.resolve(&limits);
            }
        }
    } else if n == Nernst::SPEC.name {
        if let Some(r) = decode::<Nernst>(args) {
            let _ = r.resolve();
        }
    } else if n == Validate::SPEC.name {
        if let Some(r) = decode::<Validate>(args) {
            let _ = r.resolve(&limits);
        }
    } else if n == Aggregate::SPEC.name {
        if let Some(r) = decode::<Aggregate>(args) {
            let _ = r.resolve(&limits);
        }
    } else if n == Ifs::SPEC.name {
        if let Some(r) = decode::<Ifs>(args) {
            let _ = r.resolve();
        }
    } else if n == RenderField::SPEC.name {
        if let Some(r) = decode::<RenderField>(args) {
            let _ = r.resolve(&limits);
        }
    } else if n == ExtractNetwork::SPEC.name {
        if let Some(r) = decode::<ExtractNetwork>(args) {
            extract_network_args(r, &limits);
        }
    } else if n == VisualizeGraph::SPEC.name {
        let _ = decode::<VisualizeGraph>(args);
    } else if n == HealthCheck::SPEC.name
        || n == ResourceStatus::SPEC.name
        || n == GetMetrics::SPEC.name
    {
        let _ = decode::<HealthCheck>(args);
    } else if let Some(tool) = mfn_graph::tools::tool(n) {
        let store = MemoryStore::new(graph_limits());
        let ctx = ToolContext::new(&store, "fuzz");
        let _ = tool.call_json(&ctx, args);
    }
}

/// The checks `extract_network` makes before it computes: the name, the options, one
/// source at most, and the source decoded (an upload) or resolved (a simulation).
fn extract_network_args(args: mfn_service::network::ExtractNetworkArgs, limits: &Limits) {
    if mfn_graph::validate_name(&args.name).is_err() {
        return;
    }
    let mut options = args.options.unwrap_or_else(|| serde_json::json!({}));
    if let Some(map) = options.as_object_mut()
        && !map.contains_key("threshold")
        && !map.contains_key("threshold_mv")
    {
        map.insert("threshold".into(), serde_json::json!("adaptive_median"));
    }
    if serde_json::from_value::<mfn_service::mfn_core::network::ExtractOptions>(options).is_err() {
        return;
    }
    if let Some(sim) = &args.simulation {
        let _ = sim.resolve(limits);
    }
    if let Some(upload) = args.upload {
        use mfn_service::arrays::{self, ArrayFormat};
        let bytes = match upload.format {
            ArrayFormat::Csv => Ok(upload.data.into_bytes()),
            _ => arrays::decode_base64(&upload.data, "upload.data"),
        };
        if let Ok(bytes) = bytes {
            let max = limits.max_grid_size * limits.max_grid_size;
            let _ = arrays::decode(upload.format, &bytes, max);
        }
    }
}

/// The input as UTF-8 text, as the doors that take text see it (`None` is refused).
pub fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}
