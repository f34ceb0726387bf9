#!/usr/bin/env python3
"""`simulate_mycelium_field` from the mfn wheel against the NumPy transcription (and a
Numba port when scripts/bench/numba_reference.py exists), the Python call overhead, and
two threads against one. Run with the python of a venv where the wheel is installed:

    python scripts/bench/python_bench.py [--reps 7] [--json out.json]

Every configuration is measured in the same run, engines interleaved per repetition,
the median reported, as wall time and as the process's CPU time (`time.process_time`;
on a shared, loaded machine CPU time is the steadier figure, single-threaded runs
use one core). Each engine's result is checked equal to the NumPy one first.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import threading
import time
from pathlib import Path

import numpy as np

import mfn

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "interop"))
import numpy_reference  # noqa: E402

CONFIGS = [(64, 64), (128, 100)]


def load_numba():
    path = HERE / "numba_reference.py"
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location("numba_reference", path)
    mod = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(mod)
    except ImportError as e:  # numba not installed in this venv
        print(f"numba port present but not importable ({e}); skipped", file=sys.stderr)
        return None
    return mod


def field_and_growth(run):
    """(V, growth) of the references' `(V, a, i, growth, activations, clamped)`."""
    return run[0], run[3]


def engines(numba_mod):
    out = {
        "mfn wheel": lambda seed, n, steps: mfn.simulate_mycelium_field(
            np.random.default_rng(seed), grid_size=n, steps=steps),
        "NumPy transcription": lambda seed, n, steps: field_and_growth(
            numpy_reference.simulate(seed, n, steps)),
    }
    if numba_mod is not None:
        # The port mirrors numpy_reference.simulate(seed, n, steps).
        out["Numba port"] = lambda seed, n, steps: field_and_growth(numba_mod.simulate(seed, n, steps))
    return out


def bench_configs(reps: int, numba_mod) -> list[dict]:
    rows = []
    eng = engines(numba_mod)
    for n, steps in CONFIGS:
        want = eng["NumPy transcription"](42, n, steps)
        for name, f in eng.items():
            got = f(42, n, steps)  # also the warm-up (JIT compilation for Numba)
            if np.asarray(got[0]).tobytes() != np.asarray(want[0]).tobytes() or got[1] != want[1]:
                raise SystemExit(f"{name} differs from the NumPy transcription at {n}×{n}×{steps}")
        times = {name: [] for name in eng}
        cpus = {name: [] for name in eng}
        for _ in range(reps):
            for name, f in eng.items():
                c0, t0 = time.process_time(), time.perf_counter()
                f(42, n, steps)
                times[name].append(time.perf_counter() - t0)
                cpus[name].append(time.process_time() - c0)
        base = statistics.median(times["NumPy transcription"])
        base_cpu = statistics.median(cpus["NumPy transcription"])
        for name, ts in times.items():
            med, cpu = statistics.median(ts), statistics.median(cpus[name])
            rows.append({"config": f"{n}×{n}×{steps}", "engine": name, "median_ms": med * 1e3,
                         "cpu_ms": cpu * 1e3, "speedup_vs_numpy": base / med,
                         "cpu_speedup_vs_numpy": base_cpu / cpu})
    return rows


def call_overhead(reps: int) -> dict:
    rng = np.random.default_rng(1)
    out = {}
    for name, f in [
        ("simulate_mycelium_field(rng, 8, 1)",
         lambda: mfn.simulate_mycelium_field(rng, grid_size=8, steps=1)),
        ("mfn.simulate(grid_size=8, steps=1)", lambda: mfn.simulate(grid_size=8, steps=1)),
    ]:
        for _ in range(1000):
            f()
        per, cpu = [], []
        for _ in range(reps):
            k = 20000
            c0, t0 = time.process_time(), time.perf_counter()
            for _ in range(k):
                f()
            per.append((time.perf_counter() - t0) / k)
            cpu.append((time.process_time() - c0) / k)
        out[name] = {"wall_us": statistics.median(per) * 1e6,
                     "cpu_us": statistics.median(cpu) * 1e6}
    return out


def threads(reps: int, n: int) -> dict:
    """One run against two runs in two threads. Below 256×256 a run uses one thread, so
    on two free cores the pair takes about as long as one run when the GIL is released;
    from 256×256 a run alone splits its rows over both cores, and two at once each
    step on one."""
    kw = dict(grid_size=n, steps=200)

    def one(seed):
        mfn.simulate(seed=seed, **kw)

    singles, pairs, cpu_ratio = [], [], []
    for _ in range(reps):
        t0 = time.perf_counter()
        one(1)
        singles.append(time.perf_counter() - t0)
        ts = [threading.Thread(target=one, args=(i,)) for i in (1, 2)]
        c0, t0 = time.process_time(), time.perf_counter()
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        pairs.append(time.perf_counter() - t0)
        cpu_ratio.append((time.process_time() - c0) / pairs[-1])
    s, p = statistics.median(singles), statistics.median(pairs)
    # CPU/wall of the pair: ~2 when both threads compute at once on two free cores.
    return {"one_run_ms": s * 1e3, "two_threads_ms": p * 1e3, "ratio": p / s,
            "pair_cpu_per_wall": statistics.median(cpu_ratio)}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    numba_mod = load_numba()
    rows = bench_configs(args.reps, numba_mod)
    print(f"{'config':<14} {'engine':<22} {'wall ms':>9} {'× NumPy':>8} {'CPU ms':>9} "
          f"{'× NumPy':>8}")
    for r in rows:
        print(f"{r['config']:<14} {r['engine']:<22} {r['median_ms']:>9.2f} "
              f"{r['speedup_vs_numpy']:>8.1f} {r['cpu_ms']:>9.2f} {r['cpu_speedup_vs_numpy']:>8.1f}")
    over = call_overhead(args.reps)
    for name, us in over.items():
        print(f"call overhead {name}: {us['cpu_us']:.2f} µs CPU, {us['wall_us']:.2f} µs wall")
    th = {}
    for n in (192, 256):
        t = th[f"{n}x{n}x200"] = threads(args.reps, n)
        print(f"{n}×{n}×200: one run {t['one_run_ms']:.1f} ms, two threads {t['two_threads_ms']:.1f}"
              f" ms (ratio {t['ratio']:.2f}; pair CPU/wall {t['pair_cpu_per_wall']:.2f})")
    if args.json:
        args.json.write_text(json.dumps({"simulate": rows, "call_overhead_us": over,
                                         "threads": th,
                                         "numba": numba_mod is not None}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
