//! The `migrate` (cold) and `os-migrateLive` server actions (admin), and
//! `servers/{id}/migrations` (2.22+: list and show the in-progress live
//! migrations, force_complete, abort).
//!
//! Nova answers a refused migration synchronously: a bad state is 409, an
//! unknown or same destination 400, and no host able to take the instance
//! 400 NoValidHost (its conductor schedules a cold migration before the API
//! returns). The scheduler is asked here with nothing claimed; the
//! conductor then claims for real.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Router};
use rustack_common::Error;
use rustack_http::microversion::Version;
use rustack_http::token_layer::Authenticated;
use rustack_http::{ApiResult, JsonBody, RequestContext};
use serde_json::{json, Value};

use super::actions::{begin, conflict_state, locked};
use super::{accepted, is_admin, ok, require_admin};
use crate::bus::Op;
use crate::model::{iso_naive, task, vm, Instance};
use crate::store::migrations::{kind, Migration};
use crate::Compute;

pub(super) fn routes() -> Router<Compute> {
    Router::new()
        .route("/servers/{id}/migrations", get(index))
        .route("/servers/{id}/migrations/{mid}", get(show).delete(abort))
        .route("/servers/{id}/migrations/{mid}/action", post(force_complete))
}

/// Checks the request and the instance's state, then casts the migration.
pub(super) async fn action(
    c: &Compute,
    ctx: &Arc<RequestContext>,
    rid: &str,
    inst: &Instance,
    name: &str,
    arg: &Value,
    v: &Version,
) -> ApiResult<Response> {
    if name == "migrate" {
        cold(c, ctx, rid, inst, arg, v).await
    } else {
        live(c, ctx, rid, inst, arg, v).await
    }
}

pub(super) fn invalid(field: &str) -> Error {
    Error::bad_request(format!("Invalid input for field/attribute {field}."))
}

/// The state checks `begin` repeats atomically, done first so a refused
/// migration is a 409 before any host question (Nova's order).
pub(super) fn check_state(ctx: &RequestContext, inst: &Instance, action: &str, vm_ok: &[&str]) -> Result<(), Error> {
    if inst.locked && !is_admin(ctx) {
        return Err(locked(&inst.uuid));
    }
    if !vm_ok.contains(&inst.vm_state.as_str()) {
        return Err(conflict_state(action, &inst.uuid, "vm_state", &inst.vm_state));
    }
    if let Some(t) = &inst.task_state {
        return Err(conflict_state(action, &inst.uuid, "task_state", t));
    }
    Ok(())
}

/// An admin's destination: a compute host that exists (400 otherwise,
/// Nova's ComputeHostNotFound), not the instance's own.
async fn check_host(c: &Compute, inst: &Instance, host: &str, same_host_msg: String) -> Result<(), Error> {
    let known = c.store().service_list().await?.iter().any(|s| s.binary == "nova-compute" && s.host == host);
    if !known {
        return Err(Error::bad_request(format!("Compute host {host} could not be found.")));
    }
    if inst.host.as_deref() == Some(host) {
        return Err(Error::bad_request(same_host_msg));
    }
    Ok(())
}

/// The scheduler's verdict (nothing claimed): 400 NoValidHost with
/// `reason` (Nova's words for the operation) when no other host can take
/// the instance.
pub(super) async fn check_room(
    c: &Compute,
    inst: &Instance,
    host: Option<String>,
    force: bool,
    reason: &str,
) -> Result<(), Error> {
    if force {
        return Ok(());
    }
    let exclude: Vec<String> = inst.host.iter().cloned().collect();
    match c.rank_hosts(inst, &exclude, host).await {
        Ok((hosts, _)) if !hosts.is_empty() => Ok(()),
        Ok(_) => Err(Error::bad_request(format!("No valid host was found. {reason}"))),
        Err(e) if e.message.starts_with("No valid host") => {
            Err(Error::bad_request(format!("No valid host was found. {reason}")))
        }
        Err(e) => Err(e),
    }
}

pub(super) fn host_arg(arg: &Value, field: &str) -> Result<Option<String>, Error> {
    match arg.get("host") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(h)) if !h.is_empty() && h.len() <= 255 => Ok(Some(h.clone())),
        Some(_) => Err(invalid(&format!("{field}/host"))),
    }
}

/// `migrate`: `{"migrate": null}` (or `{}`), or `{"host": …}` from 2.56.
async fn cold(
    c: &Compute,
    ctx: &Arc<RequestContext>,
    rid: &str,
    inst: &Instance,
    arg: &Value,
    v: &Version,
) -> ApiResult<Response> {
    require_admin(ctx, "os_compute_api:os-migrate-server:migrate")?;
    let host = match arg {
        Value::Null => None,
        // `{}` is what most clients send (Tempest's included)
        Value::Object(o) if o.is_empty() => None,
        Value::Object(o) if v.at_least(2, 56) => {
            super::only_keys(o, &["host"], "migrate")?;
            host_arg(arg, "migrate")?
        }
        _ => return Err(invalid("migrate").into()),
    };
    check_state(ctx, inst, "migrate", &[vm::ACTIVE, vm::STOPPED])?;
    if let Some(h) = &host {
        check_host(c, inst, h, "Cannot migrate to the host where the server exists.".into()).await?;
    }
    check_room(c, inst, host.clone(), false, "No valid host found for cold migrate").await?;
    begin(
        c,
        ctx,
        &inst.uuid,
        rid,
        "migrate",
        &[vm::ACTIVE, vm::STOPPED],
        &[],
        Some(task::RESIZE_PREP),
        Op::Migrate { host },
        |i| {
            // a resize to the same flavor: confirm and revert treat it so
            i.old_flavor = i.flavor.clone();
            i.previous_vm_state = Some(i.vm_state.clone());
        },
    )
    .await?;
    Ok(accepted())
}

/// Nova's boolean parameter: a JSON bool or its usual spellings.
pub(super) fn bool_value(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => super::bool_param(s),
        _ => None,
    }
}

/// `os-migrateLive`: `host` (null: the scheduler picks), `block_migration`
/// (a boolean; also "auto" from 2.25), `disk_over_commit` before 2.25,
/// `force` from 2.30 to 2.67.
async fn live(
    c: &Compute,
    ctx: &Arc<RequestContext>,
    rid: &str,
    inst: &Instance,
    arg: &Value,
    v: &Version,
) -> ApiResult<Response> {
    require_admin(ctx, "os_compute_api:os-migrate-server:migrate_live")?;
    let o = arg.as_object().ok_or_else(|| invalid("os-migrateLive"))?;
    let mut allowed = vec!["host", "block_migration"];
    if !v.at_least(2, 25) {
        allowed.push("disk_over_commit");
    }
    if v.at_least(2, 30) && !v.at_least(2, 68) {
        allowed.push("force");
    }
    super::only_keys(o, &allowed, "os-migrateLive")?;
    if !o.contains_key("host") {
        return Err(Error::bad_request(
            "Invalid input for field/attribute os-migrateLive. 'host' is a required property",
        )
        .into());
    }
    let host = host_arg(arg, "os-migrateLive")?;
    let block_migration = match o.get("block_migration") {
        Some(Value::String(s)) if v.at_least(2, 25) && s == "auto" => true,
        Some(b) => bool_value(b).ok_or_else(|| invalid("os-migrateLive/block_migration"))?,
        None => {
            return Err(Error::bad_request(
                "Invalid input for field/attribute os-migrateLive. 'block_migration' is a required property",
            )
            .into())
        }
    };
    if let Some(d) = o.get("disk_over_commit") {
        bool_value(d).ok_or_else(|| invalid("os-migrateLive/disk_over_commit"))?;
    }
    let force = match o.get("force") {
        None => false,
        Some(f) => bool_value(f).ok_or_else(|| invalid("os-migrateLive/force"))?,
    };
    check_state(ctx, inst, "os-migrateLive", &[vm::ACTIVE, vm::PAUSED])?;
    if let Some(h) = &host {
        let same = format!("Unable to migrate instance ({}) to current host ({h}).", inst.uuid);
        check_host(c, inst, h, same).await?;
    }
    // forcing skips the scheduler's filters, not the room check
    check_room(c, inst, host.clone(), force && host.is_some(), "No valid host found for live migration").await?;
    begin(
        c,
        ctx,
        &inst.uuid,
        rid,
        "live-migration",
        &[vm::ACTIVE, vm::PAUSED],
        &[],
        Some(task::MIGRATING),
        Op::LiveMigrate { host, block_migration },
        |_| {},
    )
    .await?;
    Ok(accepted())
}

// ---- servers/{id}/migrations ----

/// Live migrations still under way (the only ones this API shows).
fn in_progress_live(m: &Migration) -> bool {
    m.migration_type == kind::LIVE && ["queued", "preparing", "running"].contains(&m.status.as_str())
}

fn view(m: &Migration, v: Version) -> Value {
    let mut o = json!({
        "id": m.id, "server_uuid": m.instance_uuid, "status": m.status,
        "source_compute": m.source_compute, "source_node": m.source_compute,
        "dest_compute": m.dest_compute, "dest_node": m.dest_compute, "dest_host": m.dest_compute,
        "created_at": iso_naive(&m.created_at), "updated_at": iso_naive(&m.updated_at),
        "memory_total_bytes": null, "memory_processed_bytes": null, "memory_remaining_bytes": null,
        "disk_total_bytes": null, "disk_processed_bytes": null, "disk_remaining_bytes": null,
    });
    if v.at_least(2, 59) {
        o["uuid"] = json!(m.uuid);
    }
    if v.at_least(2, 80) {
        o["user_id"] = json!(m.user_id);
        o["project_id"] = json!(m.project_id);
    }
    o
}

fn not_found() -> Error {
    Error::not_found("The resource could not be found.")
}

/// The server (404 when there is none) and its migrations.
async fn server_migrations(c: &Compute, id: &str) -> Result<(Instance, Vec<Migration>), Error> {
    let inst = c
        .store()
        .instance_get(id)
        .await?
        .ok_or_else(|| Error::not_found(format!("Instance {id} could not be found.")))?;
    let list = c.store().migrations_of(id).await?;
    Ok((inst, list))
}

async fn index(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    if !v.at_least(2, 23) {
        return Err(not_found().into());
    }
    require_admin(&ctx, "os_compute_api:servers:migrations:index")?;
    let (_, list) = server_migrations(&c, &id).await?;
    let out: Vec<Value> = list.iter().filter(|m| in_progress_live(m)).map(|m| view(m, v)).collect();
    Ok(ok(json!({ "migrations": out })))
}

fn live_not_found(mid: &str, id: &str) -> Error {
    Error::not_found(format!("In-progress live migration {mid} is not found for server {id}."))
}

async fn show(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    Path((id, mid)): Path<(String, String)>,
) -> ApiResult<Response> {
    if !v.at_least(2, 23) {
        return Err(not_found().into());
    }
    require_admin(&ctx, "os_compute_api:servers:migrations:show")?;
    let (_, list) = server_migrations(&c, &id).await?;
    let m = list
        .iter()
        .find(|m| m.id.to_string() == mid && in_progress_live(m))
        .ok_or_else(|| live_not_found(&mid, &id))?;
    Ok(ok(json!({ "migration": view(m, v) })))
}

/// force_complete (2.22+): only a live migration under way can be hurried;
/// the instance must be MIGRATING (409), the migration running (400).
async fn force_complete(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    Path((id, mid)): Path<(String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Response> {
    if !v.at_least(2, 22) {
        return Err(not_found().into());
    }
    require_admin(&ctx, "os_compute_api:servers:migrations:force_complete")?;
    if body.as_object().is_none_or(|o| o.len() != 1 || !o.contains_key("force_complete")) {
        return Err(invalid("force_complete").into());
    }
    let (inst, list) = server_migrations(&c, &id).await?;
    if inst.task_state.as_deref() != Some(task::MIGRATING) {
        let t = inst.task_state.clone().unwrap_or_else(|| "None".into());
        return Err(conflict_state("force_complete", &id, "task_state", &t).into());
    }
    let m = list.iter().find(|m| m.id.to_string() == mid).ok_or_else(|| {
        Error::bad_request(format!("Migration {mid} with status running not found for instance {id}."))
    })?;
    if m.status != "running" {
        return Err(Error::bad_request(format!(
            "Migration {mid} state of instance {id} is {}. Cannot force_complete while the migration is in this state.",
            m.status
        ))
        .into());
    }
    // nothing to hurry: the guest's state is copied in one step here (no
    // memory pre-copy rounds to cut short); the migration ends on its own
    Ok(accepted())
}

/// Abort (DELETE, 2.24+): a live migration under way is cancelled (the
/// conductor then puts the guest back on its source); a finished one is
/// 400, the instance not MIGRATING 409.
async fn abort(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    Path((id, mid)): Path<(String, String)>,
) -> ApiResult<Response> {
    if !v.at_least(2, 24) {
        return Err(not_found().into());
    }
    require_admin(&ctx, "os_compute_api:servers:migrations:delete")?;
    let (inst, list) = server_migrations(&c, &id).await?;
    if inst.task_state.as_deref() != Some(task::MIGRATING) {
        let t = inst.task_state.clone().unwrap_or_else(|| "None".into());
        return Err(conflict_state("abort live migration", &id, "task_state", &t).into());
    }
    let m = list
        .iter()
        .find(|m| m.id.to_string() == mid)
        .ok_or_else(|| Error::not_found(format!("Migration {mid} for instance {id} could not be found.")))?;
    let abortable = if v.at_least(2, 65) { &["queued", "preparing", "running"][..] } else { &["running"][..] };
    let refused = || {
        Error::bad_request(format!(
            "Migration {mid} state of instance {id} is {}. Cannot abort live migration while the migration is in this state.",
            m.status
        ))
    };
    if m.migration_type != kind::LIVE || !abortable.contains(&m.status.as_str()) {
        return Err(refused().into());
    }
    // the conductor sees it before it finishes and puts the guest back
    if !c.store().migration_set_status_if(&m.uuid, abortable, "cancelled").await? {
        return Err(refused().into());
    }
    Ok(accepted())
}
