# Flattens one JSON document into one line per scalar:  /path/to/key<TAB>value
# Array elements are numbered from 0 (/keys/0/data). Strings are unescaped;
# newlines, tabs and other control characters in values become spaces, so every
# value stays on its line; \uXXXX outside ASCII becomes "?". null/true/false and
# numbers are printed as written. Malformed input prints nothing and exits 1.
# Written for busybox awk (no gawk extensions). Used by /init for meta_data.json.
BEGIN { RS = "\001"; hex = "0123456789abcdef" }
{ doc = doc $0 }
END {
    n = length(doc); pos = 1; bad = 0
    value("")
    skipws()
    if (!bad && pos <= n) bad = 1
    if (!bad) printf "%s", result
    exit bad
}
function skipws() {
    while (pos <= n && index(" \t\r\n", substr(doc, pos, 1))) pos++
}
function fail() { bad = 1; pos = n + 1 }
function emit(path, v) {
    gsub(/[\001-\037]/, " ", v)
    result = result (path == "" ? "/" : path) "\t" v "\n"
}
function value(path,    c, lit) {
    skipws(); c = substr(doc, pos, 1)
    if (c == "{") object(path)
    else if (c == "[") array(path)
    else if (c == "\"") emit(path, string())
    else {
        lit = ""
        while (pos <= n && !index(",]} \t\r\n", substr(doc, pos, 1))) { lit = lit substr(doc, pos, 1); pos++ }
        if (lit == "") fail(); else emit(path, lit)
    }
}
function object(path,    k, c) {
    pos++; skipws()
    if (substr(doc, pos, 1) == "}") { pos++; return }
    while (!bad && pos <= n) {
        skipws()
        if (substr(doc, pos, 1) != "\"") { fail(); return }
        k = string(); skipws()
        if (substr(doc, pos, 1) != ":") { fail(); return }
        pos++
        value(path "/" k); skipws()
        c = substr(doc, pos, 1); pos++
        if (c == "}") return
        if (c != ",") { fail(); return }
    }
    fail()
}
function array(path,    i, c) {
    pos++; skipws()
    if (substr(doc, pos, 1) == "]") { pos++; return }
    i = 0
    while (!bad && pos <= n) {
        value(path "/" i); i++; skipws()
        c = substr(doc, pos, 1); pos++
        if (c == "]") return
        if (c != ",") { fail(); return }
    }
    fail()
}
# pos is on the opening quote; returns the unescaped string, pos after the closing quote.
function string(    out, c, e, code, rest) {
    pos++; out = ""
    while (pos <= n) {
        rest = substr(doc, pos)
        if (match(rest, /^[^"\\]+/)) { out = out substr(rest, 1, RLENGTH); pos += RLENGTH; continue }
        c = substr(doc, pos, 1)
        if (c == "\"") { pos++; return out }
        e = substr(doc, pos + 1, 1); pos += 2
        if (e == "n" || e == "r" || e == "t" || e == "b" || e == "f") out = out " "
        else if (e == "u") {
            code = hexval(tolower(substr(doc, pos, 4))); pos += 4
            out = out ((code >= 32 && code < 127) ? sprintf("%c", code) : (code < 32 ? " " : "?"))
        }
        else out = out e
    }
    fail(); return out
}
function hexval(h,    i, v, d) {
    v = 0
    for (i = 1; i <= length(h); i++) {
        d = index(hex, substr(h, i, 1)); if (!d) return -1
        v = v * 16 + d - 1
    }
    return v
}
