#!/usr/bin/env bash
# Identity benchmark: upstream Keystone (../shared/bench/keystone, with its
# memcached) and rustack, measured in the same run by the same wrk script,
# then the ratios the identity issues set as targets.
#
#   bench/identity.sh            (env: DURATION, REPEATS, CONCS as bench.sh; SKIP_UPSTREAM=1)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared}
K=$SHARED/bench/keystone
OUT=${OUT:-/tmp/rustack-identity-bench}
PORT=${PORT:-5011}
mkdir -p "$OUT"
export DURATION=${DURATION:-10} REPEATS=${REPEATS:-3} CONCS=${CONCS:-"1 8 32"}

cd "$ROOT"
# two commands: with --example, cargo builds only the example
cargo build --release -p rustack >&2
cargo build --release -p rustack-identity --example bcrypt_rate >&2
BIN=$ROOT/target/release/rustack

echo "# machine bcrypt rate (cost 12, all cores)" >&2
BCRYPT=$("$ROOT/target/release/examples/bcrypt_rate" 12 10 | sed -n 's/.*rate_per_s=\([0-9.]*\).*/\1/p')

if [[ -z "${SKIP_UPSTREAM:-}" ]]; then
  W=${XDG_CACHE_HOME:-$HOME/.cache}/rustack-anchors/keystone
  [[ -x $W/venv/bin/keystone-manage ]] || KS_CACHE=memcache "$K/setup_keystone.sh" >&2
  "$K/keystone_ctl.sh" start >&2 || true
  SERVER_PIDFILE=$W/gunicorn.pid STOP_CMD="$K/keystone_ctl.sh stop" START_CMD="$K/keystone_ctl.sh start" \
    OUT=$OUT/upstream "$K/bench.sh" http://127.0.0.1:5000 admin admin admin > "$OUT/upstream.txt"
  "$K/keystone_ctl.sh" stop >&2 || true
fi

# rustack on its own port, fresh data dir, Keystone's bcrypt cost (12)
D=$OUT/rustack-data; rm -rf "$D"; mkdir -p "$D"
cat > "$OUT/rustack.conf" <<CONF
[identity]
port = $PORT
admin_password = admin
demo_password = demo
password_hash_rounds = 12
[compute]
driver = fake
[image]
test_image_dir =
CONF
start_rustack() { "$BIN" --config "$OUT/rustack.conf" --data-dir "$D" up > "$OUT/rustack.log" 2>&1 & echo $! > "$OUT/rustack.pid"; }
stop_rustack() { [[ -f $OUT/rustack.pid ]] && kill "$(cat "$OUT/rustack.pid")" 2>/dev/null; sleep 0.3; }
export -f start_rustack stop_rustack; export BIN OUT D
start_rustack
until curl -sf -o /dev/null "http://127.0.0.1:$PORT/v3"; do sleep 0.1; done
SERVER_PIDFILE=$OUT/rustack.pid STOP_CMD=stop_rustack START_CMD=start_rustack \
  OUT=$OUT/rustack "$K/bench.sh" "http://127.0.0.1:$PORT" admin admin admin > "$OUT/rustack.txt"
stop_rustack

echo "== upstream Keystone =="; cat "$OUT/upstream.txt" 2>/dev/null || echo "(skipped)"
echo "== rustack =="; cat "$OUT/rustack.txt"
python3 - "$OUT" "$BCRYPT" <<'PY'
import re, sys
out, bcrypt = sys.argv[1], float(sys.argv[2])
def table(path):
    rows, extra = {}, {}
    try: text = open(path).read()
    except OSError: return rows, extra
    for line in text.splitlines():
        m = re.match(r'^(issue|validate|users)\s+(\d+)\s+([\d.]+)/([\d.]+)\s+([\d.]+)/([\d.]+)\s+([\d.]+)/([\d.]+)', line)
        if m: rows[(m[1], int(m[2]))] = dict(rps=float(m[4]), p50=float(m[6]), p99=float(m[8]))
        m = re.search(r'idle RSS (\d+) MiB', line)
        if m: extra['rss'] = int(m[1])
        m = re.search(r'min/med ([\d.]+)/([\d.]+)', line)
        if m: extra['cold'] = float(m[2])
    return rows, extra
up, upx = table(f"{out}/upstream.txt"); rs, rsx = table(f"{out}/rustack.txt")
print("\n== ratios (rustack / upstream, medians) ==")
for k in sorted(rs):
    u = up.get(k)
    ratio = f"{rs[k]['rps']/u['rps']:.0f}x" if u and u['rps'] else "-"
    print(f"{k[0]:9} c={k[1]:<3} rustack {rs[k]['rps']:10.1f} req/s p99 {rs[k]['p99']:8.2f} ms | upstream {u['rps'] if u else '-':>8} req/s | ratio {ratio}")
iss = max((v['rps'] for (t, c), v in rs.items() if t == 'issue'), default=0)
print(f"token issue best {iss:.2f}/s vs machine bcrypt rate {bcrypt:.2f}/s at cost 12: {100*iss/bcrypt:.0f}%")
print(f"idle RSS: rustack {rsx.get('rss','-')} MiB, upstream {upx.get('rss','-')} MiB; cold start median: rustack {rsx.get('cold','-')} ms, upstream {upx.get('cold','-')} ms")
PY
