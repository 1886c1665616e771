#!/usr/bin/env bash
# Unit tests of the guest's shell helpers (rootfs/usr/share/rustack/lib.sh and
# jsonflat.awk), run on the build host with the same busybox the guest uses.
# Usage: tools/guest/test-lib.sh        (needs busybox-static, openssh-client)
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LIB=$HERE/rootfs/usr/share/rustack
BB=${BUSYBOX:-/bin/busybox}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0; n=0

# bb_eval 'shell code': runs code in busybox sh with lib.sh sourced and busybox applets
# first on PATH (the guest's environment).
mkdir -p "$T/bin"
for a in $($BB --list); do ln -s "$BB" "$T/bin/$a"; done
bb_eval() {
    PATH=$T/bin RUSTACK_LIB_DIR=$LIB $BB sh -c ". $LIB/lib.sh; $1"
}
check() {  # NAME EXPECTED ACTUAL
    n=$((n + 1))
    if [[ "$2" == "$3" ]]; then echo "ok   $1"
    else echo "FAIL $1"; echo "     expected: $(printf %q "$2")"; echo "     actual:   $(printf %q "$3")"; fails=$((fails + 1)); fi
}

ssh-keygen -q -t ed25519 -N '' -C 'ed@test' -f "$T/ed" >/dev/null
ssh-keygen -q -t rsa -b 2048 -N '' -C 'rsa@test' -f "$T/rsa" >/dev/null
ED=$(cat "$T/ed.pub"); RSA=$(cat "$T/rsa.pub")
fp() { ssh-keygen -l -E sha256 -f "$1" | awk '{ print $2 }'; }

# Nova's shape: keys both in public_keys (a map) and in keys (a list), values ending
# in "\n", nested meta with braces inside strings, a unicode escape, an escaped slash.
cat > "$T/nova.json" <<EOF
{"uuid": "0b1e3c7a-1111-2222-3333-444455556666", "meta": {"role": "we}b", "list": [1, {"x": "y]"}]},
 "keys": [{"name": "k1", "type": "ssh", "data": "$RSA\n"}],
 "public_keys": {"k1": "$RSA\n"}, "hostname": "web-1.novalocal", "name": "web 1",
 "launch_index": 0, "availability_zone": "nova", "random_seed": "a\/b\u0041==",
 "devices": [], "project_id": "p"}
EOF
check "json_get hostname" "web-1.novalocal" "$(bb_eval "json_get $T/nova.json /hostname")"
check "json_get uuid" "0b1e3c7a-1111-2222-3333-444455556666" "$(bb_eval "json_get $T/nova.json /uuid")"
check "json_get escaped" "a/bA==" "$(bb_eval "json_get $T/nova.json /random_seed")"
check "json_get nested" "y]" "$(bb_eval "json_get $T/nova.json /meta/list/1/x")"
check "json_get absent" "" "$(bb_eval "json_get $T/nova.json /nope")"
check "meta_keys from public_keys" "$RSA" "$(bb_eval "meta_keys $T/nova.json")"

# Only a "keys" list (no public_keys), two keys of which one is not ssh.
cat > "$T/keys.json" <<EOF
{"keys": [{"type": "x509", "name": "c", "data": "-----BEGIN CERTIFICATE-----"},
          {"data": "$ED", "name": "e", "type": "ssh"}], "name": "only-name"}
EOF
check "meta_keys from keys list" "$ED" "$(bb_eval "meta_keys $T/keys.json")"
check "json_get name" "only-name" "$(bb_eval "json_get $T/keys.json /name")"

# Several public keys, pretty-printed over several lines.
printf '{\n  "public_keys": {\n    "a": "%s",\n    "b": "%s"\n  }\n}\n' "$ED" "$RSA" > "$T/two.json"
check "meta_keys two keys" "$ED"$'\n'"$RSA" "$(bb_eval "meta_keys $T/two.json")"

# Malformed or empty documents give nothing (and no error).
printf '{"hostname": "x", ' > "$T/bad.json"
check "json_flat malformed" "" "$(bb_eval "json_flat $T/bad.json")"
: > "$T/empty.json"
check "meta_keys empty" "" "$(bb_eval "meta_keys $T/empty.json")"

check "fingerprint ed25519" "$(fp "$T/ed.pub")" "$(bb_eval "ssh_fingerprint '$ED'")"
check "fingerprint rsa" "$(fp "$T/rsa.pub")" "$(bb_eval "ssh_fingerprint '$RSA'")"
check "fingerprint empty" "none" "$(bb_eval "ssh_fingerprint ''")"
check "fingerprint garbage" "none" "$(bb_eval "ssh_fingerprint 'ssh-rsa'")"

check "valid_keys filters" "$ED" "$(printf 'garbage\n  %s  \r\n# comment\n' "$ED" | PATH=$T/bin $BB sh -c ". $LIB/lib.sh; valid_keys")"

check "clean_hostname fqdn" "web-1" "$(bb_eval "clean_hostname web-1.novalocal")"
check "clean_hostname spaces" "my-server-1" "$(bb_eval "clean_hostname 'my server_1'")"
check "clean_hostname long" "$(printf 'a%.0s' $(seq 63))" "$(bb_eval "clean_hostname $(printf 'a%.0s' $(seq 80))")"
check "clean_hostname empty" "" "$(bb_eval "clean_hostname '..'")"

echo "$((n - fails)) passed, $fails failed"
[[ $fails -eq 0 ]]
