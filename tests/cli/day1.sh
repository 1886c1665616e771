#!/usr/bin/env bash
# Day 1 with the `openstack` CLI against a started rustack: token, project, user,
# role, assignments, catalog, lists, then an application credential created by the
# new user and used to get a token. Cleans up what it made.
#
#   OS_CLIENT_CONFIG_FILE=<data dir>/clouds.yaml tests/cli/day1.sh
#
# Needs `openstack` (python-openstackclient) on PATH and the clouds `rustack-admin`
# and `rustack-demo` that `rustack up` writes. Exits non-zero at the first failure.
set -euo pipefail

: "${OS_CLIENT_CONFIG_FILE:?set OS_CLIENT_CONFIG_FILE to the clouds.yaml written by rustack up}"
[[ -r $OS_CLIENT_CONFIG_FILE ]] || { echo "day1: cannot read $OS_CLIENT_CONFIG_FILE" >&2; exit 1; }
command -v openstack >/dev/null || { echo "day1: the openstack CLI is not on PATH" >&2; exit 1; }
export OS_CLIENT_CONFIG_FILE PYTHONWARNINGS=ignore
# nothing from the caller's environment may steer the CLI
for v in $(env | sed -n 's/^\(OS_[A-Z_]*\)=.*/\1/p'); do
  [[ $v == OS_CLIENT_CONFIG_FILE ]] || unset "$v"
done

SUFFIX=$(date +%s)-$$
PROJECT=day1-project-$SUFFIX
USERNAME=day1-user-$SUFFIX
PASSWORD=day1-Pw-$SUFFIX
APPCRED=day1-appcred-$SUFFIX
AUTH_URL=$(sed -n "s/^ *auth_url: *'\{0,1\}\([^']*\)'\{0,1\} *$/\1/p" "$OS_CLIENT_CONFIG_FILE" | head -1)
[[ -n $AUTH_URL ]] || { echo "day1: no auth_url in $OS_CLIENT_CONFIG_FILE" >&2; exit 1; }

STEPS=0
OUT=""
# run CMD...: echo it, run it, keep its output in $OUT (and show it)
run() {
  STEPS=$((STEPS + 1))
  echo "+ $*" >&2
  OUT=$("$@" 2>&1) || { echo "$OUT" >&2; echo "day1: FAILED at step $STEPS: $*" >&2; exit 1; }
  echo "$OUT" | sed 's/^/  /' >&2
}
# expect WORD...: each word must appear in the output of the last step
expect() {
  for w in "$@"; do
    grep -qF -- "$w" <<<"$OUT" || { echo "day1: FAILED at step $STEPS: output lacks '$w'" >&2; exit 1; }
  done
}
# json KEY: a field of the last step's JSON output (openstackclient prints some
# objects with keys such as "ID" or "Project ID": compared case-insensitively)
json() {
  python3 -c '
import json, sys
d = {k.lower().replace(" ", "_"): v for k, v in json.load(sys.stdin).items()}
print(d[sys.argv[1]])' "$1" <<<"$OUT"
}

admin() { openstack --os-cloud rustack-admin "$@"; }
# the new user, by environment variables (as an openrc file would set them)
as_user() {
  env OS_AUTH_URL="$AUTH_URL" OS_IDENTITY_API_VERSION=3 OS_INTERFACE=public OS_REGION_NAME=RegionOne \
    OS_USERNAME="$USERNAME" OS_PASSWORD="$PASSWORD" OS_PROJECT_NAME="$PROJECT" \
    OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default openstack "$@"
}
cleanup() {
  set +e
  [[ -n ${APPCRED_ID:-} ]] && as_user application credential delete "$APPCRED" >/dev/null 2>&1
  admin user show "$USERNAME" >/dev/null 2>&1 && admin user delete "$USERNAME" >/dev/null 2>&1
  admin project show "$PROJECT" >/dev/null 2>&1 && admin project delete "$PROJECT" >/dev/null 2>&1
}
trap cleanup EXIT

echo "# day 1 against $AUTH_URL" >&2

run admin token issue -f json
expect '"id"' '"expires"' '"project_id"' '"user_id"'

run openstack --os-cloud rustack-demo token issue -f value -c id
[[ -n $OUT ]] || { echo "day1: empty token for demo" >&2; exit 1; }

run admin project create "$PROJECT" --domain Default --description "day 1 test project" -f json
expect "\"name\": \"$PROJECT\"" '"enabled": true'
PROJECT_ID=$(json id)

run admin user create "$USERNAME" --domain Default --password "$PASSWORD" --project "$PROJECT" \
  --email "$USERNAME@example.org" -f json
expect "\"name\": \"$USERNAME\""
USER_ID=$(json id)

run admin role add --project "$PROJECT" --user "$USERNAME" member

run admin role assignment list --user "$USERNAME" --project "$PROJECT" --names -f value
expect member "$USERNAME@Default" "$PROJECT@Default"

run admin catalog list
expect identity keystone "$AUTH_URL" RegionOne

run admin project list -f value
expect "$PROJECT" admin demo service

run admin user list -f value
expect "$USERNAME" admin demo

run admin role list -f value
expect admin member reader

run as_user token issue -f json
expect "\"project_id\": \"$PROJECT_ID\"" "\"user_id\": \"$USER_ID\""

run as_user application credential create "$APPCRED" --description "day 1" -f json
APPCRED_ID=$(json id)
APPCRED_SECRET=$(json secret)
[[ $(json name) == "$APPCRED" && $(json project_id) == "$PROJECT_ID" && -n $APPCRED_SECRET ]] \
  || { echo "day1: unexpected application credential: $OUT" >&2; exit 1; }

run as_user application credential list -f value
expect "$APPCRED"

run env OS_AUTH_TYPE=v3applicationcredential OS_AUTH_URL="$AUTH_URL" OS_IDENTITY_API_VERSION=3 \
  OS_APPLICATION_CREDENTIAL_ID="$APPCRED_ID" OS_APPLICATION_CREDENTIAL_SECRET="$APPCRED_SECRET" \
  openstack token issue -f json
expect "\"project_id\": \"$PROJECT_ID\"" "\"user_id\": \"$USER_ID\""

run as_user application credential delete "$APPCRED"
APPCRED_ID=""
run admin user delete "$USERNAME"
run admin project delete "$PROJECT"
run admin project list -f value
if grep -qF "$PROJECT" <<<"$OUT"; then echo "day1: $PROJECT still listed after delete" >&2; exit 1; fi

echo "day1: all $STEPS steps passed" >&2
