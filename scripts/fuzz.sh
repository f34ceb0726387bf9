#!/usr/bin/env bash
# Fuzzing of every decoder with cargo-fuzz (libFuzzer): the targets are fuzz/fuzz_targets/
# (one per decoder: gRPC messages, REST bodies, WebSocket messages, MCP JSON-RPC, config
# and key files, npy/PNG/CSV uploads, graph CSV, node-link JSON and GraphML, pipeline
# messages), seeded from the committed corpora fuzz/corpus/<target>/ and the
# dictionaries fuzz/dict/<target>.dict.
#
#   ./scripts/fuzz.sh                      # CI: every target, 13 s each (~140 s in all)
#   ./scripts/fuzz.sh graph_graphml arrays # only these targets
#   ./scripts/fuzz.sh --seconds 60         # each target for 60 s
#   ./scripts/fuzz.sh --release --seconds 60   # … on the optimised build
#   ./scripts/fuzz.sh --long 10000000      # the long run: 10 M executions per target
#   ./scripts/fuzz.sh --long 10000000 --seconds 600   # … stopping each at 10 min
#   MFN_FUZZ_FRESH=1 ./scripts/fuzz.sh     # forget the corpus grown by earlier runs
#   MFN_FUZZ_ARGS="-seed=1" ./scripts/fuzz.sh    # more libFuzzer flags, after ours
#
# cargo-fuzz needs nightly flags; RUSTC_BOOTSTRAP=1 allows them on the stable toolchain.
# Targets are built once, without a sanitizer (safe Rust: crashes, panics, hangs and
# memory blow-ups are what we look for), with debug assertions and overflow checks.
# The bounded run uses an unoptimised build ($CACHE/fuzz-target-dev: ~6-9 min cold on
# 2 cores, thousands of executions per second per target); --long and --release an
# optimised one ($CACHE/fuzz-target: ~20 min cold, 8-260 k exec/s). cargo-fuzz is
# installed under $CACHE/tools on first use (~1 min).
#
# Each input is bounded, so that quadratic and amplifying inputs count as failures:
#   -timeout=5         one input taking 5 s is a hang (normal inputs take microseconds);
#   -rss_limit_mb=512  the process above 512 MB is an out-of-memory failure: a target
#                      idles at 30-50 MB, and a long run's in-memory corpus adds a few MB;
#   -max_len=…         per target, a few times the largest sensible document;
# and the targets' allocator (fuzz/src/lib.rs) aborts on one Rust allocation over
# 64 MiB or more than 256 MiB live (libFuzzer's -malloc_limit_mb needs a sanitizer).
#
# The corpus grows in a scratch copy, $CACHE/fuzz-corpus/<target> (the committed seeds
# are read from fuzz/corpus/<target> and never written), so a run leaves the clone
# clean. A finding is saved under $CACHE/fuzz-artifacts/<target>/; the script prints
# its path, the input (text, or base64 when binary) and how to reproduce it, runs the
# other targets, and exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE="${MFN_CACHE_DIR:-$HOME/.cache/mfn}"
TARGET_DIR="$CACHE/fuzz-target"
CORPUS_DIR="$CACHE/fuzz-corpus"
ARTIFACT_DIR="$CACHE/fuzz-artifacts"
LOG_DIR="$CACHE/fuzz-logs"
CARGO_FUZZ_VERSION=0.13.2
# CI: seconds per target (10 targets × 13 s = 130 s of fuzzing, plus ~1 s of start-up each).
SECONDS_PER_TARGET=13
RUNS=""
seconds_given=0
release=0

usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; }

targets=()
while (($#)); do
  case "$1" in
    --long)
      [[ "${2:-}" =~ ^[0-9]+$ ]] || { echo "--long needs a number of runs" >&2; exit 2; }
      RUNS="$2"
      release=1
      shift 2
      ;;
    --release) release=1; shift ;;
    --seconds)
      [[ "${2:-}" =~ ^[0-9]+$ ]] || { echo "--seconds needs a number" >&2; exit 2; }
      SECONDS_PER_TARGET="$2"
      seconds_given=1
      shift 2
      ;;
    -h | --help) usage; exit 0 ;;
    -*) echo "unknown option $1" >&2; usage >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done

all=()
for f in fuzz/fuzz_targets/*.rs; do all+=("$(basename "$f" .rs)"); done
if ((${#targets[@]} == 0)); then
  targets=("${all[@]}")
fi
for t in "${targets[@]}"; do
  [[ -f "fuzz/fuzz_targets/$t.rs" ]] || { echo "no fuzz target $t (have: ${all[*]})" >&2; exit 2; }
done

# Longest input per target, bytes.
max_len() {
  case "$1" in
    grpc_request | config) echo 8192 ;;
    rest_body | ws_message | mcp_message | pipeline_message) echo 16384 ;;
    arrays) echo 32768 ;;
    graph_csv | graph_node_link | graph_graphml) echo 65536 ;;
    *) echo 16384 ;;
  esac
}

step() { printf '\n==> %s\n' "$*"; }

step "prerequisites: g++ (libFuzzer is C++), cargo-fuzz $CARGO_FUZZ_VERSION"
if ! command -v g++ >/dev/null; then
  echo "installing g++"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq g++ >/dev/null
fi
if [[ "$("$CACHE/tools/bin/cargo-fuzz" --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]]; then
  CARGO_TARGET_DIR="$CACHE/tools-target" cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" \
    --locked --quiet --root "$CACHE/tools"
  rm -rf "$CACHE/tools-target"
fi
export PATH="$CACHE/tools/bin:$PATH"

# The bounded run (CI) fuzzes an unoptimised build: ~6 min cold on 2 cores against ~20
# for release, at about a tenth of the executions per second (thousands per second per
# target, enough for a regression smoke). The long run is a release build.
if ((release)); then
  profile=release
  build_flags=(--codegen-units 16)  # a much shorter build for a few % of exec/s
else
  profile=debug
  build_flags=(--dev)
  TARGET_DIR="$CACHE/fuzz-target-dev"
fi
step "build every target ($profile, debug assertions, no sanitizer) into $TARGET_DIR"
build_start=$SECONDS
(cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz build --sanitizer none "${build_flags[@]}" \
  --target-dir "$TARGET_DIR")
printf '    built in %d s\n' $((SECONDS - build_start))
bin_dir="$TARGET_DIR/x86_64-unknown-linux-gnu/$profile"

mkdir -p "$CORPUS_DIR" "$ARTIFACT_DIR" "$LOG_DIR"
if [[ -n "$RUNS" ]]; then
  budget=(-runs="$RUNS")
  what="$RUNS executions per target"
  if ((seconds_given)); then
    budget+=(-max_total_time="$SECONDS_PER_TARGET")
    what+=", at most $SECONDS_PER_TARGET s each"
  fi
else
  budget=(-max_total_time="$SECONDS_PER_TARGET")
  what="$SECONDS_PER_TARGET s per target"
fi

# The value of `key: N` (libFuzzer's final stats) in a log, or "?".
final_stat() { grep -m1 -oP "^stat::$1: *\K[0-9]+" "$2" || echo "?"; }

# Print a finding: where it is, the input, how to reproduce it.
report_artifact() {
  local t="$1" log="$2" artifact
  artifact="$(grep -oP 'Test unit written to \K\S+' "$log" | tail -1 || true)"
  [[ -n "$artifact" ]] || artifact="$(ls -t "$ARTIFACT_DIR/$t"/* 2>/dev/null | head -1 || true)"
  echo "---- $t: libFuzzer's report (last 40 lines of $log)"
  tail -n 40 "$log"
  if [[ -n "$artifact" && -f "$artifact" ]]; then
    echo "---- $t: input saved as $artifact ($(wc -c <"$artifact") bytes)"
    if iconv -f UTF-8 -t UTF-8 "$artifact" >/dev/null 2>&1 && ! grep -qP '[\x00-\x08\x0e-\x1f\x7f]' "$artifact"; then
      echo "text:"
      head -c 4096 "$artifact"
      echo
    fi
    echo "base64:"
    head -c 3072 "$artifact" | base64 -w 100
    echo "reproduce: $bin_dir/$t $artifact"
  fi
}

step "fuzz ${targets[*]}: $what"
printf '%-18s %-8s %12s %8s %9s %11s %9s %9s %8s\n' target result executions seconds exec/s "cov start" "cov end" "new units" "peak MB"
failed=()
summary=()
fuzz_start=$SECONDS
for t in "${targets[@]}"; do
  corpus="$CORPUS_DIR/$t"
  [[ "${MFN_FUZZ_FRESH:-0}" == 1 ]] && rm -rf "$corpus"
  mkdir -p "$corpus" "$ARTIFACT_DIR/$t"
  dict=()
  [[ -f "fuzz/dict/$t.dict" ]] && dict=(-dict="fuzz/dict/$t.dict")
  log="$LOG_DIR/$t.log"
  start=$SECONDS
  rc=0
  # New inputs go to the first directory only: the scratch copy. The committed seeds
  # are read as a second corpus.
  "$bin_dir/$t" "${budget[@]}" -timeout=5 -rss_limit_mb=512 -max_len="$(max_len "$t")" \
    -print_final_stats=1 -artifact_prefix="$ARTIFACT_DIR/$t/" "${dict[@]}" \
    ${MFN_FUZZ_ARGS:-} "$corpus" "fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
  elapsed=$((SECONDS - start))
  runs="$(final_stat number_of_executed_units "$log")"
  done_line="$(grep -oP '^Done \K[0-9]+ runs in [0-9]+ second' "$log" | tail -1 || true)"
  if [[ -n "$done_line" ]]; then
    runs="${done_line%% *}"
    secs="$(echo "$done_line" | grep -oP 'in \K[0-9]+')"
  else
    secs=$elapsed
  fi
  rate="$(final_stat average_exec_per_sec "$log")"
  new_units="$(final_stat new_units_added "$log")"
  peak="$(final_stat peak_rss_mb "$log")"
  cov_start="$(grep -m1 -oP 'INITED cov: \K[0-9]+' "$log" || echo "?")"
  cov_end="$(grep -oP '\bcov: \K[0-9]+' "$log" | tail -1 || echo "?")"
  if ((rc == 0)); then result=ok; else result="FAILED($rc)"; failed+=("$t"); fi
  line="$(printf '%-18s %-8s %12s %8s %9s %11s %9s %9s %8s' "$t" "$result" "$runs" "$secs" "$rate" "$cov_start" "$cov_end" "$new_units" "$peak")"
  echo "$line"
  summary+=("$line")
  if ((rc != 0)); then report_artifact "$t" "$log"; fi
done
printf '    fuzzed in %d s (logs in %s)\n' $((SECONDS - fuzz_start)) "$LOG_DIR"

if ((${#failed[@]})); then
  echo
  echo "FUZZING FOUND FAILURES in: ${failed[*]}"
  printf '%s\n' "${summary[@]}"
  exit 1
fi
echo "fuzzing: ${#targets[@]} targets, 0 findings"
