#!/usr/bin/env bash
# Compute benchmark, upstream Nova and rustack in ONE run with the same N/C:
#   1. upstream: ../shared/bench/nova/setup_nova.sh (Nova 34 + Placement 16 +
#      Glance + Keystone, fake virt driver, MariaDB, RabbitMQ) then its
#      run_bench.sh (bench.py at concurrency C with N servers, at concurrency 1
#      with N1, CPU and RSS of every upstream process), then nova_ctl.sh stop
#      (which also stops MariaDB, RabbitMQ, epmd and the Keystone anchor);
#   2. rustack (release build, fresh SQLite data dir, fake hypervisor, 8 fake
#      hosts) with the same bench.py, N, C and N1; then rustack alone: 1000
#      servers at C (issue 6's "1000 booted and deleted"), BIG servers kept at
#      concurrency 32, /servers/detail of BIG, RSS at each point and its peak;
#   3. the table of both and the ratios.
#
#   bench/compute.sh   env: N (200) C (16) N1 (20) BIG (5000) UPSTREAM (1; 0 skips it)
#                           NOVA_W (upstream work dir; must be outside /root: RabbitMQ
#                           and MariaDB drop to their own users) PROFILE (release)
#                           OUT (/tmp/rustack-compute-bench) SKIP_BUILD
# rustack listens on 45000/45292/45696/45774/45778/45775/45080 (never on the
# upstream ports 5002 8774 8778 9292 9696 3306 5672).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared}
NB=$SHARED/bench/nova
OUT=${OUT:-/tmp/rustack-compute-bench}
N=${N:-200}; C=${C:-16}; N1=${N1:-20}; BIG=${BIG:-5000}; UPSTREAM=${UPSTREAM:-1}
PROFILE=${PROFILE:-release}
PY=${PY:-$HOME/.cache/rustack-venv/bin/python}
NOVA_W=${NOVA_W:-/tmp/rustack-anchors/nova}
mkdir -p "$OUT"
log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }

cd "$ROOT"
BIN=$ROOT/target/$PROFILE/rustack
if [[ -z ${SKIP_BUILD:-} ]]; then
  if [[ $PROFILE == release ]]; then cargo build --release -p rustack >&2; else cargo build -p rustack >&2; fi
fi

# ------------------------------------------------------------------ upstream
if [[ $UPSTREAM == 1 ]]; then
  log "upstream: setup_nova.sh $NOVA_W (log $OUT/upstream_setup.log)"
  skip=0; [[ -x $NOVA_W/venv/bin/nova-manage && -x $NOVA_W/gvenv/bin/glance-manage ]] && skip=1
  rm -rf "$NOVA_W/results"
  if SKIP_PIP=$skip bash "$NB/setup_nova.sh" "$NOVA_W" > "$OUT/upstream_setup.log" 2>&1; then
    log "upstream: run_bench.sh N=$N C=$C N1=$N1"
    N=$N C=$C N1=$N1 bash "$NB/run_bench.sh" "$NOVA_W" > "$OUT/upstream.txt" 2>&1 || log "upstream bench failed: see $OUT/upstream.txt"
  else
    log "upstream setup failed: $(tail -3 "$OUT/upstream_setup.log")"
  fi
  bash "$NB/nova_ctl.sh" stop "$NOVA_W" >> "$OUT/upstream_setup.log" 2>&1 || true
  rm -rf "$OUT/upstream_results"; [[ -d $NOVA_W/results ]] && cp -r "$NOVA_W/results" "$OUT/upstream_results"
fi

# ------------------------------------------------------------------ rustack
D=$OUT/data; rm -rf "$D"; mkdir -p "$D"
cat > "$OUT/rustack.conf" <<CONF
[identity]
port = 45000
admin_password = admin
demo_password = demo
[image]
port = 45292
test_image_dir =
[network]
port = 45696
dataplane = fake
[placement]
port = 45778
[compute]
port = 45774
fake_hosts = 8
driver = fake
[metadata]
port = 45775
[vnc]
port = 45080
CONF
"$BIN" --config "$OUT/rustack.conf" --data-dir "$D" up > "$OUT/rustack.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
AUTH=http://127.0.0.1:45000/v3
for _ in $(seq 1 100); do curl -sf "$AUTH" >/dev/null && break; sleep 0.2; done

TOKEN=$(curl -si "$AUTH/auth/tokens" -H 'Content-Type: application/json' -d '{"auth": {"identity": {"methods": ["password"],
  "password": {"user": {"name": "admin", "password": "admin", "domain": {"name": "Default"}}}},
  "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}}}' | sed -n 's/^X-Subject-Token: *//Ip' | tr -d '\r')
PROJECT=$(curl -s "$AUTH/auth/tokens" -H "X-Auth-Token: $TOKEN" -H "X-Subject-Token: $TOKEN" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["token"]["project"]["id"])')
IMG=http://127.0.0.1:45292
NOVA=http://127.0.0.1:45774/v2.1
IMAGE_ID=$(curl -s "$IMG/v2/images" -H "X-Auth-Token: $TOKEN" -H 'Content-Type: application/json' \
  -d '{"name": "tiny", "disk_format": "raw", "container_format": "bare", "visibility": "public"}' | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["id"])')
head -c 1048576 /dev/zero | curl -s -X PUT "$IMG/v2/images/$IMAGE_ID/file" -H "X-Auth-Token: $TOKEN" \
  -H 'Content-Type: application/octet-stream' --data-binary @- >/dev/null
curl -s -X PUT "$NOVA/os-quota-sets/$PROJECT" -H "X-Auth-Token: $TOKEN" -H 'Content-Type: application/json' \
  -d '{"quota_set": {"instances": -1, "cores": -1, "ram": -1}}' >/dev/null

cpu() { awk '{print ($14 + $15) / 100}' "/proc/$PID/stat"; }   # utime + stime, USER_HZ = 100
rss() { awk '/VmRSS/ {print $2 / 1024}' "/proc/$PID/status"; }
hwm() { awk '/VmHWM/ {print $2 / 1024}' "/proc/$PID/status"; }   # peak RSS so far
B() { "$PY" "$NB/bench.py" --auth-url "$AUTH" --username admin --password admin --project admin --image-id "$IMAGE_ID" "$@"; }

log "rustack: warmup, N=$N at c$C, N1=$N1 at c1, 1000 at c$C, $BIG kept at c32"
B --n 20 --concurrency 4 --detail-reps 2 --json "$OUT/warmup.json" >/dev/null
rss_idle=$(rss)
c0=$(cpu); B --n "$N" --concurrency "$C" --detail-reps 20 --json "$OUT/c$C.json" > "$OUT/c$C.out"; c1=$(cpu)
B --n "$N1" --concurrency 1 --detail-reps 5 --json "$OUT/c1.json" > "$OUT/c1.out"
rss_n=$(rss); hwm_n=$(hwm)
k0=$(cpu); B --n 1000 --concurrency "$C" --detail-reps 20 --json "$OUT/k$C.json" > "$OUT/k$C.out"; k1=$(cpu)
rss0=$(rss)
B --n "$BIG" --concurrency 32 --detail-reps 0 --keep --json "$OUT/big.json" > "$OUT/big.out"
rss_boot=$(rss)
B --n 0 --concurrency 1 --detail-reps 10 --keep --json "$OUT/big_detail.json" > "$OUT/big_detail.out"
rss1=$(rss); hwm1=$(hwm)
sleep 5; rss2=$(rss)
kill $PID; wait $PID 2>/dev/null || true

"$PY" - "$OUT" "$C" "$N" "$N1" "$BIG" "$c0" "$c1" "$k0" "$k1" "$rss_idle" "$rss_n" "$hwm_n" "$rss0" "$rss_boot" "$rss1" "$hwm1" "$rss2" <<'PYEOF'
import json, os, sys
out, c, n, n1, big = sys.argv[1:6]
c0, c1, k0, k1, rss_idle, rss_n, hwm_n, rss0, rss_boot, rss1, hwm1, rss2 = map(float, sys.argv[6:])
n = int(n)
J = lambda p: json.load(open(p)) if os.path.exists(p) else None
f = lambda x, d=3: ('%.' + str(d) + 'f') % x if isinstance(x, (int, float)) else '-'
r, r1, k, bg, bd = (J(f'{out}/{x}.json') for x in (f'c{c}', 'c1', f'k{c}', 'big', 'big_detail'))
U = f'{out}/upstream_results'
u, u1 = J(f'{U}/c{c}.json'), J(f'{U}/c1.json')
ucpu = urss = None
if u:
    a, z = J(f'{U}/snap_before_c{c}.json')['cpu_s'], J(f'{U}/snap_after_c{c}.json')['cpu_s']
    ucpu = (z['TOTAL'] - a['TOTAL']) / n
    lines = open(f'{U}/rss_load_c{c}.jsonl').read().strip().splitlines()
    urss = json.loads(lines[-1])['max_rss_mib_so_far'] if lines else None
get = lambda d, *ks: (None if d is None else (d if not ks else get(d.get(ks[0]) if isinstance(d, dict) else None, *ks[1:])))
rows = []
def row(name, rv, uv, better='higher', d=3):
    ratio = '-'
    if isinstance(rv, (int, float)) and isinstance(uv, (int, float)) and rv and uv:
        ratio = f'{rv / uv:.1f}x' if better == 'higher' else f'1/{uv / rv:.0f}'
    rows.append((name, f(rv, d), f(uv, d), ratio))
row(f'boot rate c{c}, {n} servers (servers/s)', get(r, 'boot', 'servers_per_s'), get(u, 'boot', 'servers_per_s'), d=2)
row(f'request->ACTIVE c{c} p50 (s)', get(r, 'boot', 'post_to_active_s', 'p50'), get(u, 'boot', 'post_to_active_s', 'p50'), 'lower')
row(f'request->ACTIVE c{c} p99 (s)', get(r, 'boot', 'post_to_active_s', 'p99'), get(u, 'boot', 'post_to_active_s', 'p99'), 'lower')
row(f'request->ACTIVE c1 p50 (s)', get(r1, 'boot', 'post_to_active_s', 'p50'), get(u1, 'boot', 'post_to_active_s', 'p50'), 'lower')
row(f'delete rate c{c} (servers/s)', get(r, 'delete', 'servers_per_s'), get(u, 'delete', 'servers_per_s'), d=2)
row(f'GET /servers/detail of {n} p50 (s)', get(r, 'servers_detail', 'seconds', 'p50'), get(u, 'servers_detail', 'seconds', 'p50'), 'lower')
row('CPU-s per boot+delete (all processes of the cloud)', (c1 - c0) / n, ucpu, 'lower')
row(f'RSS MiB during the c{c} run (rustack peak; upstream max, all processes)', hwm_n, get(urss, 'TOTAL'), 'lower', 1)
print('| measure | rustack | upstream Nova | rustack / upstream |\n|---|---|---|---|')
for x in rows: print('| ' + ' | '.join(x) + ' |')
if urss: print(f'upstream RSS by component (max MiB): {json.dumps(urss)}')
print(f"rustack errors: c{c} boot failed={get(r, 'boot', 'failed')} delete failed={get(r, 'delete', 'failed')}; "
      f"upstream: boot failed={get(u, 'boot', 'failed')} delete failed={get(u, 'delete', 'failed')}")
print(f"rustack 1000 at c{c}: boot ok={get(k, 'boot', 'ok')} failed={get(k, 'boot', 'failed')} rate={f(get(k, 'boot', 'servers_per_s'), 1)}/s "
      f"p50={f(get(k, 'boot', 'post_to_active_s', 'p50'))} p99={f(get(k, 'boot', 'post_to_active_s', 'p99'))} s; "
      f"delete ok={get(k, 'delete', 'ok')} failed={get(k, 'delete', 'failed')}; CPU-s per boot+delete {f((k1 - k0) / 1000, 4)}")
print(f"rustack {big} kept at c32: ok={get(bg, 'boot', 'ok')} failed={get(bg, 'boot', 'failed')} rate={f(get(bg, 'boot', 'servers_per_s'), 1)}/s "
      f"p50={f(get(bg, 'boot', 'post_to_active_s', 'p50'))} p99={f(get(bg, 'boot', 'post_to_active_s', 'p99'))} s")
print(f"rustack /servers/detail of {get(bd, 'servers_detail', 'servers_listed')} ({get(bd, 'servers_detail', 'bytes')} bytes): "
      f"p50={f(get(bd, 'servers_detail', 'seconds', 'p50'))} p99={f(get(bd, 'servers_detail', 'seconds', 'p99'))} s")
print(f"rustack RSS MiB: idle {rss_idle:.1f}; after the {n}/1000 runs {rss0:.1f}; with {big} servers {rss_boot:.1f} after boot, "
      f"{rss1:.1f} after 10 x /servers/detail, {rss2:.1f} 5 s later; peak of the whole run {hwm1:.1f}")
PYEOF
