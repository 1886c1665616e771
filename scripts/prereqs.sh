#!/usr/bin/env bash
# Installs what the tests need beside the Rust toolchain, on Debian 12; idempotent,
# installs only what is missing:
#   - Debian packages: postgresql, python3-venv (+ python3, pip's CA certificates), wrk
#     (benchmarks; optional), curl                                   [root or sudo]
#   - a venv with python-openstackclient at ${XDG_CACHE_HOME:-$HOME/.cache}/rustack-venv
# Tempest's own venv is made by ../shared/conformance/tempest.sh on first use.
set -euo pipefail

VENV=${RUSTACK_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/rustack-venv}
log() { echo "# prereqs: $*" >&2; }

as_root() {
  if [[ $EUID -eq 0 ]]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else log "need root for: $*"; return 1; fi
}

missing=()
command -v pg_ctlcluster >/dev/null || missing+=(postgresql)
command -v python3 >/dev/null || missing+=(python3)
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
[[ -e /etc/ssl/certs/ca-certificates.crt ]] || missing+=(ca-certificates)
command -v curl >/dev/null || missing+=(curl)
if [[ ${#missing[@]} -gt 0 ]]; then
  log "installing ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! command -v wrk >/dev/null; then
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null 2>&1 \
    || log "wrk not installed (only the benchmarks need it)"
fi

if [[ ! -x $VENV/bin/openstack ]]; then
  log "creating $VENV with python-openstackclient"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q python-openstackclient
fi
log "openstack CLI: $("$VENV/bin/openstack" --version 2>&1 | tail -1)"
