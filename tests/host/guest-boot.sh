#!/usr/bin/env bash
# Boots rustack's test guest (scripts/build-test-image.sh) under QEMU/TCG in a network
# namespace of its own and proves what the guest does: DHCP, metadata (OpenStack and
# EC2 formats) or config drive, hostname, SSH key, user data, SSH and TCP 7, ACPI
# power button. Every address it talks to lives inside that namespace: a bridge with
# a tap for the guest, dnsmasq giving the guest a fixed IP by MAC, and a metadata HTTP
# server (python3 -m http.server) bound to 169.254.169.254 on the bridge.
#
# Usage (root): tests/host/guest-boot.sh
#   MODES="disk-metadata kernel-metadata kernel-configdrive disk-configdrive kernel-ec2 kernel-none"
#     (default: all)
#     disk-*    boots disk.qcow2 (syslinux on an MBR disk) through a qcow2 overlay
#     kernel-*  direct kernel boot: -kernel vmlinux -initrd initramfs.cpio.gz
#     *-metadata  OpenStack metadata; *-ec2 EC2 metadata only; *-configdrive an ISO
#                 9660 config-2 volume and no metadata server (kernel: on a SATA
#                 CD-ROM, disk: on a second virtio disk); *-none no guest data at all
#   IMAGE_DIR (default ~/.cache/rustack/test-image), MARKER_TIMEOUT (s, default 240),
#   GUEST_MEM (MiB, default 128), GUEST_SMP (vCPUs, default 1), GUEST_APPEND (more kernel parameters for kernel-*,
#   e.g. rustack.debug=1), KEEP=1 keeps the work directory.
# Prints the time from QEMU start to the marker line, to SSH answering and to
# power-off after the ACPI power button, for each mode; exits non-zero on failure.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
IMG=${IMAGE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/rustack/test-image}
MODES=${MODES:-"disk-metadata kernel-metadata kernel-configdrive disk-configdrive kernel-ec2 kernel-none"}
MARKER_TIMEOUT=${MARKER_TIMEOUT:-240}
MEM=${GUEST_MEM:-128}
SMP=${GUEST_SMP:-1}
PY=/usr/bin/python3
# A python with paramiko (Tempest's SSH library) for a Tempest-style login; skipped
# when there is none.
PARAMIKO_PY=${PARAMIKO_PY:-${XDG_CACHE_HOME:-$HOME/.cache}/rustack-tempest/venv/bin/python3}
log() { echo "# guest-boot: $*" >&2; }

[[ $EUID -eq 0 ]] || { log "needs root (network namespace, tap, dnsmasq)"; exit 1; }
# shellcheck source=../../tools/guest/host-packages.sh
. "$ROOT/tools/guest/host-packages.sh"
ensure_packages qemu-system-x86 qemu-utils genisoimage dnsmasq-base openssh-client iproute2 python3
"$ROOT/scripts/build-test-image.sh" "$IMG" >/dev/null

NS=rustack-gb-$$
W=$(mktemp -d /tmp/rustack-guest-boot.XXXXXX)
GW=10.213.0.1 GUEST_IP=10.213.0.10 MAC=52:54:00:5a:00:0a MD=169.254.169.254
GUEST_IP2=10.213.0.11 MAC2=52:54:00:5a:00:0b DHCP_NAME=rg-dhcp-name
# Like Neutron's DHCP agent: the metadata address is routed through another host of
# the subnet (option 121, with the default route repeated there) and the MTU is 1450.
MD_HOP=10.213.0.2 MTU=1450
CMDLINE="$(sed -n 's/^cmdline=//p' "$IMG/manifest.txt")${GUEST_APPEND:+ $GUEST_APPEND}"
in_ns() { ip netns exec "$NS" "$@"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

stop_pidfile() {  # PIDFILE: TERM, then KILL after 5 s
    local pid
    [[ -s $1 ]] || return 0
    pid=$(cat "$1")
    kill "$pid" 2>/dev/null || { rm -f "$1"; return 0; }
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$1"
}
cleanup() {
    local rc=$?
    set +e
    for f in "$W"/*.pid; do [[ -e $f ]] && stop_pidfile "$f"; done
    # Whatever still runs inside our namespace is ours: end it before deleting it.
    local pids; pids=$(ip netns pids "$NS" 2>/dev/null)
    # shellcheck disable=SC2086,SC2046 # lists of pids
    if [[ -n $pids ]]; then kill $pids 2>/dev/null; sleep 1; kill -9 $(ip netns pids "$NS" 2>/dev/null) 2>/dev/null; fi
    ip netns del "$NS" 2>/dev/null
    if [[ $rc -ne 0 ]]; then
        for f in "$W"/*.serial "$W"/dnsmasq.log "$W"/http-*.log; do
            [[ -s $f ]] && { log "--- $f (tail)"; tail -n 40 "$f" | sed 's/^/    /' >&2; }
        done
    fi
    if [[ ${KEEP:-0} == 1 ]]; then log "kept $W"; else rm -rf "$W"; fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the namespace: bridge (gateway + metadata address), tap, dnsmasq ------------------
ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" link add br0 type bridge
ip -n "$NS" addr add "$GW/24" dev br0
ip -n "$NS" addr add "$MD_HOP/24" dev br0
ip -n "$NS" addr add "$MD/32" dev br0
ip -n "$NS" link set br0 up
ip -n "$NS" tuntap add dev tap0 mode tap
ip -n "$NS" link set tap0 master br0 up
ip -n "$NS" tuntap add dev tap1 mode tap   # for the hot-plugged second NIC
ip -n "$NS" link set tap1 master br0 up
in_ns dnsmasq --no-hosts --no-resolv --port=0 --bind-interfaces --interface=br0 \
    --except-interface=lo --user=root --group=root \
    --dhcp-range=10.213.0.100,10.213.0.200,255.255.255.0,12h \
    --dhcp-host="$MAC,$GUEST_IP,$DHCP_NAME,infinite" --dhcp-host="$MAC2,$GUEST_IP2,infinite" \
    --dhcp-option=option:router,"$GW" --dhcp-option=option:mtu,"$MTU" \
    --dhcp-option=option:classless-static-route,"$MD/32,$MD_HOP,0.0.0.0/0,$GW" \
    --dhcp-leasefile="$W/leases" --pid-file="$W/dnsmasq.pid" \
    --log-dhcp --log-facility="$W/dnsmasq.log"

# --- guest data -----------------------------------------------------------------------
# meta_data.json, user_data and the EC2 files for HOSTNAME KEYFILE TOKEN under DIR.
write_guest_data() {  # DIR FORMAT(openstack|ec2) HOSTNAME PUBKEYFILE TOKEN UUID
    local d=$1 fmt=$2 h=$3 key uuid=$6
    key=$(cat "$4")
    local ud="#!/bin/sh
echo \"$5\" > /root/userdata-proof
echo RUSTACK-TEST-USERDATA-SAYS-HELLO"
    if [[ $fmt == openstack ]]; then
        mkdir -p "$d/openstack/latest"
        # Nova's layout: public_keys (a map) and keys (a list), values ending in \n.
        printf '{"uuid": "%s", "hostname": "%s.novalocal", "name": "%s", "launch_index": 0, "availability_zone": "nova", "project_id": "p", "keys": [{"name": "k", "type": "ssh", "data": "%s\\n"}], "public_keys": {"k": "%s\\n"}, "meta": {}, "devices": []}\n' \
            "$uuid" "$h" "$h" "$key" "$key" > "$d/openstack/latest/meta_data.json"
        printf '%s\n' "$ud" > "$d/openstack/latest/user_data"
    else
        mkdir -p "$d/latest/meta-data/public-keys/0"
        printf '%s.ec2.internal' "$h" > "$d/latest/meta-data/hostname"
        printf '%s' "$uuid" > "$d/latest/meta-data/instance-id"
        printf '%s\n' "$key" > "$d/latest/meta-data/public-keys/0/openssh-key"
        printf '%s\n' "$ud" > "$d/latest/user-data"
    fi
}

start_metadata() {  # DIR MODE
    # A simple command, not the in_ns function: $! must be python itself (ip netns exec
    # execs it), not a subshell that a kill would leave it behind.
    ip netns exec "$NS" "$PY" -m http.server 80 --bind "$MD" --directory "$1" >"$W/http-$2.log" 2>&1 &
    echo $! > "$W/http-$2.pid"
    for _ in $(seq 50); do
        in_ns "$PY" -c "import socket; socket.create_connection(('$MD', 80), 1)" 2>/dev/null && return 0
        sleep 0.1
    done
    log "metadata server did not start"; return 1
}

qmp() {  # SOCKET COMMAND-JSON
    "$PY" - "$1" "$2" <<'EOF'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile('rw')
def reply():  # skips asynchronous events
    while True:
        m = json.loads(f.readline())
        if "return" in m or "error" in m: return m
f.readline(); f.write('{"execute":"qmp_capabilities"}\n'); f.flush(); reply()
f.write(sys.argv[2] + '\n'); f.flush(); m = reply(); print(json.dumps(m))
sys.exit(1 if "error" in m else 0)
EOF
}

# marker_field LINE NAME -> value of NAME=... in the marker line
marker_field() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p" | head -n1; }

RESULTS=()
run_mode() {
    local mode=$1 boot=${1%%-*} data=${1#*-} failed=0
    local h="rg-$mode" token="proof-$RANDOM$RANDOM" uuid ktype
    uuid=$(cat /proc/sys/kernel/random/uuid)
    [[ $boot == disk ]] && ktype=rsa || ktype=ed25519
    ssh-keygen -q -t "$ktype" -N '' -C "guest-boot-$mode" -f "$W/$mode.key"
    local want_fp; want_fp=$(ssh-keygen -l -E sha256 -f "$W/$mode.key.pub" | awk '{ print $2 }')
    # shellcheck disable=SC2054 # commas belong to QEMU's option syntax
    local args=(-accel tcg -M q35 -m "$MEM" -smp "$SMP" -nodefaults -no-user-config -display none
        -name "guest-boot-$mode" -daemonize -pidfile "$W/qemu-$mode.pid"
        -serial "file:$W/$mode.serial" -qmp "unix:$W/$mode.qmp,server=on,wait=off"
        -netdev tap,id=n0,ifname=tap0,script=no,downscript=no
        -device "virtio-net-pci,netdev=n0,mac=$MAC"
        # q35's pcie.0 takes no hot-plug: root ports made at start do
        -device pcie-root-port,id=rp1,bus=pcie.0,chassis=1,slot=1
        -device pcie-root-port,id=rp2,bus=pcie.0,chassis=2,slot=2)
    # What the marker must say.
    local want_source=metadata want_h=$h want_ud=ran want_uuid=$uuid cmdline=$CMDLINE
    case $data in
        metadata) write_guest_data "$W/md-$mode" openstack "$h" "$W/$mode.key.pub" "$token" "$uuid"
                  start_metadata "$W/md-$mode" "$mode" ;;
        ec2)      write_guest_data "$W/md-$mode" ec2 "$h" "$W/$mode.key.pub" "$token" "$uuid"
                  start_metadata "$W/md-$mode" "$mode" ;;
        configdrive)
            want_source=configdrive
            write_guest_data "$W/cd-$mode" openstack "$h" "$W/$mode.key.pub" "$token" "$uuid"
            # Nova's genisoimage flags (the "does not conform" warning is about them).
            genisoimage -quiet -o "$W/$mode.iso" -V config-2 -J -r -l -allow-lowercase \
                -allow-multidot "$W/cd-$mode" 2>/dev/null
            if [[ $boot == kernel ]]; then
                # shellcheck disable=SC2054
                args+=(-drive "file=$W/$mode.iso,if=none,id=cd0,media=cdrom,readonly=on,format=raw"
                       -device ide-cd,drive=cd0,bus=ide.0)
            else
                args+=(-drive "file=$W/$mode.iso,if=virtio,readonly=on,format=raw")
            fi ;;
        none)
            # No metadata server, no config drive: the name comes from DHCP; the guest
            # gives up on metadata after 3 tries.
            want_source=none want_h=$DHCP_NAME want_fp=none want_ud=none want_uuid=none
            cmdline="$cmdline rustack.metadata_tries=3" ;;
        *) log "unknown data source in $mode"; return 1 ;;
    esac
    case $boot in
        disk)
            [[ $data != none ]] || { log "$mode: the disk's command line is fixed; use kernel-none"; return 1; }
            # an overlay the size of a small flavor's root disk
            qemu-img create -q -f qcow2 -b "$IMG/disk.qcow2" -F qcow2 "$W/$mode.qcow2" 1G
            # the root disk first: it is the one SeaBIOS boots
            args=(-drive "file=$W/$mode.qcow2,if=virtio,format=qcow2" "${args[@]}") ;;
        kernel)
            args+=(-kernel "$IMG/vmlinux" -initrd "$IMG/initramfs.cpio.gz" -append "$cmdline") ;;
        *) log "unknown boot kind in $mode"; return 1 ;;
    esac

    log "$mode: booting"
    local t0; t0=$(now)
    in_ns qemu-system-x86_64 "${args[@]}" 2>"$W/qemu-$mode.err"
    local marker="" t_marker
    while [[ -z $marker ]]; do
        marker=$(grep -a -m1 'RUSTACK-GUEST-READY' "$W/$mode.serial" 2>/dev/null | tr -d '\r' || true)
        [[ -n $marker ]] && break
        if ! kill -0 "$(cat "$W/qemu-$mode.pid")" 2>/dev/null; then log "$mode: qemu exited"; cat "$W/qemu-$mode.err" >&2; return 1; fi
        if [[ $(since "$t0" | cut -d. -f1) -ge $MARKER_TIMEOUT ]]; then log "$mode: no marker in ${MARKER_TIMEOUT}s"; return 1; fi
        sleep 0.1
    done
    t_marker=$(since "$t0")
    log "$mode: marker after ${t_marker}s: $marker"

    expect() {  # NAME WANT GOT
        if [[ $2 == "$3" ]]; then echo "    ok   $1 = $3"
        else echo "    FAIL $1: want '$2', got '$3'"; failed=1; fi
    }
    expect hostname "$want_h" "$(marker_field "$marker" hostname)"
    expect ip "$GUEST_IP" "$(marker_field "$marker" ip)"
    expect key "$want_fp" "$(marker_field "$marker" key)"
    expect userdata "$want_ud" "$(marker_field "$marker" userdata)"
    expect source "$want_source" "$(marker_field "$marker" source)"
    expect uuid "$want_uuid" "$(marker_field "$marker" uuid)"

    # SSH with the key from the metadata: hostname, the user data's proof file, and
    # what DHCP configured (MTU, the metadata route through another host).
    local out="" t_ssh=-
    [[ $data != none ]] && for _ in $(seq 30); do
        out=$(in_ns ssh -F /dev/null -i "$W/$mode.key" -o BatchMode=yes -o ConnectTimeout=5 \
            -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
            "root@$GUEST_IP" 'hostname; cat /root/userdata-proof; cat /sys/class/net/eth0/mtu;
                ip route show '"$MD"'; ip route show default' 2>"$W/ssh-$mode.err") && break
        out=""; sleep 1
    done
    if [[ $data != none ]]; then
        t_ssh=$(since "$t0")
        expect "ssh hostname" "$h" "$(sed -n 1p <<<"$out")"
        expect "ssh userdata proof" "$token" "$(sed -n 2p <<<"$out")"
        expect "dhcp mtu" "$MTU" "$(sed -n 3p <<<"$out")"
        expect "dhcp route to metadata" "$MD via $MD_HOP dev eth0" "$(sed -n 4p <<<"$out" | awk '{ print $1, $2, $3, $4, $5 }')"
        expect "dhcp default route" "default via $GW dev eth0" "$(sed -n 5p <<<"$out" | awk '{ print $1, $2, $3, $4, $5 }')"
    fi
    # The way Tempest logs in: paramiko, its shell prologue, the commands of the interop
    # validation tests (hostname, vCPU count).
    if [[ $data != none ]] && [[ -x $PARAMIKO_PY ]] && "$PARAMIKO_PY" -c 'import paramiko' 2>/dev/null; then
        local pm
        pm=$(in_ns "$PARAMIKO_PY" - "$GUEST_IP" "$W/$mode.key" <<'EOF' 2>&1
import sys, paramiko
key = paramiko.PKey.from_path(sys.argv[2])
c = paramiko.SSHClient(); c.set_missing_host_key_policy(paramiko.AutoAddPolicy())
c.connect(sys.argv[1], username="root", pkey=key, look_for_keys=False, allow_agent=False, timeout=10)
_, out, _ = c.exec_command("set -eu -o pipefail; PATH=$PATH:/sbin; hostname; grep -c ^processor /proc/cpuinfo")
print(" ".join(out.read().decode().split()))
EOF
        ) || true
        expect "paramiko login (hostname, vcpus)" "$h $SMP" "$pm"
    fi
    # A key the guest was not given is refused.
    ssh-keygen -q -t ed25519 -N '' -f "$W/$mode.other"
    if in_ns ssh -F /dev/null -i "$W/$mode.other" -o BatchMode=yes -o ConnectTimeout=5 \
        -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
        "root@$GUEST_IP" true 2>/dev/null; then
        echo "    FAIL ssh with a foreign key was accepted"; failed=1
    else echo "    ok   ssh with a foreign key is refused"; fi

    # TCP 7: a greeting naming the guest, then an echo of what we send.
    local echo_out
    echo_out=$(in_ns "$PY" - "$GUEST_IP" "$token" <<'EOF' 2>&1
import socket, sys, time
s = socket.create_connection((sys.argv[1], 7), 10); s.settimeout(10)
s.sendall(sys.argv[2].encode() + b"\n"); buf = b""; end = time.time() + 10
while sys.argv[2].encode() not in buf and time.time() < end:
    d = s.recv(4096)
    if not d: break
    buf += d
print(buf.decode(errors="replace").replace("\n", "|"))
EOF
    ) || true
    expect "tcp7" "RUSTACK-ECHO $want_h|$token|" "$echo_out"

    # Hot-plug (kernel-metadata only): a NIC gets its own DHCP lease, a disk is announced.
    if [[ $mode == kernel-metadata ]]; then
        qemu-img create -q -f qcow2 "$W/$mode-extra.qcow2" 16M
        qmp "$W/$mode.qmp" '{"execute":"netdev_add","arguments":{"type":"tap","id":"n1","ifname":"tap1","script":"no","downscript":"no"}}' >/dev/null &&
        qmp "$W/$mode.qmp" '{"execute":"device_add","arguments":{"driver":"virtio-net-pci","id":"nic1","netdev":"n1","mac":"'"$MAC2"'","bus":"rp1"}}' >/dev/null &&
        qmp "$W/$mode.qmp" '{"execute":"blockdev-add","arguments":{"driver":"qcow2","node-name":"d1","file":{"driver":"file","filename":"'"$W/$mode-extra.qcow2"'"}}}' >/dev/null &&
        qmp "$W/$mode.qmp" '{"execute":"device_add","arguments":{"driver":"virtio-blk-pci","id":"disk1","drive":"d1","bus":"rp2"}}' >/dev/null ||
            { echo "    FAIL hot-plug through QMP"; failed=1; }
        local t_hp; t_hp=$(now) nic="" disk=""
        while [[ -z $nic || -z $disk ]] && [[ $(since "$t_hp" | cut -d. -f1) -lt 30 ]]; do
            nic=$(grep -a -m1 "RUSTACK-GUEST-DHCP iface=eth1 ip=$GUEST_IP2 " "$W/$mode.serial" || true)
            disk=$(grep -a -m1 "RUSTACK-GUEST-DISK dev=vd.* sectors=32768 " "$W/$mode.serial" || true)
            sleep 0.2
        done
        [[ -n $nic ]] && echo "    ok   hot-plugged NIC: $nic" || { echo "    FAIL no DHCP on the hot-plugged NIC"; failed=1; }
        [[ -n $disk ]] && echo "    ok   hot-plugged disk: $disk" || { echo "    FAIL hot-plugged disk not announced"; failed=1; }
    fi

    # ACPI power button (what a driver's soft stop sends): the guest powers off.
    local t_off; t_off=$(now)
    qmp "$W/$mode.qmp" '{"execute":"system_powerdown"}' >/dev/null
    local pid; pid=$(cat "$W/qemu-$mode.pid")
    for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        echo "    FAIL no power-off within 30 s of the ACPI power button"; failed=1
    else
        echo "    ok   powered off $(since "$t_off")s after the ACPI power button"
    fi
    t_off=$(since "$t_off")
    stop_pidfile "$W/qemu-$mode.pid"
    [[ -e $W/http-$mode.pid ]] && stop_pidfile "$W/http-$mode.pid"
    local left; left=$(ip netns pids "$NS" | grep -vx "$(cat "$W/dnsmasq.pid")" | tr '\n' ' ')
    if [[ -n $left ]]; then echo "    FAIL still running in the namespace: $left"; failed=1
    else echo "    ok   nothing but dnsmasq left in the namespace"; fi

    local verdict=PASS; [[ $failed -eq 0 ]] || verdict=FAIL
    [[ $t_ssh == - ]] || t_ssh=${t_ssh}s
    RESULTS+=("$(printf '%-20s %-4s marker %6ss  ssh %7s  acpi-off %5ss' "$mode" "$verdict" "$t_marker" "$t_ssh" "$t_off")")
    return $failed
}

rc=0
for mode in $MODES; do
    run_mode "$mode" || rc=1
done
echo "mode                 ok   time from QEMU start (TCG, ${MEM} MiB, $SMP vCPU)"
printf '%s\n' "${RESULTS[@]}"
exit $rc
