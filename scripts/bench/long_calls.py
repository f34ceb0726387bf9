#!/usr/bin/env python3
"""How long a call of `matching` or `cycles_detection` holds a worker, and its memory.

`matching`:
`matching` runs rustworkx-core's blossom algorithm (O(n³)), which has no cancellation
hook: once started it runs to the end whatever the deadline, so its node limit
(`MFN_GRAPH_MAX_NODES_MATCHING`) is what bounds it. This writes seeded graphs of
several shapes as CSV, times one call of each with `graph_bench` (`timing.median_ms`
of `--repeat 1`: one timed call after one warm-up call; the node limit raised to the
graph's size), and prints a Markdown table.
A call that exceeds `--timeout` seconds (two calls and the load) is reported as such.

`cycles`: writes a seeded random directed graph (`--nodes`, `--arcs`, self-loops
dropped) and runs `cycles_detection` with `max_cycles` 1 and 10 on it, one call each
after a warm-up, printing the time per call, the cycles' total length and the peak RSS
of the process (and of a `get_info` on the same graph, for the graph's own share); then
the strong components and the first cycle of that graph and of a directed path of as
many nodes (`--repeat 5`, median).

`greedy`: writes a seeded random undirected graph (`--nodes`, `--arcs`, self-loops
dropped) and times one `community_detection {"method": "greedy_modularity"}` call on it,
or reports that it ran past `--timeout` seconds (it is cancellable: a server stops it at
the deadline).

Usage: long_calls.py --bench target/release/examples/graph_bench matching [--sizes 2000,5000,10000]
       long_calls.py --bench target/release/examples/graph_bench cycles [--nodes 200000 --arcs 1000000]
       long_calls.py --bench target/release/examples/graph_bench greedy [--nodes 200000 --arcs 1000000]
"""
import argparse
import json
import os
import random
import subprocess
import tempfile


def shapes(n):
    """(name, edges, weighted) of each shape with n nodes, seeded by n."""
    rnd = random.Random(n)
    yield "path", [(i, i + 1, None) for i in range(n - 1)], False
    for per_node in (2, 5, 20):
        edges = [(rnd.randrange(n), rnd.randrange(n), None) for _ in range(per_node * n)]
        yield f"random, {per_node}n edges", edges, False
    edges = [(rnd.randrange(n), rnd.randrange(n), rnd.random()) for _ in range(5 * n)]
    yield "random, 5n edges, weighted", edges, True


def write(path, edges, weighted):
    with open(path, "w") as f:
        f.write("source,target,weight\n" if weighted else "source,target\n")
        for u, v, w in edges:
            f.write(f"{u},{v},{w}\n" if weighted else f"{u},{v}\n")


def run(cmd):
    """(stdout, peak RSS in MB) of one process."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    out = p.stdout.read()
    _, status, usage = os.wait4(p.pid, 0)
    if status != 0:
        raise SystemExit(f"{' '.join(cmd)}: exit status {status}")
    return out, usage.ru_maxrss / 1024


def write_random(path, nodes, arcs, seed):
    """A seeded random graph of `arcs` draws over `nodes`, self-loops dropped."""
    rnd = random.Random(seed)
    drawn = ((rnd.randrange(nodes), rnd.randrange(nodes)) for _ in range(arcs))
    write(path, [(u, v, None) for u, v in drawn if u != v], False)


def timed(cmd, timeout):
    """The JSON `graph_bench` printed, or None when it ran past `timeout` seconds."""
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        return None
    return json.loads(out.stdout)


def cycles(a):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "g.csv")
        write_random(path, a.nodes, a.arcs, 1)
        _, base = run([a.bench, path, "get_info", "--repeat", "1", "--directed"])
        print(f"get_info alone: peak RSS {base:,.0f} MB\n")
        print("| max_cycles | cycles | nodes listed | ms per call | peak RSS MB |")
        print("|---:|---:|---:|---:|---:|")
        for k in (1, 10):
            args = json.dumps({"max_cycles": k})
            cmd = [a.bench, path, "cycles_detection", args, "--repeat", "1", "--directed"]
            out, rss = run(cmd)
            d = json.loads(out)
            c = d["result"]["cycles"]
            ms = d["timing"]["median_ms"]
            print(f"| {k} | {len(c)} | {sum(map(len, c)):,} | {ms:,.0f} | {rss:,.0f} |")
        # Strong components (the search `has_cycle` and the work list start from), on
        # this graph and on a directed path as deep as it has nodes.
        line = os.path.join(tmp, "path.csv")
        write(line, [(i, i + 1, None) for i in range(a.nodes - 1)], False)
        print("\n| graph | tool | ms per call |")
        print("|---|---|---:|")
        for name, f in (("random", path), ("path", line)):
            for tool, args in (
                ("connected_components", {"strong": True}),
                ("cycles_detection", {"max_cycles": 1}),
            ):
                cmd = [a.bench, f, tool, json.dumps(args), "--repeat", "5", "--directed"]
                d = json.loads(run(cmd)[0])
                print(f"| {name} | {tool} {json.dumps(args)} | {d['timing']['median_ms']:,.1f} |")


def greedy(a):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "g.csv")
        write_random(path, a.nodes, a.arcs, 2)
        args = json.dumps({"method": "greedy_modularity"})
        d = timed([a.bench, path, "community_detection", args, "--repeat", "1"], a.timeout)
        if d is None:
            print(f"greedy modularity, {a.nodes} nodes: over {a.timeout:.0f} s (no call finished)")
        else:
            print(f"greedy modularity, {a.nodes} nodes: {d['timing']['median_ms']:,.0f} ms per call")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", required=True, help="the release graph_bench example")
    sub = ap.add_subparsers(dest="what", required=True)
    m = sub.add_parser("matching")
    m.add_argument("--sizes", default="2000,5000,10000")
    m.add_argument("--timeout", type=float, default=120.0)
    c = sub.add_parser("cycles")
    c.add_argument("--nodes", type=int, default=200_000)
    c.add_argument("--arcs", type=int, default=1_000_000)
    gr = sub.add_parser("greedy")
    gr.add_argument("--nodes", type=int, default=200_000)
    gr.add_argument("--arcs", type=int, default=1_000_000)
    gr.add_argument("--timeout", type=float, default=100.0)
    a = ap.parse_args()
    if a.what == "greedy":
        greedy(a)
        return
    if a.what == "cycles":
        cycles(a)
        return
    print("| nodes | graph | edges | matched pairs | ms per call |")
    print("|---:|---|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(s) for s in a.sizes.split(",")):
            for name, edges, weighted in shapes(n):
                path = os.path.join(tmp, "g.csv")
                write(path, edges, weighted)
                args = json.dumps({"weight": "weight"} if weighted else {})
                limits = json.dumps({"max_nodes_matching": n})
                cmd = [a.bench, path, "matching", args, "--repeat", "1", "--limits", limits]
                d = timed(cmd, a.timeout)
                if d is None:
                    print(f"| {n} | {name} | {len(edges)} | — | over {a.timeout / 2:.0f} s |")
                    continue
                ms = d["timing"]["median_ms"]
                print(f"| {n} | {name} | {len(edges)} | {d['result']['size']} | {ms:,.0f} |")


if __name__ == "__main__":
    main()
