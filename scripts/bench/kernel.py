#!/usr/bin/env python3
"""Time the field simulation kernel against its peers in one run (issue 16 §1).

Engines, all on the same configurations and seed:
  numpy    the plain NumPy transcription of the reference (scripts/interop/numpy_reference.py)
  numba    the Numba port (scripts/bench/numba_reference.py; compiled before timing)
  mfn      `mfn simulate --repeat K` (in-process wall time per run, median over K),
           RAYON_NUM_THREADS=1, and =2 for the 512 grid
  stencil  a plain one-array periodic 5-point stencil in Rust, the machine-limit
           yardstick (crates/mfn-core/benches/common/plain_stencil.rs, through
           `cargo run --release -p mfn-core --example kernel_timing`)

The machine may be shared: every round runs every engine once (a batch of K runs, the
batch's median kept), in an order that rotates between rounds; the figure reported is
the median over rounds, with the spread. Before timing, the field, activator and
inhibitor of numpy, numba and mfn are compared bit for bit on each configuration.

    python scripts/bench/kernel.py --mfn target/release/mfn \
        --timing target/release/examples/kernel_timing [--rounds 7] [--json out.json]
"""
import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "interop"))
sys.path.insert(0, HERE)
import numba_reference  # noqa: E402
import numpy_reference  # noqa: E402

CONFIGS = [(64, 64), (128, 100), (512, 100)]
SEED = 42


def sha(x):
    return hashlib.sha256(np.ascontiguousarray(x).astype("<f8").tobytes()).hexdigest()


def batch_size(n, steps):
    """Runs per batch: about the same work per batch for every grid."""
    cells = n * n * steps
    return max(1, min(200, int(2.6e7 // cells)))


def py_batch(fn, n, steps, k):
    ts = []
    for _ in range(k):
        t = time.perf_counter()
        fn(SEED, n, steps)
        ts.append((time.perf_counter() - t) * 1e3)
    return statistics.median(ts)


def mfn_batch(mfn, n, steps, k, threads):
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    out = subprocess.run(
        [mfn, "--format", "json", "simulate", "--seed", str(SEED), "--grid-size", str(n),
         "--steps", str(steps), "--repeat", str(k)],
        check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out)["timing"]["median_ms"]


def stencil_batch(timing, n, steps, k):
    env = dict(os.environ, RAYON_NUM_THREADS="1")
    out = subprocess.run([timing, "stencil", str(n), str(steps), str(k)],
                         check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out)["median_ms"]


def check_bit_exact(mfn, n, steps):
    V, a, i, *_ = numpy_reference.simulate(SEED, n, steps)
    Vb, ab, ib, *_ = numba_reference.simulate(SEED, n, steps)
    out = json.loads(subprocess.run(
        [mfn, "--format", "json", "simulate", "--seed", str(SEED), "--grid-size", str(n),
         "--steps", str(steps)], check=True, capture_output=True, text=True).stdout)
    want = (sha(V), sha(a), sha(i))
    numba_ok = (sha(Vb), sha(ab), sha(ib)) == want
    mfn_ok = (out["field_sha256"], out["activator_sha256"], out["inhibitor_sha256"]) == want
    return numba_ok, mfn_ok


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mfn", required=True)
    ap.add_argument("--timing", required=True, help="the kernel_timing example binary")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--json", help="write every round's figures here")
    ap.add_argument("--configs", default="64x64,128x100,512x100")
    args = ap.parse_args()
    configs = [tuple(int(x) for x in c.split("x")) for c in args.configs.split(",")]

    numba_reference.simulate(SEED, 8, 2)  # compile (cached on disk) before timing
    for n, steps in configs:
        numba_ok, mfn_ok = check_bit_exact(args.mfn, n, steps)
        print("bit-exact with numpy at %dx%dx%d: numba %s, mfn %s" % (n, n, steps, numba_ok, mfn_ok))
        if not (numba_ok and mfn_ok):
            sys.exit("not bit-exact: timings would compare different computations")

    load_before = os.getloadavg()
    results = {}
    for n, steps in configs:
        k = batch_size(n, steps)
        engines = {
            "numpy": lambda: py_batch(numpy_reference.simulate, n, steps, max(1, k // 8)),
            "numba": lambda: py_batch(numba_reference.simulate, n, steps, k),
            "mfn-1t": lambda: mfn_batch(args.mfn, n, steps, k, 1),
            "stencil-1t": lambda: stencil_batch(args.timing, n, steps, k),
        }
        if n >= 256:
            engines["mfn-2t"] = lambda: mfn_batch(args.mfn, n, steps, k, 2)
        names = list(engines)
        rounds = {name: [] for name in names}
        for r in range(args.rounds):
            order = names[r % len(names):] + names[:r % len(names)]
            for name in order:
                rounds[name].append(engines[name]())
        results["%dx%dx%d" % (n, n, steps)] = {
            "batch_runs": k, "rounds": rounds,
            "median_ms": {name: statistics.median(v) for name, v in rounds.items()},
        }
    load_after = os.getloadavg()

    print("\nload average before %s, after %s; %d rounds, median of per-round batch medians\n"
          % (" ".join("%.2f" % x for x in load_before), " ".join("%.2f" % x for x in load_after),
             args.rounds))
    print("| grid | NumPy | Numba | plain stencil (1 thread) | mfn 1 thread | mfn 2 threads "
          "| mfn vs NumPy | mfn vs Numba | mfn / stencil time | mfn cell-updates/s | stencil cell-updates/s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for (n, steps), (key, res) in zip(configs, results.items()):
        m = res["median_ms"]
        cells = n * n * steps
        spread = lambda name: "%.3g–%.3g" % (min(res["rounds"][name]), max(res["rounds"][name]))  # noqa: E731
        two = ("%.3f ms (%.2f× 1 thread)" % (m["mfn-2t"], m["mfn-1t"] / m["mfn-2t"])) if "mfn-2t" in m else "—"
        print("| %s | %.3f ms | %.3f ms | %.3f ms | %.3f ms [%s] | %s | %.1f× | %.2f× | %.2f× | %.0f M/s | %.0f M/s |" % (
            key, m["numpy"], m["numba"], m["stencil-1t"], m["mfn-1t"], spread("mfn-1t"), two,
            m["numpy"] / m["mfn-1t"], m["numba"] / m["mfn-1t"], m["mfn-1t"] / m["stencil-1t"],
            cells / m["mfn-1t"] / 1e3, cells / m["stencil-1t"] / 1e3))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"load_before": load_before, "load_after": load_after, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
