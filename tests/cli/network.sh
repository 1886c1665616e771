#!/usr/bin/env bash
# The network service with the `openstack` CLI against a started rustack, as the
# demo user: network, subnet, port, router (gateway on `public`, interface, extra
# route), floating IP (create, associate, disassociate), security group and rule —
# create/list/show/set/delete — then the admin's view (agents, provider attributes,
# quotas). Cleans up what it made.
#
#   OS_CLIENT_CONFIG_FILE=<data dir>/clouds.yaml tests/cli/network.sh
#
# Needs `openstack` (python-openstackclient) on PATH and the clouds `rustack-admin`
# and `rustack-demo` that `rustack up` writes. Exits non-zero at the first failure.
set -euo pipefail

: "${OS_CLIENT_CONFIG_FILE:?set OS_CLIENT_CONFIG_FILE to the clouds.yaml written by rustack up}"
[[ -r $OS_CLIENT_CONFIG_FILE ]] || { echo "network: cannot read $OS_CLIENT_CONFIG_FILE" >&2; exit 1; }
command -v openstack >/dev/null || { echo "network: the openstack CLI is not on PATH" >&2; exit 1; }
export OS_CLIENT_CONFIG_FILE PYTHONWARNINGS=ignore
for v in $(env | sed -n 's/^\(OS_[A-Z_]*\)=.*/\1/p'); do
  [[ $v == OS_CLIENT_CONFIG_FILE ]] || unset "$v"
done

SUFFIX=$(date +%s)-$$
NET=cli-net-$SUFFIX
SUBNET=cli-subnet-$SUFFIX
PORT=cli-port-$SUFFIX
ROUTER=cli-router-$SUFFIX
SG=cli-sg-$SUFFIX

STEPS=0
OUT=""
run() {
  STEPS=$((STEPS + 1))
  echo "+ $*" >&2
  OUT=$("$@" 2>&1) || { echo "$OUT" >&2; echo "network: FAILED at step $STEPS: $*" >&2; exit 1; }
  echo "$OUT" | sed 's/^/  /' >&2
}
# fails: the step must fail (a refused request)
fails() {
  STEPS=$((STEPS + 1))
  echo "+ (must fail) $*" >&2
  if OUT=$("$@" 2>&1); then echo "$OUT" >&2; echo "network: step $STEPS should have failed: $*" >&2; exit 1; fi
  echo "$OUT" | sed 's/^/  /' >&2
}
expect() {
  for w in "$@"; do
    grep -qF -- "$w" <<<"$OUT" || { echo "network: FAILED at step $STEPS: output lacks '$w'" >&2; exit 1; }
  done
}
lacks() {
  for w in "$@"; do
    if grep -qF -- "$w" <<<"$OUT"; then echo "network: FAILED at step $STEPS: output has '$w'" >&2; exit 1; fi
  done
}
json() {
  python3 -c '
import json, sys
d = {k.lower().replace(" ", "_"): v for k, v in json.load(sys.stdin).items()}
print(d[sys.argv[1]])' "$1" <<<"$OUT"
}

demo() { openstack --os-cloud rustack-demo "$@"; }
admin() { openstack --os-cloud rustack-admin "$@"; }
cleanup() {
  set +e
  [[ -n ${FIP:-} ]] && demo floating ip delete "$FIP" >/dev/null 2>&1
  demo router remove subnet "$ROUTER" "$SUBNET" >/dev/null 2>&1
  demo router delete "$ROUTER" >/dev/null 2>&1
  demo port delete "$PORT" >/dev/null 2>&1
  demo security group delete "$SG" >/dev/null 2>&1
  demo network delete "$NET" >/dev/null 2>&1
}
trap cleanup EXIT

echo "# network day 1" >&2

run demo network list -f value
expect private public

run demo network create "$NET" --description "cli test" -f json
expect "\"name\": \"$NET\"" '"status": "ACTIVE"' '"mtu": 1450'
NET_ID=$(json id)

run demo network set "$NET" --description "changed"
run demo network show "$NET" -f json
expect '"description": "changed"'

run demo subnet create "$SUBNET" --network "$NET" --subnet-range 192.168.77.0/24 \
  --dns-nameserver 192.0.2.53 --allocation-pool start=192.168.77.10,end=192.168.77.100 -f json
expect '"cidr": "192.168.77.0/24"' '"gateway_ip": "192.168.77.1"' '192.0.2.53' '192.168.77.10'

run demo subnet set "$SUBNET" --host-route destination=203.0.113.0/24,gateway=192.168.77.254
run demo subnet show "$SUBNET" -f json
expect 203.0.113.0/24

run demo subnet list --network "$NET" -f value
expect "$SUBNET"

run demo security group create "$SG" --description "web" -f json
SG_ID=$(json id)
run demo security group rule create "$SG" --protocol tcp --dst-port 22 --remote-ip 0.0.0.0/0 -f json
expect '"port_range_min": 22' '"protocol": "tcp"'
RULE_ID=$(json id)
run demo security group rule create "$SG" --protocol icmp -f json
run demo security group rule list "$SG" -f value
expect "$RULE_ID"
run demo security group rule show "$RULE_ID" -f json
expect '"direction": "ingress"'
fails demo security group rule create "$SG" --protocol tcp --dst-port 22 --remote-ip 0.0.0.0/0
expect "already exists"
run demo security group set "$SG" --description "web and ssh"
run demo security group show "$SG" -f json
expect '"description": "web and ssh"'
run demo security group list -f value
expect default "$SG"

run demo port create "$PORT" --network "$NET" --fixed-ip subnet="$SUBNET",ip-address=192.168.77.50 \
  --security-group "$SG" -f json
expect '192.168.77.50' 'fa:16:3e:'
PORT_ID=$(json id)
fails demo port create "$PORT-dup" --network "$NET" --fixed-ip subnet="$SUBNET",ip-address=192.168.77.50
run demo port set "$PORT" --name "$PORT" --allowed-address ip-address=192.168.77.200
run demo port show "$PORT" -f json
expect 192.168.77.200
run demo port list --network "$NET" -f value
expect "$PORT"

run demo router create "$ROUTER" -f json
run demo router set "$ROUTER" --external-gateway public
run demo router add subnet "$ROUTER" "$SUBNET"
run demo router set "$ROUTER" --route destination=198.51.100.0/24,gateway=192.168.77.99
run demo router show "$ROUTER" -f json
expect 198.51.100.0/24 '"status": "ACTIVE"'
run demo router list -f value
expect "$ROUTER" router1
fails demo router delete "$ROUTER"

run demo floating ip create public -f json
FIP=$(json floating_ip_address)
expect 172.24.4.
run demo floating ip set --port "$PORT_ID" "$FIP"
run demo floating ip show "$FIP" -f json
expect "\"port_id\": \"$PORT_ID\"" '192.168.77.50'
run demo floating ip list -f value
expect "$FIP"
run demo floating ip unset --port "$FIP"
run demo floating ip show "$FIP" -f json
expect '"port_id": null'
run demo floating ip delete "$FIP"
FIP=""

run admin network agent list -f value
expect "DHCP agent" "L3 agent" "Linux bridge agent"
run admin network show "$NET" -f json
expect '"provider:network_type": "vxlan"'
run admin quota show demo
expect networks ports

run demo router unset --route destination=198.51.100.0/24,gateway=192.168.77.99 "$ROUTER"
run demo router remove subnet "$ROUTER" "$SUBNET"
run demo router delete "$ROUTER"
run demo port delete "$PORT"
run demo security group rule delete "$RULE_ID"
run demo security group delete "$SG"
run demo subnet delete "$SUBNET"
run demo network delete "$NET"
run demo network list -f value
lacks "$NET"

echo "network: all $STEPS steps passed" >&2
