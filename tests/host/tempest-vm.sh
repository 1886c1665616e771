#!/usr/bin/env bash
# Tempest with real VMs (issue 7): `rustack up` with the QEMU driver and the Linux
# data plane, the test guest as image_ref, RUN_VALIDATION=true (Tempest boots
# guests, gives them floating IPs and logs into them over SSH with its own key
# pair as root). Runs LIST (default: the interop tests that need SSH validation).
#
#   tests/host/tempest-vm.sh [LIST]      (root; RUSTACK_BIN, IMAGE_DIR, RUSTACK_SHARED,
#                                         RUN_VALIDATION=false, VC_EXTRA_CONF, WORKSPACE)
# The last line is tempest.sh's "N passed, N failed, N skipped".
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=vmcloud.sh
. "$ROOT/tests/host/vmcloud.sh"
SHARED=${RUSTACK_SHARED:-$(cd "$ROOT/.." && pwd)/shared}
LIST=${1:-$SHARED/conformance/interop-needs-ssh-validation.txt}
VENV=${RUSTACK_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/rustack-venv}
[[ -x $VENV/bin/openstack ]] && export PATH="$VENV/bin:$PATH"
export PYTHONWARNINGS=ignore
[[ $EUID -eq 0 ]] || { echo "tempest-vm: needs root" >&2; echo "0 passed, 0 failed, 0 skipped"; exit 1; }

vmcloud_init
cleanup() {
    local rc=$?
    cp "$VC/up.log" "${RUSTACK_TEST_OUT:-/tmp}/tempest-vm-up.log" 2>/dev/null || true
    vmcloud_clear
    [[ ${KEEP:-} == 1 ]] || rm -rf "$VC"
    exit $rc
}
trap cleanup EXIT
vmcloud_start || { echo "0 passed, 0 failed, 0 skipped"; exit 1; }
A() { openstack --os-cloud rustack-admin "$@"; }
for _ in $(seq 1 240); do
    [[ $(A image show rustack-test -f value -c status 2>/dev/null) == active ]] && break
    sleep 0.5
done
IMG=$(A image show rustack-test -f value -c id)
# a second image for image_ref_alt (image filters and rebuilds need two)
IMG_ALT=$(A image create --public --disk-format qcow2 --container-format bare \
    --file "$IMAGE_DIR/disk.qcow2" rustack-test-alt -f value -c id)
FLAVOR=$(A flavor show m1.tiny -f value -c id)
FLAVOR_ALT=$(A flavor show m1.small -f value -c id)
# Tempest's guests are the test image (64 MiB of disk); the alternative flavor must
# differ (flavor filters, resizes)
# compute.conf is for the two fake hosts of scripts/test.sh's cloud: this one has one
# host, so no migrations
sed -e 's/^min_compute_nodes = .*/min_compute_nodes = 1/' -e 's/^\(cold_migration\|live_migration\) = .*/\1 = false/' \
    "$ROOT/tests/tempest/compute.conf" > "$VC/compute.conf"
IMAGE_REF=$IMG IMAGE_REF_ALT=$IMG_ALT FLAVOR_REF=$FLAVOR FLAVOR_REF_ALT=$FLAVOR_ALT \
RUN_VALIDATION=${RUN_VALIDATION:-true} IMAGE_SSH_USER=root EXTRA_CONF=$VC/compute.conf \
OS_AUTH_URL="http://127.0.0.1:$VC_PORT/v3" OS_USERNAME=admin OS_PROJECT_NAME=admin \
OS_PASSWORD=$(sed -n 's/^admin=//p' "$VC/data/passwords") \
WORKSPACE=${WORKSPACE:-${TEMPEST_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/rustack-tempest}/workspaces/compute-vm} \
    "$SHARED/conformance/tempest.sh" compute,image,network "$LIST"
