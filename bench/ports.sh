#!/usr/bin/env bash
# Port creation under concurrency: N ports (default 1000) on ONE subnet by 16
# concurrent clients (POST /v2.0/ports, addresses allocated by IPAM), then checks
# that no address was handed out twice and every address is inside the pool.
# Prints p50/p90/p99/max latency and throughput. The data plane is the fake one:
# this measures the API, the IPAM transaction and the database.
#
#   bench/ports.sh [N]     (env CONCURRENCY=16, RUSTACK_BIN, BASE_PORT=26000, OUT)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-1000}
CONCURRENCY=${CONCURRENCY:-16}
BASE_PORT=${BASE_PORT:-26000}
OUT=${OUT:-/tmp/rustack-ports-bench}
# the dev build by default (dependencies are optimised in it; see Cargo.toml):
# a release build of the whole workspace takes long on small machines
BIN=${RUSTACK_BIN:-$ROOT/target/debug/rustack}
[[ -n ${RUSTACK_BIN:-} ]] || (cd "$ROOT" && cargo build -p rustack >&2)
rm -rf "$OUT"; mkdir -p "$OUT/data"
cat > "$OUT/rustack.conf" <<CONF
[identity]
port = $BASE_PORT
admin_password = admin
demo_password = demo
[image]
port = $((BASE_PORT + 1))
test_image_dir =
[network]
port = $((BASE_PORT + 2))
dataplane = fake
[compute]
port = $((BASE_PORT + 3))
driver = fake
[placement]
port = $((BASE_PORT + 4))
CONF
"$BIN" --config "$OUT/rustack.conf" --data-dir "$OUT/data" up > "$OUT/rustack.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 300); do curl -sf -o /dev/null "http://127.0.0.1:$((BASE_PORT + 2))/" && break; sleep 0.1; done
curl -sf -o /dev/null "http://127.0.0.1:$((BASE_PORT + 2))/" || { echo "ports: the network API did not start ($OUT/rustack.log)" >&2; exit 1; }
echo "# binary $BIN" >&2

IDENTITY=http://127.0.0.1:$BASE_PORT/v3 NETWORK=http://127.0.0.1:$((BASE_PORT + 2))/v2.0 N=$N C=$CONCURRENCY python3 - <<'PY'
import ipaddress, json, os, threading, time, urllib.request

identity, network = os.environ["IDENTITY"], os.environ["NETWORK"]
n, conc = int(os.environ["N"]), int(os.environ["C"])

def call(method, url, token=None, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    if token:
        req.add_header("X-Auth-Token", token)
    with urllib.request.urlopen(req, timeout=60) as r:
        raw = r.read()
        return r.status, r.headers, json.loads(raw) if raw else None

auth = {"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "admin", "domain": {"id": "default"}, "password": "admin"}}},
                 "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}
_, h, _ = call("POST", identity + "/auth/tokens", body=auth)
token = h["X-Subject-Token"]
# room for everyone: no quota in the way, a /22 (1021 pool addresses + DHCP)
_, _, nets = call("GET", network + "/networks?name=public", token)
project = nets["networks"][0]["project_id"]
call("PUT", f"{network}/quotas/{project}", token, {"quota": {"port": -1, "network": -1, "subnet": -1}})
_, _, net = call("POST", network + "/networks", token, {"network": {"name": "bench"}})
nid = net["network"]["id"]
_, _, sub = call("POST", network + "/subnets", token, {"subnet": {"network_id": nid, "ip_version": 4, "cidr": "10.77.0.0/22"}})
pool = [ipaddress.ip_address(p["start"]) for p in sub["subnet"]["allocation_pools"]], [ipaddress.ip_address(p["end"]) for p in sub["subnet"]["allocation_pools"]]

lat, errors, ips = [], [], []
lock = threading.Lock()
todo = list(range(n))

def worker():
    while True:
        with lock:
            if not todo:
                return
            todo.pop()
        t0 = time.perf_counter()
        try:
            st, _, body = call("POST", network + "/ports", token, {"port": {"network_id": nid}})
            dt = time.perf_counter() - t0
            with lock:
                lat.append(dt)
                ips.append(body["port"]["fixed_ips"][0]["ip_address"])
        except Exception as e:  # a failed request is counted, not fatal
            with lock:
                errors.append(str(e))

t0 = time.perf_counter()
threads = [threading.Thread(target=worker) for _ in range(conc)]
for t in threads: t.start()
for t in threads: t.join()
wall = time.perf_counter() - t0

lat.sort()
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000
dups = len(ips) - len(set(ips))
starts, ends = pool
outside = [ip for ip in ips if not any(s <= ipaddress.ip_address(ip) <= e for s, e in zip(starts, ends))]
# the stored view agrees: list the network's ports
_, _, listed = call("GET", f"{network}/ports?network_id={nid}&device_owner=", token)
stored = [p["fixed_ips"][0]["ip_address"] for p in listed["ports"]]
print(f"ports created: {len(ips)}/{n} at concurrency {conc}, errors: {len(errors)}")
print(f"latency ms: p50 {q(0.50):.1f}  p90 {q(0.90):.1f}  p99 {q(0.99):.1f}  max {lat[-1]*1000:.1f}")
print(f"throughput: {len(ips)/wall:.0f} ports/s (wall {wall:.1f} s)")
print(f"duplicate addresses: {dups} (stored: {len(stored) - len(set(stored))}), outside the pool: {len(outside)}")
if errors:
    print("first error:", errors[0])
raise SystemExit(1 if dups or outside or errors or len(stored) != n else 0)
PY
