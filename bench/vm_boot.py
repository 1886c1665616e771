#!/usr/bin/env python3
"""Boot timings of real VMs (issue 7): rustack's QEMU driver against the same
guest started by a bare qemu-system-x86_64 command line, in one run.

For each boot: request -> ACTIVE (rustack only; polled every 50 ms through the
compute API) and request -> guest network up (the guest answers ping on its
fixed IP, polled every 100 ms). 10 sequential and 5 concurrent boots each.
Also the rustack process's RSS with the 5 concurrent VMs running, minus before.

Driven by bench/vm-boot.sh, which starts the cloud and the bare network; this
script only talks HTTP and runs ping/qemu. Prints a table and writes JSON.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import threading
import time
import urllib.request


def http(method, url, token=None, body=None):
    req = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body else None)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("X-Auth-Token", token)
    with urllib.request.urlopen(req, timeout=30) as r:
        data = r.read()
        return r.status, dict(r.headers), (json.loads(data) if data else None)


def pings(ns, ip):
    cmd = ["ping", "-c", "1", "-W", "1", ip]
    if ns:
        cmd = ["ip", "netns", "exec", ns] + cmd
    return subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0


def wait_ping(ns, ip, t0, timeout):
    while time.monotonic() - t0 < timeout:
        if pings(ns, ip):
            return time.monotonic() - t0
        time.sleep(0.1)
    return None


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Rustack:
    def __init__(self, a):
        self.a = a
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": "admin", "password": a.password, "domain": {"name": "Default"}}}},
            "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}}}
        _, h, _ = http("POST", a.auth_url + "/auth/tokens", body=body)
        self.token = h.get("X-Subject-Token") or h.get("x-subject-token")

    def boot(self, name, timeout):
        a = self.a
        t0 = time.monotonic()
        body = {"server": {"name": name, "imageRef": a.image, "flavorRef": a.flavor,
                           "networks": [{"uuid": a.network}]}}
        _, _, r = http("POST", a.compute_url + "/servers", self.token, body)
        sid = r["server"]["id"]
        active = ip = None
        while time.monotonic() - t0 < timeout:
            _, _, s = http("GET", f"{a.compute_url}/servers/{sid}", self.token)
            st = s["server"]["status"]
            if st == "ACTIVE":
                active = time.monotonic() - t0
                for addrs in s["server"]["addresses"].values():
                    ip = addrs[0]["addr"]
                break
            if st == "ERROR":
                raise RuntimeError(f"{name}: ERROR {s['server'].get('fault')}")
            time.sleep(0.05)
        up = wait_ping(a.netns, ip, t0, timeout) if ip else None
        return {"id": sid, "active": active, "net_up": up}

    def delete(self, sid):
        http("DELETE", f"{self.a.compute_url}/servers/{sid}", self.token)
        t0 = time.monotonic()
        while time.monotonic() - t0 < 120:
            try:
                http("GET", f"{self.a.compute_url}/servers/{sid}", self.token)
            except urllib.error.HTTPError as e:
                if e.code == 404:
                    return
            time.sleep(0.2)


class Bare:
    """The same guest under a bare QEMU: disk boot of a qcow2 overlay of the same
    image, same memory and vCPUs, a tap on the bench's bridge (dnsmasq gives the
    MAC its fixed address)."""

    def __init__(self, a):
        self.a = a

    def boot(self, i, timeout):
        a = self.a
        d = os.path.join(a.workdir, f"bare{i}")
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        mac = f"52:54:00:7b:00:{i + 10:02x}"
        ip = f"{a.bare_prefix}.{i + 10}"
        tap = f"rsbt{i}"
        t0 = time.monotonic()
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", a.disk,
                        os.path.join(d, "disk.qcow2"), "1G"], check=True)
        subprocess.run(["ip", "tuntap", "add", "dev", tap, "mode", "tap"], check=True)
        subprocess.run(["ip", "link", "set", tap, "master", a.bare_bridge, "up"], check=True)
        p = subprocess.Popen([
            "qemu-system-x86_64", "-M", "q35", "-accel", "tcg", "-m", str(a.mem), "-smp", "1",
            "-nodefaults", "-no-user-config", "-display", "none",
            "-drive", f"file={d}/disk.qcow2,if=none,id=root,format=qcow2",
            "-device", "virtio-blk-pci,drive=root,bootindex=0",
            "-netdev", f"tap,id=n0,ifname={tap},script=no,downscript=no",
            "-device", f"virtio-net-pci,netdev=n0,mac={mac}",
            "-serial", f"file:{d}/console.log"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        up = wait_ping(None, ip, t0, timeout)
        p.kill()
        p.wait()
        subprocess.run(["ip", "link", "del", tap], stderr=subprocess.DEVNULL)
        shutil.rmtree(d, ignore_errors=True)
        return {"net_up": up}


def run_set(boot, n, concurrent, timeout):
    out = [None] * n
    def one(i):
        try:
            out[i] = boot(i, timeout)
        except Exception as e:  # a failed boot is reported, not fatal
            out[i] = {"error": str(e)}
    if concurrent:
        ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    else:
        for i in range(n):
            one(i)
    return out


def stats(results, key):
    v = sorted(r[key] for r in results if r and r.get(key) is not None)
    if not v:
        return None
    return {"n": len(v), "of": len(results), "p50": statistics.median(v), "max": v[-1], "min": v[0]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--auth-url", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--compute-url", required=True)
    ap.add_argument("--image", required=True)
    ap.add_argument("--flavor", required=True)
    ap.add_argument("--network", required=True)
    ap.add_argument("--netns", required=True, help="namespace that reaches the tenant network (its DHCP one)")
    ap.add_argument("--pid", type=int, required=True, help="the rustack process")
    ap.add_argument("--disk", required=True, help="the test image's disk.qcow2")
    ap.add_argument("--mem", type=int, default=512)
    ap.add_argument("--bare-bridge", required=True)
    ap.add_argument("--bare-prefix", required=True, help="e.g. 10.79.0")
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--seq", type=int, default=10)
    ap.add_argument("--conc", type=int, default=5)
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--json")
    a = ap.parse_args()

    rs, bare = Rustack(a), Bare(a)
    res = {}
    ids = []

    def rboot(i, timeout, tag):
        r = rs.boot(f"bench-{tag}-{i}", timeout)
        ids.append(r["id"])
        return r

    # the first boot fills the image cache: done once before measuring
    warm = rs.boot("bench-warm", a.timeout)
    rs.delete(warm["id"])

    res["bare_seq"] = run_set(bare.boot, a.seq, False, a.timeout)
    seq = []
    for i in range(a.seq):
        r = run_set(lambda j, t: rboot(i, t, "seq"), 1, False, a.timeout)[0]
        seq.append(r)
        if r.get("id"):
            rs.delete(r["id"])
    res["rustack_seq"] = seq
    res["bare_conc"] = run_set(bare.boot, a.conc, True, a.timeout)
    rss0 = rss_mib(a.pid)
    ids.clear()
    res["rustack_conc"] = run_set(lambda i, t: rboot(i, t, "conc"), a.conc, True, a.timeout)
    time.sleep(2)
    rss1 = rss_mib(a.pid)
    for sid in list(ids):
        rs.delete(sid)
    res["rss_mib"] = {"before": rss0, "with_vms": rss1, "per_vm": (rss1 - rss0) / max(1, a.conc)}

    summary = {k: {"active": stats(v, "active"), "net_up": stats(v, "net_up")}
               for k, v in res.items() if k != "rss_mib"}
    summary["rss_mib"] = res["rss_mib"]
    errors = [r["error"] for k, v in res.items() if k != "rss_mib" for r in v if r and "error" in r]
    summary["errors"] = errors

    def f(s, k="p50"):
        return "-" if not s else f"{s[k]:.2f} s"
    print(f"{'boots':<22}{'request->ACTIVE p50':>22}{'(max)':>10}{'net up p50':>14}{'(max)':>10}{'ok':>6}")
    for k in ("bare_seq", "rustack_seq", "bare_conc", "rustack_conc"):
        s = summary[k]
        n = s["net_up"]["n"] if s["net_up"] else 0
        print(f"{k:<22}{f(s['active']):>22}{f(s['active'], 'max'):>10}{f(s['net_up']):>14}{f(s['net_up'], 'max'):>10}{n:>4}/{len(res[k])}")
    for mode in ("seq", "conc"):
        b, r = summary[f"bare_{mode}"]["net_up"], summary[f"rustack_{mode}"]["net_up"]
        if b and r:
            print(f"guest network up, {mode}: rustack/bare = {r['p50'] / b['p50']:.2f} (target <= 1.2)")
    print(f"control-plane RSS: {rss0:.1f} MiB idle, {rss1:.1f} MiB with {a.conc} VMs: "
          f"{res['rss_mib']['per_vm']:.2f} MiB per VM (target < 5)")
    if errors:
        print("errors:", *errors, sep="\n  ")
    if a.json:
        with open(a.json, "w") as fh:
            json.dump({"summary": summary, "results": res}, fh, indent=1)


if __name__ == "__main__":
    main()
