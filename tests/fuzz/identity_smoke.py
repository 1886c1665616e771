"""Random requests against every Identity API route: any status but a 5xx
(other than 501, "not served yet") is fine; a 5xx or a dropped connection is
a bug. Routes are read from the identity crate's sources.

    identity_smoke.py BASE_URL ADMIN_PASSWORD ROUTES_FILE [N] [SEED]
"""
import json, random, re, sys, urllib.request, urllib.error
from collections import Counter

base, password, routes = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3]
N = int(sys.argv[4]) if len(sys.argv) > 4 else 3000
seed = int(sys.argv[5]) if len(sys.argv) > 5 else random.randrange(1 << 30)
random.seed(seed)
print(f"seed {seed}")
body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "admin", "domain": {"id": "default"}, "password": password}}},
                 "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}
r = urllib.request.urlopen(urllib.request.Request(base + "/v3/auth/tokens", json.dumps(body).encode(), {"Content-Type": "application/json"}))
tok = r.headers["X-Subject-Token"]
src = open(routes).read().split()
ids = ["default", "nonexistent", "a" * 300, "%00", "..", "%2F", "0123456789abcdef0123456789abcdef", "RegionOne", "admin"]
values = [None, 0, -1, 1.5, True, "", "x" * 70000, [], {}, [1, "a"], {"a": {"b": [None]}}, "2026-13-45T99:99:99", "\u0000\ud7ff"]
def body_for(path):
    key = [s for s in path.strip("/").split("/") if not s.startswith("{")]
    ent = key[-1].rstrip("s") if key else "x"
    fields = ["name", "domain_id", "enabled", "description", "password", "parent_id", "type", "url", "interface", "service_id",
              "region", "region_id", "roles", "expires_at", "blob", "user_id", "project_id", "tags", "options", "is_domain",
              "secret", "unrestricted", "access_rules", "impersonation", "trustee_user_id", "trustor_user_id", "remaining_uses",
              "filters", "resource_name", "default_limit", "resource_limit", "service_id", "original_password", "id"]
    d = {f: random.choice(values) for f in random.sample(fields, random.randint(0, 8))}
    return random.choice([{ent: d}, d, random.choice(values), {"auth": d}, {ent: random.choice(values)}])
bad = 0; n = 0; sts = Counter()
for i in range(N):
    path = random.choice(src)
    path = re.sub(r"\{[^}]*\}", lambda m: random.choice(ids), path)
    method = random.choice(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"])
    data = None
    if method in ("POST", "PUT", "PATCH"):
        b = body_for(path)
        data = json.dumps(b).encode() if random.random() < 0.9 else b"{not json"
    q = random.choice(["", "?name=x", "?enabled=maybe", "?effective&include_names", "?scope.project.id=x&user.id=y", "?limit=-1", "?parents_as_list&subtree_as_ids", "?tags=a,b", "?nocatalog", "?cascade=false"])
    headers = {"Content-Type": "application/json", "X-Auth-Token": tok, "X-Subject-Token": random.choice(["garbage", ""] + ([tok] if method != "DELETE" else []))}
    req = urllib.request.Request(base + path + q, data, headers, method=method)
    try:
        st = 0
        resp = urllib.request.urlopen(req, timeout=30); st = resp.status
    except urllib.error.HTTPError as e:
        st = e.code; txt = e.read()
        if st >= 500 and st != 501:
            bad += 1; print("5xx", method, path + q, data[:200] if data else None, st, txt[:200])
    except Exception as e:
        bad += 1; print("ERR", method, path, e)
    n += 1
    sts[st if "st" in dir() else 0] += 1
print(f"{n} requests, {bad} bad", sorted(sts.items()))
sys.exit(1 if bad else 0)
