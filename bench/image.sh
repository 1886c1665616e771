#!/usr/bin/env bash
# Image data throughput: upload and download of a SIZE_MIB image (default 1024)
# through `PUT`/`GET /v2/images/{id}/file`, against `dd` sequential write and
# read of the same disk in the same run (ratios), the server's RSS growth
# during each transfer, and 10 concurrent uploads.
#
#   bench/image.sh [SIZE_MIB]   (env RUSTACK_BIN, OUT, PORT_BASE or IDENTITY_PORT,
#                                IMAGE_PORT, ..., CONCURRENT_MIB)
#
# Caches are dropped before each read (both dd's and the download) when
# /proc/sys/vm/drop_caches is writable (root), so reads come from the disk.
# Writes are measured to durable storage: dd with conv=fsync, the upload by the
# server's fsync before its rename.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SIZE_MIB=${1:-1024}
CONCURRENT_MIB=${CONCURRENT_MIB:-100}
OUT=${OUT:-/tmp/rustack-image-bench}
PORT_BASE=${PORT_BASE:-21000}
# every port explicit (several clouds share this machine): PORT_BASE + 0..6,
# or each one from the environment
IDENTITY_PORT=${IDENTITY_PORT:-$PORT_BASE} IMAGE_PORT=${IMAGE_PORT:-$((PORT_BASE + 1))}
NETWORK_PORT=${NETWORK_PORT:-$((PORT_BASE + 2))} COMPUTE_PORT=${COMPUTE_PORT:-$((PORT_BASE + 3))}
PLACEMENT_PORT=${PLACEMENT_PORT:-$((PORT_BASE + 4))} METADATA_PORT=${METADATA_PORT:-$((PORT_BASE + 5))}
VNC_PORT=${VNC_PORT:-$((PORT_BASE + 6))}
BIN=${RUSTACK_BIN:-$ROOT/target/release/rustack}
[[ -x $BIN ]] || (cd "$ROOT" && cargo build --release -p rustack >&2)
rm -rf "$OUT"; mkdir -p "$OUT/data"
cat > "$OUT/rustack.conf" <<CONF
[identity]
port = $IDENTITY_PORT
admin_password = admin
demo_password = demo
[image]
port = $IMAGE_PORT
test_image_dir =
[network]
port = $NETWORK_PORT
dataplane = fake
[compute]
port = $COMPUTE_PORT
driver = fake
[placement]
port = $PLACEMENT_PORT
[metadata]
port = $METADATA_PORT
[vnc]
port = $VNC_PORT
CONF
"$BIN" --config "$OUT/rustack.conf" --data-dir "$OUT/data" up > "$OUT/rustack.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
ID_URL=http://127.0.0.1:$IDENTITY_PORT
IMG=http://127.0.0.1:$IMAGE_PORT
until curl -sf -o /dev/null "$ID_URL/v3" && curl -s -o /dev/null "$IMG/"; do sleep 0.1; done
TOKEN=$(curl -sf -D - -o /dev/null -H 'Content-Type: application/json' "$ID_URL/v3/auth/tokens" -d '{"auth": {"identity":
  {"methods": ["password"], "password": {"user": {"name": "admin", "domain": {"id": "default"}, "password": "admin"}}},
  "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}' | tr -d '\r' | sed -n 's/^[Xx]-[Ss]ubject-[Tt]oken: //p')
[[ -n $TOKEN ]] || { echo "bench: no token" >&2; exit 1; }

STORE=$OUT/data/images
mkdir -p "$STORE"
drop_caches() { sync; [[ -w /proc/sys/vm/drop_caches ]] && echo 3 > /proc/sys/vm/drop_caches || true; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$PID/status"; }
# watch_rss FILE: samples the server's RSS every 50 ms into FILE until killed
watch_rss() { while true; do rss_kib >> "$1"; sleep 0.05; done; }
# watch_threads FILE: appends every server thread's /proc stat line and
# context switches to FILE every 100 ms until killed (threads that end during
# a transfer, like an upload's hash threads, are seen while they run; cheap:
# no python while a transfer runs)
watch_threads() {
  while true; do
    cat /proc/$PID/task/*/stat >> "$1" 2>/dev/null || true
    grep -H ctxt_switches /proc/$PID/task/*/status >> "$1" 2>/dev/null || true
    sleep 0.1
  done
}
proc_ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
# thread_report SAMPLES TICKS_BEFORE TICKS_AFTER WALL_S CLIENT_CPU_S: the
# threads that worked (CPU and context switches during the transfer, last
# sample minus first), busiest first, and the whole server's CPU (exact:
# /proc/PID/stat counts ended threads too)
thread_report() {
  python3 - "$@" <<'PY'
import os, re, sys
hz = os.sysconf("SC_CLK_TCK")
samples, t0, t1, wall, client = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
first, last, cs_first, cs_last, names = {}, {}, {}, {}, {}
for line in open(samples):
    m = re.match(r"/proc/\d+/task/(\d+)/status:(\w+)_ctxt_switches:\s+(\d+)", line)
    if m:
        key = (m[1], m[2])
        cs_first.setdefault(key, int(m[3])); cs_last[key] = int(m[3])
        continue
    if "(" not in line:
        continue
    tid = line.split()[0]
    names[tid] = line[line.index("(") + 1 : line.rindex(")")]
    f = line[line.rindex(")") + 2 :].split()
    ticks = int(f[11]) + int(f[12])
    first.setdefault(tid, ticks); last[tid] = ticks
rows = []
for tid, ticks in last.items():
    # an img-* thread lives for one transfer: all its time counts
    cpu = (ticks - (0 if names[tid].startswith("img-") else first[tid])) / hz
    cs = sum(cs_last[(tid, k)] - (0 if names[tid].startswith("img-") else cs_first[(tid, k)])
             for k in ("voluntary", "nonvoluntary") if (tid, k) in cs_last)
    if cpu >= 0.05:
        rows.append((cpu, tid, names[tid], cs))
for cpu, tid, name, cs in sorted(rows, reverse=True):
    print(f"    thread {tid:>7} {name:16} {cpu:5.2f} s CPU ({cpu / wall * 100:3.0f}% of the wall time), {cs} context switches")
total = (t1 - t0) / hz
print(f"    server CPU {total:.2f} s, curl CPU {client:.2f} s, wall {wall:.2f} s: {(total + client) / wall:.2f} of 2 cores busy")
PY
}
mib_s() { python3 -c "print(f'{($1) / 1048576 / ($2):.0f}')"; }
create_image() {
  curl -sf -H "X-Auth-Token: $TOKEN" -H 'Content-Type: application/json' "$IMG/v2/images" \
    -d "{\"name\": \"$1\", \"disk_format\": \"raw\", \"container_format\": \"bare\"}" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'
}

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
echo "# source file: $SIZE_MIB MiB of random bytes" >&2
head -c $((SIZE_MIB * 1048576)) /dev/urandom > "$OUT/src.img"
BYTES=$((SIZE_MIB * 1048576))

# dd: sequential write (fsync'd) and read of the same disk
drop_caches
T0=$(date +%s.%N); dd if="$OUT/src.img" of="$STORE/dd-test" bs=1M conv=fsync status=none; T1=$(date +%s.%N)
DD_WRITE=$(mib_s $BYTES "$T1 - $T0")
drop_caches
T0=$(date +%s.%N); dd if="$STORE/dd-test" of=/dev/null bs=1M status=none; T1=$(date +%s.%N)
DD_READ=$(mib_s $BYTES "$T1 - $T0")
rm -f "$STORE/dd-test"

# upload (the source is in the page cache for dd and for curl alike: dd read it above)
cat "$OUT/src.img" > /dev/null
ID=$(create_image bench)
BASE_RSS=$(rss_kib); : > "$OUT/rss-up"; watch_rss "$OUT/rss-up" & W=$!
: > "$OUT/thr-up"; watch_threads "$OUT/thr-up" & WT=$!; P0=$(proc_ticks)
T0=$(date +%s.%N)
CODE=$(/usr/bin/time -f '%U %S' -o "$OUT/curl-up" curl -s -o /dev/null -w '%{http_code}' -X PUT -H "X-Auth-Token: $TOKEN" \
  -H 'Expect:' -H 'Content-Type: application/octet-stream' -T "$OUT/src.img" "$IMG/v2/images/$ID/file")
T1=$(date +%s.%N); P1=$(proc_ticks); kill $W $WT; wait $W $WT 2>/dev/null || true
UP_THREADS=$(thread_report "$OUT/thr-up" $P0 $P1 "$(python3 -c "print($T1 - $T0)")" "$(awk '{print $1 + $2}' "$OUT/curl-up")")
[[ $CODE == 204 ]] || { echo "bench: upload answered $CODE" >&2; exit 1; }
UP=$(mib_s $BYTES "$T1 - $T0")
UP_RSS=$(( ($(sort -n "$OUT/rss-up" | tail -1) - BASE_RSS) / 1024 ))

# download (cold cache)
drop_caches
BASE_RSS=$(rss_kib); : > "$OUT/rss-down"; watch_rss "$OUT/rss-down" & W=$!
T0=$(date +%s.%N)
CODE=$(curl -s -o "$OUT/back.img" -w '%{http_code}' -H "X-Auth-Token: $TOKEN" "$IMG/v2/images/$ID/file")
T1=$(date +%s.%N); kill $W; wait $W 2>/dev/null || true
[[ $CODE == 200 ]] || { echo "bench: download answered $CODE" >&2; exit 1; }
DOWN=$(mib_s $BYTES "$T1 - $T0")
DOWN_RSS=$(( ($(sort -n "$OUT/rss-down" | tail -1) - BASE_RSS) / 1024 ))
cmp -s "$OUT/src.img" "$OUT/back.img" || { echo "bench: the downloaded image differs" >&2; exit 1; }
rm -f "$OUT/back.img"
# the same download written to /dev/null (the client's own disk write left out)
drop_caches
: > "$OUT/thr-down"; watch_threads "$OUT/thr-down" & WT=$!; P0=$(proc_ticks)
T0=$(date +%s.%N)
/usr/bin/time -f '%U %S' -o "$OUT/curl-down" curl -s -o /dev/null -H "X-Auth-Token: $TOKEN" "$IMG/v2/images/$ID/file"
T1=$(date +%s.%N); P1=$(proc_ticks); kill $WT; wait $WT 2>/dev/null || true
DOWN_NULL=$(mib_s $BYTES "$T1 - $T0")
DOWN_THREADS=$(thread_report "$OUT/thr-down" $P0 $P1 "$(python3 -c "print($T1 - $T0)")" "$(awk '{print $1 + $2}' "$OUT/curl-down")")

# 10 concurrent uploads
head -c $((CONCURRENT_MIB * 1048576)) "$OUT/src.img" > "$OUT/part.img"
IDS=(); for i in $(seq 1 10); do IDS+=("$(create_image "c$i")"); done
T0=$(date +%s.%N)
for id in "${IDS[@]}"; do
  curl -s -o /dev/null -w '%{http_code}\n' -X PUT -H "X-Auth-Token: $TOKEN" -H 'Expect:' \
    -H 'Content-Type: application/octet-stream' -T "$OUT/part.img" "$IMG/v2/images/$id/file" >> "$OUT/codes" &
done
wait $(jobs -p | grep -v "^$PID$") 2>/dev/null || true
T1=$(date +%s.%N)
OK=$(grep -c '^204$' "$OUT/codes" || true)
ACTIVE=0
for id in "${IDS[@]}"; do
  st=$(curl -sf -H "X-Auth-Token: $TOKEN" "$IMG/v2/images/$id" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')
  [[ $st == active ]] && ACTIVE=$((ACTIVE + 1))
done
CONC=$(mib_s $((CONCURRENT_MIB * 1048576 * 10)) "$T1 - $T0")

LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
ratio() { python3 -c "print(f'{$1 / $2 * 100:.0f}%')"; }
cat <<RES
image bench: $SIZE_MIB MiB, store $STORE, load average $LOAD0 before, $LOAD after
  dd write (fsync)      $DD_WRITE MiB/s
  upload                $UP MiB/s   ($(ratio "$UP" "$DD_WRITE") of dd write)   server RSS +$UP_RSS MiB
$UP_THREADS
  dd read (cold)        $DD_READ MiB/s
  download to file      $DOWN MiB/s   ($(ratio "$DOWN" "$DD_READ") of dd read)   server RSS +$DOWN_RSS MiB
  download to /dev/null $DOWN_NULL MiB/s   ($(ratio "$DOWN_NULL" "$DD_READ") of dd read)
$DOWN_THREADS
  10 concurrent uploads of $CONCURRENT_MIB MiB: $OK/10 answered 204, $ACTIVE/10 active, $CONC MiB/s in all
RES
