//! The mycelial-network tools: `extract_network` (field or image → mask → skeleton →
//! stored graph → metrics, GRAPH.md) and `visualize_graph` (a stored graph as PNG or
//! SVG; an extracted network is drawn at its pixel coordinates over its field).
//!
//! The science lives in `mfn_core::network` (mask, Zhang–Suen thinning, skeleton graph)
//! and `mfn_graph` (metrics, layouts, rendering); this module picks the source, runs the
//! steps on the compute gate and stores the result in the caller's tenant.

use mfn_core::network::{ExtractOptions, GrayMaskOptions, SkeletonGraph};
use mfn_graph::store::GraphInfo;
use mfn_graph::{Attrs, Background, Graph, Layout, NodeId, Visualization, VisualizeArgs};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::ServiceError;
use crate::gate::{Admission, JobControl};
use crate::ops::{Call, Image};
use crate::request::{SimInput, SimulationRequest};
use crate::service::MfnService;

/// Largest uploaded field or image, in cells (4096²).
pub const MAX_UPLOAD_CELLS: usize = 4096 * 4096;

/// `extract_network` arguments. The source is `simulation` (the default: a simulation
/// with the REST defaults), `field` or `upload` — at most one of them.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtractNetworkArgs {
    /// Name of the graph the network is stored under, `^[A-Za-z0-9_.-]{1,100}$`.
    pub name: String,
    /// Replace a stored graph of that name.
    #[serde(default)]
    pub overwrite: bool,
    /// Simulate the field: the parameters of `simulate_field` (seed, grid_size, steps, …).
    pub simulation: Option<SimInput>,
    /// A square field in volts, row-major (as `simulate_field` with `include_field`).
    pub field: Option<FieldInput>,
    /// An uploaded file: PNG (grey levels), `.npy` or CSV (a square field in volts).
    pub upload: Option<UploadInput>,
    /// Mask, thinning and graph options; `threshold` defaults to `adaptive_median`
    /// here (the field's median), which finds a network in any simulated field.
    pub options: Option<Value>,
    /// Mask options for images (PNG, boolean or 8-bit arrays): Otsu by default.
    pub image_options: Option<GrayMaskOptions>,
    /// Seed of the random edge removal of the robustness metric.
    #[serde(default)]
    pub seed: u64,
}

/// A field given inline.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldInput {
    /// Side N of the square field.
    pub size: usize,
    /// N·N values in volts, row-major.
    pub values: Vec<f64>,
}

/// An uploaded file.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadInput {
    /// `png`, `npy` or `csv`.
    pub format: crate::arrays::ArrayFormat,
    /// The file: base64 for `png` and `npy`, the text itself for `csv`.
    pub data: String,
}

/// `extract_network` result.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ExtractNetworkResult {
    /// The stored graph.
    pub graph: GraphInfo,
    /// `simulation`, `field` or `upload`.
    pub source: String,
    /// Width of the field or image, pixels.
    pub width: usize,
    /// Height of the field or image, pixels.
    pub height: usize,
    /// Threshold used, mV (fields only).
    pub threshold_mv: Option<f64>,
    /// Pixels in the mask.
    pub mask_pixels: usize,
    /// Pixels in the skeleton.
    pub skeleton_pixels: usize,
    /// The network's metrics (GRAPH.md keys).
    pub metrics: mfn_graph::network::NetworkMetrics,
}

/// The extraction options with `adaptive_median` as the default threshold.
fn extract_options(options: Option<Value>) -> Result<ExtractOptions, ServiceError> {
    let mut options = options.unwrap_or_else(|| json!({}));
    if let Some(map) = options.as_object_mut()
        && !map.contains_key("threshold")
        && !map.contains_key("threshold_mv")
    {
        map.insert("threshold".into(), json!("adaptive_median"));
    }
    serde_json::from_value(options)
        .map_err(|e| ServiceError::invalid("options", format!("options: {e}")))
}

/// The decoded source, ready for the gate.
enum Source {
    /// A square field in volts.
    Field { values: Vec<f64>, n: usize },
    /// A simulation's final field (shared with the result cache, not copied).
    Simulated {
        result: std::sync::Arc<mfn_core::field::SimulationResult>,
        n: usize,
    },
    /// Grey levels of an image.
    Grey {
        values: Vec<f64>,
        width: usize,
        height: usize,
    },
}

impl MfnService {
    /// Extract the network of a field (see the module docs) and store it in the
    /// caller's tenant.
    pub async fn extract_network(
        &self,
        call: &Call,
        args: ExtractNetworkArgs,
    ) -> Result<ExtractNetworkResult, ServiceError> {
        mfn_graph::validate_name(&args.name)?;
        let options = extract_options(args.options)?;
        let image_options = args.image_options.unwrap_or_default();
        let given = [
            args.simulation.is_some(),
            args.field.is_some(),
            args.upload.is_some(),
        ];
        if given.iter().filter(|g| **g).count() > 1 {
            return Err(ServiceError::invalid(
                "simulation",
                "give at most one source: simulation, field or upload",
            ));
        }
        let mut graph_attrs = Attrs::new();
        let (source_name, source) = if let Some(field) = args.field {
            check_cells("field.size", field.size.saturating_mul(field.size))?;
            if field.values.len() != field.size * field.size {
                return Err(ServiceError::invalid(
                    "field.values",
                    format!(
                        "field.values: {} values for a {}×{} field (expected {})",
                        field.values.len(),
                        field.size,
                        field.size,
                        field.size * field.size
                    ),
                ));
            }
            (
                "field",
                Source::Field {
                    values: field.values,
                    n: field.size,
                },
            )
        } else if let Some(upload) = args.upload {
            ("upload", upload_source(upload)?)
        } else {
            let sim = args.simulation.unwrap_or_default();
            let req = SimulationRequest {
                sim: sim.clone(),
                include_field: true,
            };
            let (out, _) = self.simulate(call, &req).await?;
            let n = out.spec.params.grid_size;
            graph_attrs.insert(
                "simulation".into(),
                serde_json::to_value(&sim).map_err(ServiceError::internal)?,
            );
            (
                "simulation",
                Source::Simulated {
                    result: out.result,
                    n,
                },
            )
        };
        graph_attrs.insert("kind".into(), json!("mycelial_network"));
        graph_attrs.insert("source".into(), json!(source_name));

        let store = self.inner.graphs.clone();
        let tenant = call.tenant.clone();
        let name = args.name;
        let overwrite = args.overwrite;
        let seed = args.seed;
        let result = self
            .inner
            .gate
            .run(Admission::FailFast, move |token| {
                token.check()?;
                let (width, height, threshold_mv, mask, skeleton, skel) = match source {
                    Source::Field { values, n } => {
                        let e = mfn_core::network::extract(&values, n, &options)?;
                        (n, n, Some(e.threshold_mv), e.mask, e.skeleton, e.graph)
                    }
                    Source::Simulated { result, n } => {
                        let e = mfn_core::network::extract(&result.field, n, &options)?;
                        (n, n, Some(e.threshold_mv), e.mask, e.skeleton, e.graph)
                    }
                    Source::Grey {
                        values,
                        width,
                        height,
                    } => {
                        let mask = mfn_core::network::mask_from_gray(
                            &values,
                            width,
                            height,
                            &image_options,
                        )?;
                        token.check()?;
                        let skeleton = mfn_core::network::thin(&mask);
                        let skel = mfn_core::network::skeleton_graph(&skeleton, &options.graph);
                        (width, height, None, mask, skeleton, skel)
                    }
                };
                token.check()?;
                let dimension = if skeleton.count() > 0 {
                    mfn_core::network::box_dimension(&skeleton).ok()
                } else {
                    None
                };
                let mut attrs = graph_attrs;
                attrs.insert("width".into(), json!(width));
                attrs.insert("height".into(), json!(height));
                attrs.insert("threshold_mv".into(), json!(threshold_mv));
                attrs.insert("fractal_dimension".into(), json!(dimension));
                let g = to_graph(&name, &skel, attrs)?;
                let control = JobControl::new(token, None);
                let metrics = mfn_graph::network::network_metrics_ctl(
                    &g,
                    dimension,
                    seed,
                    store.limits(),
                    &control,
                )?;
                let info = GraphInfo::of(&g);
                store.put(&tenant, g, overwrite)?;
                Ok(ExtractNetworkResult {
                    graph: info,
                    source: source_name.to_owned(),
                    width,
                    height,
                    threshold_mv,
                    mask_pixels: mask.count(),
                    skeleton_pixels: skeleton.count(),
                    metrics,
                })
            })
            .await?;
        Ok(result)
    }

    /// Draw a stored graph of the caller's tenant (see the module docs).
    pub async fn visualize(
        &self,
        call: &Call,
        args: VisualizeArgs,
    ) -> Result<(Visualization, Option<Image>), ServiceError> {
        let store = self.inner.graphs.clone();
        let g = {
            let store = store.clone();
            let tenant = call.tenant.clone();
            let name = args.graph.clone();
            self.inner
                .gate
                .run(Admission::FailFast, move |_| Ok(store.get(&tenant, &name)?))
                .await?
        };
        // An extracted network is drawn over its field: simulated again (cached,
        // deterministic) from the parameters stored with the graph.
        let mut field = None;
        if args.layout.resolve(&g) == Layout::Coordinates
            && let Some(sim) = g.attrs().get("simulation")
            && let Ok(sim) = serde_json::from_value::<SimInput>(sim.clone())
        {
            let req = SimulationRequest {
                sim,
                include_field: true,
            };
            let (out, _) = self.simulate(call, &req).await?;
            field = Some((out.result, out.spec.params.grid_size));
        }
        let progress = call.progress.clone();
        let (vis, png): (Visualization, Option<Vec<u8>>) = self
            .inner
            .gate
            .run(Admission::FailFast, move |token| {
                let control = JobControl::new(token, progress.as_ref());
                let background = field.map(|(result, n)| heatmap(&result.field, n));
                Ok(mfn_graph::visualize(
                    &g,
                    &args,
                    background.as_ref(),
                    store.limits(),
                    &control,
                )?)
            })
            .await?;
        let image = match (png, &vis.svg) {
            (Some(png), _) => Some(Image {
                mime_type: "image/png",
                data: png,
            }),
            (None, Some(svg)) => Some(Image {
                mime_type: "image/svg+xml",
                data: svg.clone().into_bytes(),
            }),
            (None, None) => None,
        };
        Ok((vis, image))
    }
}

fn check_cells(field: &str, cells: usize) -> Result<(), ServiceError> {
    if cells > MAX_UPLOAD_CELLS {
        return Err(ServiceError::invalid(
            field,
            format!("{field}: {cells} cells exceed the limit of {MAX_UPLOAD_CELLS} (4096²)"),
        ));
    }
    Ok(())
}

/// The skeleton graph as a stored graph: node `i` has `x`, `y` (pixels), `kind` and
/// `pixels`; each edge has `length` (pixels, √2 per diagonal step) and `pixels`.
fn to_graph(name: &str, skel: &SkeletonGraph, attrs: Attrs) -> Result<Graph, ServiceError> {
    let mut g = Graph::new(name, false)?;
    *g.attrs_mut() = attrs;
    for (i, node) in skel.nodes.iter().enumerate() {
        let mut a = Attrs::new();
        a.insert("x".into(), json!(node.x));
        a.insert("y".into(), json!(node.y));
        a.insert(
            "kind".into(),
            serde_json::to_value(node.kind).unwrap_or_default(),
        );
        a.insert("pixels".into(), json!(node.pixels));
        g.add_node(NodeId::Int(i as i64), a);
    }
    for e in &skel.edges {
        let mut a = Attrs::new();
        a.insert("length".into(), json!(e.length));
        a.insert("pixels".into(), json!(e.pixels));
        g.add_edge(NodeId::Int(e.u as i64), NodeId::Int(e.v as i64), a);
    }
    Ok(g)
}

/// The field as an RGBA image in the heatmap's colours (minimum to maximum).
fn heatmap(field: &[f64], n: usize) -> Background {
    let (lo, hi) = field
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let span = if hi > lo { hi - lo } else { 1.0 };
    let mut rgba = Vec::with_capacity(n * n * 4);
    for &v in field {
        let [r, g, b] = crate::render::colormap((v - lo) / span);
        rgba.extend_from_slice(&[r, g, b, 255]);
    }
    Background {
        width: n as u32,
        height: n as u32,
        rgba,
    }
}

/// Decode an upload: numbers (`.npy` floats and integers, CSV) are a square field in
/// volts; PNG, boolean and 8-bit arrays are grey levels of an image.
fn upload_source(upload: UploadInput) -> Result<Source, ServiceError> {
    use crate::arrays::{ArrayFormat, ArrayKind};
    let bytes = match upload.format {
        ArrayFormat::Csv => upload.data.into_bytes(),
        _ => crate::arrays::decode_base64(&upload.data, "upload.data")?,
    };
    let array = crate::arrays::decode(upload.format, &bytes, MAX_UPLOAD_CELLS)?;
    Ok(match array.kind {
        ArrayKind::Numbers => {
            if array.width != array.height {
                return Err(ServiceError::invalid(
                    "upload.data",
                    format!(
                        "upload.data: a field must be square, got {}×{} (images: upload a PNG)",
                        array.height, array.width
                    ),
                ));
            }
            Source::Field {
                values: array.values,
                n: array.width,
            }
        }
        _ => Source::Grey {
            values: array.values,
            width: array.width,
            height: array.height,
        },
    })
}
