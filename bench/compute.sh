#!/usr/bin/env bash
# Compute benchmark: ../shared/bench/nova/bench.py against rustack (fake
# hypervisor, fresh SQLite data dir), then the figures docs/perf/compute.md
# records: boot rate at concurrency 16, request→ACTIVE p50/p99, CPU-seconds
# of the rustack process per boot+delete, RSS and /servers/detail with 5000
# servers. Upstream Nova is not started here (UPSTREAM=1 runs its anchor
# scripts from ../shared/bench/nova first when they are set up).
#
#   bench/compute.sh     env: N (1000) C (16) N1 (20) BIG (5000) PROFILE (release|debug) OUT SKIP_BUILD
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared}
NB=$SHARED/bench/nova
OUT=${OUT:-/tmp/rustack-compute-bench}
N=${N:-1000}; C=${C:-16}; N1=${N1:-20}; BIG=${BIG:-5000}
PROFILE=${PROFILE:-release}
PY=${PY:-$HOME/.cache/rustack-venv/bin/python}
BASE=${BASE_PORT:-45000}
mkdir -p "$OUT"

cd "$ROOT"
BIN=$ROOT/target/$PROFILE/rustack
if [[ -z ${SKIP_BUILD:-} ]]; then
  if [[ $PROFILE == release ]]; then cargo build --release -p rustack >&2; else cargo build -p rustack >&2; fi
fi

if [[ -n ${UPSTREAM:-} ]]; then
  W=${XDG_CACHE_HOME:-$HOME/.cache}/rustack-anchors/nova
  [[ -d $W ]] || "$NB/setup_nova.sh" "$W" >&2
  N=$N C=$C N1=$N1 "$NB/run_bench.sh" "$W" > "$OUT/upstream.txt" 2>&1 || true
  "$NB/nova_ctl.sh" stop "$W" >&2 || true
fi

D=$OUT/data; rm -rf "$D"; mkdir -p "$D"
cat > "$OUT/rustack.conf" <<CONF
[identity]
port = $BASE
admin_password = admin
demo_password = demo
[image]
port = $((BASE + 1))
[network]
port = $((BASE + 2))
dataplane = fake
[placement]
port = $((BASE + 3))
[compute]
port = $((BASE + 4))
fake_hosts = 8
CONF
"$BIN" --config "$OUT/rustack.conf" --data-dir "$D" up > "$OUT/rustack.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
AUTH=http://127.0.0.1:$BASE/v3
for _ in $(seq 1 100); do curl -sf "$AUTH" >/dev/null && break; sleep 0.2; done

TOKEN=$(curl -si "$AUTH/auth/tokens" -H 'Content-Type: application/json' -d '{"auth": {"identity": {"methods": ["password"],
  "password": {"user": {"name": "admin", "password": "admin", "domain": {"name": "Default"}}}},
  "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}}}' | sed -n 's/^X-Subject-Token: *//Ip' | tr -d '\r')
PROJECT=$(curl -s "$AUTH/auth/tokens" -H "X-Auth-Token: $TOKEN" -H "X-Subject-Token: $TOKEN" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["token"]["project"]["id"])')
IMG=http://127.0.0.1:$((BASE + 1))
NOVA=http://127.0.0.1:$((BASE + 4))/v2.1
IMAGE_ID=$(curl -s "$IMG/v2/images" -H "X-Auth-Token: $TOKEN" -H 'Content-Type: application/json' \
  -d '{"name": "tiny", "disk_format": "raw", "container_format": "bare", "visibility": "public"}' | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["id"])')
head -c 1048576 /dev/zero | curl -s -X PUT "$IMG/v2/images/$IMAGE_ID/file" -H "X-Auth-Token: $TOKEN" \
  -H 'Content-Type: application/octet-stream' --data-binary @- >/dev/null
curl -s -X PUT "$NOVA/os-quota-sets/$PROJECT" -H "X-Auth-Token: $TOKEN" -H 'Content-Type: application/json' \
  -d '{"quota_set": {"instances": -1, "cores": -1, "ram": -1}}' >/dev/null

cpu() { awk '{print ($14 + $15) / 100}' "/proc/$PID/stat"; }   # utime + stime, USER_HZ = 100
rss() { awk '/VmRSS/ {print $2 / 1024}' "/proc/$PID/status"; }
B() { "$PY" "$NB/bench.py" --auth-url "$AUTH" --username admin --password admin --project admin --image-id "$IMAGE_ID" "$@"; }

B --n 20 --concurrency 4 --detail-reps 2 --json "$OUT/warmup.json" >/dev/null
c0=$(cpu); B --n "$N" --concurrency "$C" --detail-reps 20 --json "$OUT/c$C.json" > "$OUT/c$C.out"; c1=$(cpu)
B --n "$N1" --concurrency 1 --detail-reps 5 --json "$OUT/c1.json" > "$OUT/c1.out"
rss0=$(rss)
B --n "$BIG" --concurrency 32 --detail-reps 10 --keep --json "$OUT/big.json" > "$OUT/big.out"
rss1=$(rss)

"$PY" - "$OUT" "$C" "$N" "$c0" "$c1" "$rss0" "$rss1" <<'PYEOF'
import json, sys
out, c, n, c0, c1, rss0, rss1 = sys.argv[1:]
r = json.load(open(f'{out}/c{c}.json')); r1 = json.load(open(f'{out}/c1.json')); big = json.load(open(f'{out}/big.json'))
b, d = r['boot'], r.get('delete', {})
f = lambda x: '%.3f' % x if isinstance(x, (int, float)) else '-'
print(f"boot c{c}: ok={b['ok']} failed={b['failed']} rate={f(b['servers_per_s'])}/s "
      f"POST->ACTIVE p50={f(b['post_to_active_s']['p50'])} p99={f(b['post_to_active_s']['p99'])} s; "
      f"delete ok={d.get('ok')} failed={d.get('failed')}")
print(f"boot c1: POST->ACTIVE p50={f(r1['boot']['post_to_active_s']['p50'])} s")
print(f"cpu per boot+delete: {f((float(c1) - float(c0)) / int(n))} s (process total {f(float(c1) - float(c0))} s for {n})")
print(f"servers booted with --keep: {big['boot']['ok']} (failed {big['boot']['failed']}); "
      f"/servers/detail of {big['servers_detail']['servers_listed']}: p50={f(big['servers_detail']['seconds']['p50'])} s")
print(f"RSS: {float(rss0):.1f} MB before, {float(rss1):.1f} MB with {big['boot']['ok']} servers")
PYEOF
