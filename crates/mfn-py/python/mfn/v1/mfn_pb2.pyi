from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ResponseMeta(_message.Message):
    __slots__ = ("meta",)
    class MetaEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    META_FIELD_NUMBER: _ClassVar[int]
    meta: _containers.ScalarMap[str, str]
    def __init__(self, meta: _Optional[_Mapping[str, str]] = ...) -> None: ...

class RunSimulationRequest(_message.Message):
    __slots__ = ("request_id", "seed", "grid_size", "steps", "alpha", "spike_probability", "turing_enabled", "turing_threshold", "quantum_jitter", "jitter_var", "include_field")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    GRID_SIZE_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    ALPHA_FIELD_NUMBER: _ClassVar[int]
    SPIKE_PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    TURING_ENABLED_FIELD_NUMBER: _ClassVar[int]
    TURING_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    QUANTUM_JITTER_FIELD_NUMBER: _ClassVar[int]
    JITTER_VAR_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_FIELD_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    seed: int
    grid_size: int
    steps: int
    alpha: float
    spike_probability: float
    turing_enabled: bool
    turing_threshold: float
    quantum_jitter: bool
    jitter_var: float
    include_field: bool
    def __init__(self, request_id: _Optional[str] = ..., seed: _Optional[int] = ..., grid_size: _Optional[int] = ..., steps: _Optional[int] = ..., alpha: _Optional[float] = ..., spike_probability: _Optional[float] = ..., turing_enabled: _Optional[bool] = ..., turing_threshold: _Optional[float] = ..., quantum_jitter: _Optional[bool] = ..., jitter_var: _Optional[float] = ..., include_field: _Optional[bool] = ...) -> None: ...

class RunSimulationResponse(_message.Message):
    __slots__ = ("request_id", "meta", "growth_events", "turing_activations", "clamping_events", "pot_min_mV", "pot_max_mV", "pot_mean_mV", "pot_std_mV", "fractal_dimension", "activator_mean", "inhibitor_mean", "grid_size", "steps", "seed", "field_mV", "field_sha256")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    META_FIELD_NUMBER: _ClassVar[int]
    GROWTH_EVENTS_FIELD_NUMBER: _ClassVar[int]
    TURING_ACTIVATIONS_FIELD_NUMBER: _ClassVar[int]
    CLAMPING_EVENTS_FIELD_NUMBER: _ClassVar[int]
    POT_MIN_MV_FIELD_NUMBER: _ClassVar[int]
    POT_MAX_MV_FIELD_NUMBER: _ClassVar[int]
    POT_MEAN_MV_FIELD_NUMBER: _ClassVar[int]
    POT_STD_MV_FIELD_NUMBER: _ClassVar[int]
    FRACTAL_DIMENSION_FIELD_NUMBER: _ClassVar[int]
    ACTIVATOR_MEAN_FIELD_NUMBER: _ClassVar[int]
    INHIBITOR_MEAN_FIELD_NUMBER: _ClassVar[int]
    GRID_SIZE_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    FIELD_MV_FIELD_NUMBER: _ClassVar[int]
    FIELD_SHA256_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    meta: ResponseMeta
    growth_events: int
    turing_activations: int
    clamping_events: int
    pot_min_mV: float
    pot_max_mV: float
    pot_mean_mV: float
    pot_std_mV: float
    fractal_dimension: float
    activator_mean: float
    inhibitor_mean: float
    grid_size: int
    steps: int
    seed: int
    field_mV: _containers.RepeatedScalarFieldContainer[float]
    field_sha256: str
    def __init__(self, request_id: _Optional[str] = ..., meta: _Optional[_Union[ResponseMeta, _Mapping]] = ..., growth_events: _Optional[int] = ..., turing_activations: _Optional[int] = ..., clamping_events: _Optional[int] = ..., pot_min_mV: _Optional[float] = ..., pot_max_mV: _Optional[float] = ..., pot_mean_mV: _Optional[float] = ..., pot_std_mV: _Optional[float] = ..., fractal_dimension: _Optional[float] = ..., activator_mean: _Optional[float] = ..., inhibitor_mean: _Optional[float] = ..., grid_size: _Optional[int] = ..., steps: _Optional[int] = ..., seed: _Optional[int] = ..., field_mV: _Optional[_Iterable[float]] = ..., field_sha256: _Optional[str] = ...) -> None: ...

class StreamSimulationRequest(_message.Message):
    __slots__ = ("request_id", "seed", "grid_size", "steps", "alpha", "spike_probability", "turing_enabled", "turing_threshold", "quantum_jitter", "jitter_var", "include_field", "steps_per_frame", "frame_interval_ms")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    GRID_SIZE_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    ALPHA_FIELD_NUMBER: _ClassVar[int]
    SPIKE_PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    TURING_ENABLED_FIELD_NUMBER: _ClassVar[int]
    TURING_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    QUANTUM_JITTER_FIELD_NUMBER: _ClassVar[int]
    JITTER_VAR_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_FIELD_FIELD_NUMBER: _ClassVar[int]
    STEPS_PER_FRAME_FIELD_NUMBER: _ClassVar[int]
    FRAME_INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    seed: int
    grid_size: int
    steps: int
    alpha: float
    spike_probability: float
    turing_enabled: bool
    turing_threshold: float
    quantum_jitter: bool
    jitter_var: float
    include_field: bool
    steps_per_frame: int
    frame_interval_ms: int
    def __init__(self, request_id: _Optional[str] = ..., seed: _Optional[int] = ..., grid_size: _Optional[int] = ..., steps: _Optional[int] = ..., alpha: _Optional[float] = ..., spike_probability: _Optional[float] = ..., turing_enabled: _Optional[bool] = ..., turing_threshold: _Optional[float] = ..., quantum_jitter: _Optional[bool] = ..., jitter_var: _Optional[float] = ..., include_field: _Optional[bool] = ..., steps_per_frame: _Optional[int] = ..., frame_interval_ms: _Optional[int] = ...) -> None: ...

class SimulationFrame(_message.Message):
    __slots__ = ("request_id", "step", "total_steps", "growth_events", "turing_activations", "clamping_events", "pot_min_mV", "pot_max_mV", "pot_mean_mV", "pot_std_mV", "fractal_dimension", "is_final", "field_mV", "alpha", "spike_probability", "meta")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    TOTAL_STEPS_FIELD_NUMBER: _ClassVar[int]
    GROWTH_EVENTS_FIELD_NUMBER: _ClassVar[int]
    TURING_ACTIVATIONS_FIELD_NUMBER: _ClassVar[int]
    CLAMPING_EVENTS_FIELD_NUMBER: _ClassVar[int]
    POT_MIN_MV_FIELD_NUMBER: _ClassVar[int]
    POT_MAX_MV_FIELD_NUMBER: _ClassVar[int]
    POT_MEAN_MV_FIELD_NUMBER: _ClassVar[int]
    POT_STD_MV_FIELD_NUMBER: _ClassVar[int]
    FRACTAL_DIMENSION_FIELD_NUMBER: _ClassVar[int]
    IS_FINAL_FIELD_NUMBER: _ClassVar[int]
    FIELD_MV_FIELD_NUMBER: _ClassVar[int]
    ALPHA_FIELD_NUMBER: _ClassVar[int]
    SPIKE_PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    META_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    step: int
    total_steps: int
    growth_events: int
    turing_activations: int
    clamping_events: int
    pot_min_mV: float
    pot_max_mV: float
    pot_mean_mV: float
    pot_std_mV: float
    fractal_dimension: float
    is_final: bool
    field_mV: _containers.RepeatedScalarFieldContainer[float]
    alpha: float
    spike_probability: float
    meta: ResponseMeta
    def __init__(self, request_id: _Optional[str] = ..., step: _Optional[int] = ..., total_steps: _Optional[int] = ..., growth_events: _Optional[int] = ..., turing_activations: _Optional[int] = ..., clamping_events: _Optional[int] = ..., pot_min_mV: _Optional[float] = ..., pot_max_mV: _Optional[float] = ..., pot_mean_mV: _Optional[float] = ..., pot_std_mV: _Optional[float] = ..., fractal_dimension: _Optional[float] = ..., is_final: _Optional[bool] = ..., field_mV: _Optional[_Iterable[float]] = ..., alpha: _Optional[float] = ..., spike_probability: _Optional[float] = ..., meta: _Optional[_Union[ResponseMeta, _Mapping]] = ...) -> None: ...

class SteerCommand(_message.Message):
    __slots__ = ("start", "set_parameters", "pause", "resume", "stop")
    START_FIELD_NUMBER: _ClassVar[int]
    SET_PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    PAUSE_FIELD_NUMBER: _ClassVar[int]
    RESUME_FIELD_NUMBER: _ClassVar[int]
    STOP_FIELD_NUMBER: _ClassVar[int]
    start: SteerStart
    set_parameters: SteerParameters
    pause: SteerPause
    resume: SteerResume
    stop: SteerStop
    def __init__(self, start: _Optional[_Union[SteerStart, _Mapping]] = ..., set_parameters: _Optional[_Union[SteerParameters, _Mapping]] = ..., pause: _Optional[_Union[SteerPause, _Mapping]] = ..., resume: _Optional[_Union[SteerResume, _Mapping]] = ..., stop: _Optional[_Union[SteerStop, _Mapping]] = ...) -> None: ...

class SteerStart(_message.Message):
    __slots__ = ("run", "paused")
    RUN_FIELD_NUMBER: _ClassVar[int]
    PAUSED_FIELD_NUMBER: _ClassVar[int]
    run: StreamSimulationRequest
    paused: bool
    def __init__(self, run: _Optional[_Union[StreamSimulationRequest, _Mapping]] = ..., paused: _Optional[bool] = ...) -> None: ...

class SteerParameters(_message.Message):
    __slots__ = ("alpha", "spike_probability", "apply_at_step")
    ALPHA_FIELD_NUMBER: _ClassVar[int]
    SPIKE_PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    APPLY_AT_STEP_FIELD_NUMBER: _ClassVar[int]
    alpha: float
    spike_probability: float
    apply_at_step: int
    def __init__(self, alpha: _Optional[float] = ..., spike_probability: _Optional[float] = ..., apply_at_step: _Optional[int] = ...) -> None: ...

class SteerPause(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SteerResume(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SteerStop(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SteerEvent(_message.Message):
    __slots__ = ("frame", "ack")
    FRAME_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    frame: SimulationFrame
    ack: SteerAck
    def __init__(self, frame: _Optional[_Union[SimulationFrame, _Mapping]] = ..., ack: _Optional[_Union[SteerAck, _Mapping]] = ...) -> None: ...

class SteerAck(_message.Message):
    __slots__ = ("command_index", "command", "applied_at_step", "alpha", "spike_probability", "paused")
    COMMAND_INDEX_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    APPLIED_AT_STEP_FIELD_NUMBER: _ClassVar[int]
    ALPHA_FIELD_NUMBER: _ClassVar[int]
    SPIKE_PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    PAUSED_FIELD_NUMBER: _ClassVar[int]
    command_index: int
    command: str
    applied_at_step: int
    alpha: float
    spike_probability: float
    paused: bool
    def __init__(self, command_index: _Optional[int] = ..., command: _Optional[str] = ..., applied_at_step: _Optional[int] = ..., alpha: _Optional[float] = ..., spike_probability: _Optional[float] = ..., paused: _Optional[bool] = ...) -> None: ...

class FeatureVector(_message.Message):
    __slots__ = ("D_box", "D_r2", "V_min", "V_max", "V_mean", "V_std", "V_skew", "V_kurt", "dV_mean", "dV_max", "T_stable", "E_trend", "f_active", "N_clusters_low", "N_clusters_med", "N_clusters_high", "max_cluster_size", "cluster_size_std")
    D_BOX_FIELD_NUMBER: _ClassVar[int]
    D_R2_FIELD_NUMBER: _ClassVar[int]
    V_MIN_FIELD_NUMBER: _ClassVar[int]
    V_MAX_FIELD_NUMBER: _ClassVar[int]
    V_MEAN_FIELD_NUMBER: _ClassVar[int]
    V_STD_FIELD_NUMBER: _ClassVar[int]
    V_SKEW_FIELD_NUMBER: _ClassVar[int]
    V_KURT_FIELD_NUMBER: _ClassVar[int]
    DV_MEAN_FIELD_NUMBER: _ClassVar[int]
    DV_MAX_FIELD_NUMBER: _ClassVar[int]
    T_STABLE_FIELD_NUMBER: _ClassVar[int]
    E_TREND_FIELD_NUMBER: _ClassVar[int]
    F_ACTIVE_FIELD_NUMBER: _ClassVar[int]
    N_CLUSTERS_LOW_FIELD_NUMBER: _ClassVar[int]
    N_CLUSTERS_MED_FIELD_NUMBER: _ClassVar[int]
    N_CLUSTERS_HIGH_FIELD_NUMBER: _ClassVar[int]
    MAX_CLUSTER_SIZE_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_SIZE_STD_FIELD_NUMBER: _ClassVar[int]
    D_box: float
    D_r2: float
    V_min: float
    V_max: float
    V_mean: float
    V_std: float
    V_skew: float
    V_kurt: float
    dV_mean: float
    dV_max: float
    T_stable: float
    E_trend: float
    f_active: float
    N_clusters_low: float
    N_clusters_med: float
    N_clusters_high: float
    max_cluster_size: float
    cluster_size_std: float
    def __init__(self, D_box: _Optional[float] = ..., D_r2: _Optional[float] = ..., V_min: _Optional[float] = ..., V_max: _Optional[float] = ..., V_mean: _Optional[float] = ..., V_std: _Optional[float] = ..., V_skew: _Optional[float] = ..., V_kurt: _Optional[float] = ..., dV_mean: _Optional[float] = ..., dV_max: _Optional[float] = ..., T_stable: _Optional[float] = ..., E_trend: _Optional[float] = ..., f_active: _Optional[float] = ..., N_clusters_low: _Optional[float] = ..., N_clusters_med: _Optional[float] = ..., N_clusters_high: _Optional[float] = ..., max_cluster_size: _Optional[float] = ..., cluster_size_std: _Optional[float] = ...) -> None: ...

class ExtractFeaturesRequest(_message.Message):
    __slots__ = ("request_id", "seed", "grid_size", "steps", "alpha", "spike_probability", "turing_enabled", "turing_threshold", "quantum_jitter", "jitter_var", "threshold_mv", "adaptive_threshold", "with_history")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    GRID_SIZE_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    ALPHA_FIELD_NUMBER: _ClassVar[int]
    SPIKE_PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    TURING_ENABLED_FIELD_NUMBER: _ClassVar[int]
    TURING_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    QUANTUM_JITTER_FIELD_NUMBER: _ClassVar[int]
    JITTER_VAR_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_MV_FIELD_NUMBER: _ClassVar[int]
    ADAPTIVE_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    WITH_HISTORY_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    seed: int
    grid_size: int
    steps: int
    alpha: float
    spike_probability: float
    turing_enabled: bool
    turing_threshold: float
    quantum_jitter: bool
    jitter_var: float
    threshold_mv: float
    adaptive_threshold: bool
    with_history: bool
    def __init__(self, request_id: _Optional[str] = ..., seed: _Optional[int] = ..., grid_size: _Optional[int] = ..., steps: _Optional[int] = ..., alpha: _Optional[float] = ..., spike_probability: _Optional[float] = ..., turing_enabled: _Optional[bool] = ..., turing_threshold: _Optional[float] = ..., quantum_jitter: _Optional[bool] = ..., jitter_var: _Optional[float] = ..., threshold_mv: _Optional[float] = ..., adaptive_threshold: _Optional[bool] = ..., with_history: _Optional[bool] = ...) -> None: ...

class ExtractFeaturesResponse(_message.Message):
    __slots__ = ("request_id", "meta", "features", "growth_events", "pot_min_mV", "pot_max_mV", "pot_mean_mV", "pot_std_mV", "fractal_dimension")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    META_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    GROWTH_EVENTS_FIELD_NUMBER: _ClassVar[int]
    POT_MIN_MV_FIELD_NUMBER: _ClassVar[int]
    POT_MAX_MV_FIELD_NUMBER: _ClassVar[int]
    POT_MEAN_MV_FIELD_NUMBER: _ClassVar[int]
    POT_STD_MV_FIELD_NUMBER: _ClassVar[int]
    FRACTAL_DIMENSION_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    meta: ResponseMeta
    features: FeatureVector
    growth_events: int
    pot_min_mV: float
    pot_max_mV: float
    pot_mean_mV: float
    pot_std_mV: float
    fractal_dimension: float
    def __init__(self, request_id: _Optional[str] = ..., meta: _Optional[_Union[ResponseMeta, _Mapping]] = ..., features: _Optional[_Union[FeatureVector, _Mapping]] = ..., growth_events: _Optional[int] = ..., pot_min_mV: _Optional[float] = ..., pot_max_mV: _Optional[float] = ..., pot_mean_mV: _Optional[float] = ..., pot_std_mV: _Optional[float] = ..., fractal_dimension: _Optional[float] = ...) -> None: ...

class StreamFeaturesRequest(_message.Message):
    __slots__ = ("request_id", "seed", "grid_size", "steps", "alpha", "spike_probability", "turing_enabled", "turing_threshold", "quantum_jitter", "jitter_var", "threshold_mv", "adaptive_threshold", "with_history", "steps_per_frame", "frame_interval_ms")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    GRID_SIZE_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    ALPHA_FIELD_NUMBER: _ClassVar[int]
    SPIKE_PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    TURING_ENABLED_FIELD_NUMBER: _ClassVar[int]
    TURING_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    QUANTUM_JITTER_FIELD_NUMBER: _ClassVar[int]
    JITTER_VAR_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_MV_FIELD_NUMBER: _ClassVar[int]
    ADAPTIVE_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    WITH_HISTORY_FIELD_NUMBER: _ClassVar[int]
    STEPS_PER_FRAME_FIELD_NUMBER: _ClassVar[int]
    FRAME_INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    seed: int
    grid_size: int
    steps: int
    alpha: float
    spike_probability: float
    turing_enabled: bool
    turing_threshold: float
    quantum_jitter: bool
    jitter_var: float
    threshold_mv: float
    adaptive_threshold: bool
    with_history: bool
    steps_per_frame: int
    frame_interval_ms: int
    def __init__(self, request_id: _Optional[str] = ..., seed: _Optional[int] = ..., grid_size: _Optional[int] = ..., steps: _Optional[int] = ..., alpha: _Optional[float] = ..., spike_probability: _Optional[float] = ..., turing_enabled: _Optional[bool] = ..., turing_threshold: _Optional[float] = ..., quantum_jitter: _Optional[bool] = ..., jitter_var: _Optional[float] = ..., threshold_mv: _Optional[float] = ..., adaptive_threshold: _Optional[bool] = ..., with_history: _Optional[bool] = ..., steps_per_frame: _Optional[int] = ..., frame_interval_ms: _Optional[int] = ...) -> None: ...

class FeatureFrame(_message.Message):
    __slots__ = ("request_id", "step", "total_steps", "features", "growth_events", "pot_mean_mV", "pot_std_mV", "is_final", "meta")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    TOTAL_STEPS_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    GROWTH_EVENTS_FIELD_NUMBER: _ClassVar[int]
    POT_MEAN_MV_FIELD_NUMBER: _ClassVar[int]
    POT_STD_MV_FIELD_NUMBER: _ClassVar[int]
    IS_FINAL_FIELD_NUMBER: _ClassVar[int]
    META_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    step: int
    total_steps: int
    features: FeatureVector
    growth_events: int
    pot_mean_mV: float
    pot_std_mV: float
    is_final: bool
    meta: ResponseMeta
    def __init__(self, request_id: _Optional[str] = ..., step: _Optional[int] = ..., total_steps: _Optional[int] = ..., features: _Optional[_Union[FeatureVector, _Mapping]] = ..., growth_events: _Optional[int] = ..., pot_mean_mV: _Optional[float] = ..., pot_std_mV: _Optional[float] = ..., is_final: _Optional[bool] = ..., meta: _Optional[_Union[ResponseMeta, _Mapping]] = ...) -> None: ...

class ValidatePatternRequest(_message.Message):
    __slots__ = ("request_id", "seed", "epochs", "batch_size", "grid_size", "steps", "turing_enabled", "quantum_jitter")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    EPOCHS_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    GRID_SIZE_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    TURING_ENABLED_FIELD_NUMBER: _ClassVar[int]
    QUANTUM_JITTER_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    seed: int
    epochs: int
    batch_size: int
    grid_size: int
    steps: int
    turing_enabled: bool
    quantum_jitter: bool
    def __init__(self, request_id: _Optional[str] = ..., seed: _Optional[int] = ..., epochs: _Optional[int] = ..., batch_size: _Optional[int] = ..., grid_size: _Optional[int] = ..., steps: _Optional[int] = ..., turing_enabled: _Optional[bool] = ..., quantum_jitter: _Optional[bool] = ...) -> None: ...

class ValidatePatternResponse(_message.Message):
    __slots__ = ("request_id", "meta", "loss_start", "loss_final", "loss_drop", "pot_min_mV", "pot_max_mV", "example_fractal_dim", "growth_events", "lyapunov_exponent", "lyapunov_mean", "nernst_numeric_mV", "nernst_symbolic_mV", "nernst_rtfz_mV")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    META_FIELD_NUMBER: _ClassVar[int]
    LOSS_START_FIELD_NUMBER: _ClassVar[int]
    LOSS_FINAL_FIELD_NUMBER: _ClassVar[int]
    LOSS_DROP_FIELD_NUMBER: _ClassVar[int]
    POT_MIN_MV_FIELD_NUMBER: _ClassVar[int]
    POT_MAX_MV_FIELD_NUMBER: _ClassVar[int]
    EXAMPLE_FRACTAL_DIM_FIELD_NUMBER: _ClassVar[int]
    GROWTH_EVENTS_FIELD_NUMBER: _ClassVar[int]
    LYAPUNOV_EXPONENT_FIELD_NUMBER: _ClassVar[int]
    LYAPUNOV_MEAN_FIELD_NUMBER: _ClassVar[int]
    NERNST_NUMERIC_MV_FIELD_NUMBER: _ClassVar[int]
    NERNST_SYMBOLIC_MV_FIELD_NUMBER: _ClassVar[int]
    NERNST_RTFZ_MV_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    meta: ResponseMeta
    loss_start: float
    loss_final: float
    loss_drop: float
    pot_min_mV: float
    pot_max_mV: float
    example_fractal_dim: float
    growth_events: int
    lyapunov_exponent: float
    lyapunov_mean: float
    nernst_numeric_mV: float
    nernst_symbolic_mV: float
    nernst_rtfz_mV: float
    def __init__(self, request_id: _Optional[str] = ..., meta: _Optional[_Union[ResponseMeta, _Mapping]] = ..., loss_start: _Optional[float] = ..., loss_final: _Optional[float] = ..., loss_drop: _Optional[float] = ..., pot_min_mV: _Optional[float] = ..., pot_max_mV: _Optional[float] = ..., example_fractal_dim: _Optional[float] = ..., growth_events: _Optional[int] = ..., lyapunov_exponent: _Optional[float] = ..., lyapunov_mean: _Optional[float] = ..., nernst_numeric_mV: _Optional[float] = ..., nernst_symbolic_mV: _Optional[float] = ..., nernst_rtfz_mV: _Optional[float] = ...) -> None: ...

class NernstRequest(_message.Message):
    __slots__ = ("request_id", "z_valence", "concentration_out_M", "concentration_in_M", "temperature_K")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    Z_VALENCE_FIELD_NUMBER: _ClassVar[int]
    CONCENTRATION_OUT_M_FIELD_NUMBER: _ClassVar[int]
    CONCENTRATION_IN_M_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_K_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    z_valence: int
    concentration_out_M: float
    concentration_in_M: float
    temperature_K: float
    def __init__(self, request_id: _Optional[str] = ..., z_valence: _Optional[int] = ..., concentration_out_M: _Optional[float] = ..., concentration_in_M: _Optional[float] = ..., temperature_K: _Optional[float] = ...) -> None: ...

class NernstResponse(_message.Message):
    __slots__ = ("request_id", "meta", "potential_mV", "rt_over_f_mV", "temperature_K")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    META_FIELD_NUMBER: _ClassVar[int]
    POTENTIAL_MV_FIELD_NUMBER: _ClassVar[int]
    RT_OVER_F_MV_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_K_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    meta: ResponseMeta
    potential_mV: float
    rt_over_f_mV: float
    temperature_K: float
    def __init__(self, request_id: _Optional[str] = ..., meta: _Optional[_Union[ResponseMeta, _Mapping]] = ..., potential_mV: _Optional[float] = ..., rt_over_f_mV: _Optional[float] = ..., temperature_K: _Optional[float] = ...) -> None: ...

class Gradient(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, values: _Optional[_Iterable[float]] = ...) -> None: ...

class FederatedAggregateRequest(_message.Message):
    __slots__ = ("request_id", "gradients", "num_clusters", "byzantine_fraction", "sample_fraction", "seed")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    GRADIENTS_FIELD_NUMBER: _ClassVar[int]
    NUM_CLUSTERS_FIELD_NUMBER: _ClassVar[int]
    BYZANTINE_FRACTION_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_FRACTION_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    gradients: _containers.RepeatedCompositeFieldContainer[Gradient]
    num_clusters: int
    byzantine_fraction: float
    sample_fraction: float
    seed: int
    def __init__(self, request_id: _Optional[str] = ..., gradients: _Optional[_Iterable[_Union[Gradient, _Mapping]]] = ..., num_clusters: _Optional[int] = ..., byzantine_fraction: _Optional[float] = ..., sample_fraction: _Optional[float] = ..., seed: _Optional[int] = ...) -> None: ...

class FederatedAggregateResponse(_message.Message):
    __slots__ = ("request_id", "meta", "aggregated_gradient", "num_input_gradients")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    META_FIELD_NUMBER: _ClassVar[int]
    AGGREGATED_GRADIENT_FIELD_NUMBER: _ClassVar[int]
    NUM_INPUT_GRADIENTS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    meta: ResponseMeta
    aggregated_gradient: _containers.RepeatedScalarFieldContainer[float]
    num_input_gradients: int
    def __init__(self, request_id: _Optional[str] = ..., meta: _Optional[_Union[ResponseMeta, _Mapping]] = ..., aggregated_gradient: _Optional[_Iterable[float]] = ..., num_input_gradients: _Optional[int] = ...) -> None: ...

class HealthCheckRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class HealthCheckResponse(_message.Message):
    __slots__ = ("status", "version", "uptime_seconds")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    UPTIME_SECONDS_FIELD_NUMBER: _ClassVar[int]
    status: str
    version: str
    uptime_seconds: float
    def __init__(self, status: _Optional[str] = ..., version: _Optional[str] = ..., uptime_seconds: _Optional[float] = ...) -> None: ...

class FractalRequest(_message.Message):
    __slots__ = ("request_id", "values", "size", "threshold", "num_scales", "min_box")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    NUM_SCALES_FIELD_NUMBER: _ClassVar[int]
    MIN_BOX_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    values: _containers.RepeatedScalarFieldContainer[float]
    size: int
    threshold: float
    num_scales: int
    min_box: int
    def __init__(self, request_id: _Optional[str] = ..., values: _Optional[_Iterable[float]] = ..., size: _Optional[int] = ..., threshold: _Optional[float] = ..., num_scales: _Optional[int] = ..., min_box: _Optional[int] = ...) -> None: ...

class FractalResponse(_message.Message):
    __slots__ = ("request_id", "meta", "fractal_dimension", "r_squared", "box_sizes", "counts")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    META_FIELD_NUMBER: _ClassVar[int]
    FRACTAL_DIMENSION_FIELD_NUMBER: _ClassVar[int]
    R_SQUARED_FIELD_NUMBER: _ClassVar[int]
    BOX_SIZES_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    meta: ResponseMeta
    fractal_dimension: float
    r_squared: float
    box_sizes: _containers.RepeatedScalarFieldContainer[int]
    counts: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, request_id: _Optional[str] = ..., meta: _Optional[_Union[ResponseMeta, _Mapping]] = ..., fractal_dimension: _Optional[float] = ..., r_squared: _Optional[float] = ..., box_sizes: _Optional[_Iterable[int]] = ..., counts: _Optional[_Iterable[int]] = ...) -> None: ...

class IfsRequest(_message.Message):
    __slots__ = ("request_id", "seed", "points", "transforms")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    TRANSFORMS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    seed: int
    points: int
    transforms: int
    def __init__(self, request_id: _Optional[str] = ..., seed: _Optional[int] = ..., points: _Optional[int] = ..., transforms: _Optional[int] = ...) -> None: ...

class IfsResponse(_message.Message):
    __slots__ = ("request_id", "meta", "lyapunov", "points_sha256", "num_points")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    META_FIELD_NUMBER: _ClassVar[int]
    LYAPUNOV_FIELD_NUMBER: _ClassVar[int]
    POINTS_SHA256_FIELD_NUMBER: _ClassVar[int]
    NUM_POINTS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    meta: ResponseMeta
    lyapunov: float
    points_sha256: str
    num_points: int
    def __init__(self, request_id: _Optional[str] = ..., meta: _Optional[_Union[ResponseMeta, _Mapping]] = ..., lyapunov: _Optional[float] = ..., points_sha256: _Optional[str] = ..., num_points: _Optional[int] = ...) -> None: ...
