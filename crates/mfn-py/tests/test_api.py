"""The modern in-process API: results, zero-copy fields, streams, steering, tools."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

import mfn


def test_simulate_equals_dropin_and_goldens():
    r = mfn.simulate(seed=42)
    f, g = mfn.simulate_mycelium_field(np.random.default_rng(42))
    assert r.field.tobytes() == f.tobytes() and r.growth_events == g == 14
    assert (r.pot_min_mv, r.pot_max_mv, r.pot_mean_mv, r.pot_std_mv) == (
        -70.70938698488536, -67.30757873491174, -70.03076248064738, 0.3302476077214526)
    assert (r.seed, r.grid_size, r.steps, r.alpha) == (42, 64, 64, 0.18)
    assert r.field_sha256 == hashlib.sha256(f.astype("<f8").tobytes()).hexdigest()
    assert r.field_mv.tobytes() == (f * 1000.0).tobytes()
    assert r.history is None


def test_field_is_not_copied():
    r = mfn.simulate(seed=1, grid_size=32, steps=4)
    # NumPy wraps the engine's buffer: it does not own the memory.
    assert not r.field.flags.owndata and r.field.base is not None
    assert r.field.flags.c_contiguous and r.field.dtype == np.float64
    f, _ = mfn.simulate_mycelium_field(np.random.default_rng(1), grid_size=32, steps=4)
    assert not f.flags.owndata


def test_history():
    r = mfn.simulate(seed=3, grid_size=16, steps=12, history=True)
    assert r.history.shape == (12, 16, 16)
    assert r.history[-1].tobytes() == r.field.tobytes()
    short = mfn.simulate(seed=3, grid_size=16, steps=5)
    assert r.history[4].tobytes() == short.field.tobytes()  # one run, prefix property


def test_stream_frames_are_one_run():
    frames = list(mfn.stream(seed=7, grid_size=24, steps=25, steps_per_frame=10,
                             include_field=True))
    assert [f.step for f in frames] == [10, 20, 25]
    assert [f.is_final for f in frames] == [False, False, True]
    r = mfn.simulate(seed=7, grid_size=24, steps=25)
    last = frames[-1]
    assert last.field.tobytes() == r.field.tobytes()
    assert (last.growth_events, last.pot_mean_mv, last.fractal_dimension) == (
        r.growth_events, r.pot_mean_mv, r.fractal_dimension)
    mid = mfn.simulate(seed=7, grid_size=24, steps=20)
    assert frames[1].field.tobytes() == mid.field.tobytes()


def test_local_steering_replays():
    with mfn.steer(seed=5, grid_size=16, steps=30, steps_per_frame=10, paused=True) as run:
        run.set_parameters(alpha=0.22, apply_at_step=15)
        run.resume()
        events = list(run)
    acks = [e for e in events if isinstance(e, mfn.SteerAck)]
    frames = [e for e in events if isinstance(e, mfn.Frame)]
    assert [a.command for a in acks] == ["start", "resume", "set_parameters"]
    assert acks[-1].applied_at_step == 15 and acks[-1].alpha == 0.22
    assert [f.step for f in frames] == [10, 20, 30]
    # The same run by hand: 15 steps at 0.18, 15 at 0.22.
    s = mfn._core.Stepper(5, 16, 30)
    s.advance(15)
    s.set_parameters(alpha=0.22)
    d = s.advance(15)
    assert d["pot_mean_mV"] == frames[-1].pot_mean_mv
    assert d["growth_events"] == frames[-1].growth_events


def test_features_validate_and_others():
    fr = mfn.features(seed=42, grid_size=32, steps=32, with_history=True)
    assert fr.features.V_min == -71.09454351242177 and fr.features.T_stable == 32
    frames = list(mfn.stream_features(seed=42, grid_size=32, steps=32, with_history=True,
                                      steps_per_frame=16))
    assert [f.step for f in frames] == [16, 32]
    assert frames[-1].features == fr.features
    plain = mfn.features(seed=42, grid_size=32, steps=32)
    last = list(mfn.stream_features(seed=42, grid_size=32, steps=32, steps_per_frame=32))[-1]
    assert last.features == plain.features
    n = mfn.nernst(1, 5e-3, 140e-3)
    assert n.potential_mv == -89.01066911987907 and n.temperature_k == 310.0
    assert n.rt_over_f_mv == 26.71224675678714
    g = np.array([[1, 2, 3], [1.1, 2.1, 3.1], [0.9, 1.9, 2.9], [100, 100, 100]])
    assert np.allclose(mfn.aggregate(g, num_clusters=2), [1, 2, 3], rtol=0, atol=1e-12)
    fd = mfn.fractal_dimension(np.ones((64, 64)), threshold=0.5)
    assert abs(fd.dimension - 2.0) < 1e-3 and fd.box_sizes == (2, 4, 7, 16, 32)
    i = mfn.ifs(seed=42, points=1000)
    assert i.lyapunov == -2.3317039324074043
    assert i.points_sha256 == "675b1916663897d8ce302988042e1ea34b1895961bc9a2da8cd9224a29735e09"
    v = mfn.validate(grid_size=16, steps=8)
    assert isinstance(v, mfn.ValidationReport) and v.nernst_numeric_mv == -89.01066911987907
    assert set(v.to_dict()) >= {"loss_start", "pot_min_mV", "nernst_rtfz_mV"}


def test_extract_network_and_graph_tools():
    net = mfn.extract_network(name="py-net", seed=42, grid_size=64, steps=64)
    assert net.nodes and net.edges
    assert {"x", "y", "kind"} <= set(net.nodes[0])
    assert "length" in net.edges[0]
    assert net.metrics and net.skeleton_pixels > 0
    info = mfn.tool("get_info", graph="py-net")
    assert info["num_nodes"] == len(net.nodes) and info["num_edges"] == len(net.edges)
    nx = pytest.importorskip("networkx")
    g = net.graph
    assert isinstance(g, nx.Graph)
    assert g.number_of_nodes() == len(net.nodes) and g.number_of_edges() == len(net.edges)
    # From a field too: the same field gives the same network.
    f = mfn.simulate(seed=42).field
    again = mfn.extract_network(f, name="py-net-2")
    assert again.nodes == net.nodes and again.edges == net.edges
