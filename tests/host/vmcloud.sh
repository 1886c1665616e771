# shellcheck shell=bash
# Sourced by the real-VM tests and benchmarks (tests/host/e2e-vm.sh,
# tests/host/crash-vm.sh, bench/vm-boot.sh): starts and stops a rustack cloud
# with the QEMU driver and the Linux network data plane on free ports, and
# checks that the host is clean afterwards.
#
#   vmcloud_init            work dir $VC (config, data dir, logs), free ports
#   vmcloud_start           rustack up in the background ($VC_PID), waits for identity
#   vmcloud_kill9 / vmcloud_stop
#   vmcloud_leftovers [strict]  prints what the cloud left on the host (none: empty);
#                           strict (after vmcloud_clear): any tap new since vmcloud_init
#   vmcloud_clear           stops, clears the data plane, kills stray QEMUs
#   check, vc_fail, wait_match, demo, admin, val: the tests' step helpers
#
# Needs root, qemu-system-x86_64, the test image (scripts/build-test-image.sh) and the
# binary ($RUSTACK_BIN, default target/debug/rustack).

VC_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RUSTACK_BIN=${RUSTACK_BIN:-$VC_ROOT/target/debug/rustack}
IMAGE_DIR=${IMAGE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/rustack/test-image}

vc_log() { echo "# vmcloud: $*" >&2; }

vc_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

vmcloud_init() {
    VC=$(mktemp -d /tmp/rustack-vm.XXXXXX)
    VC_PORT=$(vc_free_port)
    {
        printf '[identity]\nport = %s\npassword_hash_rounds = 4\n' "$VC_PORT"
        for s in image network compute placement metadata vnc; do
            printf '[%s]\nport = %s\n' "$s" "$(vc_free_port)"
        done
        printf '[compute]\ndriver = qemu\nsync_power_state_interval = 5\n'
        printf '[network]\ndataplane = linux\n'
        printf '[image]\ntest_image_dir = %s\n' "$IMAGE_DIR"
        if [[ -n ${VC_EXTRA_CONF:-} ]]; then printf '%s\n' "$VC_EXTRA_CONF"; fi
    } | python3 -c '
import sys, configparser
# merge repeated sections ([compute] twice) into one file
c = configparser.RawConfigParser(strict=False); c.optionxform = str
c.read_string(sys.stdin.read()); c.write(sys.stdout)' > "$VC/rustack.conf"
    vc_taps > "$VC/taps-before"
    export OS_CLIENT_CONFIG_FILE=$VC/data/clouds.yaml
    vc_log "work dir $VC, identity on port $VC_PORT"
}

vmcloud_start() {
    "$RUSTACK_BIN" --config "$VC/rustack.conf" --data-dir "$VC/data" up --bind 127.0.0.1 \
        >> "$VC/up.out" 2>> "$VC/up.log" &
    VC_PID=$!
    local i
    for i in $(seq 1 600); do
        if curl -fsS -o /dev/null "http://127.0.0.1:$VC_PORT/v3" 2>/dev/null && [[ -f $VC/data/clouds.yaml ]]; then
            return 0
        fi
        kill -0 "$VC_PID" 2>/dev/null || { vc_log "rustack up exited"; tail -20 "$VC/up.log" >&2; return 1; }
        sleep 0.1
    done
    vc_log "rustack up did not answer in 60 s"
    return 1
}

vmcloud_kill9() {
    kill -9 "$VC_PID" 2>/dev/null || true
    wait "$VC_PID" 2>/dev/null || true
}

vmcloud_stop() {
    [[ -n ${VC_PID:-} ]] || return 0
    kill -TERM "$VC_PID" 2>/dev/null || return 0
    local i
    for i in $(seq 1 100); do kill -0 "$VC_PID" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$VC_PID" 2>/dev/null || true
    wait "$VC_PID" 2>/dev/null || true
}

vc_taps() { ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep '^tap' | sort || true; }

# QEMU processes whose pidfile lies under this cloud's data dir
vc_qemu_pids() {
    pgrep -f "qemu-system.*-pidfile $VC/data/" 2>/dev/null || true
}

vmcloud_leftovers() {
    local p name entry
    for p in $(vc_qemu_pids); do echo "qemu process $p"; done
    if [[ -d $VC/data/instances ]]; then
        for name in "$VC"/data/instances/*; do [[ -e $name ]] && echo "instance dir $name"; done
    fi
    for name in $(vc_taps); do
        # taps of this cloud's ports (the tests write the ports file); with
        # `strict` (after the data plane is cleared: its DHCP and router veths
        # are gone too) any tap that appeared since the cloud was made
        if { [[ -f $VC/ports ]] && grep -q "^${name#tap}" "$VC/ports"; } \
            || { [[ ${1:-} == strict ]] && ! grep -qx "$name" "$VC/taps-before"; }; then
            echo "tap $name"
        fi
    done
    if [[ -f $VC/data/network/owned.json ]]; then
        for entry in $(python3 -c 'import json,sys; print(" ".join(json.load(open(sys.argv[1]))))' "$VC/data/network/owned.json"); do
            name=${entry#*:}
            case $entry in
                ns:*) ip netns list | grep -qw -- "$name" && echo "namespace $name" ;;
                link:*) ip link show dev "$name" >/dev/null 2>&1 && echo "device $name" ;;
            esac
        done
    fi
    return 0
}

vmcloud_clear() {
    vmcloud_stop
    local p
    for p in $(vc_qemu_pids); do kill -9 "$p" 2>/dev/null || true; done
    if [[ -f $VC/ports ]]; then
        while read -r p; do ip link del "tap${p:0:11}" 2>/dev/null || true; done < "$VC/ports"
    fi
    [[ -f $VC/rustack.conf ]] && "$RUSTACK_BIN" --config "$VC/rustack.conf" --data-dir "$VC/data" dataplane clear \
        >> "$VC/up.log" 2>&1 || true
}

# ---- step helpers of the VM tests (VC_NAME names the script in messages) ----
STEPS=0
vc_fail() { echo "${VC_NAME:-vm}: FAILED at step $STEPS: $*" >&2; tail -30 "$VC/up.log" >&2; exit 1; }
check() { STEPS=$((STEPS + 1)); echo "+ check: $1" >&2; }
demo() { openstack --os-cloud rustack-demo "$@"; }
admin() { openstack --os-cloud rustack-admin "$@"; }
val() { demo "$@" -f value; }
# wait_match TIMEOUT REGEX CMD...: polls CMD until its output matches REGEX
wait_match() {
    local timeout=$1 regex=$2 i out=""
    shift 2
    for i in $(seq 1 $((timeout * 2))); do
        out=$("$@" 2>/dev/null || true)
        [[ $out =~ $regex ]] && return 0
        sleep 0.5
    done
    echo "last output: ${out:0:400}" >&2
    return 1
}
