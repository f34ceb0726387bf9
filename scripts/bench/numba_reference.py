#!/usr/bin/env python3
"""A Numba port of the reference field simulation (SCIENCE.md §2), as a Python user who
wants speed would write it: `@njit` with fastmath off, one fused loop per step over
row-major float64 arrays with wrap-around neighbour indices, the activator/inhibitor
update, Turing mask and clamp in the same loop, and the spike and jitter draws from the
same NumPy `Generator` as the reference (drawn in Python, outside the compiled loop, so
the stream is NumPy's own).

Each cell evaluates the reference's expression tree in the reference's order, without
fused multiply-add (fastmath off), so the result is bit-exact with the NumPy
transcription in `scripts/interop/numpy_reference.py`; `--check` proves it on a set of
configurations (field, activator and inhibitor bytes, counters).

    python scripts/bench/numba_reference.py --check
"""
import hashlib
import os
import sys

import numpy as np
from numba import njit

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "interop"))
import numpy_reference  # noqa: E402  (the plain NumPy transcription)


@njit(cache=True, fastmath=False)
def _step(V, a, i, Vn, an, inn, alpha, turing, thr, jitter, z):
    n = V.shape[0]
    act = 0
    clamp = 0
    for r in range(n):
        up = r - 1 if r > 0 else n - 1
        dn = r + 1 if r < n - 1 else 0
        for c in range(n):
            lf = c - 1 if c > 0 else n - 1
            rt = c + 1 if c < n - 1 else 0
            m = V[r, c]
            v = m + alpha * (V[up, c] + V[dn, c] + V[r, lf] + V[r, rt] - 4.0 * m)
            if turing:
                a0 = a[r, c]
                i0 = i[r, c]
                la = a[up, c] + a[dn, c] + a[r, lf] + a[r, rt] - 4.0 * a0
                li = i[up, c] + i[dn, c] + i[r, lf] + i[r, rt] - 4.0 * i0
                a1 = a0 + (0.1 * la + 0.01 * (a0 * (1.0 - a0) - i0))
                i1 = i0 + (0.05 * li + 0.02 * (a1 - i0))
                if a1 > thr:
                    v += 0.005
                    act += 1
                an[r, c] = min(max(a1, 0.0), 1.0)
                inn[r, c] = min(max(i1, 0.0), 1.0)
            if jitter:
                v += z[r, c]
            if v < -0.095:
                v = -0.095
                clamp += 1
            elif v > 0.040:
                v = 0.040
                clamp += 1
            Vn[r, c] = v
    return act, clamp


@njit(cache=True, fastmath=False)
def _run(rng, V, a, i, steps, alpha, p, turing, thr, jitter, scale):
    n = V.shape[0]
    Vn, an, inn = np.empty_like(V), np.empty_like(a), np.empty_like(i)
    z = np.zeros((1, 1))
    growth = act = clamp = 0
    for _ in range(steps):
        if rng.random() < p:
            r = rng.integers(0, n)
            c = rng.integers(0, n)
            V[r, c] += rng.normal(0.02, 0.005)
            growth += 1
        if jitter:
            z = rng.normal(0.0, scale, (n, n))
        da, dc = _step(V, a, i, Vn, an, inn, alpha, turing, thr, jitter, z)
        act += da
        clamp += dc
        V, Vn = Vn, V
        if turing:
            a, an = an, a
            i, inn = inn, i
    return V, a, i, growth, act, clamp


def simulate(seed, n, steps, alpha=0.18, p=0.25, turing=True, thr=0.75, jitter=False, jvar=0.0005):
    """Same signature and return value as `numpy_reference.simulate`. The whole run is
    compiled; Numba's `Generator` methods draw from the NumPy generator's own bit
    generator, with NumPy's algorithms (checked bit for bit by `--check`)."""
    rng = np.random.default_rng(seed)
    V = rng.normal(-0.070, 0.005, (n, n))
    if turing:
        a = rng.uniform(0, 0.1, (n, n))
        i = rng.uniform(0, 0.1, (n, n))
    else:
        a = i = np.zeros((1, 1))
    V, a, i, growth, act, clamp = _run(rng, V, a, i, steps, alpha, p, turing, thr, jitter, np.sqrt(jvar))
    if not turing:
        a = i = None
    return V, a, i, growth, act, clamp


def _digest(x):
    return None if x is None else hashlib.sha256(np.ascontiguousarray(x).astype("<f8").tobytes()).hexdigest()


def check():
    """Bit-exactness against the NumPy transcription on its interop cases."""
    failures = 0
    for case in numpy_reference.CASES:
        want = numpy_reference.simulate(**case)
        got = simulate(**case)
        same = all(_digest(w) == _digest(g) for w, g in zip(want[:3], got[:3])) and want[3:] == got[3:]
        print("numba-vs-numpy %-80s %s" % (case, "ok" if same else "MISMATCH"))
        failures += not same
    print("%d passed, %d failed" % (len(numpy_reference.CASES) - failures, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    if "--check" in sys.argv[1:]:
        sys.exit(check())
    print(__doc__)
