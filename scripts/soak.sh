#!/usr/bin/env bash
# Soak and chaos run of `mfn serve` (docs/RELIABILITY.md): mixed load on every door,
# kill -9 and restart with the graph store checked, SIGTERM under load. Prints errors by
# door and status, RSS growth after warm-up and lost acknowledged writes; exits 1 unless
# growth < 10 %, 0 unintended errors and 0 lost writes.
#
#   ./scripts/soak.sh                 # the documented 10-minute form, release build
#   ./scripts/soak.sh 60 target/debug/mfn   # the CI form (scripts/test.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-600}"
mfn_bin="${2:-}"
CACHE="${MFN_CACHE_DIR:-$HOME/.cache/mfn}"
if [[ -z "$mfn_bin" ]]; then
  cargo build --release --locked -p mfn-cli
  target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
  mfn_bin="$target_dir/release/mfn"
fi
if [[ ! -x "$CACHE/venv/bin/python" ]]; then
  mkdir -p "$CACHE"
  python3 -m venv "$CACHE/venv"
fi
"$CACHE/venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  -r scripts/interop/grpc_requirements.txt -r scripts/interop/compat_requirements.txt
exec "$CACHE/venv/bin/python" scripts/soak/soak.py "$mfn_bin" --seconds "$seconds"
