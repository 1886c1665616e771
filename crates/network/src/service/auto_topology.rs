//! The auto-allocated topology (Neutron's `auto-allocated-topology`
//! extension, "get me a network"): on a project's first request, a network
//! (`auto_allocated_network`) with one subnet from each default subnet pool,
//! and a router (`auto_allocated_router`) from those subnets to the default
//! external network (`is_default`); afterwards the same network.
//!
//! Made as Neutron makes it: the network starts with `admin_state_up` false
//! (compute and Tempest pick only networks that are up, so a half-built
//! topology is never chosen) and goes up when the topology is recorded.
//! Concurrent requests for one project: in this process they queue on a
//! per-project lock, so only the first builds; across nodes the table's
//! primary key lets one record win, and the loser removes what it built and
//! answers with the winner's network.

use rustack_common::Error;
use serde_json::{json, Value};

use super::*;

/// `?fields=dry-run`: validate the requirements only.
const DRY_RUN: &str = "dry-run";

/// Neutron's `AutoAllocationFailure` (409).
fn failure(reason: &str) -> Error {
    Error::conflict(format!("Deployment error: {reason}.")).with_code("AutoAllocationFailure")
}

fn doc(v: Value) -> Doc {
    v.as_object().cloned().unwrap_or_default()
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap_or_default().to_string()
}

/// The project a request is about: the one in the path (`None`: the
/// caller's, as Neutron reads a client that sent no project); only an admin
/// asks about another project's.
pub fn project_of(caller: &Caller, project_id: &str) -> Result<String, Error> {
    let p = if project_id == "None" { caller.project_id.clone() } else { project_id.to_string() };
    if p.is_empty() {
        return Err(invalid("a project is required"));
    }
    if !caller.is_admin && p != caller.project_id {
        return Err(Error::forbidden("Not authorized.").with_code("NotAuthorized"));
    }
    Ok(p)
}

fn response(network_id: &str, project: &str) -> Value {
    json!({"id": network_id, "tenant_id": project, "project_id": project})
}

/// The default external network (the first if an operator made several).
async fn default_external_network(c: &mut Conn) -> Result<String, Error> {
    store::list(c, "network")
        .await?
        .iter()
        .find(|n| n["router:external"] == json!(true) && n["is_default"] == json!(true))
        .map(id_of)
        .ok_or_else(|| failure("No default router:external network"))
}

/// The default subnet pools, IPv4 first: (ip version, pool id).
async fn default_pools(c: &mut Conn) -> Result<Vec<(i64, String)>, Error> {
    let mut out = vec![];
    for v in [4, 6] {
        if let Some(p) = subnetpools::default_pool(c, v).await? {
            out.push((v, p));
        }
    }
    Ok(out)
}

/// The project's recorded topology, if its network still exists.
async fn existing(net: &Network, project: &str) -> Result<Option<String>, Error> {
    let mut c = conn(net).await?;
    let Some((nid, _)) = store::auto_topology(&mut c, project).await? else { return Ok(None) };
    if store::get(&mut c, "network", &nid).await?.is_some() {
        return Ok(Some(nid));
    }
    drop(c);
    // the network went by a path that did not forget the record: start anew
    let mut w = begin(net).await?;
    store::delete_auto_topology(&mut w, project).await?;
    commit(net, w).await?;
    Ok(None)
}

/// `GET /v2.0/auto-allocated-topology/{project_id}` (`fields`: the query's).
pub async fn get(net: &Network, caller: &Caller, project_id: &str, fields: &[String]) -> Result<Value, Error> {
    let project = project_of(caller, project_id)?;
    if fields.iter().any(|f| f == DRY_RUN) {
        return check_requirements(net, &project).await;
    }
    if !fields.is_empty() {
        return Err(Error::bad_request("Bad auto_allocate request: Unrecognized field.").with_code("BadRequest"));
    }
    let lock = net.topology_lock(&project);
    let _held = lock.lock().await;
    if let Some(nid) = existing(net, &project).await? {
        return Ok(response(&nid, &project));
    }
    let external = {
        let mut c = conn(net).await?;
        default_external_network(&mut c).await?
    };
    let nid = build(net, caller, &project, &external).await?;
    Ok(response(&nid, &project))
}

/// The dry run: a default external network and a default subnet pool exist.
async fn check_requirements(net: &Network, project: &str) -> Result<Value, Error> {
    let mut c = conn(net).await?;
    default_external_network(&mut c).await?;
    if default_pools(&mut c).await?.is_empty() {
        return Err(failure("No default subnetpools defined"));
    }
    Ok(json!({"id": "dry-run=pass", "tenant_id": project, "project_id": project}))
}

/// Whether an error of a step is the request's fault (Neutron turns those
/// into `AutoAllocationFailure`; anything else is passed on as it is).
fn unmet(e: &Error) -> bool {
    matches!(e.status(), 400 | 404) || e.code.as_deref() == Some("SubnetAllocationError")
}

/// Builds the topology for `project` and records it; returns its network.
async fn build(net: &Network, caller: &Caller, project: &str, external: &str) -> Result<String, Error> {
    // the resources belong to the project and count against its quotas, as
    // when the user makes them (an admin may build for another project)
    let owner = Caller { project_id: project.to_string(), is_admin: caller.is_admin, granted: vec![] };
    let pools = {
        let mut c = conn(net).await?;
        default_pools(&mut c).await?
    };
    if pools.is_empty() {
        return Err(failure("Unable to provide tenant private network"));
    }
    let n = networks::create(
        net,
        &owner,
        doc(json!({"name": "auto_allocated_network", "admin_state_up": false, "project_id": project, "shared": false})),
    )
    .await?;
    let nid = id_of(&n);
    let mut subnets: Vec<String> = vec![];
    for (version, pool) in &pools {
        let made = subnets::create(
            net,
            &owner,
            doc(json!({
                "name": format!("auto_allocated_subnet_v{version}"), "network_id": nid, "project_id": project,
                "ip_version": version, "subnetpool_id": pool,
            })),
        )
        .await;
        match made {
            Ok(s) => subnets.push(id_of(&s)),
            Err(e) => {
                cleanup(net, Some(&nid), None, &subnets).await;
                return Err(if unmet(&e) { failure("Unable to provide tenant private network") } else { e });
            }
        }
    }
    let router = routers::create(
        net,
        &owner,
        doc(json!({
            "name": "auto_allocated_router", "project_id": project, "admin_state_up": true,
            "external_gateway_info": {"network_id": external},
        })),
    )
    .await;
    let rid = match router {
        Ok(r) => id_of(&r),
        Err(e) => {
            cleanup(net, Some(&nid), None, &subnets).await;
            return Err(if unmet(&e) { failure("Unable to provide external connectivity") } else { e });
        }
    };
    for (i, sid) in subnets.iter().enumerate() {
        if let Err(e) = routers::add_interface(net, &owner, &rid, json!({"subnet_id": sid})).await {
            cleanup(net, Some(&nid), Some(&rid), &subnets[..i]).await;
            return Err(if unmet(&e) { failure("Unable to provide external connectivity") } else { e });
        }
    }
    save(net, project, &nid, &rid, &subnets).await
}

/// Records the topology and brings its network up; when another request
/// recorded one first, removes this one and answers with that one's network.
async fn save(net: &Network, project: &str, nid: &str, rid: &str, subnets: &[String]) -> Result<String, Error> {
    let mut w = begin(net).await?;
    if !store::save_auto_topology(&mut w, project, nid, rid).await? {
        drop(w);
        tracing::debug!(project, network = nid, "network: a concurrent auto-allocated topology won; removing ours");
        cleanup(net, Some(nid), Some(rid), subnets).await;
        let mut c = conn(net).await?;
        return store::auto_topology(&mut c, project)
            .await?
            .map(|(n, _)| n)
            .ok_or_else(|| failure("Unable to provide tenant private network"));
    }
    let mut n = must_get(&mut w, "network", nid).await?;
    n["admin_state_up"] = json!(true);
    bump(&mut n);
    store::update(&mut w, "network", &n).await?;
    commit(net, w).await?;
    Ok(nid.to_string())
}

/// Removes what a topology is made of, as far as it exists: the router's
/// interfaces on `subnets`, the router, the network (with its subnets and
/// DHCP port). Best effort: a part already gone is skipped, and a failure
/// is logged (this runs on an error path, or after the checks of `delete`).
async fn cleanup(net: &Network, nid: Option<&str>, rid: Option<&str>, subnets: &[String]) {
    let admin = Caller::admin();
    if let Some(rid) = rid {
        for sid in subnets {
            let _ = routers::remove_interface(net, &admin, rid, json!({"subnet_id": sid})).await;
        }
        if let Err(e) = routers::delete(net, &admin, rid).await {
            if e.status() != 404 {
                tracing::warn!(router = rid, error = %e, "network: auto-allocated router left behind");
            }
        }
    }
    if let Some(nid) = nid {
        if let Err(e) = networks::delete(net, &admin, nid).await {
            if e.status() != 404 {
                tracing::warn!(network = nid, error = %e, "network: auto-allocated network left behind");
            }
        }
    }
}

/// `DELETE /v2.0/auto-allocated-topology/{project_id}`: the topology goes;
/// none is no error. Instance ports on its network keep it (409, and
/// nothing is removed).
pub async fn delete(net: &Network, caller: &Caller, project_id: &str) -> Result<(), Error> {
    let project = project_of(caller, project_id)?;
    let lock = net.topology_lock(&project);
    let _held = lock.lock().await;
    let mut c = conn(net).await?;
    let Some((nid, rid)) = store::auto_topology(&mut c, &project).await? else { return Ok(()) };
    let infra = ["network:dhcp", "network:router_interface", "network:floatingip"];
    if store::children(&mut c, "port", &nid)
        .await?
        .iter()
        .any(|p| !infra.contains(&p["device_owner"].as_str().unwrap_or_default()))
    {
        return Err(Error::conflict(format!(
            "Unable to complete operation on network {nid}. There are one or more ports still in use on the network."
        ))
        .with_code("NetworkInUse"));
    }
    let subnets: Vec<String> = store::children(&mut c, "subnet", &nid).await?.iter().map(id_of).collect();
    drop(c);
    cleanup(net, Some(&nid), Some(&rid), &subnets).await;
    let mut w = begin(net).await?;
    store::delete_auto_topology(&mut w, &project).await?;
    commit(net, w).await
}
