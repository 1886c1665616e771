#!/usr/bin/env bash
# Real virtual machines end to end (issue 7), as a user does it with the
# `openstack` CLI against `rustack up` with the QEMU driver and the Linux network
# data plane: upload the test image; a network, subnet, router with an external
# gateway; a security group allowing ICMP, SSH and TCP 7; a key pair;
# `server create --wait`; the console log shows the guest's marker with the right
# hostname and key; ping, ssh with the key and TCP 7 through a floating IP work and
# another port is blocked; reboot; stop/start; snapshot and a second server booted
# from it; a second port attached; shelve and unshelve (the guest comes back from its
# shelve snapshot); delete all — and nothing is left on the host.
#
#   tests/host/e2e-vm.sh          (root; RUSTACK_BIN, IMAGE_DIR, BOOT_TIMEOUT)
#
# Exits 0 when every step passed; prints "e2e-vm: all N steps passed".
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=vmcloud.sh
. "$ROOT/tests/host/vmcloud.sh"
BOOT_TIMEOUT=${BOOT_TIMEOUT:-300}
VENV=${RUSTACK_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/rustack-venv}
[[ -x $VENV/bin/openstack ]] && export PATH="$VENV/bin:$PATH"
export PYTHONWARNINGS=ignore

[[ $EUID -eq 0 ]] || { echo "e2e-vm: needs root" >&2; exit 1; }
command -v qemu-system-x86_64 >/dev/null || { echo "e2e-vm: no qemu-system-x86_64" >&2; exit 1; }
[[ -f $IMAGE_DIR/disk.qcow2 ]] || { echo "e2e-vm: no test image in $IMAGE_DIR (scripts/build-test-image.sh)" >&2; exit 1; }

VC_NAME=e2e-vm
OUT=""
fail() { vc_fail "$@"; }
run() {
    STEPS=$((STEPS + 1))
    echo "+ $*" >&2
    OUT=$("$@" 2>&1) || { echo "$OUT" >&2; fail "$*"; }
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

status_is() { wait_match "${3:-$BOOT_TIMEOUT}" "^$2\$" val server show "$1" -c status; }
markers() { demo console log show "$1" 2>/dev/null | grep -c 'RUSTACK-GUEST-READY' || true; }
wait_markers() { # SERVER N: the console log has at least N markers
    local i
    for i in $(seq 1 $((BOOT_TIMEOUT * 2))); do
        [[ $(markers "$1") -ge $2 ]] && return 0
        sleep 0.5
    done
    return 1
}
ssh_guest() {
    ssh -i "$VC/key" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
        -o ConnectTimeout=5 -o BatchMode=yes "root@$1" "${@:2}"
}
tcp_echo() { # HOST PORT: the guest's greeting, then the line sent, echoed
    python3 - "$1" "$2" <<'PY'
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
f = s.makefile("rwb")
greeting = f.readline().decode().strip()
f.write(b"rustack-echo\n"); f.flush()
print(greeting, f.readline().decode().strip())
PY
}
tcp_state() { # HOST PORT: open | refused | timeout
    python3 - "$1" "$2" <<'PY'
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=4).close(); print("open")
except ConnectionRefusedError: print("refused")
except OSError: print("timeout")
PY
}
# only probe addresses this cloud made: the route must use the public bridge
local_route() { ! ip route get "$1" | grep -q ' via '; }

vmcloud_init
cleanup() {
    local rc=$?
    if [[ $rc -ne 0 ]]; then cp "$VC/up.log" "${RUSTACK_TEST_OUT:-/tmp}/e2e-vm-up.log" 2>/dev/null || true; fi
    if [[ $rc -ne 0 && ${KEEP:-} == 1 ]]; then
        echo "e2e-vm: KEEP=1: the cloud is left running for a look (pid $VC_PID, $VC); tests/host/vmcloud.sh's vmcloud_clear removes it" >&2
        exit $rc
    fi
    vmcloud_clear
    [[ ${KEEP:-} == 1 ]] || rm -rf "$VC"
    exit $rc
}
trap cleanup EXIT
T0=$(now)
vmcloud_start || fail "rustack up"
echo "# rustack up with the QEMU driver answered after $(since "$T0") s" >&2

S=e2e-$$
ssh-keygen -q -t ed25519 -N '' -f "$VC/key" -C "$S"
FP=$(ssh-keygen -l -E sha256 -f "$VC/key.pub" | awk '{print $2}')
printf '#!/bin/sh\necho rustack-userdata-ran > /tmp/userdata\n' > "$VC/userdata"

run demo image create --file "$IMAGE_DIR/disk.qcow2" --disk-format qcow2 --container-format bare "$S-image" -f json
IMG=$(val image show "$S-image" -c id)
run val image show "$S-image" -c status
[[ $OUT == active ]] || fail "image status $OUT"
run demo network create "$S-net"
run demo subnet create --network "$S-net" --subnet-range 10.77.0.0/24 "$S-subnet"
run demo router create "$S-router"
run demo router set --external-gateway public "$S-router"
run demo router add subnet "$S-router" "$S-subnet"
run demo security group create "$S-sg"
run demo security group rule create --protocol icmp "$S-sg"
run demo security group rule create --protocol tcp --dst-port 22 "$S-sg"
run demo security group rule create --protocol tcp --dst-port 7 "$S-sg"
run demo keypair create --public-key "$VC/key.pub" "$S-key"

T=$(now)
run demo server create --image "$IMG" --flavor m1.tiny --network "$S-net" --security-group "$S-sg" \
    --key-name "$S-key" --user-data "$VC/userdata" --wait "$S-vm1"
echo "# server ACTIVE after $(since "$T") s" >&2
val server show "$S-vm1" -c id > "$VC/vm1"
demo port list --server "$S-vm1" -f value -c ID >> "$VC/ports"
check "the port is bound to this host and ACTIVE"
wait_match 60 '^ACTIVE$' val port show "$(head -1 "$VC/ports")" -c status || fail "port not ACTIVE"
check "console log: the guest's marker with its hostname, key and user data"
wait_markers "$S-vm1" 1 || fail "no marker in the console log after ${BOOT_TIMEOUT}s"
LINE=$(demo console log show "$S-vm1" | grep 'RUSTACK-GUEST-READY' | tail -1)
echo "  $LINE" >&2
echo "# guest marker after $(since "$T") s" >&2
[[ $LINE == *"hostname=$S-vm1 "* ]] || fail "hostname: $LINE"
[[ $LINE == *"key=$FP "* ]] || fail "key (want $FP): $LINE"
[[ $LINE == *"userdata=ran"* ]] || fail "user data: $LINE"
[[ $LINE == *"source=metadata"* ]] || fail "guest data source: $LINE"

run demo floating ip create public -f value -c floating_ip_address
FIP=$OUT
run demo server add floating ip "$S-vm1" "$FIP"
local_route "$FIP" || fail "$FIP would leave by the host's uplink"
check "ping $FIP"
wait_match 60 ' 0% packet loss' ping -c 2 -W 2 "$FIP" || fail "no ping to $FIP"
check "ssh root@$FIP hostname"
wait_match 60 "^$S-vm1\$" ssh_guest "$FIP" hostname || fail "ssh"
check "user data ran in the guest"
[[ $(ssh_guest "$FIP" cat /tmp/userdata) == rustack-userdata-ran ]] || fail "user data output"
check "TCP 7 echoes"
ECHO=$(tcp_echo "$FIP" 7)
[[ $ECHO == "RUSTACK-ECHO $S-vm1 rustack-echo" ]] || fail "TCP 7: $ECHO"
check "TCP 23 is blocked by the security group (dropped, not refused)"
[[ $(tcp_state "$FIP" 23) == timeout ]] || fail "TCP 23 not filtered"

check "soft reboot: a second boot"
run demo server reboot --wait "$S-vm1"
wait_markers "$S-vm1" 2 || fail "no second marker after reboot"
status_is "$S-vm1" ACTIVE 60 || fail "not ACTIVE after reboot"

check "stop, then start: a third boot"
run demo server stop "$S-vm1"
status_is "$S-vm1" SHUTOFF 120 || fail "not SHUTOFF"
[[ -z $(pgrep -f "qemu-system.*$(cat "$VC/vm1")" || true) ]] || fail "QEMU still runs after stop"
run demo server start "$S-vm1"
status_is "$S-vm1" ACTIVE 120 || fail "not ACTIVE after start"
wait_markers "$S-vm1" 3 || fail "no marker after start"
wait_match 120 "^$S-vm1\$" ssh_guest "$FIP" hostname || fail "ssh after start"

check "snapshot, and a second server from it"
run demo server image create --name "$S-snap" --wait "$S-vm1"
run val image show "$S-snap" -c status
[[ $OUT == active ]] || fail "snapshot status $OUT"
run demo server create --image "$S-snap" --flavor m1.tiny --network "$S-net" --security-group "$S-sg" \
    --key-name "$S-key" --wait "$S-vm2"
demo port list --server "$S-vm2" -f value -c ID >> "$VC/ports"
wait_markers "$S-vm2" 1 || fail "no marker on the server booted from the snapshot"
demo console log show "$S-vm2" | grep 'RUSTACK-GUEST-READY' | grep -q "hostname=$S-vm2 " || fail "vm2 hostname"

check "a second port, hot-plugged: the guest gets its address on eth1"
run demo port create --network "$S-net" "$S-port2" -f value -c id
P2=$OUT
echo "$P2" >> "$VC/ports"
run demo port show "$P2" -f json -c fixed_ips
P2IP=$(python3 -c 'import json,sys; f=json.loads(sys.argv[1])["fixed_ips"]; print(f[0]["ip_address"])' "$OUT")
run demo server add port "$S-vm1" "$P2"
wait_match 120 "$P2IP" ssh_guest "$FIP" ip -4 addr show eth1 || fail "eth1 has no $P2IP"
run demo server remove port "$S-vm1" "$P2"

check "shelve, then unshelve: the guest comes back from its shelve snapshot"
run demo server shelve "$S-vm1"
status_is "$S-vm1" SHELVED_OFFLOADED 180 || fail "not SHELVED_OFFLOADED"
[[ -z $(pgrep -f "qemu-system.*$(cat "$VC/vm1")" || true) ]] || fail "QEMU still runs after shelve"
run val image show "$S-vm1-shelved" -c status
[[ $OUT == active ]] || fail "shelve snapshot status $OUT"
run demo server unshelve "$S-vm1"
status_is "$S-vm1" ACTIVE 180 || fail "not ACTIVE after unshelve"
wait_match 180 "^$S-vm1\$" ssh_guest "$FIP" hostname || fail "ssh after unshelve"
! val image show "$S-vm1-shelved" >/dev/null 2>&1 || fail "the shelve snapshot outlived the unshelve"

check "delete everything"
run demo server delete --wait "$S-vm1" "$S-vm2"
run demo floating ip delete "$FIP"
run demo port delete "$P2"
run demo router remove subnet "$S-router" "$S-subnet"
run demo router unset --external-gateway "$S-router"
run demo router delete "$S-router"
run demo subnet delete "$S-subnet"
run demo network delete "$S-net"
run demo security group delete "$S-sg"
run demo keypair delete "$S-key"
run demo image delete "$S-snap" "$S-image"
check "nothing of the servers is left on the host"
sleep 2
LEFT=$(vmcloud_leftovers | grep -v '^namespace\|^device' || true)
[[ -z $LEFT ]] || fail "left behind: $LEFT"
check "after stop and dataplane clear, nothing at all is left"
vmcloud_clear
LEFT=$(vmcloud_leftovers strict)
[[ -z $LEFT ]] || fail "left behind: $LEFT"
check "no 5xx and no panic in the server log"
BAD=$(grep -E 'status=5[0-9][0-9]|panicked' "$VC/up.log" | grep -v 'status=501' | head -5 || true)
[[ -z $BAD ]] || fail "5xx or panic: $BAD"
echo "e2e-vm: all $STEPS steps passed in $(since "$T0") s"
