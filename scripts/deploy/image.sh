#!/usr/bin/env bash
# The container image, built offline with podman (runc) from deploy/Containerfile and
# run as Kubernetes would run it. Checks:
#   - build: final stage from scratch, the binary CI already built (BINARY=prebuilt),
#     glibc and CA certificates from a Debian rootfs made by mmdebstrap;
#   - run: read-only root, all capabilities dropped, no-new-privileges, user 65532;
#   - probes: /health, /ready, /startup, and `mfn health` as an exec probe and as the
#     image's HEALTHCHECK; a REST call;
#   - name resolution inside the image: /etc/hosts (--add-host) and DNS (dnsmasq on
#     127.0.0.54:53 as the container's nameserver);
#   - no shell in the image; PID 1 is mfn, uid 65532, CapEff 0, / mounted ro;
#   - SIGTERM: an in-flight call is answered, exit 0 well within the grace period.
# Prints the image size and the cold start to /ready (docs/BENCHMARKS.md).
#
#   scripts/deploy/image.sh path/to/mfn
#
# Podman in this sandbox: rootful, --cgroup-manager cgroupfs, file events, and
# --ulimit nofile/nproc at or below the sandbox's own limits (podman's defaults are
# above them, which runc cannot set without CAP_SYS_RESOURCE). Storage lives in
# $MFN_CACHE_DIR/deploy/podman (overlay, vfs where overlay cannot mount).
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/deploy/tools.sh
mfn_bin="$(realpath "$1")"
work="$(mktemp -d)"
store="$CACHE/deploy/podman"
base_tar="$CACHE/deploy/rootfs-bookworm.tar"
base_image=localhost/mfn-ci-debian:bookworm
image=localhost/mfn:ci
grace=10
mkdir -p "$store"

driver=overlay
pm() {
  podman --root "$store/$driver" --runroot "/run/mfn-podman-$driver" --storage-driver "$driver" \
    --cgroup-manager cgroupfs --events-backend file --runtime runc "$@"
}
limits=(--ulimit "nofile=$(( $(ulimit -n) < 65536 ? $(ulimit -n) : 65536 ))" --ulimit nproc=4096)
dnsmasq_pid=""
cleanup() {
  pm rm -f -t 0 mfn-ci >/dev/null 2>&1 || true
  [[ -n "$dnsmasq_pid" ]] && kill "$dnsmasq_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

if ! pm info >/dev/null 2>&1; then
  echo "podman: overlay storage unavailable here; using vfs"
  driver=vfs
fi

# --- the offline base: a Debian rootfs from mmdebstrap, imported once ------------
if ! pm image exists "$base_image"; then
  if [[ ! -s "$base_tar" ]]; then
    echo "mmdebstrap: Debian bookworm minbase + ca-certificates -> $base_tar"
    # The .tmp name hides the format from mmdebstrap: say it is a tarball.
    mmdebstrap --quiet --format=tar --variant=minbase --include=ca-certificates bookworm "$base_tar.tmp" \
      http://deb.debian.org/debian
    mv "$base_tar.tmp" "$base_tar"
  fi
  pm import --quiet "$base_tar" "$base_image" >/dev/null
fi

# --- build: the CI binary, stripped of debug info, as BINARY=prebuilt ------------
mkdir -p "$work/ctx/deploy/.prebuilt"
cp deploy/Containerfile "$work/ctx/deploy/Containerfile"
objcopy --strip-debug "$mfn_bin" "$work/ctx/deploy/.prebuilt/mfn"
t0=$(date +%s.%N)
pm build --quiet --format docker --network host "${limits[@]}" \
  --build-arg BINARY=prebuilt \
  --build-arg BUILDER_BASE="$base_image" --build-arg RUNTIME_BASE="$base_image" \
  -f "$work/ctx/deploy/Containerfile" -t "$image" "$work/ctx" >/dev/null
t1=$(date +%s.%N)
size=$(pm image inspect --format '{{.Size}}' "$image")
echo "image built in $(printf '%.1f' "$(echo "$t1 - $t0" | bc)") s: $image, $((size / 1024 / 1024)) MiB"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
grpc_port=$(free_port); http_port=$(free_port)
base="http://127.0.0.1:$http_port"

# DNS for the container: dnsmasq answers mfn-dns-test.internal on 127.0.0.54:53.
printf 'nameserver 127.0.0.54\noptions timeout:1 attempts:2\n' > "$work/resolv.conf"
dnsmasq --keep-in-foreground --no-resolv --no-hosts --bind-interfaces --listen-address=127.0.0.54 \
  --port=53 --address=/mfn-dns-test.internal/127.0.0.1 --pid-file="$work/dnsmasq.pid" \
  --log-facility=- 2>"$work/dnsmasq.log" &
dnsmasq_pid=$!

run_flags=(--network host --read-only --cap-drop ALL --security-opt no-new-privileges
  --tmpfs /var/lib/mfn:rw,U --tmpfs /tmp:rw,mode=1777
  --add-host mfn-hosts-test:127.0.0.1 -v "$work/resolv.conf:/etc/resolv.conf:ro"
  -e MFN_HOST=127.0.0.1 -e MFN_GRPC_PORT="$grpc_port" -e MFN_HTTP_PORT="$http_port"
  -e MFN_SHUTDOWN_TIMEOUT_S="$grace" "${limits[@]}")

wait_ready() {
  for _ in $(seq 1 300); do
    curl -fsS -o /dev/null "$base/ready" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "FAIL: /ready never answered"; pm logs mfn-ci 2>&1 | tail -20; return 1
}

# --- cold start: `podman run` to /ready ----------------------------------------
pm rm -f -t 0 mfn-ci >/dev/null 2>&1 || true
t0=$(date +%s.%N)
# No systemd here: podman cannot schedule the HEALTHCHECK timer (it says so on
# stderr); the check is run by hand below.
pm run -d --name mfn-ci "${run_flags[@]}" "$image" >/dev/null 2>"$work/run.err" \
  || { cat "$work/run.err"; exit 1; }
wait_ready
t1=$(date +%s.%N)
echo "cold start (podman run -> /ready 200): $(printf '%.2f' "$(echo "$t1 - $t0" | bc)") s"

fail() { echo "FAIL: $*"; pm logs mfn-ci 2>&1 | tail -20; exit 1; }
pass=0
ok() { echo "ok: $*"; pass=$((pass + 1)); }

for p in /health /ready /startup; do
  [[ "$(curl -s -o /dev/null -w '%{http_code}' "$base$p")" == 200 ]] || fail "$p"
done
ok "probes /health /ready /startup answer 200"

out=$(pm exec mfn-ci /usr/local/bin/mfn health) || fail "exec probe: $out"
[[ "$out" == ok:* ]] || fail "exec probe said: $out"
ok "exec probe: $out"
out=$(pm healthcheck run mfn-ci 2>&1) || fail "HEALTHCHECK: $out"
ok "image HEALTHCHECK (mfn health) passes"

body=$(curl -fsS -X POST -H 'content-type: application/json' \
  -d '{"seed": 7, "grid_size": 32, "steps": 32}' "$base/v1/simulate") || fail "REST /v1/simulate"
python3 -c 'import json,sys; r=json.loads(sys.argv[1]); assert r["growth_events"] >= 0 and r["request_id"], r' "$body" \
  || fail "REST body: $body"
ok "REST POST /v1/simulate answers"

out=$(pm exec mfn-ci /usr/local/bin/mfn health --grpc "mfn-hosts-test:$grpc_port" --http none) \
  || fail "/etc/hosts name inside the image: $out"
ok "a name from /etc/hosts resolves inside the image ($out)"
out=$(pm exec mfn-ci /usr/local/bin/mfn health --grpc "mfn-dns-test.internal:$grpc_port" --http none) \
  || fail "DNS name inside the image: $out"
ok "a DNS name resolves inside the image through dnsmasq ($out)"
if pm exec mfn-ci /usr/local/bin/mfn health --grpc "no-such-host.internal:$grpc_port" --http none >/dev/null 2>&1; then
  fail "an unknown name resolved"
fi
ok "an unknown name fails to resolve (the DNS check is real)"

if pm exec mfn-ci /bin/sh -c true >/dev/null 2>&1; then fail "the image has a shell"; fi
ok "no shell in the image"

pid=$(pm inspect --format '{{.State.Pid}}' mfn-ci)
[[ "$(tr '\0' ' ' < "/proc/$pid/cmdline")" == "/usr/local/bin/mfn serve " ]] || fail "PID 1 is not mfn serve"
grep -q '^Uid:[[:space:]]*65532' "/proc/$pid/status" || fail "not uid 65532"
grep -q '^CapEff:[[:space:]]*0000000000000000' "/proc/$pid/status" || fail "capabilities left: $(grep CapEff "/proc/$pid/status")"
grep -q '^NoNewPrivs:[[:space:]]*1' "/proc/$pid/status" || fail "no_new_privs not set"
awk '$5 == "/" { print $6 }' "/proc/$pid/mountinfo" | grep -q '^ro' || fail "/ is not read-only"
[[ "$(pm inspect --format '{{.HostConfig.ReadonlyRootfs}}' mfn-ci)" == true ]] || fail "ReadonlyRootfs"
ok "PID 1 is mfn serve as uid 65532, CapEff 0, no_new_privs, / read-only"

# --- SIGTERM: an in-flight call is answered, then exit 0 within the grace ------
curl -s -o "$work/inflight.json" -w '%{http_code}' -X POST -H 'content-type: application/json' \
  -d '{"seed": 11, "grid_size": 256, "steps": 1500}' "$base/v1/simulate" > "$work/inflight.code" &
curl_pid=$!
for _ in $(seq 1 100); do
  running=$(curl -s "$base/metrics" | awk '/^mfn_compute_running / { print $2 }')
  [[ "${running:-0}" != 0 ]] && break
  sleep 0.02
done
t0=$(date +%s.%N)
pm stop -t $((grace + 5)) mfn-ci >/dev/null 2>&1  # stderr: the absent systemd timer, again
t1=$(date +%s.%N)
wait "$curl_pid" || true
took=$(echo "$t1 - $t0" | bc)
code=$(pm inspect --format '{{.State.ExitCode}}' mfn-ci)
[[ "$code" == 0 ]] || fail "exit code $code after SIGTERM"
(( $(echo "$took < $grace" | bc) )) || fail "SIGTERM took ${took}s (grace ${grace}s)"
[[ "$(cat "$work/inflight.code")" == 200 ]] || fail "in-flight call got $(cat "$work/inflight.code")"
pm logs mfn-ci 2>&1 | grep -q '"drained' || fail "no drain in the logs"
ok "SIGTERM: in-flight call answered 200, drained, exit 0 in $(printf '%.2f' "$took") s (grace ${grace} s)"

echo "$pass passed, 0 failed"
