//! The gRPC method paths, as signed in `x-signature`.

/// `MFNSimulationService/RunSimulation`.
pub const RUN_SIMULATION: &str = "/mfn.v1.MFNSimulationService/RunSimulation";
/// `MFNSimulationService/StreamSimulation`.
pub const STREAM_SIMULATION: &str = "/mfn.v1.MFNSimulationService/StreamSimulation";
/// `MFNSimulationService/SteerSimulation`.
pub const STEER_SIMULATION: &str = "/mfn.v1.MFNSimulationService/SteerSimulation";
/// `MFNFeaturesService/ExtractFeatures`.
pub const EXTRACT_FEATURES: &str = "/mfn.v1.MFNFeaturesService/ExtractFeatures";
/// `MFNFeaturesService/StreamFeatures`.
pub const STREAM_FEATURES: &str = "/mfn.v1.MFNFeaturesService/StreamFeatures";
/// `MFNValidationService/ValidatePattern`.
pub const VALIDATE_PATTERN: &str = "/mfn.v1.MFNValidationService/ValidatePattern";
/// `MyceliumService/Validate`.
pub const MYCELIUM_VALIDATE: &str = "/mfn.v1.MyceliumService/Validate";
/// `MyceliumService/Simulate`.
pub const MYCELIUM_SIMULATE: &str = "/mfn.v1.MyceliumService/Simulate";
/// `MyceliumService/SimulateStream`.
pub const MYCELIUM_SIMULATE_STREAM: &str = "/mfn.v1.MyceliumService/SimulateStream";
/// `MyceliumService/ComputeNernst`.
pub const COMPUTE_NERNST: &str = "/mfn.v1.MyceliumService/ComputeNernst";
/// `MyceliumService/AggregateFederated`.
pub const AGGREGATE_FEDERATED: &str = "/mfn.v1.MyceliumService/AggregateFederated";
/// `MyceliumService/ComputeFractalDimension`.
pub const COMPUTE_FRACTAL_DIMENSION: &str = "/mfn.v1.MyceliumService/ComputeFractalDimension";
/// `MyceliumService/GenerateIFS`.
pub const GENERATE_IFS: &str = "/mfn.v1.MyceliumService/GenerateIFS";
/// `MyceliumService/HealthCheck`.
pub const HEALTH_CHECK: &str = "/mfn.v1.MyceliumService/HealthCheck";
/// `grpc.health.v1.Health/Check`.
pub const GRPC_HEALTH_CHECK: &str = "/grpc.health.v1.Health/Check";
