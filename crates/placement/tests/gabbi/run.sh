#!/usr/bin/env bash
# Runs upstream placement's gabbi functional tests (YAML files from
# openstack/placement, placement/tests/functional/gabbits) against a fresh
# `rustack up` per file, with the environment upstream's APIFixture sets and
# real tokens in place of its noauth ones (`admin` → the admin, `user` → demo).
# The fixtures that make data (allocations, shared storage) are rebuilt
# through the API by fixtures.py.
#
#   run.sh <gabbits dir> <rustack binary> <config> <data dir base> [file.yaml …]
#
# Needs gabbi (`pip install gabbi`; GABBI_RUN names gabbi-run). Prints one line
# per file (passed/failed/skipped) and a total. Files with other fixtures
# (shared storage, allocations, …) need data this runner does not make.
set -u
dir=$1; bin=$2; conf=$3; base=$4; shift 4
gabbi=${GABBI_RUN:-gabbi-run}
id_port=$(awk -F' *= *' '/^\[identity\]/{s=1;next} /^\[/{s=0} s&&$1=="port"{print $2}' "$conf")
pl_port=$(awk -F' *= *' '/^\[placement\]/{s=1;next} /^\[/{s=0} s&&$1=="port"{print $2}' "$conf")
files=("$@")
if [[ ${#files[@]} -eq 0 ]]; then
  mapfile -t files < <(cd "$dir" && grep -l -E -- '- (APIFixture|AllocationFixture|SharedStorageFixture|NonSharedStorageFixture)$' *.yaml |
    grep -v -e rbac -e policy -e cors -e reshaper)
fi
token() { # user password project
  curl -s -i -H 'Content-Type: application/json' "http://127.0.0.1:$id_port/v3/auth/tokens" -d "{\"auth\": {\"identity\": {\"methods\": [\"password\"], \"password\": {\"user\": {\"name\": \"$1\", \"domain\": {\"id\": \"default\"}, \"password\": \"$2\"}}}, \"scope\": {\"project\": {\"name\": \"$3\", \"domain\": {\"id\": \"default\"}}}}}" |
    awk -F': ' 'tolower($1)=="x-subject-token"{print $2}' | tr -d '\r'
}
newuuid() { python3 -c 'import uuid; print(uuid.uuid4())'; }
tp=0; tf=0; ts=0
for f in "${files[@]}"; do
  data="$base/$(basename "$f" .yaml)"
  rm -rf "$data"; mkdir -p "$data"
  # identity and placement only: no compute agent registering its host
  "$bin" --config "$conf" --data-dir "$data" bootstrap >"$data.log" 2>&1
  "$bin" --config "$conf" --data-dir "$data" serve --services identity,placement >>"$data.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$pl_port/" && break; sleep 0.2; done
  pw() { awk -F= -v u="$1" '$1==u{print $2}' "$data/passwords"; }
  export ADMIN_TOKEN USER_TOKEN
  ADMIN_TOKEN=$(token admin "$(pw admin)" admin)
  USER_TOKEN=$(token demo "$(pw demo)" demo)
  for v in RP_UUID RP_NAME RP_UUID1 RP_NAME1 RP_UUID2 RP_NAME2 PROJECT_ID ADMIN_PROJECT_ID SERVICE_PROJECT_ID \
           USER_ID PROJECT_ID_ALT USER_ID_ALT INSTANCE_UUID MIGRATION_UUID CONSUMER_UUID PARENT_PROVIDER_UUID \
           ALT_PARENT_PROVIDER_UUID; do
    export "$v=$(newuuid)"
  done
  export CUSTOM_RES_CLASS=CUSTOM_IRON_NFV CUSTOM_RES_CLASS1=CUSTOM_IRON_NFV1 CUSTOM_RES_CLASS2=CUSTOM_IRON_NFV2
  fixture=$(awk '/^fixtures:/{f=1;next} f&&/- /{print $2; exit}' "$dir/$f")
  if [[ $fixture != APIFixture ]]; then
    eval "$(python3 "$(dirname "$0")/fixtures.py" "$fixture" "http://127.0.0.1:$pl_port" "$ADMIN_TOKEN")"
  fi
  sed -e "s/x-auth-token: admin/x-auth-token: \$ENVIRON['ADMIN_TOKEN']/" \
      -e "s/x-auth-token: user/x-auth-token: \$ENVIRON['USER_TOKEN']/" \
      -e '/^fixtures:/,/^$/d' "$dir/$f" >"$data.yaml"
  out=$("$gabbi" "127.0.0.1:$pl_port" <"$data.yaml" 2>&1)
  kill "$pid"; wait "$pid" 2>/dev/null
  summary=$(grep -E '^(OK|FAILED)' <<<"$out" | tail -1)
  ran=$(grep -oE 'Ran [0-9]+' <<<"$out" | grep -oE '[0-9]+' | tail -1)
  fail=$(grep -oE 'failures=[0-9]+' <<<"$summary" | grep -oE '[0-9]+'); fail=${fail:-0}
  err=$(grep -oE 'errors=[0-9]+' <<<"$summary" | grep -oE '[0-9]+'); err=${err:-0}
  skip=$(grep -oE 'skipped=[0-9]+' <<<"$summary" | grep -oE '[0-9]+'); skip=${skip:-0}
  ran=${ran:-0}
  pass=$((ran - fail - err - skip))
  printf '%-45s %3d passed %3d failed %3d skipped\n' "$f" "$pass" "$((fail + err))" "$skip"
  echo "$out" >"$data.out"
  tp=$((tp + pass)); tf=$((tf + fail + err)); ts=$((ts + skip))
done
echo "$tp passed, $tf failed, $ts skipped"
