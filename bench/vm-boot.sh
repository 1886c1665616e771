#!/usr/bin/env bash
# Real-VM boot benchmark (issue 7): rustack with the QEMU driver against the same
# guest under a bare qemu-system-x86_64 command line, in one run (bench/vm_boot.py
# does the measuring). rustack: `rustack up` (driver qemu, Linux data plane) on free
# ports, the bootstrap's test image, a tenant network whose DHCP namespace pings the
# guests. Bare: a bridge of its own (10.79.0.1/24) with dnsmasq giving each MAC its
# address, ping from the host. Both: TCG, 512 MiB, 1 vCPU, disk boot of a qcow2
# overlay over the test image's disk.qcow2.
#
#   bench/vm-boot.sh     (root) env: SEQ (10) CONC (5) PROFILE (release|debug) OUT SKIP_BUILD
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PROFILE=${PROFILE:-release}
OUT=${OUT:-/tmp/rustack-vm-bench}
SEQ=${SEQ:-10}; CONC=${CONC:-5}
mkdir -p "$OUT"
cd "$ROOT"
if [[ -z ${SKIP_BUILD:-} ]]; then
    if [[ $PROFILE == release ]]; then cargo build --release -p rustack >&2; else cargo build -p rustack >&2; fi
fi
export RUSTACK_BIN=$ROOT/target/$PROFILE/rustack
# shellcheck source=../tests/host/vmcloud.sh
. "$ROOT/tests/host/vmcloud.sh"
export PATH="${RUSTACK_VENV:-$HOME/.cache/rustack-venv}/bin:$PATH" PYTHONWARNINGS=ignore
[[ $EUID -eq 0 ]] || { echo "vm-boot: needs root" >&2; exit 1; }

BR=rsbench0 PFX=10.79.0
VC_EXTRA_CONF=$'[compute]\nsync_power_state_interval = 60'
vmcloud_init
cleanup() {
    vmcloud_clear
    [[ -f $OUT/bare-dnsmasq.pid ]] && kill "$(cat "$OUT/bare-dnsmasq.pid")" 2>/dev/null || true
    ip link del "$BR" 2>/dev/null || true
    for t in $(ip -o link show | awk -F': ' '{print $2}' | grep '^rsbt' || true); do ip link del "$t" 2>/dev/null || true; done
    cp "$VC/up.log" "$OUT/rustack.log" 2>/dev/null || true
    rm -rf "$VC"
}
trap cleanup EXIT

ip link add "$BR" type bridge
ip addr add "$PFX.1/24" dev "$BR"
ip link set "$BR" up
ip route get "$PFX.10" | grep -q "dev $BR" || { echo "vm-boot: $PFX.0/24 is not on $BR" >&2; exit 1; }
HOSTS=()
for i in $(seq 0 $((SEQ > CONC ? SEQ : CONC))); do
    HOSTS+=("--dhcp-host=52:54:00:7b:00:$(printf %02x $((i + 10))),$PFX.$((i + 10))")
done
dnsmasq --conf-file=/dev/null --interface="$BR" --bind-interfaces --except-interface=lo \
    --dhcp-range="$PFX.10,$PFX.200,255.255.255.0,1h" "${HOSTS[@]}" --dhcp-option=3 --dhcp-option=6 \
    --pid-file="$OUT/bare-dnsmasq.pid" --dhcp-leasefile="$OUT/bare.leases" --port=0

vmcloud_start
for _ in $(seq 1 240); do
    [[ $(openstack --os-cloud rustack-admin image show rustack-test -f value -c status 2>/dev/null) == active ]] && break
    sleep 0.5
done
A() { openstack --os-cloud rustack-admin "$@"; }
NET=$(A network create bench-net -f value -c id)
A subnet create --network bench-net --subnet-range 10.80.0.0/24 bench-subnet >/dev/null
# the guests answer ping from the network's DHCP namespace
SG=$(A security group list --project admin -f value -c ID -c Name | awk '$2 == "default" {print $1; exit}')
A security group rule create --protocol icmp --ingress "$SG" >/dev/null
IMG=$(A image show rustack-test -f value -c id)
FLAVOR=$(A flavor show m1.tiny -f value -c id)
COMPUTE=$(A endpoint list --service compute --interface public -f value -c URL | head -1)
PW=$(sed -n 's/^admin=//p' "$VC/data/passwords")
for _ in $(seq 1 100); do ip netns list | grep -q "qdhcp-$NET" && break; sleep 0.2; done

python3 "$ROOT/bench/vm_boot.py" --auth-url "http://127.0.0.1:$VC_PORT/v3" --password "$PW" \
    --compute-url "$COMPUTE" --image "$IMG" --flavor "$FLAVOR" --network "$NET" --netns "qdhcp-$NET" \
    --pid "$VC_PID" --disk "$IMAGE_DIR/disk.qcow2" --mem 512 --bare-bridge "$BR" --bare-prefix "$PFX" \
    --workdir "$OUT" --seq "$SEQ" --conc "$CONC" --json "$OUT/vm-boot.json" | tee "$OUT/summary.txt"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/summary.txt"
