#!/usr/bin/env bash
# Graph engine vs NetworkX (issue #8): build the release CLI, make sure a venv with
# NetworkX 3.6.1 exists, run scripts/bench/graph_vs_networkx.py with the given flags.
#
#   scripts/bench/graph.sh                       # table on stdout
#   scripts/bench/graph.sh --nx-sample 500 --write-doc
#
# Env: CARGO_TARGET_DIR (default target), MFN_GRAPH_VENV (default /work/venv-graph when
# it exists, else $MFN_CACHE_DIR/venv-graph, MFN_CACHE_DIR defaulting to ~/.cache/mfn).
set -euo pipefail
cd "$(dirname "$0")/../.."
target="${CARGO_TARGET_DIR:-target}"
cargo build --release -p mfn-cli
venv="${MFN_GRAPH_VENV:-}"
if [[ -z "$venv" ]]; then
  if [[ -x /work/venv-graph/bin/python ]]; then
    venv=/work/venv-graph
  else
    venv="${MFN_CACHE_DIR:-$HOME/.cache/mfn}/venv-graph"
  fi
fi
if ! "$venv/bin/python" -c 'import networkx, scipy' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r scripts/interop/graph_requirements.txt
fi
exec "$venv/bin/python" scripts/bench/graph_vs_networkx.py --mfn "$target/release/mfn" "$@"
