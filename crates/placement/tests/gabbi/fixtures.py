#!/usr/bin/env python3
"""Builds, through the Placement API, the data some of upstream's gabbi
fixtures make directly in the database (AllocationFixture,
SharedStorageFixture, NonSharedStorageFixture), and prints the environment
they export as `export NAME=value` lines.

    fixtures.py <fixture> <placement url> <admin token>

The APIFixture variables (RP_UUID, PROJECT_ID, ...) are read from the
environment (run.sh sets them first)."""
import json
import os
import sys
import urllib.request
import uuid

fixture, base, token = sys.argv[1:4]
env = {}


def call(method, path, body=None):
    req = urllib.request.Request(base + path, method=method, data=None if body is None else json.dumps(body).encode())
    req.add_header("x-auth-token", token)
    req.add_header("openstack-api-version", "placement 1.28")
    req.add_header("content-type", "application/json")
    with urllib.request.urlopen(req) as r:
        data = r.read()
        return json.loads(data) if data else None


def provider(name, *aggs, parent=None, rp_uuid=None):
    body = {"name": name, "uuid": rp_uuid or str(uuid.uuid4())}
    if parent:
        body["parent_provider_uuid"] = parent
    rp = call("POST", "/resource_providers", body)
    if aggs:
        call("PUT", f"/resource_providers/{rp['uuid']}/aggregates",
             {"aggregates": list(aggs), "resource_provider_generation": rp["generation"]})
    return rp["uuid"]


def gen(rp):
    return call("GET", f"/resource_providers/{rp}")["generation"]


def inventory(rp, rc, total, **kw):
    body = {"resource_class": rc, "total": total, **kw}
    call("POST", f"/resource_providers/{rp}/inventories", body)


def traits(rp, *names):
    call("PUT", f"/resource_providers/{rp}/traits", {"traits": list(names), "resource_provider_generation": gen(rp)})


def allocate(rp, resources, project, user):
    consumer = str(uuid.uuid4())
    call("PUT", f"/allocations/{consumer}", {"allocations": {rp: {"resources": resources}},
                                             "project_id": project, "user_id": user, "consumer_generation": None})
    return consumer


if fixture == "AllocationFixture":
    env["ALT_USER_ID"] = str(uuid.uuid4())
    project, user = os.environ["PROJECT_ID"], os.environ["USER_ID"]
    rp = provider(os.environ["RP_NAME"], rp_uuid=os.environ["RP_UUID"])
    inventory(rp, "DISK_GB", 2048, step_size=10, min_unit=10, max_unit=1000)
    inventory(rp, "VCPU", 10, max_unit=10)
    env["CONSUMER_0"] = allocate(rp, {"DISK_GB": 1000}, project, user)
    env["CONSUMER_ID"] = allocate(rp, {"VCPU": 6}, project, user)
    env["ALT_CONSUMER_ID"] = allocate(rp, {"DISK_GB": 20, "VCPU": 1}, project, env["ALT_USER_ID"])
    env["ALT_RP_UUID"] = str(uuid.uuid4())
    env["ALT_RP_NAME"] = str(uuid.uuid4())
elif fixture in ("SharedStorageFixture", "NonSharedStorageFixture"):
    shared = fixture == "SharedStorageFixture"
    agg = str(uuid.uuid4())
    env["AGG_UUID"] = agg
    if shared:
        names = ["cn1", "cn2", "ss", "ss2"]
        rps = {n: provider(n, agg) for n in names}
        for n in ("numa1_1", "numa1_2", "numa2_1", "numa2_2"):
            rps[n] = provider(n, parent=rps["cn" + n[4]])
        for n in ("pf1_1", "pf1_2", "pf2_1", "pf2_2"):
            rps[n] = provider(n, parent=rps["numa" + n[2:]])
        for cn in ("cn1", "cn2"):
            inventory(rps[cn], "VCPU", 24, allocation_ratio=16.0)
            inventory(rps[cn], "MEMORY_MB", 128 * 1024, allocation_ratio=1.5)
        traits(rps["cn1"], "HW_CPU_X86_SSE", "HW_CPU_X86_SSE2")
        inventory(rps["cn2"], "DISK_GB", 2000, reserved=100, allocation_ratio=1.0)
        for ss in ("ss", "ss2"):
            inventory(rps[ss], "DISK_GB", 2000, reserved=100, allocation_ratio=1.0)
            traits(rps[ss], "MISC_SHARES_VIA_AGGREGATE")
        for pf in ("pf1_1", "pf1_2", "pf2_1", "pf2_2"):
            inventory(rps[pf], "SRIOV_NET_VF", 8, allocation_ratio=1.0)
    else:
        # three compute nodes with local disk, no aggregates
        for a in ("AGGA_UUID", "AGGB_UUID", "AGGC_UUID"):
            env[a] = str(uuid.uuid4())
        rps = {n: provider(n) for n in ("cn1", "cn2", "cn3")}
        for cn in rps.values():
            inventory(cn, "VCPU", 24)
            inventory(cn, "MEMORY_MB", 128 * 1024)
            inventory(cn, "DISK_GB", 2000)
    for n, u in rps.items():
        env[n.upper() + "_UUID"] = u
else:
    sys.exit(f"unknown fixture {fixture}")

for k, v in env.items():
    print(f"export {k}={v}")
