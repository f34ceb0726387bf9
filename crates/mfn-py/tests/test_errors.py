"""Bad input: wrong types, out-of-range values, other bit generators and non-finite arrays
give clear exceptions (naming the parameter and its limit), never a crash, and leave the
caller's generator untouched."""

from __future__ import annotations

import numpy as np
import pytest

import mfn


def plain(state):
    """A bit generator's state with arrays as lists, comparable with ==."""
    if isinstance(state, dict):
        return {k: plain(v) for k, v in state.items()}
    return state.tolist() if isinstance(state, np.ndarray) else state


def untouched(rng, call):
    before = plain(rng.bit_generator.state)
    call()
    assert plain(rng.bit_generator.state) == before


@pytest.mark.parametrize("kwargs, field, limit", [
    (dict(alpha=0.3), "alpha", "0.25"),
    (dict(alpha=0.0), "alpha", "CFL"),
    (dict(alpha=float("nan")), "alpha", "0.25"),
    (dict(grid_size=2), "grid_size", "[4, 1024]"),
    (dict(grid_size=-5), "grid_size = -5", "[4, 1024]"),
    (dict(grid_size=1 << 70), "grid_size", "1024"),
    (dict(steps=0), "steps", "[1, 10000]"),
    (dict(steps=10_001), "steps", "[1, 10000]"),
    (dict(spike_probability=1.5), "spike_probability", "[0, 1]"),
    (dict(turing_threshold=-0.1), "turing_threshold", "[0, 1]"),
    (dict(jitter_var=0.02), "jitter_var", "[0, 0.01]"),
])
def test_out_of_range_names_field_and_limit(kwargs, field, limit):
    rng = np.random.default_rng(1)

    def call():
        with pytest.raises(ValueError) as e:
            mfn.simulate_mycelium_field(rng, **kwargs)
        assert isinstance(e.value, mfn.InvalidArgument)
        assert field in str(e.value) and limit in str(e.value), str(e.value)
        assert e.value.field == field.split(" ")[0]
        assert e.value.code == "INVALID_ARGUMENT"

    if kwargs.get("grid_size", 0) >= 1 << 64:
        # Too large for a Python int → i64 conversion: an OverflowError, still clear.
        with pytest.raises(OverflowError):
            mfn.simulate_mycelium_field(rng, **kwargs)
        return
    untouched(rng, call)
    # The modern API words the same limits the same way.
    if "grid_size" in kwargs and kwargs["grid_size"] < 0:
        with pytest.raises(mfn.InvalidArgument, match="grid_size = -5"):
            mfn.simulate(**kwargs)
    else:
        with pytest.raises(mfn.InvalidArgument, match=field.split(" ")[0]):
            mfn.simulate(**kwargs)


@pytest.mark.parametrize("make", [
    lambda: np.random.Generator(np.random.PCG64DXSM(1)),
    lambda: np.random.Generator(np.random.MT19937(1)),
    lambda: np.random.Generator(np.random.Philox(1)),
    lambda: np.random.Generator(np.random.SFC64(1)),
])
def test_other_bit_generators_are_refused(make):
    rng = make()
    name = type(rng.bit_generator).__name__

    def call():
        with pytest.raises(TypeError, match=f"PCG64.*got {name}"):
            mfn.simulate_mycelium_field(rng, grid_size=8, steps=2)
        with pytest.raises(TypeError, match="PCG64"):
            mfn.generate_fractal_ifs(rng, 10)
        with pytest.raises(TypeError, match="PCG64"):
            mfn.HierarchicalKrumAggregator().aggregate([[1.0], [2.0]], rng=rng)

    untouched(rng, call)


@pytest.mark.parametrize("bad", [42, None, "rng", np.random.RandomState(1),
                                 np.random.PCG64(1)])
def test_not_a_generator(bad):
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        mfn.simulate_mycelium_field(bad, grid_size=8, steps=2)


def test_wrong_types():
    rng = np.random.default_rng(0)
    with pytest.raises(TypeError):
        mfn.simulate_mycelium_field(rng, grid_size="64")
    with pytest.raises(TypeError):
        mfn.simulate_mycelium_field(rng, grid_size=64.0)
    with pytest.raises(TypeError):
        mfn.simulate_mycelium_field(rng, alpha="fast")
    with pytest.raises(TypeError):
        mfn.simulate_mycelium_field(rng, turing_enabled="yes")
    with pytest.raises(TypeError):
        mfn.simulate(seed="1")
    with pytest.raises(mfn.InvalidArgument, match="seed"):
        mfn.simulate(seed=-1)
    with pytest.raises(mfn.InvalidArgument, match="numeric"):
        mfn.compute_features([["a", "b"], ["c", "d"]])
    with pytest.raises(TypeError):
        mfn.compute_nernst_potential("K", 0.005, 0.14)


def test_non_finite_arrays():
    f = np.full((8, 8), -0.07)
    f[3, 4] = np.nan
    with pytest.raises(mfn.InvalidArgument, match="non-finite") as e:
        mfn.compute_features(f)
    assert e.value.field == "field_snapshots"
    with pytest.raises(mfn.InvalidArgument, match="non-finite"):
        mfn.compute_features(np.stack([np.full((8, 8), -0.07), np.full((8, 8), np.inf)]))
    with pytest.raises(mfn.InvalidArgument, match="non-finite"):
        mfn.estimate_fractal_dimension(f)
    with pytest.raises(mfn.InvalidArgument, match="non-finite"):
        mfn.fractal_dimension(f)
    with pytest.raises(mfn.InvalidArgument, match="non-finite"):
        mfn.compute_lyapunov_exponent(np.stack([f, f]))
    rng = np.random.default_rng(3)
    untouched(rng, lambda: pytest.raises(
        mfn.InvalidArgument, mfn.HierarchicalKrumAggregator().aggregate,
        [[1.0, np.nan], [1.0, 2.0]], rng=rng))
    with pytest.raises(mfn.InvalidArgument, match="non-finite"):
        mfn.aggregate([[1.0, 2.0], [np.inf, 1.0]])


def test_shapes_and_other_limits():
    with pytest.raises(mfn.InvalidArgument, match="square"):
        mfn.estimate_fractal_dimension(np.ones((4, 5), dtype=bool))
    with pytest.raises(mfn.InvalidArgument, match="num_scales"):
        mfn.estimate_fractal_dimension(np.ones((8, 8), dtype=bool), num_scales=1)
    with pytest.raises(mfn.InvalidArgument, match="ragged|values|length"):
        mfn.HierarchicalKrumAggregator().aggregate([[1.0, 2.0], [1.0]])
    with pytest.raises(mfn.InvalidArgument, match="No gradients"):
        mfn.HierarchicalKrumAggregator().aggregate([])
    with pytest.raises(mfn.InvalidArgument, match="z_valence"):
        mfn.compute_nernst_potential(0, 0.005, 0.14)
    with pytest.raises(mfn.InvalidArgument, match="temperature_k"):
        mfn.compute_nernst_potential(1, 0.005, 0.14, temperature_k=0.0)
    with pytest.raises(mfn.InvalidArgument, match="concentration_out_molar"):
        mfn.compute_nernst_potential(1, -1.0, 0.14)
    with pytest.raises(mfn.InvalidArgument, match="num_points"):
        mfn.generate_fractal_ifs(np.random.default_rng(0), num_points=0)
    with pytest.raises(mfn.InvalidArgument, match="num_transforms = 65"):
        mfn.generate_fractal_ifs(np.random.default_rng(0), num_transforms=65)
    with pytest.raises(mfn.InvalidArgument, match="steps"):
        mfn.simulate(grid_size=1024, steps=100, history=True)  # over the 2^24-value budget
    with pytest.raises(mfn.InvalidArgument, match="steps_per_frame"):
        list(mfn.stream(steps=5, steps_per_frame=6))
    with pytest.raises(mfn.InvalidArgument, match="epochs"):
        mfn.validate(epochs=0)
    with pytest.raises(mfn.InvalidArgument, match="num_clusters"):
        mfn.aggregate([[1.0], [2.0]], num_clusters=0)
    with pytest.raises(mfn.InvalidArgument, match="tool"):
        mfn.tool("no_such_tool")
