#!/usr/bin/env python3
"""How much the searches of a batch of sources share, on the benchmark graphs.

A batched search (`crates/mfn-graph/src/algo/brandes.rs`, 8 sources; `msbfs.rs`, 64)
walks a node's arcs once per *distinct* distance the node has to the batch's sources:
the frontiers it joins. One search per source walks them once per source that reaches
it. For batches of consecutive sources (in node order, as the engine takes them) this
prints, per graph, the frontiers joined per node reached and the ratio of (node, source)
pairs reached to frontiers joined, for the first batch (the one the engine probes) and
the mean over `--batches` batches spread over the node order. It also replays the
undirected components search from the first node and counts the arcs it scans before
every node has a label, against all arcs.

The graphs are `graph_vs_networkx.py`'s, written to CSV and read back as the engine
reads them (nodes in order of first appearance, each row in edge order).

Usage: search_spread.py [--batches 12]
"""
import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from graph_vs_networkx import gen_graphs, read_csv, write_csv  # noqa: E402

import networkx as nx  # noqa: E402


def spread(g, nodes, sources):
    """(frontiers joined, (node, source) pairs reached) of one batch."""
    dists = [nx.single_source_shortest_path_length(g, nodes[s]) for s in sources]
    joined = sum(len({d[v] for d in dists if v in d}) for v in nodes)
    reached = sum(len(d) for d in dists)
    return joined, reached


def arcs_until_labelled(g, nodes):
    """Arcs a search from the first node scans until every node has a label (a
    connected graph), and all arcs."""
    n, total = len(nodes), sum(len(g[v]) for v in nodes)
    seen, queue, head, scanned = {nodes[0]}, [nodes[0]], 0, 0
    while head < len(queue) and len(seen) < n:
        v = queue[head]
        head += 1
        for w in g[v]:
            scanned += 1
            if w not in seen:
                seen.add(w)
                queue.append(w)
    return (scanned if len(seen) == n else total), total


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batches", type=int, default=12)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="mfn-search-spread-")
    print("| graph | sources | joined per node, first batch | reached / joined, first batch | "
          f"reached / joined, mean of {a.batches} batches | components: arcs scanned / all |")
    print("|---|---:|---:|---:|---:|---:|")
    for key, (label, g0) in gen_graphs().items():
        path = os.path.join(tmp, key + ".csv")
        write_csv(g0, path)
        g = read_csv(path)
        nodes = list(g)
        n = len(nodes)
        scanned, total = arcs_until_labelled(g, nodes)
        for width in (8, min(64, n)):
            starts = sorted({(i * (n - width)) // max(1, a.batches - 1) for i in range(a.batches)})
            rows = [spread(g, nodes, range(s, s + width)) for s in starts]
            j0, r0 = rows[0]
            mean = sum(r / j for j, r in rows) / len(rows)
            print(f"| {label} | {width} | {j0 / n:.2f} | {r0 / j0:.1f} | "
                  f"{mean:.1f} | {scanned:,} / {total:,} |")


if __name__ == "__main__":
    main()
