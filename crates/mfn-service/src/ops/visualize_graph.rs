//! `visualize_graph`: a stored graph drawn as PNG or SVG ([`crate::network`]).

use mfn_graph::{Visualization, VisualizeArgs};
use schemars::JsonSchema;
use serde::Serialize;

use crate::error::ServiceError;
use crate::ops::{Call, Image, OpSpec, Operation};
use crate::service::MfnService;

/// The operation.
#[derive(Debug)]
pub struct VisualizeGraph;

/// The drawing's description; the PNG or SVG itself is the image content.
#[derive(Debug, Serialize, JsonSchema)]
pub struct VisualizeResponse {
    /// Layout, colours, legend and (for SVG) the document.
    #[serde(flatten)]
    pub visualization: Visualization,
    #[serde(skip)]
    #[schemars(skip)]
    image: Option<Image>,
}

impl Operation for VisualizeGraph {
    type Request = VisualizeArgs;
    type Response = VisualizeResponse;
    const SPEC: OpSpec = OpSpec {
        renders: true,
        ..OpSpec::new(
            "visualize_graph",
            "Draw a stored graph as PNG (image content) or SVG (spring, circular, kamada_kawai or coordinates layout; colour by an attribute, degree or community); an extracted network is drawn at its pixel coordinates over its field",
        )
    };

    async fn run(
        svc: &MfnService,
        call: &Call,
        args: VisualizeArgs,
    ) -> Result<VisualizeResponse, ServiceError> {
        let (visualization, image) = svc.visualize(call, args).await?;
        Ok(VisualizeResponse {
            visualization,
            image,
        })
    }

    fn image(response: &mut VisualizeResponse) -> Option<Image> {
        response.image.take()
    }
}
