#!/usr/bin/env bash
# Every test of the project, as CI runs it: fmt, clippy -D warnings, docs with warnings
# denied, unit + integration + doc tests, then interop checks against real third-party
# peers: NumPy as the oracle of the science; Python grpcio, grpcio-health-checking and
# grpcurl as gRPC clients we did not write (plain, TLS and mTLS); headless Chromium
# (Debian `chromium`, driven by playwright-core from npm) on the live page. Installs what
# it needs itself: a venv and the npm cache under $MFN_CACHE_DIR (default ~/.cache/mfn),
# chromium with apt-get when it is missing.
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
  "$CACHE/venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r scripts/interop/requirements.txt -r scripts/interop/grpc_requirements.txt
  # `cargo test` above built the `mfn` binary (its integration tests run it); reuse it.
  target_dir="$(cargo metadata --format-version 1 --no-deps | "$CACHE/venv/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
  mfn_bin="$target_dir/debug/mfn"
  [[ -x "$mfn_bin" ]] || cargo build -p mfn-cli --locked
  "$CACHE/venv/bin/python" scripts/interop/numpy_reference.py "$mfn_bin"

  step "interop: grpcio, grpcio-health-checking, grpcurl, mTLS against mfn serve"
  "$CACHE/venv/bin/python" scripts/interop/grpc_interop.py "$mfn_bin"

  step "browser: the live page in headless Chromium (playwright-core; screenshot in $target_dir/browser)"
  if [[ ! -x /usr/bin/chromium ]]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
  fi
  npm ci --prefix scripts/browser --cache "$CACHE/npm" --no-audit --no-fund --loglevel=error
  node scripts/browser/page.mjs "$mfn_bin" "$target_dir/browser"
fi

step "all tests passed"
