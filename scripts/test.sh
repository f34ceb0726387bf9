#!/usr/bin/env bash
# Every test of the project, as CI runs it: fmt, clippy -D warnings, docs with warnings
# denied, unit + integration + doc tests, then interop checks against real third-party
# peers (NumPy as the oracle of the science). Installs what it needs itself.
#
#   ./scripts/test.sh            # everything
#   MFN_SKIP_INTEROP=1 ./scripts/test.sh   # Rust checks only
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE="${MFN_CACHE_DIR:-$HOME/.cache/mfn}"
step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo doc (warnings denied)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked

step "cargo test (unit, integration, doc tests)"
cargo test --workspace --locked

if [[ "${MFN_SKIP_INTEROP:-0}" != 1 ]]; then
  step "interop: NumPy reference (python venv in $CACHE/venv)"
  if [[ ! -x "$CACHE/venv/bin/python" ]]; then
    mkdir -p "$CACHE"
    python3 -m venv "$CACHE/venv"
  fi
  "$CACHE/venv/bin/python" -m pip install --quiet --disable-pip-version-check -r scripts/interop/requirements.txt
  cargo build -p mfn-cli --locked
  target_dir="$(cargo metadata --format-version 1 --no-deps | "$CACHE/venv/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
  "$CACHE/venv/bin/python" scripts/interop/numpy_reference.py "$target_dir/debug/mfn"
fi

step "all tests passed"
