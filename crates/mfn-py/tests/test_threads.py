"""The GIL is released while the engine computes, so Python threads run in parallel.

Wall-clock ratios are unreliable on a shared, loaded CI machine, so the checks measure
what the GIL decides directly:

1. While one thread is inside ``simulate``, the main thread keeps running Python code
   (with the GIL held it could not run a single bytecode until the call returned).
2. A second thread runs whole engine calls while the first is still inside one: the
   two computations overlap (a GIL held by the first would not let the second start).

The wall-time ratio itself (two runs vs one, < 1.6×) is measured by
``scripts/bench/python_bench.py`` and recorded in docs/BENCHMARKS.md.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import mfn

# About 0.3-1 s of work at opt-level 2: long enough to measure, short enough for CI.
# Long enough (~0.3-1 s) that the checks below run while it computes, on any machine.
BIG = dict(seed=1, grid_size=512, steps=1000)


def test_main_thread_runs_python_while_engine_computes():
    done = threading.Event()

    def work():
        mfn.simulate(**BIG)
        done.set()

    t = threading.Thread(target=work)
    spins = 0
    t.start()
    # Give the worker the GIL long enough to enter the engine.
    time.sleep(0.01)
    while not done.is_set():
        spins += 1
    t.join()
    # With the GIL held for the whole call the loop would see the worker finish after
    # at most a few switch intervals' worth of iterations.
    assert spins > 100_000, spins


def test_dropin_releases_the_gil_too():
    done = threading.Event()
    rng = np.random.default_rng(2)

    def work():
        mfn.simulate_mycelium_field(rng, grid_size=512, steps=600)
        done.set()

    t = threading.Thread(target=work)
    spins = 0
    t.start()
    time.sleep(0.01)
    while not done.is_set():
        spins += 1
    t.join()
    assert spins > 100_000, spins


def test_two_engine_calls_overlap():
    """A second thread enters and leaves the engine while the first is still inside it:
    two computations run at once (on two cores they run in parallel). Whatever the load,
    a GIL held for the first call would keep the second from even starting."""
    done = threading.Event()
    # Another seed: a cached result would return at once.
    t = threading.Thread(target=lambda: (mfn.simulate(**dict(BIG, seed=2)), done.set()))
    t.start()
    time.sleep(0.05)
    finished_inside = 0
    rng = np.random.default_rng(0)
    for i in range(20):
        mfn.simulate(seed=i, grid_size=8, steps=2)
        mfn.simulate_mycelium_field(rng, grid_size=8, steps=2)
        finished_inside += not done.is_set()
    t.join()
    assert finished_inside >= 10, finished_inside
