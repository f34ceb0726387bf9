"""The reference's functions: bit for bit against the NumPy transcription of SCIENCE.md,
the caller's generator left where the reference leaves it, and SCIENCE.md's goldens."""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest

import mfn
import numpy_reference  # scripts/interop/numpy_reference.py (conftest puts it on the path)

REF_CASES = numpy_reference.CASES  # the configurations `mfn simulate` is checked on


def ref_run(rng, case):
    """The NumPy transcription, drawing from `rng` (default_rng(gen) returns gen)."""
    kw = {k: v for k, v in case.items() if k != "seed"}
    return numpy_reference.simulate(rng, **kw)


def ours(rng, case):
    return mfn.simulate_mycelium_field(
        rng, grid_size=case["n"], steps=case["steps"], alpha=case.get("alpha", 0.18),
        spike_probability=case.get("p", 0.25), turing_enabled=case.get("turing", True),
        turing_threshold=case.get("thr", 0.75), quantum_jitter=case.get("jitter", False),
        jitter_var=case.get("jvar", 0.0005))


def predraw(rng, how):
    """Leave `rng` mid-stream: float draws, normals, and a 32-bit integer draw that
    leaves the high half cached (`has_uint32 = 1`)."""
    if how == "random":
        rng.random(3)
    elif how == "normal":
        rng.standard_normal(7)
    elif how == "uint32-cached":
        rng.integers(0, 64)
        assert rng.bit_generator.state["has_uint32"] == 1
    return rng


@pytest.mark.parametrize("case", REF_CASES, ids=lambda c: "-".join(f"{k}{v}" for k, v in c.items()))
@pytest.mark.parametrize("how", ["fresh", "random", "normal", "uint32-cached"])
def test_simulate_mycelium_field_equals_numpy_transcription(case, how):
    if case["n"] >= 128 and how != "fresh":
        pytest.skip("the 128×128 case runs once (fresh); it is slow in NumPy")
    a = predraw(np.random.default_rng(case["seed"]), how)
    b = predraw(np.random.default_rng(case["seed"]), how)
    field, growth = ours(a, case)
    V, _, _, ref_growth, _, _ = ref_run(b, case)
    assert field.dtype == np.float64 and field.shape == (case["n"], case["n"])
    assert field.tobytes() == V.astype("<f8").tobytes()
    assert growth == ref_growth
    assert type(growth) is int
    # The caller's generator ends exactly where the reference leaves it.
    assert a.bit_generator.state == b.bit_generator.state
    assert a.integers(0, 1 << 30, size=5).tolist() == b.integers(0, 1 << 30, size=5).tolist()
    assert a.random() == b.random()


def test_reference_signature_and_defaults():
    sig = inspect.signature(mfn.simulate_mycelium_field)
    assert list(sig.parameters) == [
        "rng", "grid_size", "steps", "alpha", "spike_probability", "turing_enabled",
        "turing_threshold", "quantum_jitter", "jitter_var"]
    defaults = {k: p.default for k, p in sig.parameters.items() if k != "rng"}
    assert defaults == dict(grid_size=64, steps=64, alpha=0.18, spike_probability=0.25,
                            turing_enabled=True, turing_threshold=0.75, quantum_jitter=False,
                            jitter_var=0.0005)
    # The modern API's defaults are the engine's own (nothing passed = SCIENCE.md §2).
    eng = mfn._core.simulate(grid_size=4, steps=1)
    for k in mfn._local.PARAM_NAMES:
        assert eng[k] == mfn._local.SIM_DEFAULTS[k], k
    assert eng["seed"] == mfn._local.SIM_DEFAULTS["seed"]
    assert list(inspect.signature(mfn.compute_nernst_potential).parameters) == [
        "z_valence", "concentration_out_molar", "concentration_in_molar", "temperature_k"]
    assert list(inspect.signature(mfn.generate_fractal_ifs).parameters) == [
        "rng", "num_points", "num_transforms"]


def test_simulation_goldens():
    f, g = mfn.simulate_mycelium_field(np.random.default_rng(42), grid_size=8, steps=3)
    assert g == 2
    assert f.sum() == -4.416234402044351
    assert f.min() == -0.07222537700526518
    assert f.max() == -0.06258683108778136
    assert f[0, :3].tolist() == [-0.07031207471055746, -0.06955340557743396,
                                 -0.06921025934994618]
    f, g = mfn.simulate_mycelium_field(np.random.default_rng(42), grid_size=16, steps=10)
    assert (g, f.sum(), f.min(), f.max()) == (1, -17.959042582110875, -0.07200391233595918,
                                              -0.06880168739837775)
    f, g = mfn.simulate_mycelium_field(np.random.default_rng(42))
    assert g == 14
    assert (f.min() * 1000, f.max() * 1000) == (-70.70938698488536, -67.30757873491174)
    assert f.mean() * 1000 == -70.03076248064738
    assert f.std() * 1000 == 0.3302476077214526


def ifs_transcription(rng, num_points, num_transforms):
    """SCIENCE.md §6 in NumPy, draw for draw."""
    maps = []
    for _ in range(num_transforms):
        s = rng.uniform(0.2, 0.5)
        th = rng.uniform(0, 2 * np.pi)
        a, b, c, d = s * np.cos(th), -s * np.sin(th), s * np.sin(th), s * np.cos(th)
        maps.append((a, b, c, d, rng.uniform(-1, 1), rng.uniform(-1, 1)))
    pts = np.zeros((num_points, 2))
    x = y = 0.0
    acc, kept = 0.0, 0
    for i in range(num_points):
        a, b, c, d, e, f = maps[rng.integers(0, num_transforms)]
        x, y = a * x + b * y + e, c * x + d * y + f
        pts[i] = (x, y)
        det = abs(a * d - b * c)
        if det > 1e-10:
            acc += np.log(det)
            kept += 1
    return pts, acc / kept


def test_generate_fractal_ifs_golden_and_generator():
    rng = np.random.default_rng(42)
    pts, lyap = mfn.generate_fractal_ifs(rng, num_points=1000)
    assert pts.shape == (1000, 2)
    assert lyap == -2.3317039324074043
    assert pts[0].tolist() == [0.7171958398227649, 0.3947360581187278]
    assert pts[999].tolist() == [0.33896242284434736, 0.20859283437867665]
    assert rng.bit_generator.random_raw() == 5790310659171566761
    # Mid-stream, against the transcription, generator state included.
    a = predraw(np.random.default_rng(9), "uint32-cached")
    b = predraw(np.random.default_rng(9), "uint32-cached")
    p1, l1 = mfn.generate_fractal_ifs(a, 300, 7)
    p2, l2 = ifs_transcription(b, 300, 7)
    assert p1.tobytes() == p2.tobytes() and l1 == l2
    assert a.bit_generator.state == b.bit_generator.state


def test_nernst_goldens():
    k = mfn.compute_nernst_potential(1, 5e-3, 140e-3)
    assert k * 1000.0 == -89.01066911987907
    assert abs(mfn.compute_nernst_potential(1, 145e-3, 12e-3) * 1000 - 66.5623) < 1e-4
    assert abs(mfn.compute_nernst_potential(-1, 120e-3, 4e-3) * 1000 + 90.8536) < 1e-4
    assert abs(mfn.compute_nernst_potential(2, 2e-3, 100e-9) * 1000 - 101.5186) < 1e-4
    assert mfn.compute_nernst_potential(1, 5e-3, 140e-3, 310.0) == k


def box_count_transcription(mask, min_box=2, max_box=None, num_scales=5):
    """SCIENCE.md §4 in NumPy: the reference's algorithm."""
    n = mask.shape[0]
    if max_box is None:
        max_box = min(min_box * 2 ** (num_scales - 1), n // 2 if n >= 4 else n)
    sizes = np.unique(np.geomspace(min_box, max_box, num_scales).astype(int))
    counts = []
    for s in sizes:
        m = (n // s) * s
        c = mask[:m, :m].reshape(m // s, s, m // s, s).any(axis=(1, 3)).sum()
        counts.append(c)
    counts = np.array(counts, dtype=float)
    ok = counts > 0
    if ok.sum() < 2:
        return 0.0, sizes
    slope = np.polyfit(np.log(1.0 / sizes[ok]), np.log(counts[ok]), 1)[0]
    return float(slope), sizes


def carpet(level):
    m = np.ones((1, 1), dtype=bool)
    for _ in range(level):
        z = np.zeros_like(m)
        m = np.block([[m, m, m], [m, z, m], [m, m, m]])
    return m


def test_fractal_dimension_goldens():
    for n, want in [(64, [2, 4, 7, 16, 32]), (32, [2, 3, 5, 9, 16]), (16, [2, 3, 5, 8]),
                    (8, [2, 3, 4])]:
        assert mfn._core.box_count(np.ones((n, n), dtype=bool))[2] == want
    # The default sizes include 7, which crops 64 to 63: 1.9993, not exactly 2.
    assert abs(mfn.estimate_fractal_dimension(np.ones((64, 64), dtype=bool)) - 2.0) < 1e-3
    line = np.zeros((64, 64), dtype=bool)
    line[31] = True
    assert abs(mfn.estimate_fractal_dimension(line) - 1.0) < 0.02
    c = carpet(5)  # 243×243
    d = mfn.estimate_fractal_dimension(c, min_box_size=3, max_box_size=81, num_scales=4)
    assert abs(d - math.log(8) / math.log(3)) < 0.02
    for mask, kw in [(c, dict(min_box_size=3, max_box_size=81, num_scales=4)), (line, {}),
                     (np.random.default_rng(1).random((50, 50)) > 0.7, dict(num_scales=6))]:
        want, _ = box_count_transcription(mask, kw.get("min_box_size", 2),
                                          kw.get("max_box_size"), kw.get("num_scales", 5))
        assert abs(mfn.estimate_fractal_dimension(mask, **kw) - want) < 1e-9
    assert mfn.estimate_fractal_dimension(np.zeros((16, 16), dtype=bool)) == 0.0
    # Numbers count as occupied where non-zero, as the reference's boolean use of them.
    assert mfn.estimate_fractal_dimension(line.astype(float)) == mfn.estimate_fractal_dimension(line)


FEATURE_GOLDEN = dict(
    D_box=0.0, D_r2=0.0, V_min=-71.09454351242177, V_max=-67.27469469838402,
    V_mean=-69.94989814999815, V_std=0.5591327365361041, V_skew=0.2236791665853145,
    V_kurt=0.09424593359398514, dV_mean=0.08824437382069292, dV_max=7.249311410581399,
    T_stable=32, E_trend=-1015.6993654009838, f_active=0.0, N_clusters_low=0,
    N_clusters_med=0, N_clusters_high=0, max_cluster_size=0, cluster_size_std=0.0)


def test_compute_features_golden():
    rng = np.random.default_rng(42)
    # The history of a 32×32, 32-step run of seed 42, step by step from the drop-in.
    hist = mfn.simulate(seed=42, grid_size=32, steps=32, history=True).history
    last, _ = mfn.simulate_mycelium_field(rng, grid_size=32, steps=32)
    assert hist[-1].tobytes() == last.tobytes()
    fv = mfn.compute_features(hist)
    assert isinstance(fv, mfn.FeatureVector)
    for k, want in FEATURE_GOLDEN.items():
        got = getattr(fv, k)
        assert abs(got - want) <= 1e-12 * max(1.0, abs(want)), (k, got, want)
    assert fv.to_array().shape == (18,) and list(fv.to_dict()) == list(mfn.FEATURE_NAMES)
    # One field is T = 1; an adaptive threshold finds structure.
    single = mfn.compute_features(last)
    assert single.T_stable == 0 and single.V_mean == fv.V_mean
    adaptive = mfn.compute_features(last, mfn.FeatureConfig(adaptive_threshold=True))
    assert adaptive.D_box > 1.0 and adaptive.f_active > 0.3


def test_lyapunov_of_history():
    e = math.e
    h = np.array([[0.0] * 4, [1.0] * 4, [1 + 1 / e] * 4, [1 + 1 / e + 1 / e ** 2] * 4])
    assert abs(mfn.compute_lyapunov_exponent(h) + 1.0) < 1e-12
    assert abs(mfn.compute_lyapunov_exponent(h.reshape(4, 2, 2), dt=2.0) + 0.5) < 1e-12


def test_krum_golden_and_generator():
    g = [np.array([1.0, 2.0, 3.0]), np.array([1.1, 2.1, 3.1]), np.array([0.9, 1.9, 2.9]),
         np.array([100.0, 100.0, 100.0])]
    agg = mfn.HierarchicalKrumAggregator(num_clusters=2)
    a = np.random.default_rng(42)
    out = agg.aggregate(g, rng=a)
    assert np.allclose(out, [1.0, 2.0, 3.0], rtol=0, atol=1e-12)
    assert out.shape == (3,)
    # The cluster assignment is one integers(0, 2) per gradient from the caller's rng.
    b = np.random.default_rng(42)
    b.integers(0, 2, size=4)
    assert a.bit_generator.state == b.bit_generator.state
    # rng=None is reproducible (default_rng(42)); lists of lists work too.
    assert agg.aggregate([x.tolist() for x in g]).tolist() == agg.aggregate(g).tolist()
    # Matches the modern API with the same seed.
    assert agg.aggregate(g).tolist() == mfn.aggregate(np.stack(g), num_clusters=2,
                                                      seed=42).tolist()
