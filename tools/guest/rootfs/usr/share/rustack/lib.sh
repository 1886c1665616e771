# Helpers of the rustack test guest's /init (busybox sh). Sourced; no side effects.
# Tested on the build host by tools/guest/test-lib.sh.

RUSTACK_LIB_DIR=${RUSTACK_LIB_DIR:-/usr/share/rustack}

# json_flat FILE: "/path<TAB>value" lines (see jsonflat.awk); empty output if malformed.
json_flat() {
    awk -f "$RUSTACK_LIB_DIR/jsonflat.awk" "$1" 2>/dev/null || true
}

# The lookups below read a flattened document (json_flat's output) on stdin, so
# /init parses meta_data.json once.

# flat_get PATH: the value at PATH (e.g. /hostname), trailing spaces trimmed.
flat_get() {
    awk -F'\t' -v p="$1" '$1 == p { v = substr($0, length(p) + 2); sub(/ +$/, "", v); print v; exit }'
}

# flat_values REGEX: every value whose path matches the awk REGEX, one a line.
flat_values() {
    awk -F'\t' -v r="$1" '$1 ~ r { v = substr($0, length($1) + 2); sub(/ +$/, "", v); print v }'
}

# flat_keys: the SSH public keys of an OpenStack meta_data.json, one a line, from
# "public_keys" (a name -> key map) or else from "keys" (entries of type ssh).
flat_keys() {
    awk -F'\t' '
        { v = substr($0, length($1) + 2); sub(/ +$/, "", v) }
        $1 ~ /^\/public_keys\// { pk[++npk] = v }
        $1 ~ /^\/keys\/[0-9]+\/type$/ { split($1, p, "/"); t[p[3]] = v }
        $1 ~ /^\/keys\/[0-9]+\/data$/ { split($1, p, "/"); d[p[3]] = v; if (p[3] + 1 > n) n = p[3] + 1 }
        END {
            if (npk) { for (i = 1; i <= npk; i++) print pk[i]; exit }
            for (i = 0; i < n; i++) if ((i in d) && (!(i in t) || t[i] == "ssh")) print d[i]
        }' | valid_keys
}

# json_get FILE PATH / meta_keys FILE: the same, straight from a JSON file.
json_get() { json_flat "$1" | flat_get "$2"; }
meta_keys() { json_flat "$1" | flat_keys; }

# valid_keys: keeps the lines of stdin that look like OpenSSH public keys.
valid_keys() {
    tr -d '\r' | sed -n 's/^[[:space:]]*//; s/[[:space:]]*$//; /^\(ssh-\|ecdsa-\|sk-\)[^ ]* [A-Za-z0-9+\/=]\{16,\}/p'
}

# ssh_fingerprint KEYLINE: OpenSSH's SHA256 fingerprint ("SHA256:<base64, no padding>"),
# the same as ssh-keygen -l -E sha256 prints; "none" for an empty or undecodable key.
ssh_fingerprint() {
    _b=$(printf '%s\n' "$1" | awk '{ print $2 }')
    [ -n "$_b" ] || { echo none; return; }
    _h=$(printf '%s' "$_b" | base64 -d 2>/dev/null | sha256sum | cut -d' ' -f1)
    _e=$(printf '%s' "$_b" | base64 -d 2>/dev/null | wc -c)
    [ "$_e" -gt 0 ] || { echo none; return; }
    echo "SHA256:$(printf '%s' "$_h" | xxd -r -p | base64 | tr -d '=\n')"
}

# clean_hostname NAME: the short host name (first label) in hostname characters,
# at most 63 of them; empty if nothing usable is left.
clean_hostname() {
    printf '%s' "${1%%.*}" | tr -c 'A-Za-z0-9-' '-' | sed 's/^-*//; s/-*$//' | cut -c1-63
}

# uptime_s: seconds since boot (guest clock).
uptime_s() {
    cut -d' ' -f1 /proc/uptime
}
