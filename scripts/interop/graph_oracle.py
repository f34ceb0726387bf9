#!/usr/bin/env python3
"""NetworkX as the oracle of `mfn graph` (GRAPH.md "Agreement with NetworkX").

Generates graphs of several kinds and sizes with NetworkX (ER, BA, grid, karate, directed
and weighted variants), writes them as edge-list CSV or node-link JSON, runs
`mfn graph TOOL --input FILE --args JSON` on each and checks every agreement rule:

  exact:   shortest path lengths, all-pairs paths (length and edges), node degree,
           component counts, diameter, radius, density,
           MST total weight, max-flow value, core numbers, clustering
  1e-9:    betweenness, closeness, degree centrality, average clustering, efficiency
  1e-6:    pagerank, eigenvector
  louvain: modularity >= NetworkX's Louvain modularity - 0.02

Usage: graph_oracle.py PATH/TO/mfn   (run by scripts/test.sh). Prints one row per check
and exits non-zero on any failure.
"""
import json
import math
import os
import random
import subprocess
import sys
import tempfile

import networkx as nx

MFN = sys.argv[1] if len(sys.argv) > 1 else "target/debug/mfn"
TMP = tempfile.mkdtemp(prefix="mfn-graph-oracle-")
ROWS = []


def mfn(tool, path, args=None, directed=False):
    cmd = [MFN, "graph", tool, "--input", path, "--format", "json"]
    if directed:
        cmd.append("--directed")
    if args:
        cmd += ["--args", json.dumps(args)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {out.stderr.strip()}")
    return json.loads(out.stdout)


def write_csv(g, name, weight=None):
    # An edge list cannot hold isolated nodes: such graphs go through node-link JSON.
    assert nx.number_of_isolates(g) == 0, name
    path = os.path.join(TMP, name + ".csv")
    with open(path, "w") as f:
        f.write("source,target" + (",weight" if weight else "") + "\n")
        for u, v, d in g.edges(data=True):
            f.write(f"{u},{v}" + (f",{d[weight]!r}" if weight else "") + "\n")
    return path


def write_json(g, name):
    # Float attributes go through CSV instead: serde_json (without its float_roundtrip
    # feature, not enabled in the workspace) may read a 17-digit float 1 ulp off.
    path = os.path.join(TMP, name + ".json")
    with open(path, "w") as f:
        json.dump(nx.node_link_data(g, edges="edges"), f)
    return path


def as_read(path, directed):
    """The graph exactly as `mfn graph --input` builds it (node and edge insertion order,
    hence adjacency order): CSV rows in file order, or node-link nodes then edges."""
    if path.endswith(".json"):
        with open(path) as f:
            return nx.node_link_graph(json.load(f), edges="edges")
    h = nx.DiGraph() if directed else nx.Graph()
    with open(path) as f:
        next(f)
        for line in f:
            u, v = line.strip().split(",")[:2]
            h.add_edge(int(u), int(v))
    return h


def record(graph, check, ok, detail=""):
    detail = str(detail)
    ROWS.append((graph, check, ok, detail if len(detail) <= 120 else detail[:117] + "..."))


def per_node(res):
    return {v["node"]: v["value"] for v in res["values"]}


def close(a, b, rel):
    return abs(a - b) <= rel * max(1.0, abs(b))


def compare_map(graph, check, ours, ref, rel):
    if set(ours) != set(ref):
        record(graph, check, False, f"node sets differ ({len(ours)} vs {len(ref)})")
        return
    worst, where = 0.0, None
    for k, b in ref.items():
        a = ours[k]
        ok = (a == b) if rel == 0 else close(a, b, rel)
        err = abs(a - b) / max(1.0, abs(b))
        if not ok and (where is None or err > worst):
            worst, where = err, k
    if where is None:
        record(graph, check, True, f"{len(ref)} nodes")
    else:
        record(graph, check, False, f"node {where}: {ours[where]!r} vs {ref[where]!r}")


def exact(graph, check, ours, ref):
    if ours == ref:
        record(graph, check, True)
    elif isinstance(ref, dict) and isinstance(ours, dict):
        diff = sorted(k for k in set(ours) | set(ref) if ours.get(k) != ref.get(k))
        k = diff[0]
        record(graph, check, False, f"{len(diff)} differ, e.g. {k}: {ours.get(k)!r} vs {ref.get(k)!r}")
    else:
        record(graph, check, False, f"{ours!r} vs {ref!r}")


def run_case(name, g, path, directed=False, weight=None):
    d = directed
    # Shortest path lengths, unweighted and (when weighted) Dijkstra.
    res = mfn("all_pairs_shortest_path_length", path, {}, d)
    ours = {(s["source"], t["node"]): t["length"] for s in res["sources"] for t in s["lengths"]}
    ref = {(s, t): float(l) for s, row in nx.all_pairs_shortest_path_length(g) for t, l in row.items()}
    exact(name, "shortest path lengths (hops)", ours, ref)
    # Seed 003's all_pairs_shortest_path: for every pair NetworkX reaches, a path of its
    # length from source to target whose steps are edges (ties may choose another path).
    paths = mfn("all_pairs_shortest_path", path, {}, d)["paths"]
    bad = [(s, t) for (s, t), l in ref.items()
           if (p := paths.get(str(s), {}).get(str(t))) is None or len(p) != l + 1
           or p[0] != s or p[-1] != t or not all(g.has_edge(a, b) for a, b in zip(p, p[1:]))]
    extra = sum(len(row) for row in paths.values()) - len(ref)
    record(name, "all_pairs_shortest_path", not bad and extra == 0,
           f"{len(ref)} pairs" if not bad and extra == 0 else f"{len(bad)} bad, e.g. {bad[:1]}; {extra} extra")
    # node_degree: G.degree (in + out when directed).
    some = list(g)[:8]
    exact(name, "node_degree", {v: mfn("node_degree", path, {"node": v}, d)["degree"] for v in some},
          {v: g.degree(v) for v in some})
    if weight:
        res = mfn("all_pairs_shortest_path_length", path, {"weight": weight}, d)
        ours = {(s["source"], t["node"]): t["length"] for s in res["sources"] for t in s["lengths"]}
        ref = {(s, t): l for s, row in nx.all_pairs_dijkstra_path_length(g, weight=weight) for t, l in row.items()}
        exact(name, "shortest path lengths (weighted)", ours, ref)
        nodes = list(g)
        rng = random.Random(7)
        bad = []
        for _ in range(5):
            s, t = rng.choice(nodes), rng.choice(nodes)
            if not nx.has_path(g, s, t):
                continue
            r = mfn("shortest_path", path, {"source": s, "target": t, "weight": weight}, d)
            want = nx.shortest_path_length(g, s, t, weight=weight)
            plen = sum(g[a][b].get(weight, 1) for a, b in zip(r["path"], r["path"][1:]))
            if r["length"] != want or r["path"][0] != s or r["path"][-1] != t or not math.isclose(plen, want):
                bad.append((s, t, r["length"], want))
        record(name, "shortest_path (weighted) 5 pairs", not bad, str(bad[:1]) if bad else "")
    # Single pairs by hops: NetworkX's own path (its bidirectional BFS over the graph as
    # read from the same file, so the same adjacency order), not just one of that length.
    h = as_read(path, d)
    nodes = list(h)
    rng = random.Random(11)
    bad = []
    for _ in range(5):
        s, t = rng.choice(nodes), rng.choice(nodes)
        if not nx.has_path(h, s, t):
            continue
        r = mfn("shortest_path", path, {"source": s, "target": t}, d)
        want = nx.shortest_path(h, s, t)
        if r["path"] != want or r["length"] != len(want) - 1:
            bad.append((s, t, r["path"], want))
    record(name, "shortest_path (hops) 5 pairs, same path", not bad, str(bad[:1]) if bad else "")
    # Components.
    if d:
        exact(name, "weak component count", mfn("connected_components", path, {}, d)["num_components"],
              nx.number_weakly_connected_components(g))
        exact(name, "strong component count", mfn("connected_components", path, {"strong": True}, d)["num_components"],
              nx.number_strongly_connected_components(g))
    else:
        res = mfn("connected_components", path, {}, d)
        exact(name, "component count", res["num_components"], nx.number_connected_components(g))
        exact(name, "component sizes", res["sizes"], sorted((len(c) for c in nx.connected_components(g)), reverse=True))
    # Statistics.
    st = mfn("graph_statistics", path, {}, d)
    exact(name, "density", st["density"], nx.density(g))
    connected = nx.is_strongly_connected(g) if d else nx.is_connected(g)
    exact(name, "is_connected", st["is_connected"], connected)
    if connected:
        exact(name, "diameter", st["diameter"], float(nx.diameter(g)))
        exact(name, "radius", st["radius"], float(nx.radius(g)))
        record(name, "average shortest path length", close(st["average_shortest_path_length"],
               nx.average_shortest_path_length(g), 1e-9))
    # Centralities.
    compare_map(name, "degree centrality", per_node(mfn("degree_centrality", path, {}, d)), nx.degree_centrality(g), 1e-9)
    compare_map(name, "betweenness", per_node(mfn("betweenness_centrality", path, {}, d)), nx.betweenness_centrality(g), 1e-9)
    compare_map(name, "betweenness (endpoints, raw)",
                per_node(mfn("betweenness_centrality", path, {"endpoints": True, "normalized": False}, d)),
                nx.betweenness_centrality(g, endpoints=True, normalized=False), 1e-9)
    if weight:
        compare_map(name, "betweenness (weighted)",
                    per_node(mfn("betweenness_centrality", path, {"weight": weight}, d)),
                    nx.betweenness_centrality(g, weight=weight), 1e-9)
        compare_map(name, "closeness (weighted)", per_node(mfn("closeness_centrality", path, {"weight": weight}, d)),
                    nx.closeness_centrality(g, distance=weight), 1e-9)
    compare_map(name, "closeness", per_node(mfn("closeness_centrality", path, {}, d)), nx.closeness_centrality(g), 1e-9)
    pr_args = {"weight": weight} if weight else {"weight": None}
    compare_map(name, "pagerank", per_node(mfn("pagerank", path, pr_args, d)), nx.pagerank(g, weight=weight), 1e-6)
    try:
        ev_ref = nx.eigenvector_centrality(g, max_iter=1000)
    except nx.PowerIterationFailedConvergence:
        ev_ref = None
    if ev_ref is not None:
        compare_map(name, "eigenvector", per_node(mfn("eigenvector_centrality", path, {"max_iter": 1000}, d)), ev_ref, 1e-6)
    # Clustering, cores.
    cl = mfn("clustering_coefficients", path, {}, d)
    compare_map(name, "clustering", per_node(cl), nx.clustering(g), 0)
    record(name, "average clustering", close(cl["average_clustering"], nx.average_clustering(g), 1e-9),
           f"{cl['average_clustering']} vs {nx.average_clustering(g)}")
    if not d:
        record(name, "transitivity", close(cl["transitivity"], nx.transitivity(g), 1e-9))
    compare_map(name, "core number", per_node(mfn("core_number", path, {}, d)),
                {k: float(v) for k, v in nx.core_number(g).items()}, 0)
    if not d:
        eff = mfn("efficiency", path, {}, d)
        record(name, "global efficiency", close(eff["global_efficiency"], nx.global_efficiency(g), 1e-9))
        record(name, "local efficiency", close(eff["local_efficiency"], nx.local_efficiency(g), 1e-9))
        w = weight or "weight"
        mst = mfn("minimum_spanning_tree", path, {"weight": w}, d)
        ref = nx.minimum_spanning_tree(g, weight=w).size(weight=w)
        # Exact for integer weights; float sums depend on the order of addition.
        int_w = all(float(d.get(w, 1)).is_integer() for _, _, d in g.edges(data=True))
        ok = mst["total_weight"] == ref if int_w else close(mst["total_weight"], ref, 1e-12)
        record(name, "MST total weight" + ("" if int_w else " (float, 1e-12)"), ok, f"{mst['total_weight']} vs {ref}")
        prim = mfn("minimum_spanning_tree", path, {"weight": w, "algorithm": "prim"}, d)
        record(name, "MST total weight (prim)", close(prim["total_weight"], ref, 1e-12), f"{prim['total_weight']} vs {ref}")
        lv = mfn("community_detection", path, {"method": "louvain", "seed": 1}, d)
        nx_q = nx.community.modularity(g, nx.community.louvain_communities(g, seed=1))
        ours_q = nx.community.modularity(g, [set(c) for c in lv["communities"]])
        record(name, "louvain modularity >= nx - 0.02", lv["modularity"] >= nx_q - 0.02 and close(ours_q, lv["modularity"], 1e-9),
               f"{lv['modularity']:.4f} (nx {nx_q:.4f})")
        gm = mfn("community_detection", path, {"method": "greedy_modularity"}, d)
        q = nx.community.modularity(g, [set(c) for c in gm["communities"]])
        record(name, "greedy modularity = its partition's Q", close(q, gm["modularity"], 1e-9), f"{gm['modularity']:.4f}")


def main():
    cases = []
    k = nx.karate_club_graph()
    cases.append(("karate", k, write_json(k, "karate"), False, "weight"))
    er = nx.gnp_random_graph(200, 0.05, seed=1)
    cases.append(("er200", er, write_csv(er, "er200"), False, None))
    er_small = nx.gnp_random_graph(300, 0.006, seed=4)  # disconnected
    cases.append(("er300-sparse", er_small, write_json(er_small, "er300"), False, None))
    ba = nx.barabasi_albert_graph(300, 3, seed=3)
    cases.append(("ba300", ba, write_csv(ba, "ba300"), False, None))
    grid = nx.convert_node_labels_to_integers(nx.grid_2d_graph(10, 12))
    cases.append(("grid10x12", grid, write_csv(grid, "grid"), False, None))
    wer = nx.gnp_random_graph(150, 0.06, seed=5)
    rng = random.Random(5)
    for u, v in wer.edges:
        wer[u][v]["weight"] = rng.randint(1, 9)
    cases.append(("er150-intw", wer, write_csv(wer, "er150w", "weight"), False, "weight"))
    fer = nx.gnp_random_graph(120, 0.08, seed=6)
    for u, v in fer.edges:
        fer[u][v]["weight"] = rng.uniform(0.1, 5.0)
    cases.append(("er120-floatw", fer, write_csv(fer, "er120f", "weight"), False, "weight"))
    der = nx.gnp_random_graph(150, 0.03, seed=2, directed=True)
    cases.append(("er150-directed", der, write_csv(der, "er150d"), True, None))
    dw = nx.gnp_random_graph(100, 0.06, seed=8, directed=True)
    for u, v in dw.edges:
        dw[u][v]["weight"] = rng.uniform(0.5, 3.0)
    cases.append(("er100-directed-w", dw, write_csv(dw, "er100dw", "weight"), True, "weight"))
    for name, g, path, d, w in cases:
        try:
            run_case(name, g, path, d, w)
        except Exception as e:  # a crash is a failure of every remaining check
            record(name, "run", False, str(e)[:200])

    # Max flow (integer capacities), directed and undirected.
    fg = nx.gnp_random_graph(60, 0.1, seed=9, directed=True)
    for u, v in fg.edges:
        fg[u][v]["capacity"] = rng.randint(1, 20)
    p = write_json(fg, "flow")
    for s, t in [(0, 59), (3, 17), (10, 40)]:
        try:
            r = mfn("maximum_flow", p, {"source": s, "sink": t}, True)
            exact("flow60-directed", f"max flow {s}->{t}", r["flow_value"], float(nx.maximum_flow_value(fg, s, t)))
        except Exception as e:
            record("flow60-directed", f"max flow {s}->{t}", False, str(e)[:200])
    ug = nx.Graph(fg)
    p = write_json(ug, "flowu")
    r = mfn("maximum_flow", p, {"source": 0, "sink": 59})
    exact("flow60-undirected", "max flow 0->59", r["flow_value"], float(nx.maximum_flow_value(ug, 0, 59)))

    # Topological order of a DAG is valid.
    dag = nx.DiGraph([(u, v) for u, v in nx.gnp_random_graph(80, 0.08, seed=10, directed=True).edges if u < v])
    r = mfn("topological_sort", write_csv(dag, "dag"), {}, True)
    pos = {n: i for i, n in enumerate(r["order"])}
    record("dag80", "topological order valid", len(pos) == dag.number_of_nodes() and all(pos[u] < pos[v] for u, v in dag.edges))

    # Strong components and simple cycles of small random digraphs with self-loops
    # (NetworkX's simple_cycles lists a self-loop as a one-node cycle), as sets of
    # members and of cycles rotated to their smallest node.
    def rotated(c):
        k = c.index(min(c))
        return tuple(c[k:] + c[:k])

    for seed in (1, 2, 3):
        rng = random.Random(seed)
        cg = nx.DiGraph()
        cg.add_nodes_from(range(12))
        cg.add_edges_from((rng.randrange(12), rng.randrange(12)) for _ in range(22))
        cg.add_edges_from((v, v) for v in rng.sample(range(12), 2))
        p = write_json(cg, f"cyc{seed}")
        res = mfn("connected_components", p, {"strong": True}, True)
        exact(f"cyc12-{seed}", "strong components (members)",
              sorted(sorted(c) for c in res["components"]),
              sorted(sorted(c) for c in nx.strongly_connected_components(cg)))
        res = mfn("cycles_detection", p, {}, True)
        want = {rotated(c) for c in nx.simple_cycles(cg)}
        got = [rotated(c) for c in res["cycles"]]
        record(f"cyc12-{seed}", f"simple cycles ({len(want)})",
               len(got) == len(set(got)) and set(got) == want and not res["truncated"]
               and res["has_cycle"] == bool(want), f"{len(got)} listed")

    # Report.
    w = max(len(r[0]) for r in ROWS)
    c = max(len(r[1]) for r in ROWS)
    fails = 0
    for graph, check, ok, detail in ROWS:
        fails += not ok
        print(f"{'PASS' if ok else 'FAIL'}  {graph:<{w}}  {check:<{c}}  {detail}")
    print(f"\n{len(ROWS) - fails} passed, {fails} failed ({len(ROWS)} checks, networkx {nx.__version__})")
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
