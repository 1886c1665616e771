#!/usr/bin/env bash
# Token validation with many revocation events: p99 of GET /v3/auth/tokens at
# concurrency 32 with no events, then after revoking N tokens (N events of each
# kind Keystone writes: by audit id and by audit chain). The validation cache is
# turned off ([token] cache_validations = false), so every request takes the
# full path (decrypt, revocation check, rebuild from the database): a cached
# validation never looks at the revocation list.
#
#   bench/revocations.sh [N]        (default 10000; env PORT, DURATION, RUSTACK_BIN)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared}
N=${1:-10000}
PORT=${PORT:-5012}
DURATION=${DURATION:-10}
OUT=${OUT:-/tmp/rustack-revocation-bench}
BIN=${RUSTACK_BIN:-$ROOT/target/release/rustack}
[[ -x $BIN ]] || (cd "$ROOT" && cargo build --release -p rustack >&2)
rm -rf "$OUT"; mkdir -p "$OUT/data"
cat > "$OUT/rustack.conf" <<CONF
[identity]
port = $PORT
admin_password = admin
demo_password = demo
[token]
cache_validations = false
[compute]
driver = fake
[image]
test_image_dir =
CONF
"$BIN" --config "$OUT/rustack.conf" --data-dir "$OUT/data" up > "$OUT/rustack.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
BASE=http://127.0.0.1:$PORT
until curl -sf -o /dev/null "$BASE/v3"; do sleep 0.1; done

export BASE N
read -r ADMIN SUBJECT < <(python3 - <<'PY'
import json, os, urllib.request
base = os.environ["BASE"]
body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "admin", "domain": {"id": "default"}, "password": "admin"}}},
                 "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}
def issue():
    r = urllib.request.urlopen(urllib.request.Request(base + "/v3/auth/tokens", json.dumps(body).encode(), {"Content-Type": "application/json"}))
    return r.headers["X-Subject-Token"]
print(issue(), issue())
PY
)

measure() { # label -> p99 of 3 runs (median)
  local label=$1 i
  for i in 1 2 3; do
    WRK_METHOD=GET WRK_TOKEN=$ADMIN WRK_SUBJECT=$SUBJECT wrk -t2 -c32 -d"${DURATION}s" --timeout 30s \
      -s "$SHARED/bench/keystone/wrk_req.lua" "$BASE/v3/auth/tokens" | grep '^RESULT'
  done | tee "$OUT/$label.txt" >&2
  sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p' "$OUT/$label.txt" | sort -g | sed -n 2p
}
# warm up, then the baseline
WRK_METHOD=GET WRK_TOKEN=$ADMIN WRK_SUBJECT=$SUBJECT wrk -t2 -c8 -d3s -s "$SHARED/bench/keystone/wrk_req.lua" "$BASE/v3/auth/tokens" >/dev/null
P0=$(measure none)
RPS0=$(sed -n 's/.*rps=\([0-9.]*\).*/\1/p' "$OUT/none.txt" | sort -g | sed -n 2p)

echo "# revoking $N tokens (each a rescoped token: no bcrypt)" >&2
T0=$(date +%s)
ADMIN=$ADMIN python3 - <<'PY'
import json, os, urllib.request
from concurrent.futures import ThreadPoolExecutor
base, n, admin = os.environ["BASE"], int(os.environ["N"]), os.environ["ADMIN"]
body = json.dumps({"auth": {"identity": {"methods": ["token"], "token": {"id": admin}}}}).encode()
def one(_):
    r = urllib.request.urlopen(urllib.request.Request(base + "/v3/auth/tokens", body, {"Content-Type": "application/json"}))
    t = r.headers["X-Subject-Token"]
    urllib.request.urlopen(urllib.request.Request(base + "/v3/auth/tokens", method="DELETE",
                                                  headers={"X-Auth-Token": admin, "X-Subject-Token": t}))
with ThreadPoolExecutor(8) as ex:
    list(ex.map(one, range(n)))
PY
echo "# revoked in $(( $(date +%s) - T0 )) s" >&2
P1=$(measure events)
RPS1=$(sed -n 's/.*rps=\([0-9.]*\).*/\1/p' "$OUT/events.txt" | sort -g | sed -n 2p)
python3 - "$P0" "$P1" "$RPS0" "$RPS1" "$N" <<'PY'
import sys
p0, p1, r0, r1, n = map(float, sys.argv[1:])
print(f"validation, cache off, c=32: no events p99 {p0:.2f} ms ({r0:.0f} req/s); {int(n)} revoked tokens ({2*int(n)} events) p99 {p1:.2f} ms ({r1:.0f} req/s); ratio {p1/p0:.2f}x (target <= 1.5x)")
PY
