#!/usr/bin/env bash
# Graph engine vs NetworkX, igraph and rustworkx (issues #8, #16): build the release
# bench harness of mfn-graph, make sure a venv with NetworkX 3.6.1, igraph 1.0 and
# rustworkx 0.18 exists, run scripts/bench/graph_vs_networkx.py with the given flags.
#
#   scripts/bench/graph.sh                       # table on stdout
#   scripts/bench/graph.sh --nx-sample 500 --nx-cache /tmp/nx.json --write-doc
#
# Env: CARGO_TARGET_DIR (default target), MFN_GRAPH_VENV (default
# $MFN_CACHE_DIR/venv-graph, MFN_CACHE_DIR defaulting to ~/.cache/mfn).
set -euo pipefail
cd "$(dirname "$0")/../.."
target="${CARGO_TARGET_DIR:-target}"
cargo build --release -p mfn-graph --example graph_bench
venv="${MFN_GRAPH_VENV:-${MFN_CACHE_DIR:-$HOME/.cache/mfn}/venv-graph}"
if ! "$venv/bin/python" -c 'import networkx, scipy, igraph, rustworkx' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r scripts/interop/graph_requirements.txt -r scripts/bench/graph_bench_requirements.txt
fi
exec "$venv/bin/python" scripts/bench/graph_vs_networkx.py \
  --bench "$target/release/examples/graph_bench" "$@"
