#!/usr/bin/env python3
"""Slow NumPy transcription of SCIENCE.md §2 (field simulation), used as an oracle.

It draws from numpy.random.default_rng exactly as the spec says, so `mfn simulate` must
produce the same field, activator and inhibitor bytes (SHA-256 of little-endian f64,
row-major) and the same counters and statistics for every configuration. Run by
scripts/test.sh against the built `mfn` binary; `scripts/bench/numba_reference.py`
checks its Numba port against `simulate` here too.
"""
import hashlib
import json
import subprocess
import sys

import numpy as np


def lap(u):
    return np.roll(u, 1, 0) + np.roll(u, -1, 0) + np.roll(u, 1, 1) + np.roll(u, -1, 1) - 4 * u


def simulate(seed, n, steps, alpha=0.18, p=0.25, turing=True, thr=0.75, jitter=False, jvar=0.0005):
    rng = np.random.default_rng(seed)
    V = rng.normal(-0.070, 0.005, (n, n))
    if turing:
        a = rng.uniform(0, 0.1, (n, n))
        i = rng.uniform(0, 0.1, (n, n))
    growth = act = clamp = 0
    for _ in range(steps):
        if rng.random() < p:
            r = rng.integers(0, n)
            c = rng.integers(0, n)
            V[r, c] += rng.normal(0.02, 0.005)
            growth += 1
        V = V + alpha * lap(V)
        if turing:
            La, Li = lap(a), lap(i)
            # The reference updates in place (`a += …`), so NumPy evaluates the whole
            # right-hand side first: a + (D_a·La + r_a·(a(1−a) − i)), not (a + D_a·La) + ….
            a += 0.1 * La + 0.01 * (a * (1 - a) - i)
            i += 0.05 * Li + 0.02 * (a - i)
            mask = a > thr
            V[mask] += 0.005
            act += int(mask.sum())
            a = np.clip(a, 0, 1)
            i = np.clip(i, 0, 1)
        if jitter:
            V = V + rng.normal(0, np.sqrt(jvar), (n, n))
        clamp += int(((V < -0.095) | (V > 0.040)).sum())
        V = np.clip(V, -0.095, 0.040)
    if not turing:
        a = i = None
    return V, a, i, growth, act, clamp


def sha256(x):
    return hashlib.sha256(x.astype("<f8").tobytes()).hexdigest()


CASES = [
    dict(seed=42, n=8, steps=3),
    dict(seed=42, n=64, steps=64),
    dict(seed=7, n=33, steps=50, jitter=True, jvar=0.0001),
    dict(seed=1, n=48, steps=40, turing=False),
    dict(seed=3, n=40, steps=60, alpha=0.25, p=1.0, thr=0.05),
    dict(seed=2**40 + 5, n=20, steps=30, jitter=True, jvar=0.01, thr=0.1),
    dict(seed=0, n=128, steps=100),
    # Low thresholds: many cells cross, so the activator's last bits decide the field.
    dict(seed=42, n=32, steps=200, thr=0.02),
    dict(seed=5, n=32, steps=200, thr=0.05),
    dict(seed=11, n=24, steps=150, thr=0.08, jitter=True, jvar=0.0005),
    dict(seed=42, n=32, steps=200, thr=0.12, jitter=True, jvar=0.002),
    dict(seed=9, n=17, steps=300, thr=0.03, p=0.9, jitter=True, jvar=0.01),
    # N >= 256: row-parallel steps in mfn.
    dict(seed=4, n=260, steps=20, thr=0.06, jitter=True, jvar=0.0005),
    dict(seed=8, n=256, steps=15, turing=False),
]


def main(mfn):
    failures = 0
    for case in CASES:
        V, a, i, growth, act, clamp = simulate(**case)
        args = [mfn, "simulate", "--format", "json", "--seed", str(case["seed"]),
                "--grid-size", str(case["n"]), "--steps", str(case["steps"])]
        if "alpha" in case:
            args += ["--alpha", repr(case["alpha"])]
        if "p" in case:
            args += ["--spike-probability", repr(case["p"])]
        if case.get("turing") is False:
            args += ["--no-turing"]
        if "thr" in case:
            args += ["--turing-threshold", repr(case["thr"])]
        if case.get("jitter"):
            args += ["--quantum-jitter", "--jitter-var", repr(case["jvar"])]
        out = json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)
        want = {
            "field_sha256": sha256(V),
            "growth_events": growth, "turing_activations": act, "clamping_events": clamp,
            "pot_mean_mV": float(V.mean() * 1000), "pot_std_mV": float(V.std() * 1000),
            "pot_min_mV": float(V.min() * 1000), "pot_max_mV": float(V.max() * 1000),
            "activator_mean": float(a.mean()) if a is not None else 0.0,
            "inhibitor_mean": float(i.mean()) if i is not None else 0.0,
        }
        if a is not None:
            want["activator_sha256"] = sha256(a)
            want["inhibitor_sha256"] = sha256(i)
        else:
            # Without Turing there is no activator/inhibitor state to hash.
            want["activator_sha256"] = None
            want["inhibitor_sha256"] = None
        bad = {k: (out.get(k), v) for k, v in want.items() if out.get(k) != v}
        status = "ok" if not bad else "MISMATCH %r" % bad
        print("numpy-reference %-70s %s" % (json.dumps(case), status))
        failures += bool(bad)
    print("%d passed, %d failed" % (len(CASES) - failures, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "target/release/mfn"))
