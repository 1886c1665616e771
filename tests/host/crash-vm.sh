#!/usr/bin/env bash
# Crash test of the QEMU driver (issue 7): kill -9 rustack while one server runs and
# another boots; the running guest keeps running (it answers ping through its
# floating IP while rustack is down); after a restart the running server is ACTIVE
# on the same QEMU process and reachable, the interrupted one is ERROR with its
# placement allocation freed and no QEMU, and deleting both leaves nothing behind.
# Also checks that bootstrap registered the test image (`rustack-test`).
#
#   tests/host/crash-vm.sh        (root; RUSTACK_BIN, IMAGE_DIR, BOOT_TIMEOUT)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=vmcloud.sh
. "$ROOT/tests/host/vmcloud.sh"
BOOT_TIMEOUT=${BOOT_TIMEOUT:-300}
VENV=${RUSTACK_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/rustack-venv}
[[ -x $VENV/bin/openstack ]] && export PATH="$VENV/bin:$PATH"
export PYTHONWARNINGS=ignore
[[ $EUID -eq 0 ]] || { echo "crash-vm: needs root" >&2; exit 1; }
[[ -f $IMAGE_DIR/disk.qcow2 ]] || { echo "crash-vm: no test image in $IMAGE_DIR" >&2; exit 1; }

VC_NAME=crash-vm
fail() { vc_fail "$@"; }
qemu_of() { pgrep -f "qemu-system.*-uuid $1" || pgrep -f "qemu-system.*$1" || true; }

vmcloud_init
cleanup() {
    local rc=$?
    vmcloud_clear
    [[ ${KEEP:-} == 1 ]] || rm -rf "$VC"
    exit $rc
}
trap cleanup EXIT
vmcloud_start || fail "rustack up"
S=crash-$$

check "bootstrap registered the test image"
wait_match 120 '^active$' val image show rustack-test -c status || fail "rustack-test not active"
demo network create "$S-net" >/dev/null
demo subnet create --network "$S-net" --subnet-range 10.78.0.0/24 "$S-subnet" >/dev/null
demo router create "$S-router" >/dev/null
demo router set --external-gateway public "$S-router"
demo router add subnet "$S-router" "$S-subnet"
demo security group create "$S-sg" >/dev/null
demo security group rule create --protocol icmp "$S-sg" >/dev/null

check "server A boots and answers ping through its floating IP"
demo server create --image rustack-test --flavor m1.tiny --network "$S-net" --security-group "$S-sg" \
    --wait "$S-a" >/dev/null || fail "server A"
A=$(val server show "$S-a" -c id)
demo port list --server "$A" -f value -c ID >> "$VC/ports"
FIP=$(val floating ip create public -c floating_ip_address)
demo server add floating ip "$A" "$FIP"
! ip route get "$FIP" | grep -q ' via ' || fail "$FIP would leave by the uplink"
wait_match "$BOOT_TIMEOUT" ' 0% packet loss' ping -c 1 -W 2 "$FIP" || fail "no ping to A"
PID_A=$(qemu_of "$A")
[[ -n $PID_A ]] || fail "no QEMU process for A"

check "kill -9 rustack while server B boots"
# B boots from a 768 MiB image: fetching it into the host's image cache (and
# verifying its checksums) keeps the boot in progress long enough to cut it
head -c 805306368 /dev/zero > "$VC/big.raw"
demo image create --file "$VC/big.raw" --disk-format raw --container-format bare "$S-big" >/dev/null
rm -f "$VC/big.raw"
B=$(val server create --image "$S-big" --flavor m1.tiny --network "$S-net" "$S-b" -c id)
for _ in $(seq 1 100); do
    [[ $(val server show "$B" -c OS-EXT-STS:task_state) == spawning ]] && break
    sleep 0.05
done
vmcloud_kill9
CUT="during its image fetch"
[[ -n $(qemu_of "$B") ]] && CUT="after its QEMU started"
echo "# rustack killed while B was booting ($CUT)" >&2

check "A keeps running while rustack is down"
wait_match 30 ' 0% packet loss' ping -c 1 -W 2 "$FIP" || fail "A stopped answering"
kill -0 "$PID_A" || fail "A's QEMU died with rustack"

check "restart: A ACTIVE on the same QEMU, B ERROR without QEMU or allocation"
vmcloud_start || fail "restart"
wait_match 60 '^ACTIVE$' val server show "$A" -c status || fail "A not ACTIVE"
[[ $(qemu_of "$A") == "$PID_A" ]] || fail "A's QEMU changed: $(qemu_of "$A") vs $PID_A"
wait_match 60 '^ERROR$' val server show "$B" -c status || fail "B not ERROR"
demo port list --device-id "$B" -f value -c ID >> "$VC/ports"
sleep 1
[[ -z $(qemu_of "$B") ]] || fail "B's QEMU still runs"
[[ ! -e $VC/data/instances/$B ]] || fail "B's instance directory is left"
LEFT=$(find "$VC/data/image-cache" -name '*.part' 2>/dev/null)
[[ -z $LEFT ]] || fail "a partial image fetch is left in the cache: $LEFT"
TOKEN=$(admin token issue -f value -c id)
PLACEMENT=$(admin endpoint list --service placement --interface public -f value -c URL | head -1)
ALLOC=$(curl -fsS -H "X-Auth-Token: $TOKEN" "$PLACEMENT/allocations/$B")
[[ $ALLOC == *'"allocations": {}'* || $ALLOC == *'"allocations":{}'* ]] || fail "B still holds $ALLOC"
wait_match 30 ' 0% packet loss' ping -c 1 -W 2 "$FIP" || fail "A unreachable after the restart"

check "delete both: nothing left"
demo server delete --wait "$A" "$B" || fail "delete"
demo floating ip delete "$FIP"
demo router remove subnet "$S-router" "$S-subnet"
demo router unset --external-gateway "$S-router"
demo router delete "$S-router"
demo network delete "$S-net"
demo security group delete "$S-sg"
demo image delete "$S-big"
sleep 2
LEFT=$(vmcloud_leftovers | grep -v '^namespace\|^device' || true)
[[ -z $LEFT ]] || fail "left behind: $LEFT"
vmcloud_clear
LEFT=$(vmcloud_leftovers strict)
[[ -z $LEFT ]] || fail "left behind after clear: $LEFT"
echo "crash-vm: all $STEPS steps passed (B was cut $CUT)"
