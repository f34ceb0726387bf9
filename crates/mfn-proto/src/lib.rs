//! The MFN gRPC contract, package `mfn.v1`: the messages and the client and server
//! stubs generated from `proto/mfn/v1/mfn.proto` (see that file for every field's
//! unit, default and range).
//!
//! No logic lives here; `mfn-service` converts these messages into validated requests.

/// Package `mfn.v1`.
#[allow(
    missing_docs,
    clippy::doc_lazy_continuation,
    clippy::doc_overindented_list_items
)]
pub mod v1 {
    tonic::include_proto!("mfn.v1");
}

/// The encoded `FileDescriptorSet` of `mfn.v1`, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/mfn_descriptor.bin"));

/// Fully qualified names of the four `mfn.v1` services, as health checks and
/// reflection list them.
pub const SERVICE_NAMES: [&str; 4] = [
    "mfn.v1.MFNSimulationService",
    "mfn.v1.MFNFeaturesService",
    "mfn.v1.MFNValidationService",
    "mfn.v1.MyceliumService",
];
