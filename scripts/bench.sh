#!/usr/bin/env bash
# The performance suite of issue #5, end to end on one machine, then docs/BENCHMARKS.md.
#
#   ./scripts/bench.sh           # full run (< 10 min)
#   ./scripts/bench.sh --quick   # shorter windows, fewer points (< 2 min)
#
# Builds `mfn` and the bare tonic echo server (`mfn-bench-echo`) in release, installs
# h2load (Debian nghttp2-client) if missing, and runs every measurement with the server
# pinned to core $MFN_BENCH_SERVER_CPU (0) and the load generator to core
# $MFN_BENCH_LOAD_CPU (1) when the machine has two cores or more (taskset; unpinned
# otherwise). Raw results (JSON and h2load text, each with the command that made it) go to
# $MFN_BENCH_OUT (default: <cargo target dir>/bench); scripts/bench/render.py rewrites the
# section of docs/BENCHMARKS.md between the `bench:begin`/`bench:end` markers and draws
# docs/bench-latency.svg. The criterion section above the markers is not touched.
#
# Server settings for benchmarking (all documented in docs/OPERATIONS.md):
#   MFN_ANON_RATE_LIMIT_RPS=10000000  the default per-IP limit (100/s) would throttle us
#   MFN_ANON_RATE_LIMIT_CONCURRENT=100000  1000 streams from one IP are 1000 calls in flight
#                                     (dev's loopback allowance is 512: the rest would be
#                                     refused with RESOURCE_EXHAUSTED "rate limited")
#   MFN_COMPUTE_QUEUE=4096            room for 1000 streams' chunks and deep closed loops
#   MFN_MAX_WORKERS=1                 one compute thread: the server owns one core
# Logs (audit lines included, they are part of the stack we measure) go to a file.
set -euo pipefail
cd "$(dirname "$0")/.."

QUICK=0
for arg in "$@"; do
  case "$arg" in
    --quick) QUICK=1 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg" >&2; exit 64 ;;
  esac
done

step() { printf '\n==> %s\n' "$*" >&2; }

target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
# MFN_BENCH_BIN_DIR: use the binaries already there (e.g. a debug build for a dry run).
BIN_DIR="${MFN_BENCH_BIN_DIR:-}"
if [[ -z "$BIN_DIR" ]]; then
  step "build (release): mfn, mfn-bench-echo"
  cargo build --release --locked -p mfn-cli -p mfn-bench-echo
  BIN_DIR="$target_dir/release"
fi
MFN="$BIN_DIR/mfn"
ECHO="$BIN_DIR/mfn-bench-echo"
OUT="${MFN_BENCH_OUT:-$target_dir/bench}"
rm -rf "$OUT" && mkdir -p "$OUT"

if ! command -v h2load >/dev/null; then
  step "install h2load (nghttp2-client)"
  SUDO=""; [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq nghttp2-client >/dev/null
fi

SERVER_CPU="${MFN_BENCH_SERVER_CPU:-0}"
LOAD_CPU="${MFN_BENCH_LOAD_CPU:-1}"
if [[ $(nproc) -ge 2 ]] && command -v taskset >/dev/null; then
  SERVER_PIN=(taskset -c "$SERVER_CPU")
  on_server() { taskset -c "$SERVER_CPU" "$@"; }
  on_loader() { taskset -c "$LOAD_CPU" "$@"; }
  PINNING="server on core $SERVER_CPU, load generator on core $LOAD_CPU (taskset)"
else
  SERVER_PIN=()
  on_server() { "$@"; }
  on_loader() { "$@"; }
  PINNING="not pinned (fewer than 2 cores or no taskset)"
fi

if [[ $QUICK == 1 ]]; then D=3; W=1; SD=5; SW=5; RUNS=3; SWEEP="0.1 0.5 0.9 1.1"; VD=5
else D=10; W=2; SD=15; SW=10; RUNS=5; SWEEP="0.1 0.25 0.5 0.75 0.9 1.0 1.1"; VD=15; fi

# --- bookkeeping -------------------------------------------------------------------
# `record NAME CMD...`: run CMD, stdout to $OUT/NAME.json (or .txt), the command as
# shown in the docs (binary paths shortened, ports as $GRPC/$ECHO_PORT) to NAME.cmd.
shown() {
  local s="" a
  for a in "$@"; do
    if [[ "$a" == *[[:space:]]* ]]; then s+="'$a' "; else s+="$a "; fi
  done
  s="${s% }"
  [[ -n "${SERVER_PID:-}" ]] && s="${s//--server-pid $SERVER_PID/--server-pid \$SERVER_PID}"
  s="${s//$MFN/mfn}"; s="${s//$ECHO/mfn-bench-echo}"; s="${s//$OUT\//}"
  [[ -n "${GRPC:-}" ]] && s="${s//127.0.0.1:$GRPC/127.0.0.1:\$GRPC}"
  [[ -n "${ECHO_PORT:-}" ]] && s="${s//127.0.0.1:$ECHO_PORT/127.0.0.1:\$ECHO}"
  printf '%s' "$s"
}
record() {
  local name="$1"; shift
  local ext=json; [[ "$1" == on_loader && "$2" == h2load ]] && ext=txt
  local -a cmd=("$@")
  if [[ $PINNING == server* ]]; then
    [[ "$1" == on_loader ]] && cmd=(taskset -c "$LOAD_CPU" "${cmd[@]:1}")
    [[ "$1" == on_server ]] && cmd=(taskset -c "$SERVER_CPU" "${cmd[@]:1}")
  else
    [[ "$1" == on_loader || "$1" == on_server ]] && cmd=("${cmd[@]:1}")
  fi
  shown "${cmd[@]}" > "$OUT/$name.cmd"
  step "$name: $(cat "$OUT/$name.cmd")"
  "$@" > "$OUT/$name.$ext"
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_ready() { # port of /ready
  for _ in $(seq 1 600); do
    curl -fs "http://127.0.0.1:$1/ready" >/dev/null 2>&1 && return 0; sleep 0.05
  done
  echo "server not ready" >&2; return 1
}
SERVER_PID=""; ECHO_PID=""
cleanup() {
  [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null || true
  [[ -n "$ECHO_PID" ]] && kill "$ECHO_PID" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT

export MFN_ANON_RATE_LIMIT_RPS=10000000 MFN_ANON_RATE_LIMIT_CONCURRENT=100000 MFN_COMPUTE_QUEUE=4096 MFN_MAX_WORKERS=1
SERVER_ENV="MFN_ANON_RATE_LIMIT_RPS=10000000 MFN_ANON_RATE_LIMIT_CONCURRENT=100000 MFN_COMPUTE_QUEUE=4096 MFN_MAX_WORKERS=1"
start_server() {
  GRPC=$(free_port); HTTP=$(free_port)
  # Not through a shell function: $! must be the server's own pid (taskset execs it).
  "${SERVER_PIN[@]}" "$MFN" serve --grpc-port "$GRPC" --http-port "$HTTP" 2>>"$OUT/server.log" &
  SERVER_PID=$!
  wait_ready "$HTTP"
  URL="http://127.0.0.1:$GRPC"
}
stop_server() { kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""; }

{
  echo "date=$(date -u +%Y-%m-%dT%H:%MZ)"
  echo "quick=$QUICK"
  echo "pinning=$PINNING"
  echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
  echo "cores=$(nproc)"
  echo "load_before=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "server_env=$SERVER_ENV"
  echo "commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
} > "$OUT/meta.txt"

# --- core (single process) ---------------------------------------------------------
record core_simulate on_server "$MFN" --format json simulate --grid-size 64 --steps 64 --repeat $((QUICK ? 100 : 400))

# --- start-up and idle memory --------------------------------------------------------
record startup on_server "$MFN" --format json bench startup --runs "$RUNS"

# --- unary, our server ----------------------------------------------------------------
start_server
B=(--format json --remote "$URL" bench)
LOAD=(--duration "$D" --warmup "$W" --quiet --server-pid "$SERVER_PID")
record features_hit on_loader "$MFN" "${B[@]}" unary --rpc extract-features --connections 2 --in-flight 16 "${LOAD[@]}"
record features_miss on_loader "$MFN" "${B[@]}" unary --rpc extract-features --vary-seed --connections 1 --in-flight 4 "${LOAD[@]}"
record simulate_hit on_loader "$MFN" "${B[@]}" unary --rpc run-simulation --grid-size 64 --steps 64 --connections 2 --in-flight 16 "${LOAD[@]}"
record simulate_miss on_loader "$MFN" "${B[@]}" unary --rpc run-simulation --grid-size 64 --steps 64 --vary-seed --connections 1 --in-flight 4 "${LOAD[@]}"
record nernst on_loader "$MFN" "${B[@]}" unary --rpc compute-nernst --connections 2 --in-flight 16 "${LOAD[@]}"
record validate on_loader "$MFN" "${B[@]}" unary --rpc validate-pattern --vary-seed --connections 1 --in-flight 1 --duration "$VD" --warmup "$W" --quiet --server-pid "$SERVER_PID"
record clients100 on_loader "$MFN" "${B[@]}" unary --rpc extract-features --connections 100 --in-flight 1 "${LOAD[@]}"

# Open-loop sweep of the cached ExtractFeatures path: latency vs offered load.
max_rps=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ok_rps"])' "$OUT/features_hit.json")
for f in $SWEEP; do
  rate=$(python3 -c "print(max(1, round($max_rps * $f)))")
  record "sweep_$f" on_loader "$MFN" "${B[@]}" unary --rpc extract-features --rate "$rate" --connections 2 "${LOAD[@]}"
done

# --- h2load against our server and the bare echo server (same loader, same load) ------
"$MFN" --format json bench body --rpc extract-features --out "$OUT/features.body" >/dev/null
# EchoRequest { payload: 200 bytes } ~ the size of an ExtractFeatures response.
python3 -c 'import sys; p=b"x"*200; m=b"\x0a"+bytes([0xc8,0x01])+p; sys.stdout.buffer.write(b"\0"+len(m).to_bytes(4,"big")+m)' > "$OUT/echo.body"
H2=(h2load -t 1 -c 2 -m 16 -D "$D" --warm-up-time "$W" -H 'content-type: application/grpc' -H 'te: trailers')
record h2load_features on_loader "${H2[@]}" -d "$OUT/features.body" "$URL/mfn.v1.MFNFeaturesService/ExtractFeatures"
"$MFN" --format json bench body --rpc health-check --out "$OUT/health.body" >/dev/null
record h2load_health on_loader "${H2[@]}" -d "$OUT/health.body" "$URL/mfn.v1.MyceliumService/HealthCheck"
stop_server

ECHO_PORT=$(free_port)
"${SERVER_PIN[@]}" "$ECHO" --port "$ECHO_PORT" >/dev/null 2>>"$OUT/echo.log" &
ECHO_PID=$!
for _ in $(seq 1 200); do (exec 3<>/dev/tcp/127.0.0.1/"$ECHO_PORT") 2>/dev/null && break; sleep 0.05; done
record h2load_echo on_loader "${H2[@]}" -d "$OUT/echo.body" "http://127.0.0.1:$ECHO_PORT/mfnbench.echo.Echo/UnaryEcho"
kill "$ECHO_PID"; wait "$ECHO_PID" 2>/dev/null || true; ECHO_PID=""

# --- streams --------------------------------------------------------------------------
start_server
record streams on_loader "$MFN" --format json --remote "$URL" bench stream --streams 1000 --fps 25 --connections 4 --duration "$SD" --warmup "$SW" --quiet --server-pid "$SERVER_PID"
stop_server

echo "load_after=$(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/meta.txt"
step "render docs/BENCHMARKS.md and docs/bench-latency.svg"
python3 scripts/bench/render.py "$OUT" docs/BENCHMARKS.md docs/bench-latency.svg
step "done: raw results in $OUT"
