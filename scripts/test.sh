#!/usr/bin/env bash
# Runs every rustack test and prints a summary:
#   1. cargo test --workspace, with a real PostgreSQL for the store tests
#   2. the binary cargo test built (dependencies optimised; PROFILE=release for a release
#      build) started with `rustack up` on a fresh data dir (cold start timed)
#   3. the openstack CLI day-1 flow (tests/cli/day1.sh)
#   4. Tempest identity (SECURITY_COMPLIANCE=true, server with Keystone's lockout and
#      history settings): the 14 interop core tests, then the 138 tests
#      upstream Keystone passes in the same harness (all must pass); then for image,
#      network and compute the tests listed in tests/tempest/<service>-passing.txt
#   5. the openstack CLI against image, network and compute (tests/cli/<service>.sh)
#   6. random requests against every identity route (tests/fuzz): never a 5xx
#   7. real VMs (root): tests/host/e2e-vm.sh (the CLI flow of issue 7), crash-vm.sh,
#      and Tempest's SSH-validation tests with the QEMU driver (tempest-vm.sh)
#
#   scripts/test.sh
#
# What it needs beside cargo (PostgreSQL, python3-venv, the openstack CLI venv) is
# installed by scripts/prereqs.sh when missing (.ci/run installs it up front).
# Knobs (env):
#   RUSTACK_TEST_POSTGRES_URL  use this PostgreSQL instead of the local Debian cluster
#   RUSTACK_SHARED             the shared dir (default: ../shared beside the project)
#   RUSTACK_TEST_OUT           where logs and result lists go (default: target/test-results)
#   SKIP_CARGO_TEST=1 SKIP_DAY1=1 SKIP_TEMPEST=1 SKIP_TEMPEST_FULL=1 SKIP_FUZZ=1 SKIP_VMS=1   skip a stage
#   FUZZ_REQUESTS              random requests of the API fuzz stage (default 3000)
# Exit status: 0 when every required stage passed.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
SHARED=${RUSTACK_SHARED:-$(cd "$ROOT/.." && pwd)/shared}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
OUT=${RUSTACK_TEST_OUT:-$TARGET/test-results}
VENV=${RUSTACK_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/rustack-venv}
mkdir -p "$OUT"
T_START=$(date +%s)

declare -a SUMMARY=()
FAILED=0
say() { echo; echo "=== $* ==="; }
record() { # record STAGE STATUS DETAIL [required]
  SUMMARY+=("$(printf '%-22s %-5s %s' "$1" "$2" "$3")")
  [[ $2 == FAIL && ${4:-required} == required ]] && FAILED=1
  return 0
}

SERVER_PID=""
TMP=$(mktemp -d "${TMPDIR:-/tmp}/rustack-test.XXXXXX")
cleanup() {
  if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$SERVER_PID" 2>/dev/null
  fi
  [[ -f $TMP/rustack-up.log ]] && cp "$TMP/rustack-up.log" "$OUT/" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! command -v cargo >/dev/null && [[ -f $HOME/.cargo/env ]]; then
  # shellcheck disable=SC1091
  . "$HOME/.cargo/env"
fi

# ---- 0. prerequisites ------------------------------------------------------
if ! command -v pg_ctlcluster >/dev/null || [[ ! -x $VENV/bin/openstack ]] \
   || ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
  say "installing missing prerequisites (scripts/prereqs.sh)"
  "$ROOT/scripts/prereqs.sh" || echo "test.sh: prerequisites incomplete; stages that need them will fail" >&2
fi
[[ -x $VENV/bin/openstack ]] && export PATH="$VENV/bin:$PATH"

# ---- 1. PostgreSQL -----------------------------------------------------------
as_postgres() {
  if [[ $EUID -eq 0 ]]; then (cd / && runuser -u postgres -- "$@")
  else (cd / && sudo -n -u postgres "$@"); fi
}
as_root() { if [[ $EUID -eq 0 ]]; then "$@"; else sudo -n "$@"; fi; }
setup_postgres() {
  if [[ -n ${RUSTACK_TEST_POSTGRES_URL:-} ]]; then
    echo "using RUSTACK_TEST_POSTGRES_URL"; return 0
  fi
  command -v pg_lsclusters >/dev/null || { echo "no PostgreSQL installed"; return 1; }
  local ver name port status
  read -r ver name port status _ < <(pg_lsclusters -h | head -1)
  [[ -n ${ver:-} ]] || { echo "no PostgreSQL cluster"; return 1; }
  if [[ $status != online* ]]; then
    echo "starting PostgreSQL $ver/$name"
    as_root pg_ctlcluster "$ver" "$name" start || return 1
  fi
  for _ in $(seq 1 60); do pg_isready -q -h 127.0.0.1 -p "$port" && break; sleep 0.5; done
  pg_isready -q -h 127.0.0.1 -p "$port" || { echo "PostgreSQL does not answer on port $port"; return 1; }
  as_postgres psql -q -v ON_ERROR_STOP=1 -p "$port" -c "DO \$\$ BEGIN
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rustack') THEN
        CREATE ROLE rustack LOGIN CREATEDB PASSWORD 'rustack';
      ELSE
        ALTER ROLE rustack LOGIN CREATEDB PASSWORD 'rustack';
      END IF; END \$\$;" || return 1
  export RUSTACK_TEST_POSTGRES_URL="postgres://rustack:rustack@127.0.0.1:$port/postgres"
  export RUSTACK_REQUIRE_POSTGRES=1
  echo "PostgreSQL $ver/$name on port $port, role rustack"
}
say "PostgreSQL"
if PG_MSG=$(setup_postgres 2>&1); then
  echo "$PG_MSG"; record postgresql ok "$(tail -1 <<<"$PG_MSG")"
else
  echo "$PG_MSG"; record postgresql FAIL "$(tail -1 <<<"$PG_MSG") (store tests run on SQLite only)"
fi

# ---- 2. cargo test -------------------------------------------------------------
if [[ ${SKIP_CARGO_TEST:-} == 1 ]]; then
  record "cargo test" skip "SKIP_CARGO_TEST=1"
else
  say "cargo test --workspace"
  T=$(date +%s)
  cargo test --workspace --no-fail-fast 2>&1 | tee "$OUT/cargo-test.log"
  RC=${PIPESTATUS[0]}
  read -r P F I < <(awk '/^test result:/ {p+=$4; f+=$6; i+=$8} END {print p+0, f+0, i+0}' "$OUT/cargo-test.log")
  DETAIL="$P passed, $F failed, $I ignored in $(( $(date +%s) - T ))s"
  if [[ $RC -eq 0 ]]; then record "cargo test" ok "$DETAIL"
  else
    grep -E '^test .* FAILED$|^error(\[|:)' "$OUT/cargo-test.log" | head -20 > "$OUT/cargo-test-failures.txt"
    record "cargo test" FAIL "$DETAIL (rc=$RC; see $OUT/cargo-test.log)"
  fi
fi

# ---- 3. rustack up -------------------------------------------------------------
# The dev profile's binary (built by cargo test already; dependencies at opt-level 2)
# serves the conformance runs: a second, release build of everything would double
# the build time of a CI run. PROFILE=release tests the release binary instead.
PROFILE=${PROFILE:-debug}
say "cargo build ($PROFILE); rustack up"
BASE_URL=""
start_server() {
  local flags=()
  [[ $PROFILE == release ]] && flags=(--release)
  cargo build "${flags[@]}" -p rustack || { echo "$PROFILE build failed"; return 1; }
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  # the [security_compliance] settings Tempest's security-compliance tests expect
  # the fake hypervisor: Tempest's 400-odd compute tests boot hundreds of servers
  # (real VMs are stage 7's); two fake hosts, for the migration and multi-node tests
  printf '[identity]\nport = %s\n[security_compliance]\nlockout_failure_attempts = 2\nlockout_duration = 5\nunique_last_password_count = 2\n[compute]\ndriver = fake\nfake_hosts = 2\n' \
    "$port" > "$TMP/rustack.conf"
  local t0 t1
  t0=$(date +%s%N)
  "$TARGET/$PROFILE/rustack" --config "$TMP/rustack.conf" --data-dir "$TMP/data" up --bind 127.0.0.1 \
    > "$TMP/rustack-up.out" 2> "$TMP/rustack-up.log" &
  SERVER_PID=$!
  BASE_URL="http://127.0.0.1:$port"
  for _ in $(seq 1 300); do
    if python3 - "$BASE_URL/v3" <<'PY' 2>/dev/null; then break; fi
import sys, urllib.request
sys.exit(0 if urllib.request.urlopen(sys.argv[1], timeout=2).status == 200 else 1)
PY
    kill -0 "$SERVER_PID" 2>/dev/null || { echo "rustack up exited:"; cat "$TMP/rustack-up.log"; return 1; }
    sleep 0.02
  done
  t1=$(date +%s%N)
  COLD_MS=$(( (t1 - t0) / 1000000 ))
  [[ -f $TMP/data/clouds.yaml ]] || { echo "no clouds.yaml after start"; cat "$TMP/rustack-up.log"; return 1; }
  cat "$TMP/rustack-up.out"
  echo "first 200 on GET /v3 after ${COLD_MS} ms (first start, includes bootstrap hashing)"
}
COLD_MS=""
if start_server; then
  record "rustack up" ok "first 200 after ${COLD_MS} ms (first start)"
  SERVER_OK=1
else
  record "rustack up" FAIL "did not come up; see $OUT/rustack-up.log"
  SERVER_OK=0
fi

# ---- 4. day 1 with the openstack CLI ---------------------------------------------
if [[ ${SKIP_DAY1:-} == 1 ]]; then record "cli day1" skip "SKIP_DAY1=1"
elif [[ $SERVER_OK != 1 ]]; then record "cli day1" FAIL "no server"
elif ! command -v openstack >/dev/null; then record "cli day1" FAIL "no openstack CLI (scripts/prereqs.sh installs it)"
else
  say "CLI day 1 (tests/cli/day1.sh)"
  if OS_CLIENT_CONFIG_FILE="$TMP/data/clouds.yaml" "$ROOT/tests/cli/day1.sh" 2>&1 | tee "$OUT/day1.log"; then
    record "cli day1" ok "$(grep -o 'all [0-9]* steps passed' "$OUT/day1.log" | tail -1)"
  else
    record "cli day1" FAIL "$(grep 'FAILED' "$OUT/day1.log" | tail -1)"
  fi
fi

# ---- 5. Tempest ---------------------------------------------------------------
tempest() { # tempest NAME SERVICE LIST: runs one list, leaves "N passed, N failed, N skipped" in $TEMPEST_LINE
  local name=$1 service=$2 list=$3
  say "Tempest $service: $name ($(grep -cv '^\s*\(#\|$\)' "$list") tests)"
  local ws=${TEMPEST_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/rustack-tempest}/workspaces/${service//,/-}
  # a service's own tempest.conf additions (the extensions it serves, …)
  local extra="" main=${service%%,*}
  [[ -f $ROOT/tests/tempest/$main.conf ]] && extra=$ROOT/tests/tempest/$main.conf
  EXTRA_CONF="$extra" OS_AUTH_URL="$BASE_URL/v3" OS_USERNAME=admin OS_PROJECT_NAME=admin \
    OS_PASSWORD=$(sed -n 's/^admin=//p' "$TMP/data/passwords") \
    OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default OS_REGION_NAME=RegionOne \
    SECURITY_COMPLIANCE=true WORKSPACE="$ws" timeout 2400 "$SHARED/conformance/tempest.sh" "$service" "$list" 2>&1 \
    | tee "$OUT/tempest-$name.log"
  TEMPEST_LINE=$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$OUT/tempest-$name.log" | tail -1)
  TEMPEST_LINE=${TEMPEST_LINE:-0 passed, 0 failed, 0 skipped (tempest.sh did not finish)}
  for k in passed failed skipped; do
    [[ -f $ws/results/$k.txt ]] && cp "$ws/results/$k.txt" "$OUT/tempest-$name-$k.txt"
  done
  return 0
}
# tempest_required STAGE SERVICE LIST [all|nofail]: every test of LIST must pass
# (all: none skipped either)
tempest_required() {
  local stage=$1 service=$2 list=$3 mode=${4:-nofail}
  if [[ ! -f $list ]]; then record "$stage" FAIL "no list $list"; return; fi
  tempest "${stage// /-}" "$service" "$list"
  local want
  want=$(grep -cv '^\s*\(#\|$\)' "$list")
  local rx='^([0-9]+) passed, 0 failed'
  [[ $mode == all ]] && rx='^([0-9]+) passed, 0 failed, 0 skipped'
  if [[ $TEMPEST_LINE =~ $rx && ${BASH_REMATCH[1]} -eq $want ]]; then
    record "$stage" ok "$TEMPEST_LINE (of $want)"
  else
    record "$stage" FAIL "$TEMPEST_LINE (of $want required)"
  fi
}
if [[ ${SKIP_TEMPEST:-} == 1 ]]; then record "tempest" skip "SKIP_TEMPEST=1"
elif [[ $SERVER_OK != 1 ]]; then record "tempest" FAIL "no server"
elif [[ ! -x $SHARED/conformance/tempest.sh ]]; then record "tempest" FAIL "no $SHARED/conformance/tempest.sh"
else
  tempest_required "tempest id core" identity "$SHARED/conformance/interop-identity-core.txt"
  if [[ ${SKIP_TEMPEST_FULL:-} == 1 ]]; then record "tempest id upstream" skip "SKIP_TEMPEST_FULL=1"
  else
    # every test upstream Keystone passes here must pass here too
    tempest_required "tempest id upstream" identity "$SHARED/conformance/identity-upstream-passing.txt" all
  fi
  # the other services: the lists of what passes here (tests/tempest/<service>-passing.txt)
  # compute's tests use the image and network APIs too (Tempest wants them available)
  declare -A TEMPEST_SERVICES=([image]=image [network]=network [compute]=compute,image,network)
  for svc in image network compute; do
    list="$ROOT/tests/tempest/$svc-passing.txt"
    setup="$ROOT/tests/tempest/$svc-setup.sh"
    rm -f "$OUT/tempest-$svc-setup.log"
    if [[ -x $setup ]] && ! OS_CLIENT_CONFIG_FILE="$TMP/data/clouds.yaml" "$setup" > "$OUT/tempest-$svc-setup.log" 2>&1; then
      record "tempest $svc" FAIL "setup failed; see $OUT/tempest-$svc-setup.log"
    elif [[ -f $list ]]; then
      # the setup may name the images to use (export IMAGE_REF=… IMAGE_REF_ALT=…)
      [[ -f $OUT/tempest-$svc-setup.log ]] && eval "$(grep -E '^export IMAGE_REF=[-0-9a-f]+ IMAGE_REF_ALT=[-0-9a-f]+$' "$OUT/tempest-$svc-setup.log")"
      tempest_required "tempest $svc" "${TEMPEST_SERVICES[$svc]}" "$list"
      unset IMAGE_REF IMAGE_REF_ALT
    else record "tempest $svc" skip "no tests/tempest/$svc-passing.txt yet"; fi
  done
fi

# ---- 5a. the other services with the openstack CLI ---------------------------------
for svc in image network compute; do
  script="$ROOT/tests/cli/$svc.sh"
  if [[ ! -x $script ]]; then record "cli $svc" skip "no tests/cli/$svc.sh yet"
  elif [[ $SERVER_OK != 1 ]]; then record "cli $svc" FAIL "no server"
  else
    say "CLI $svc (tests/cli/$svc.sh)"
    if OS_CLIENT_CONFIG_FILE="$TMP/data/clouds.yaml" "$script" 2>&1 | tee "$OUT/cli-$svc.log"; then
      record "cli $svc" ok "$(grep -o 'all [0-9]* steps passed' "$OUT/cli-$svc.log" | tail -1)"
    else
      record "cli $svc" FAIL "$(grep 'FAILED' "$OUT/cli-$svc.log" | tail -1)"
    fi
  fi
done

# ---- 5b. random requests against every route: never a 5xx -------------------------
if [[ ${SKIP_FUZZ:-} == 1 ]]; then record "api fuzz" skip "SKIP_FUZZ=1"
elif [[ $SERVER_OK != 1 ]]; then record "api fuzz" FAIL "no server"
else
  say "API fuzz (tests/fuzz/identity_smoke.py)"
  grep -ho '"/v3[^"]*"' "$ROOT"/crates/identity/src/api/*.rs | tr -d '"' | sort -u > "$TMP/routes.txt"
  echo / >> "$TMP/routes.txt"
  if python3 "$ROOT/tests/fuzz/identity_smoke.py" "$BASE_URL" "$(sed -n 's/^admin=//p' "$TMP/data/passwords")" \
      "$TMP/routes.txt" "${FUZZ_REQUESTS:-3000}" 2>&1 | tee "$OUT/fuzz.log"; then
    record "api fuzz" ok "$(tail -1 "$OUT/fuzz.log" | cut -d'[' -f1)(seed $(sed -n 's/^seed //p' "$OUT/fuzz.log"))"
  else
    record "api fuzz" FAIL "$(grep -c '^5xx\|^ERR' "$OUT/fuzz.log") bad answers; see $OUT/fuzz.log"
  fi
fi

# ---- 6. the server's own health after all that ------------------------------------
if [[ $SERVER_OK == 1 ]]; then
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID"
    for _ in $(seq 1 75); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$SERVER_PID" 2>/dev/null; then record "graceful stop" FAIL "still running 15 s after SIGTERM"
    elif wait "$SERVER_PID"; then record "graceful stop" ok "exit 0 after SIGTERM"
    else record "graceful stop" FAIL "exit status $? after SIGTERM"; fi
  else
    record "graceful stop" FAIL "rustack up died during the tests"
  fi
  SERVER_PID=""
  # the network data plane's bridges, namespaces, dnsmasq and nftables stay after a
  # stop (as Neutron's agents leave them); a test run removes what it made
  if [[ -d $TMP/data/network ]]; then
    # what the ledger says this run made (ns:<namespace>, link:<device>), before clearing
    MADE=$(python3 -c 'import json,sys; print(" ".join(json.load(open(sys.argv[1]))))' "$TMP/data/network/owned.json" 2>/dev/null)
    "$TARGET/$PROFILE/rustack" --config "$TMP/rustack.conf" --data-dir "$TMP/data" dataplane clear >> "$TMP/rustack-up.log" 2>&1
    LEFT=0
    for entry in $MADE; do
      name=${entry#*:}
      case $entry in
        ns:*) ip netns list | grep -qw -- "$name" && LEFT=$((LEFT + 1)) ;;
        link:*) ip link show dev "$name" >/dev/null 2>&1 && LEFT=$((LEFT + 1)) ;;
      esac
    done
    DNSMASQ=$(pgrep -fc "$TMP/data/network" || true)
    DETAIL="$(wc -w <<<"$MADE") namespaces and devices made; after dataplane clear $LEFT left, ${DNSMASQ:-0} dnsmasq"
    if [[ -n $MADE && $LEFT == 0 && ${DNSMASQ:-0} == 0 ]]; then record "host cleanup" ok "$DETAIL"
    else record "host cleanup" FAIL "$DETAIL"; fi
  fi
  cp "$TMP/rustack-up.log" "$OUT/rustack-up.log"
  # 501 is the answer for what is not served yet; any other 5xx or a panic is a bug
  N501=$(grep -c 'status=501' "$OUT/rustack-up.log")
  NBUG=$(grep -E 'status=5[0-9][0-9]' "$OUT/rustack-up.log" | grep -vc 'status=501')
  NPANIC=$(grep -c 'panicked' "$OUT/rustack-up.log")
  NREQ=$(grep -c 'rustack::access' "$OUT/rustack-up.log")
  DETAIL="$NREQ requests: $NBUG 5xx other than 501, $NPANIC panics, $N501 501 (not served yet)"
  if [[ $NPANIC -gt 0 || $NBUG -gt 0 ]]; then
    grep -E 'status=5[0-9][0-9]|panicked|ERROR' "$OUT/rustack-up.log" | grep -v 'status=501' | head -20
    record "server log" FAIL "$DETAIL"
  else record "server log" ok "$DETAIL"; fi
fi

# ---- 7. real virtual machines: the QEMU driver end to end --------------------------
# each script starts its own `rustack up` (driver qemu, Linux data plane) after the
# main cloud above has stopped and cleared its data plane (both would own 172.24.4.1)
vm_stage() { # vm_stage STAGE SCRIPT [ARGS]: runs a tests/host script, records its last line
  local stage=$1 script=$2 log
  shift 2
  log="$OUT/${stage// /-}.log"
  say "$stage ($script)"
  if RUSTACK_BIN="$TARGET/$PROFILE/rustack" RUSTACK_TEST_OUT="$OUT" timeout 1800 "$ROOT/$script" "$@" 2>&1 | tee "$log"; then
    record "$stage" ok "$(tail -1 "$log")"
  else
    record "$stage" FAIL "$(grep -E 'FAILED|failed' "$log" | tail -1)"
  fi
}
if [[ ${SKIP_VMS:-} == 1 ]]; then record "vm e2e" skip "SKIP_VMS=1"
elif [[ $EUID -ne 0 ]]; then record "vm e2e" FAIL "needs root (taps, bridges, namespaces); SKIP_VMS=1 to skip"
else
  vm_stage "vm e2e" tests/host/e2e-vm.sh
  vm_stage "vm crash" tests/host/crash-vm.sh
  say "Tempest with real VMs and SSH validation (tests/host/tempest-vm.sh)"
  RUSTACK_BIN="$TARGET/$PROFILE/rustack" RUSTACK_TEST_OUT="$OUT" RUSTACK_SHARED="$SHARED" \
    timeout 2400 "$ROOT/tests/host/tempest-vm.sh" 2>&1 | tee "$OUT/tempest-vm.log"
  LINE=$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$OUT/tempest-vm.log" | tail -1)
  WANT=$(grep -cv '^\s*\(#\|$\)' "$SHARED/conformance/interop-needs-ssh-validation.txt")
  if [[ $LINE =~ ^([0-9]+)\ passed,\ 0\ failed,\ 0\ skipped$ && ${BASH_REMATCH[1]} -eq $WANT ]]; then
    record "tempest vm ssh" ok "$LINE (of $WANT)"
  else
    record "tempest vm ssh" FAIL "${LINE:-tempest-vm.sh did not finish} (of $WANT required)"
  fi
fi

# ---- summary ------------------------------------------------------------------
echo
echo "=== summary ($(( $(date +%s) - T_START ))s; logs in $OUT) ==="
printf '%s\n' "${SUMMARY[@]}" | tee "$OUT/summary.txt"
if [[ $FAILED -eq 0 ]]; then echo "RESULT: PASS"; else echo "RESULT: FAIL"; fi
exit $FAILED
