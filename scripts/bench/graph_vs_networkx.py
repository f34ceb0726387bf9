#!/usr/bin/env python3
"""Graph engine vs NetworkX, side by side on the same graphs (issue #8).

Generates four graphs with NetworkX and fixed seeds (ER n=1000 p=0.01, BA n=10000 m=3,
grid 100x100 relabelled to integers, Zachary's karate club), writes each as an edge-list
CSV and reads that same file back for both sides: NetworkX builds its graph from the
CSV rows in file order, `mfn graph TOOL --input FILE --repeat K` loads it into its
in-memory store. Each operation is timed on both sides with the same scheme: K runs of
the algorithm alone (graph loading excluded), min and median reported. K adapts so that
a side spends about --budget seconds (at least --min-runs runs, at most --max-runs); a
NetworkX call that takes longer than --budget on its probe run is not repeated.

The mfn side is `timing.median_ms` of `mfn graph` (the whole tool call: view of the
stored graph, algorithm, sorted per-node result, JSON value); the NetworkX side is the
corresponding call that yields the same information (see OPS). Results are
sanity-checked across the two sides (component counts, path length, top nodes,
modularity) and the script fails when they disagree.

    scripts/bench/graph_vs_networkx.py [--mfn target/release/mfn] [--write-doc]
        [--graphs er,ba,grid,karate] [--ops betweenness,...] [--nx-cache FILE]

--write-doc replaces (or appends) the section `## Graph engine vs NetworkX` of
docs/BENCHMARKS.md with the table, the command line, the machine and the date; the
section's `###` subsections (commentary) are kept unless --notes FILE brings new ones.
--nx-cache stores NetworkX timings in a JSON file and reuses them (they do not change
when the Rust side does); delete it to re-measure.
"""
import argparse
import datetime
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import networkx as nx

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SECTION = "## Graph engine vs NetworkX"
TARGET = 20.0


# ------------------------------------------------------------------ graphs


def gen_graphs():
    grid = nx.convert_node_labels_to_integers(nx.grid_2d_graph(100, 100))
    karate = nx.Graph()
    karate.add_edges_from(nx.karate_club_graph().edges())  # unweighted copy
    return {
        "er": ("ER n=1000 p=0.01", nx.gnp_random_graph(1000, 0.01, seed=42)),
        "ba": ("BA n=10000 m=3", nx.barabasi_albert_graph(10000, 3, seed=42)),
        "grid": ("grid 100×100", grid),
        "karate": ("karate (34)", karate),
    }


def write_csv(g, path):
    with open(path, "w") as f:
        f.write("source,target\n")
        for u, v in g.edges():
            f.write(f"{u},{v}\n")


def read_csv(path):
    """The graph exactly as `mfn graph --input` reads it: nodes in order of first
    appearance, edges in file order."""
    g = nx.Graph()
    with open(path) as f:
        next(f)
        for line in f:
            u, v = line.strip().split(",")
            g.add_edge(int(u), int(v))
    return g


# ------------------------------------------------------------------ operations
# name -> (mfn tool, mfn args(g) , networkx callable(g, first, last))


def nx_clustering(g):
    c = nx.clustering(g)
    avg = sum(c.values()) / len(c)
    return c, avg, nx.transitivity(g)


def nx_louvain(g):
    comms = nx.community.louvain_communities(g, seed=0)
    return comms, nx.community.modularity(g, comms)


OPS = {
    "betweenness": ("betweenness_centrality", lambda f, l: {}, lambda g, f, l: nx.betweenness_centrality(g)),
    "closeness": ("closeness_centrality", lambda f, l: {}, lambda g, f, l: nx.closeness_centrality(g)),
    "pagerank": ("pagerank", lambda f, l: {}, lambda g, f, l: nx.pagerank(g)),
    "shortest_path": (
        "shortest_path",
        lambda f, l: {"source": f, "target": l},
        lambda g, f, l: nx.shortest_path(g, f, l),
    ),
    "components": (
        "connected_components",
        lambda f, l: {},
        lambda g, f, l: list(nx.connected_components(g)),
    ),
    "clustering": ("clustering_coefficients", lambda f, l: {}, lambda g, f, l: nx_clustering(g)),
    "louvain": (
        "community_detection",
        lambda f, l: {"method": "louvain", "seed": 0},
        lambda g, f, l: nx_louvain(g),
    ),
}
NX_WHAT = {
    "betweenness": "`betweenness_centrality(G)`",
    "closeness": "`closeness_centrality(G)`",
    "pagerank": "`pagerank(G)`",
    "shortest_path": "`shortest_path(G, first, last)` (bidirectional BFS)",
    "components": "`list(connected_components(G))`",
    "clustering": "`clustering(G)` + mean + `transitivity(G)` (what the mfn tool returns)",
    "louvain": "`louvain_communities(G, seed=0)` + `modularity`",
}


# ------------------------------------------------------------------ timing


def k_for(probe_s, budget, min_runs, max_runs):
    if probe_s <= 0:
        return max_runs
    return int(max(min_runs, min(max_runs, math.ceil(budget / probe_s))))


def time_nx(fn, budget, min_runs, max_runs):
    t0 = time.perf_counter()
    result = fn()
    probe = time.perf_counter() - t0
    if probe >= budget:  # a long call runs once
        return [probe * 1e3], result
    times = [probe * 1e3]
    for _ in range(k_for(probe, budget, min_runs, max_runs) - 1):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return times, result


# Sources timed when NetworkX's O(n·m) measures are extrapolated (--nx-sample).
def nx_sampled(op, g, k, seed=0):
    """Time NetworkX's betweenness / closeness on `k` of the `n` sources and scale the
    time by n / k (the work is one search per source). Returns (ms, sampled values)."""
    import random

    nodes = list(g)
    n = len(nodes)
    if op == "betweenness":
        t0 = time.perf_counter()
        nx.betweenness_centrality(g, k=k, seed=seed)
        ms = (time.perf_counter() - t0) * 1e3
        return ms * n / k, None
    sample = random.Random(seed).sample(nodes, k)
    vals = {}
    t0 = time.perf_counter()
    for u in sample:
        vals[u] = nx.closeness_centrality(g, u=u)
    ms = (time.perf_counter() - t0) * 1e3
    return ms * n / k, vals


def run_mfn(mfn, tool, path, args, repeat):
    cmd = [mfn, "--format", "json", "graph", tool, "--input", path, "--repeat", str(repeat)]
    if args:
        cmd += ["--args", json.dumps(args)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {out.stderr.strip()}")
    return json.loads(out.stdout)


def time_mfn(mfn, tool, path, args, budget, min_runs, max_runs):
    probe = run_mfn(mfn, tool, path, args, 1)
    k = k_for(probe["timing"]["median_ms"] / 1e3, budget, min_runs, max_runs)
    res = run_mfn(mfn, tool, path, args, k)
    return res["timing"], res


# ------------------------------------------------------------------ sanity checks


def top_node(d):
    return max(sorted(d), key=lambda n: d[n])


def check(op, nx_res, mfn_res, g):
    """Return a short note; raise on disagreement."""
    if op in ("betweenness", "closeness", "pagerank"):
        vals = {v["node"]: v["value"] for v in mfn_res["values"]}
        assert len(vals) == g.number_of_nodes(), "mfn: not every node"
        tol = 1e-6 if op == "pagerank" else 1e-9
        worst = max(abs(vals[n] - x) / max(abs(x), 1e-300) if x else abs(vals[n]) for n, x in nx_res.items())
        assert worst <= tol, f"{op}: max relative difference {worst:.3g} > {tol}"
        top = mfn_res["values"][0]["node"]
        assert math.isclose(nx_res[top], max(nx_res.values()), rel_tol=tol), f"{op}: top node differs"
        return f"top {top}, max rel diff {worst:.1e}"
    if op == "shortest_path":
        assert mfn_res["length"] == len(nx_res) - 1, "path lengths differ"
        return f"length {mfn_res['length']:.0f}"
    if op == "components":
        assert mfn_res["num_components"] == len(nx_res), "component counts differ"
        assert mfn_res["sizes"] == sorted((len(c) for c in nx_res), reverse=True)
        return f"{len(nx_res)} components"
    if op == "clustering":
        c, avg, trans = nx_res
        vals = {v["node"]: v["value"] for v in mfn_res["values"]}
        assert all(vals[n] == x for n, x in c.items()), "clustering differs"
        assert math.isclose(mfn_res["average_clustering"], avg, rel_tol=1e-9, abs_tol=1e-15)
        assert math.isclose(mfn_res["transitivity"], trans, rel_tol=1e-9, abs_tol=1e-15)
        return f"avg {avg:.4f}"
    if op == "louvain":
        _, q = nx_res
        assert mfn_res["modularity"] >= q - 0.02, f"modularity {mfn_res['modularity']} < {q} - 0.02"
        return f"Q mfn {mfn_res['modularity']:.4f} / nx {q:.4f}"
    return ""


# ------------------------------------------------------------------ report


def fmt_ms(x):
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 1:
        return f"{x:.2f}"
    return f"{x:.3f}"


def machine():
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = float("nan")
    return f"`nproc` = {nproc}, CPU: {cpu}, load average at start {load:.2f}"


def table(rows):
    out = [
        "| graph | op | NetworkX median ms (runs) | mfn median ms (runs) | mfn min ms | ratio | 20× target |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        ratio = r["nx_median"] / r["mfn_median"]
        met = "met" if ratio >= TARGET else "**missed**"
        out.append(
            f"| {r['graph']} | {r['op']} | {'≈ ' if isinstance(r['nx_runs'], str) else ''}"
            f"{fmt_ms(r['nx_median'])} ({r['nx_runs']}) | "
            f"{fmt_ms(r['mfn_median'])} ({r['mfn_runs']}) | {fmt_ms(r['mfn_min'])} | "
            f"{ratio:,.1f}× | {met} |"
        )
    return "\n".join(out)


def write_doc(path, body):
    text = open(path).read() if os.path.exists(path) else "# MFN benchmarks\n"
    start = text.find("\n" + SECTION + "\n")
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + body
    else:
        start += 1
        nxt = text.find("\n## ", start + len(SECTION))
        end = nxt + 1 if nxt >= 0 else len(text)
        tail = text[end:]
        # Keep the hand-written commentary (the section's `###` subsections) unless
        # the body brings its own (--notes).
        old = text[start:end]
        sub = old.find("\n### ")
        if sub >= 0 and "\n### " not in body:
            body = body.rstrip("\n") + "\n" + old[sub:].rstrip("\n") + "\n"
        text = text[:start] + body + ("\n" + tail if tail else "")
    with open(path, "w") as f:
        f.write(text.rstrip("\n") + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mfn", default=os.path.join(ROOT, "target", "release", "mfn"))
    ap.add_argument("--graphs", default="er,ba,grid,karate")
    ap.add_argument("--ops", default=",".join(OPS))
    ap.add_argument("--budget", type=float, default=0.5, help="seconds per side and row (default 0.5)")
    ap.add_argument("--min-runs", type=int, default=3)
    ap.add_argument("--max-runs", type=int, default=2000)
    ap.add_argument("--nx-cache", help="JSON file of NetworkX timings to reuse")
    ap.add_argument(
        "--nx-sample",
        type=int,
        default=0,
        help="time NetworkX betweenness/closeness on graphs of more than 2000 nodes on this "
        "many sources and extrapolate (0 = full runs; they take tens of minutes)",
    )
    ap.add_argument("--write-doc", action="store_true", help="rewrite the section in docs/BENCHMARKS.md")
    ap.add_argument("--doc", default=os.path.join(ROOT, "docs", "BENCHMARKS.md"))
    ap.add_argument("--notes", help="markdown file appended to the section (the 'why' paragraph)")
    a = ap.parse_args()

    started = datetime.datetime.now(datetime.timezone.utc)
    mach = machine()
    cache = {}
    if a.nx_cache and os.path.exists(a.nx_cache):
        cache = json.load(open(a.nx_cache))
    graphs = gen_graphs()
    # Warm NetworkX up (lazy imports such as scipy in pagerank) on a small graph.
    warm = graphs["karate"][1]
    for op in a.ops.split(","):
        OPS[op][2](warm, 0, 33)
    tmp = tempfile.mkdtemp(prefix="mfn-graph-bench-")
    rows = []
    for key in a.graphs.split(","):
        label, g0 = graphs[key]
        path = os.path.join(tmp, key + ".csv")
        write_csv(g0, path)
        g = read_csv(path)
        nodes = list(g)
        first, last = nodes[0], nodes[-1]
        print(f"# {label}: {g.number_of_nodes()} nodes, {g.number_of_edges()} edges", file=sys.stderr)
        for op in a.ops.split(","):
            tool, margs, nxfn = OPS[op]
            ckey = f"{key}/{op}"
            nx_times, nx_res = None, None
            extrapolated, sample_k = False, a.nx_sample
            if ckey in cache:
                nx_times = cache[ckey]
                if isinstance(nx_times, dict):
                    extrapolated, sample_k, nx_times = True, nx_times["k"], nx_times["extrapolated"]
            timing, mres = time_mfn(a.mfn, tool, path, margs(first, last), a.budget, a.min_runs, a.max_runs)
            sampled_note = None
            if (
                nx_times is None
                and a.nx_sample
                and op in ("betweenness", "closeness")
                and g.number_of_nodes() > 2000
            ):
                ms, vals = nx_sampled(op, g, a.nx_sample)
                nx_times, extrapolated = [ms], True
                cache[ckey] = {"extrapolated": nx_times, "k": sample_k}
                if vals:
                    got = {v["node"]: v["value"] for v in mres["values"]}
                    worst = max(abs(got[u] - x) / x for u, x in vals.items() if x)
                    assert worst <= 1e-9, f"closeness differs on sampled nodes: {worst}"
                    sampled_note = f"{len(vals)} sampled nodes agree, max rel diff {worst:.1e}"
                else:
                    sampled_note = "(nx sampled; values not compared)"
            if nx_times is None or op in ("shortest_path", "components", "louvain", "pagerank"):
                # cheap NetworkX results are recomputed for the sanity check
                t, nx_res = time_nx(lambda: nxfn(g, first, last), a.budget, a.min_runs, a.max_runs)
                if nx_times is None:
                    nx_times = t
            if nx_res is not None:
                note = check(op, nx_res, mres, g)
            else:
                note = sampled_note or "(nx cached; not re-checked)"
            if not extrapolated:
                cache[ckey] = nx_times
            if a.nx_cache:
                json.dump(cache, open(a.nx_cache, "w"))
            row = {
                "graph": label,
                "op": op,
                "nx_median": statistics.median(nx_times),
                "nx_runs": f"extrapolated from {sample_k} sources" if extrapolated else len(nx_times),
                "mfn_median": timing["median_ms"],
                "mfn_min": timing["min_ms"],
                "mfn_runs": timing["runs"],
            }
            rows.append(row)
            print(
                f"{label:18} {op:14} nx {fmt_ms(row['nx_median']):>10} ms ({row['nx_runs']})  "
                f"mfn {fmt_ms(row['mfn_median']):>9} ms ({row['mfn_runs']})  "
                f"{row['nx_median'] / row['mfn_median']:8.1f}x  {note}",
                file=sys.stderr,
                flush=True,
            )
    tbl = table(rows)
    print(tbl)
    if a.write_doc:
        cmd = "scripts/bench/graph_vs_networkx.py " + " ".join(
            x if " " not in x else repr(x) for x in sys.argv[1:]
        )
        body = [
            SECTION,
            "",
            f"Command: `{cmd.strip()}` (release `mfn`, NetworkX {nx.__version__}, "
            f"Python {platform.python_version()}).",
            f"Measured {started:%Y-%m-%d %H:%M} UTC; machine: {mach}.",
            "",
            "Same CSV file on both sides (NetworkX reads it back in file order). Times are "
            "the median of K runs of the algorithm alone, graph loading excluded; K adapts so "
            f"that each side spends about {a.budget} s per row (a NetworkX call longer than "
            "that runs once). The mfn time is the whole tool call (`tools::call`: view of the "
            "stored graph, algorithm, sorted per-node result as a JSON value). NetworkX calls: "
            + "; ".join(f"{k} = {v}" for k, v in NX_WHAT.items() if k in a.ops.split(","))
            + ". The script checks that both sides agree (values within GRAPH.md's "
            "tolerances, component counts and sizes, path length, Louvain modularity ≥ "
            "NetworkX − 0.02).",
            "",
            tbl,
            "",
        ]
        if a.notes:
            body.append(open(a.notes).read().rstrip("\n"))
            body.append("")
        write_doc(a.doc, "\n".join(body))
        print(f"wrote {SECTION!r} in {a.doc}", file=sys.stderr)


if __name__ == "__main__":
    main()
