# Sourced by the deploy checks: installs what they need, once, under $MFN_CACHE_DIR.
#   Debian: podman, runc, mmdebstrap (the image), prometheus (+ promtool), dnsmasq-base,
#           openssl (live_prometheus.py's TLS certificate).
#   PyPI:   requirements.txt in $CACHE/deploy-venv; checkov in its own venv (its
#           pinned dependencies clash with the others).
# Sets DEPLOY_PY, DEPLOY_BIN, CHECKOV.
CACHE="${MFN_CACHE_DIR:-$HOME/.cache/mfn}"
deploy_apt_missing=()
for pair in podman:podman runc:runc mmdebstrap:mmdebstrap prometheus:prometheus promtool:prometheus dnsmasq:dnsmasq-base openssl:openssl; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || deploy_apt_missing+=("${pair#*:}")
done
if ((${#deploy_apt_missing[@]})); then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    podman runc mmdebstrap prometheus dnsmasq-base openssl uidmap conmon netavark >/dev/null
fi
if [[ ! -x "$CACHE/deploy-venv/bin/python" ]]; then
  mkdir -p "$CACHE"
  python3 -m venv "$CACHE/deploy-venv"
fi
"$CACHE/deploy-venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  -r "$(dirname "${BASH_SOURCE[0]}")/requirements.txt"
if [[ ! -x "$CACHE/checkov-venv/bin/checkov" ]]; then
  python3 -m venv "$CACHE/checkov-venv"
  "$CACHE/checkov-venv/bin/python" -m pip install --quiet --disable-pip-version-check checkov==3.3.30
fi
DEPLOY_PY="$CACHE/deploy-venv/bin/python"
DEPLOY_BIN="$CACHE/deploy-venv/bin"
CHECKOV="$CACHE/checkov-venv/bin/checkov"
export DEPLOY_PY DEPLOY_BIN CHECKOV
