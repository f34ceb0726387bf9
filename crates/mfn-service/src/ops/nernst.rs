//! `nernst_potential` (`POST /v1/nernst`, `/nernst`): a membrane's equilibrium potential.

use crate::error::ServiceError;
use crate::ops::{Call, OpSpec, Operation, Route, Runs};
use crate::request::NernstRequest;
use crate::response::NernstResponse;
use crate::service::MfnService;

/// The operation.
#[derive(Debug)]
pub struct Nernst;

impl Operation for Nernst {
    type Request = NernstRequest;
    type Response = NernstResponse;
    const SPEC: OpSpec = OpSpec {
        aliases: &["nernst"],
        summary: "Compute a Nernst potential",
        rest: &[Route::Post("/v1/nernst"), Route::Post("/nernst")],
        runs: Runs::Inline,
        ..OpSpec::new(
            "nernst_potential",
            "Nernst membrane potential E = (RT / zF) · ln(c_out / c_in) in mV for an ion's valence, concentrations (mol/L; concentration_out_molar / concentration_in_molar, the reference's names, and concentration_out_M / concentration_in_M are accepted) and temperature (K)",
        )
    };

    async fn run(
        svc: &MfnService,
        call: &Call,
        req: NernstRequest,
    ) -> Result<NernstResponse, ServiceError> {
        let (out, meta) = svc.nernst(&call.ctx, &req)?;
        Ok(NernstResponse::new(&out, &meta))
    }
}
