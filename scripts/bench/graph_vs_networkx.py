#!/usr/bin/env python3
"""Graph engine vs NetworkX, igraph and rustworkx, side by side on the same graphs
(issues #8, #16).

Generates four graphs with NetworkX and fixed seeds (ER n=1000 p=0.01, BA n=10000 m=3,
grid 100x100 relabelled to integers, Zachary's karate club), writes each as an edge-list
CSV and reads that same file back for every side: NetworkX builds its graph from the
CSV rows in file order, igraph and rustworkx get the same vertices (in order of first
appearance) and edges (in file order), and the engine's bench harness
(`crates/mfn-graph/examples/graph_bench.rs`) loads the file into an in-memory store.
Each operation is timed on every side with the same scheme: K runs of the algorithm
alone (graph loading excluded), in --rounds interleaved rounds whose order rotates; the
figure is the CPU time per call (process CPU time: every thread, none of the time other
processes held the cores), median over rounds, with one thread everywhere
(RAYON_NUM_THREADS, OMP_NUM_THREADS, OPENBLAS_NUM_THREADS = 1 unless set); wall-clock
medians are printed beside it. K adapts so that a side spends
about --budget seconds (at least --min-runs runs, at most --max-runs); a peer call that
takes longer than --budget on its probe run is not repeated.

The mfn side is the whole tool call `tools::call_json` (argument decoding, store lookup,
algorithm, sorted per-node result as JSON text), each run a batch of calls of at least
20 µs; its fixed cost (a `get_info` call on the same graph: dispatch, arguments, store
lookup) is reported beside it. Peers run the call that yields the same information
(see NX_WHAT / PEER_WHAT). Results are sanity-checked across the sides (component
counts, path lengths, top nodes, modularity) and the script fails when they disagree.

    scripts/bench/graph_vs_networkx.py [--bench PATH/TO/graph_bench] [--write-doc]
        [--graphs er,ba,grid,karate] [--ops betweenness,...] [--nx-cache FILE]
        [--peers igraph,rustworkx]

--write-doc replaces (or appends) the section `## Graph engine vs NetworkX` of
docs/BENCHMARKS.md with the table, the command line, the machine and the date; the
section's `###` subsections (commentary) are kept unless --notes FILE brings new ones.
--nx-cache stores NetworkX timings of the slow O(n·m) rows in a JSON file and reuses
them (they do not change when the Rust side does); delete it to re-measure.
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

# One thread on every side: rustworkx and the engine parallelise some algorithms with
# rayon, igraph (PRPACK) with OpenMP, SciPy's BLAS with OpenBLAS; each reads its variable
# before its pool starts (override by setting them). With OpenMP's default, idle
# threads spin and a BA 10k igraph pagerank costs 600 ms of CPU instead of 11.
for _var in ("RAYON_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import networkx as nx  # noqa: E402

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


# ------------------------------------------------------------------ peers (igraph, rustworkx)


def peer_graphs(g):
    """igraph and rustworkx copies of `g` (already in file order): vertex i is list(g)[i]."""
    import igraph as ig
    import rustworkx as rx

    nodes = list(g)
    index = {v: i for i, v in enumerate(nodes)}
    edges = [(index[u], index[v]) for u, v in g.edges()]
    ig_g = ig.Graph(n=len(nodes), edges=edges)
    rx_g = rx.PyGraph()
    rx_g.add_nodes_from(nodes)
    rx_g.add_edges_from_no_data(edges)
    # rustworkx's pagerank takes a directed graph: both directions, as NetworkX does.
    rx_d = rx.PyDiGraph()
    rx_d.add_nodes_from(nodes)
    rx_d.add_edges_from_no_data(edges + [(v, u) for u, v in edges])
    return {"igraph": ig_g, "rustworkx": (rx_g, rx_d)}, index


def peer_ops(peer):
    """op -> callable(graph, first index, last index) returning a comparable result."""
    if peer == "igraph":
        import igraph as ig
        import random

        def louvain(g, f, l):
            random.seed(0)
            ig.set_random_number_generator(random)
            c = g.community_multilevel()
            return c, c.modularity

        return {
            "betweenness": lambda g, f, l: g.betweenness(),
            "closeness": lambda g, f, l: g.closeness(),
            "pagerank": lambda g, f, l: g.pagerank(),
            "shortest_path": lambda g, f, l: g.get_shortest_path(f, to=l),
            "components": lambda g, f, l: list(g.connected_components()),
            "clustering": lambda g, f, l: (
                g.transitivity_local_undirected(mode="zero"),
                g.transitivity_avglocal_undirected(mode="zero"),
                g.transitivity_undirected(),
            ),
            "louvain": louvain,
        }
    import rustworkx as rx

    return {
        "betweenness": lambda g, f, l: rx.betweenness_centrality(g[0]),
        "closeness": lambda g, f, l: rx.closeness_centrality(g[0]),
        "pagerank": lambda g, f, l: rx.pagerank(g[1]),
        "shortest_path": lambda g, f, l: rx.dijkstra_shortest_paths(g[0], f, target=l)[l],
        "components": lambda g, f, l: rx.connected_components(g[0]),
        # rustworkx has no local clustering coefficients and no Louvain.
    }


PEER_WHAT = {
    "igraph": "`betweenness()`, `closeness()`, `pagerank()` (PRPACK), `get_shortest_path(f, to=l)`, "
    "`list(connected_components())`, `transitivity_local_undirected` + `transitivity_avglocal_undirected` + "
    "`transitivity_undirected`, `community_multilevel()` (Louvain) with its modularity",
    "rustworkx": "`betweenness_centrality`, `closeness_centrality`, `pagerank` (on the graph with both arc "
    "directions, as NetworkX does), `dijkstra_shortest_paths(g, f, target=l)`, `connected_components`; "
    "no local clustering and no Louvain in rustworkx 0.18",
}


def check_peer(op, res, mfn_res, g):
    """Cheap agreement checks of a peer's answer with mfn's."""
    if op == "shortest_path":
        assert len(res) - 1 == mfn_res["length"], f"{op}: path lengths differ"
    elif op == "components":
        assert sorted((len(c) for c in res), reverse=True) == mfn_res["sizes"], "component sizes differ"
    elif op == "louvain":
        _, q = res
        assert abs(q - mfn_res["modularity"]) < 0.1, f"modularity {q} vs {mfn_res['modularity']}"


# ------------------------------------------------------------------ timing


def k_for(probe_s, budget, min_runs, max_runs):
    if probe_s <= 0:
        return max_runs
    return int(max(min_runs, min(max_runs, math.ceil(budget / probe_s))))


def time_nx(fn, budget, min_runs, max_runs):
    """Wall-clock ms of each run, the mean CPU ms per run (process CPU time: every
    thread, none of the time other processes held the cores), and the result."""
    c0 = time.process_time_ns()
    t0 = time.perf_counter()
    result = fn()
    probe = time.perf_counter() - t0
    if probe >= budget:  # a long call runs once
        return [probe * 1e3], (time.process_time_ns() - c0) / 1e6, result
    times = [probe * 1e3]
    for _ in range(k_for(probe, budget, min_runs, max_runs) - 1):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return times, (time.process_time_ns() - c0) / 1e6 / len(times), result


# Sources timed when NetworkX's O(n·m) measures are extrapolated (--nx-sample).
def nx_sampled(op, g, k, seed=0):
    """Time NetworkX's betweenness / closeness on `k` of the `n` sources and scale the
    time by n / k (the work is one search per source). Returns (ms, sampled values)."""
    import random

    nodes = list(g)
    n = len(nodes)
    c0 = time.process_time_ns()
    if op == "betweenness":
        t0 = time.perf_counter()
        nx.betweenness_centrality(g, k=k, seed=seed)
        ms = (time.perf_counter() - t0) * 1e3
        return ms * n / k, (time.process_time_ns() - c0) / 1e6 * n / k, None
    sample = random.Random(seed).sample(nodes, k)
    vals = {}
    t0 = time.perf_counter()
    for u in sample:
        vals[u] = nx.closeness_centrality(g, u=u)
    ms = (time.perf_counter() - t0) * 1e3
    return ms * n / k, (time.process_time_ns() - c0) / 1e6 * n / k, vals


def run_mfn(bench, tool, path, args, repeat):
    cmd = [bench, path, tool, json.dumps(args or {}), "--repeat", str(repeat)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {out.stderr.strip()}")
    return json.loads(out.stdout)


def time_mfn(bench, tool, path, args, budget, min_runs, max_runs):
    probe = run_mfn(bench, tool, path, args, 1)
    k = k_for(probe["timing"]["median_ms"] / 1e3, budget, min_runs, max_runs)
    res = run_mfn(bench, tool, path, args, k)
    return res["timing"], res["fixed"], res["result"]


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
    if x >= 0.1:
        return f"{x:.3f}"
    return f"{x:.4f}"


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


def table(rows, peers):
    head = "| graph | op | NetworkX ms (runs) |"
    rule = "|---|---|---:|"
    for p in peers:
        head += f" {p} ms |"
        rule += "---:|"
    head += " mfn ms (runs) | mfn fixed ms | ratio to NetworkX | 20× | ratio to fastest peer | ≥ peer |"
    rule += "---:|---:|---:|---|---:|---|"
    out = [head, rule]
    for r in rows:
        ratio = r["nx_cpu"] / r["mfn_cpu"]
        met = "met" if ratio >= TARGET else "**missed**"
        line = (
            f"| {r['graph']} | {r['op']} | {'≈ ' if isinstance(r['nx_runs'], str) else ''}"
            f"{fmt_ms(r['nx_cpu'])} ({r['nx_runs']}) |"
        )
        best = None
        for p in peers:
            t = r["peers_cpu"].get(p)
            line += f" {fmt_ms(t) if t is not None else '—'} |"
            if t is not None and (best is None or t < best):
                best = t
        line += f" {fmt_ms(r['mfn_cpu'])} ({r['mfn_runs']}) | {fmt_ms(r['mfn_fixed'])} | {ratio:,.1f}× | {met} |"
        if best is None:
            line += " — | — |"
        else:
            pr = best / r["mfn_cpu"]
            line += f" {pr:,.2f}× | {'yes' if pr >= 1.0 else '**no**'} |"
        out.append(line)
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
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    ap.add_argument("--bench", default=os.path.join(target, "release", "examples", "graph_bench"))
    ap.add_argument("--graphs", default="er,ba,grid,karate")
    ap.add_argument("--ops", default=",".join(OPS))
    ap.add_argument("--peers", default="igraph,rustworkx", help="comma list, or '' for none")
    ap.add_argument("--budget", type=float, default=0.5, help="seconds per side, row and round (default 0.5)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds of every side per row (default 3)")
    ap.add_argument("--min-runs", type=int, default=3)
    ap.add_argument("--max-runs", type=int, default=2000)
    ap.add_argument("--nx-cache", help="JSON file of slow NetworkX and peer timings to reuse")
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
    ap.add_argument("--json", help="write every row's figures (CPU and wall) here as the run goes")
    ap.add_argument("--csv-dir", help="write the graphs' CSV files here (kept; default: a new temporary directory)")
    a = ap.parse_args()
    peers = [p for p in a.peers.split(",") if p]
    ops = a.ops.split(",")

    started = datetime.datetime.now(datetime.timezone.utc)
    mach = machine()
    cache = {}
    if a.nx_cache and os.path.exists(a.nx_cache):
        cache = json.load(open(a.nx_cache))
    graphs = gen_graphs()
    # Warm NetworkX and the peers up (lazy imports such as scipy in pagerank).
    warm = graphs["karate"][1]
    pg, _ = peer_graphs(warm) if peers else ({}, None)
    for op in ops:
        OPS[op][2](warm, 0, 33)
        for p in peers:
            f = peer_ops(p).get(op)
            if f:
                f(pg[p], 0, 33)
    tmp = a.csv_dir or tempfile.mkdtemp(prefix="mfn-graph-bench-")
    os.makedirs(tmp, exist_ok=True)
    rows = []
    slow = a.budget  # a call slower than this is timed once and may be cached
    for key in a.graphs.split(","):
        label, g0 = graphs[key]
        path = os.path.join(tmp, key + ".csv")
        write_csv(g0, path)
        g = read_csv(path)
        nodes = list(g)
        first, last = nodes[0], nodes[-1]
        pgraphs, index = peer_graphs(g) if peers else ({}, {})
        print(f"# {label}: {g.number_of_nodes()} nodes, {g.number_of_edges()} edges", file=sys.stderr)
        for op in ops:
            tool, margs, nxfn = OPS[op]
            ckey = f"{key}/{op}"
            mfn_medians, mfn_mins, mfn_cpus, mfn_runs, fixed = [], [], [], 0, []
            # Per side: wall-clock ms of every run, and the mean CPU ms per run of each round.
            nx_times, nx_cpus, nx_res = [], [], None
            peer_times = {p: [] for p in peers}
            peer_cpus = {p: [] for p in peers}
            peer_res = {}
            cached_nx = cache.get(ckey)
            mres = None
            per_round = a.budget / max(1, a.rounds)
            sampled = a.nx_sample and op in ("betweenness", "closeness") and g.number_of_nodes() > 2000

            def run_mfn_side():
                nonlocal mres, mfn_runs
                timing, fx, mres = time_mfn(a.bench, tool, path, margs(first, last), per_round, a.min_runs, a.max_runs)
                mfn_medians.append(timing["median_ms"])
                mfn_mins.append(timing["min_ms"])
                mfn_cpus.append(timing["cpu_ms"])
                mfn_runs += timing["runs"]
                fixed.append(fx["call_cpu_ms"])

            def run_nx_side():
                # From the cache, sampled once, once when slow, else every round.
                nonlocal cached_nx, nx_res
                if cached_nx is not None:
                    return
                if sampled:
                    ms, cpu, _ = nx_sampled(op, g, a.nx_sample)
                    cache[ckey] = cached_nx = {"extrapolated": [ms], "cpu": [cpu], "k": a.nx_sample}
                elif not (nx_times and max(nx_times) >= slow * 1e3):
                    t, cpu, nx_res = time_nx(lambda: nxfn(g, first, last), per_round, a.min_runs, a.max_runs)
                    nx_times.extend(t)
                    nx_cpus.append(cpu)

            def run_peer_side(p):
                f = peer_ops(p).get(op)
                pkey = f"{ckey}/{p}"
                if f is None:
                    return
                if pkey in cache:
                    peer_times[p], peer_cpus[p] = cache[pkey]["wall"], cache[pkey]["cpu"]
                    return
                if peer_times[p] and max(peer_times[p]) >= slow * 1e3:
                    return
                ia, ib = index[first], index[last]
                t, cpu, peer_res[p] = time_nx(lambda: f(pgraphs[p], ia, ib), per_round, a.min_runs, a.max_runs)
                peer_times[p] += t
                peer_cpus[p].append(cpu)
                if max(t) >= slow * 1e3:
                    cache[pkey] = {"wall": peer_times[p], "cpu": peer_cpus[p]}

            sides = [run_mfn_side, run_nx_side] + [lambda p=p: run_peer_side(p) for p in peers]
            for rnd in range(a.rounds):
                for side in sides[rnd % len(sides):] + sides[: rnd % len(sides)]:  # rotate the order
                    side()
            extrapolated = isinstance(cached_nx, dict) and "extrapolated" in cached_nx
            sample_k = cached_nx.get("k") if extrapolated else None
            if cached_nx is not None:
                if extrapolated:
                    nx_times, nx_cpus = cached_nx["extrapolated"], cached_nx["cpu"]
                else:
                    nx_times, nx_cpus = cached_nx["wall"], cached_nx["cpu"]
            elif max(nx_times) >= slow * 1e3:
                cache[ckey] = {"wall": nx_times, "cpu": nx_cpus}
            if a.nx_cache:
                json.dump(cache, open(a.nx_cache, "w"))
            note = check(op, nx_res, mres, g) if nx_res is not None else "(nx cached or sampled; not re-checked)"
            for p, res in peer_res.items():
                check_peer(op, res, mres, g)
            row = {
                "graph": label,
                "op": op,
                "nx_median": statistics.median(nx_times),
                "nx_cpu": statistics.median(nx_cpus),
                "nx_runs": f"extrapolated from {sample_k} sources" if extrapolated else len(nx_times),
                "peers": {p: statistics.median(t) for p, t in peer_times.items() if t},
                "peers_cpu": {p: statistics.median(t) for p, t in peer_cpus.items() if t},
                "mfn_median": statistics.median(mfn_medians),
                "mfn_cpu": statistics.median(mfn_cpus),
                "mfn_min": min(mfn_mins),
                "mfn_runs": mfn_runs,
                "mfn_fixed": statistics.median(fixed),
            }
            rows.append(row)
            peers_txt = "  ".join(
                f"{p} {fmt_ms(row['peers_cpu'][p])} (wall {fmt_ms(t)})" for p, t in row["peers"].items()
            )
            print(
                f"{label:18} {op:14} nx {fmt_ms(row['nx_cpu']):>10} ms (wall {fmt_ms(row['nx_median'])}; {row['nx_runs']})  "
                f"{peers_txt}  mfn {fmt_ms(row['mfn_cpu']):>9} ms (wall {fmt_ms(row['mfn_median'])}; {row['mfn_runs']}, "
                f"fixed {fmt_ms(row['mfn_fixed'])})  {row['nx_cpu'] / row['mfn_cpu']:8.1f}x  {note}",
                file=sys.stderr,
                flush=True,
            )
            if a.json:
                with open(a.json, "w") as fh:
                    json.dump(rows, fh, indent=1)
    tbl = table(rows, peers)
    print(tbl)
    if a.write_doc:
        cmd = "scripts/bench/graph_vs_networkx.py " + " ".join(
            x if " " not in x else repr(x) for x in sys.argv[1:]
        )
        import importlib.metadata as md

        versions = ", ".join(f"{p} {md.version(p)}" for p in peers)
        body = [
            SECTION,
            "",
            f"Command: `{cmd.strip()}` (release `graph_bench`, NetworkX {nx.__version__}"
            + (f", {versions}" if versions else "")
            + f", Python {platform.python_version()}).",
            f"Measured {started:%Y-%m-%d %H:%M} UTC; machine: {mach}.",
            "",
            "Same CSV file on every side (NetworkX reads it back in file order; igraph and "
            "rustworkx get the same vertices and edges in the same order). Figures are CPU time "
            "per call (process CPU time, every thread, which leaves out the time other processes "
            "held the cores; `RAYON_NUM_THREADS="
            + os.environ["RAYON_NUM_THREADS"]
            + "`, `OMP_NUM_THREADS="
            + os.environ["OMP_NUM_THREADS"]
            + "` on every side), the algorithm alone, graph loading excluded: the mean over a "
            f"round's runs, median over {a.rounds} interleaved rounds (every side once per round, "
            f"the order rotating) of about {a.budget / max(1, a.rounds):.2f} s per side; a call longer "
            f"than {a.budget} s runs once. Ratios are of CPU times. "
            "The mfn time is the whole tool call (`tools::call_json`: argument decoding, store "
            "lookup, algorithm, sorted per-node result as JSON text, from "
            "`crates/mfn-graph/examples/graph_bench.rs`); *mfn fixed* is a `get_info` call on "
            "the same graph (dispatch, argument decoding, store lookup, a small result): the "
            "per-call cost that is not the algorithm. NetworkX calls: "
            + "; ".join(f"{k} = {v}" for k, v in NX_WHAT.items() if k in ops)
            + ". "
            + " ".join(f"{p}: {PEER_WHAT[p]}." for p in peers)
            + " The script checks that the sides agree (values within GRAPH.md's "
            "tolerances, component counts and sizes, path lengths, Louvain modularity ≥ "
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
