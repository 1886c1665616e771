#!/usr/bin/env bash
# The compute day with the `openstack` CLI against a started rustack (fake
# hypervisor): flavors, a key pair, an image, then a server created with
# --wait, listed, shown, rebooted, stopped, started, resized (and confirmed)
# and deleted. Cleans up what it made.
#
#   OS_CLIENT_CONFIG_FILE=<data dir>/clouds.yaml tests/cli/compute.sh
#
# Needs `openstack` on PATH and the cloud `rustack-demo` (and `rustack-admin`)
# that `rustack up` writes. Exits non-zero at the first failure.
set -euo pipefail

: "${OS_CLIENT_CONFIG_FILE:?set OS_CLIENT_CONFIG_FILE to the clouds.yaml written by rustack up}"
[[ -r $OS_CLIENT_CONFIG_FILE ]] || { echo "compute: cannot read $OS_CLIENT_CONFIG_FILE" >&2; exit 1; }
command -v openstack >/dev/null || { echo "compute: the openstack CLI is not on PATH" >&2; exit 1; }
export OS_CLIENT_CONFIG_FILE PYTHONWARNINGS=ignore
for v in $(env | sed -n 's/^\(OS_[A-Z_]*\)=.*/\1/p'); do
  [[ $v == OS_CLIENT_CONFIG_FILE ]] || unset "$v"
done

SUFFIX=$(date +%s)-$$
KEY=cli-key-$SUFFIX
SERVER=cli-vm-$SUFFIX
IMAGE=cli-image-$SUFFIX
STEPS=0
OUT=""
run() {
  STEPS=$((STEPS + 1))
  echo "+ $*" >&2
  OUT=$("$@" 2>&1) || { echo "$OUT" >&2; echo "compute: FAILED at step $STEPS: $*" >&2; exit 1; }
  echo "$OUT" | sed 's/^/  /' >&2
}
expect() {
  for w in "$@"; do
    grep -qF -- "$w" <<<"$OUT" || { echo "compute: FAILED at step $STEPS: output lacks '$w'" >&2; exit 1; }
  done
}
field() { python3 -c 'import json,sys; d={k.lower().replace(" ","_"):v for k,v in json.load(sys.stdin).items()}; print(d[sys.argv[1]])' "$1" <<<"$OUT"; }
admin() { openstack --os-cloud rustack-admin "$@"; }
demo() { openstack --os-cloud rustack-demo "$@"; }
# waits until the server shows STATUS (the CLI's --wait covers create only)
wait_for() {
  for _ in $(seq 1 100); do
    s=$(demo server show "$SERVER" -f value -c status 2>/dev/null || true)
    [[ $s == "$1" ]] && return 0
    sleep 0.2
  done
  echo "compute: FAILED: $SERVER never reached $1 (last: $s)" >&2
  exit 1
}
cleanup() {
  demo server delete --wait "$SERVER" >/dev/null 2>&1 || true
  demo keypair delete "$KEY" >/dev/null 2>&1 || true
  admin image delete "$IMAGE" >/dev/null 2>&1 || true
  rm -f "/tmp/$KEY.pem" "/tmp/$IMAGE.img"
}
trap cleanup EXIT

run admin flavor list
expect m1.tiny m1.small m1.xlarge
run demo flavor show m1.tiny -f json
[[ $(field ram) == 512 ]] || { echo "compute: m1.tiny has the wrong RAM" >&2; exit 1; }
run demo keypair create "$KEY" --private-key "/tmp/$KEY.pem" -f json
run demo keypair list
expect "$KEY"
head -c 1048576 /dev/zero >"/tmp/$IMAGE.img"
run admin image create "$IMAGE" --public --disk-format raw --container-format bare --file "/tmp/$IMAGE.img" -f json
IMAGE_ID=$(field id)
NET_ARGS=(--no-network)
if [[ ${COMPUTE_NETWORK:-} ]]; then NET_ARGS=(--network "$COMPUTE_NETWORK"); fi
run demo server create "$SERVER" --flavor m1.tiny --image "$IMAGE_ID" --key-name "$KEY" "${NET_ARGS[@]}" --wait -f json
[[ $(field status) == ACTIVE ]] || { echo "compute: server not ACTIVE after --wait" >&2; exit 1; }
run demo server list
expect "$SERVER" ACTIVE
run demo server show "$SERVER" -f json
expect "$KEY" m1.tiny
run demo server reboot --wait "$SERVER"
wait_for ACTIVE
run demo server stop "$SERVER"
wait_for SHUTOFF
run demo server start "$SERVER"
wait_for ACTIVE
run demo server resize --flavor m1.small --wait "$SERVER"
wait_for VERIFY_RESIZE
run demo server resize confirm "$SERVER"
wait_for ACTIVE
run demo server show "$SERVER" -f json
expect m1.small
run demo server delete --wait "$SERVER"
run demo server list
if grep -qF -- "$SERVER" <<<"$OUT"; then echo "compute: deleted server still listed" >&2; exit 1; fi
echo "compute: all $STEPS steps passed"
