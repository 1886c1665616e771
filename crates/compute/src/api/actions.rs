//! `POST /servers/{id}/action`: each action checks the vm_state and
//! task_state it may start from (409 otherwise, Nova's message), sets its
//! task_state, records an instance action and casts the work to the
//! conductor. Lock, unlock and the console calls finish here.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::header::LOCATION;
use axum::response::Response;
use axum::routing::post;
use axum::{Extension, Router};
use rustack_common::Error;
use rustack_http::microversion::Version;
use rustack_http::request_log::RequestId;
use rustack_http::token_layer::Authenticated;
use rustack_http::{ApiResult, JsonBody, RequestContext};
use serde_json::{json, Value};

use super::servers::load;
use super::{accepted, is_admin, no_content, ok, require_admin, status, view};
use crate::bus::{BackupRotation, Op, Task};
use crate::model::{task, vm, FlavorSnap, Instance, InstanceAction};
use crate::Compute;

pub(super) fn routes() -> Router<Compute> {
    Router::new()
        .route("/servers/{id}/action", post(action))
        .route("/servers/{id}/remote-consoles", post(remote_console))
}

pub(super) fn conflict_state(action: &str, id: &str, attr: &str, state: &str) -> Error {
    Error::conflict(format!("Cannot '{action}' instance {id} while it is in {attr} {state}"))
}

pub(super) fn locked(id: &str) -> Error {
    Error::conflict(format!("Instance {id} is locked"))
}

/// Checks and moves an instance into `new_task`, records the action, casts
/// `op`. `vm_ok` empty means any vm_state; `task_ok` lists the task states
/// allowed besides none.
#[allow(clippy::too_many_arguments)]
pub(super) async fn begin(
    c: &Compute,
    ctx: &Arc<RequestContext>,
    id: &str,
    rid: &str,
    name: &str,
    vm_ok: &'static [&'static str],
    task_ok: &'static [&'static str],
    new_task: Option<&'static str>,
    op: Op,
    prep: impl FnOnce(&mut Instance) + Send,
) -> Result<Instance, Error> {
    let admin = is_admin(ctx);
    let nm = name.to_string();
    let (i, ()) = c
        .store()
        .instance_modify(id, move |i| {
            if i.locked && !admin {
                return Err(locked(&i.uuid));
            }
            if !vm_ok.is_empty() && !vm_ok.contains(&i.vm_state.as_str()) {
                return Err(conflict_state(&nm, &i.uuid, "vm_state", &i.vm_state));
            }
            if let Some(t) = &i.task_state {
                if !task_ok.contains(&t.as_str()) {
                    return Err(conflict_state(&nm, &i.uuid, "task_state", t));
                }
            }
            prep(i);
            if let Some(t) = new_task {
                i.task_state = Some(t.to_string());
            }
            Ok(())
        })
        .await?;
    let action_id = record(c, ctx, &i, rid, name).await?;
    c.cast(Task { uuid: i.uuid.clone(), ctx: Some(ctx.clone()), action_id: Some(action_id), op })?;
    Ok(i)
}

/// A snapshot or shelve refused after its image record was made (the state
/// changed in between): the empty image goes too, so nothing is left half-made.
async fn forget_image(c: &Compute, ctx: &RequestContext, image: Option<String>, e: Error) -> Error {
    if let Some(id) = image {
        c.delete_image(ctx, &id).await;
    }
    e
}

async fn record(c: &Compute, ctx: &RequestContext, i: &Instance, rid: &str, name: &str) -> Result<String, Error> {
    let now = crate::model::now();
    let a = InstanceAction {
        id: uuid::Uuid::new_v4().to_string(),
        instance_uuid: i.uuid.clone(),
        request_id: rid.to_string(),
        action: name.to_string(),
        project_id: ctx.project_id().unwrap_or(&i.project_id).to_string(),
        user_id: ctx.user_id.clone(),
        start_time: now.clone(),
        updated_at: now,
        message: None,
        events: vec![],
    };
    c.store().action_create(&a).await?;
    Ok(a.id)
}

/// Starts a delete (also `forceDelete`): any state, unless locked.
pub(crate) async fn start_delete(
    c: &Compute,
    ctx: &RequestContext,
    i: &Instance,
    rid: Option<String>,
) -> Result<(), Error> {
    let admin = is_admin(ctx);
    c.store()
        .instance_modify(&i.uuid, move |i| {
            if i.locked && !admin {
                return Err(locked(&i.uuid));
            }
            i.task_state = Some(task::DELETING.into());
            Ok(())
        })
        .await?;
    let rid = rid.unwrap_or_else(|| format!("req-{}", uuid::Uuid::new_v4()));
    let aid = record(c, ctx, i, &rid, "delete").await?;
    c.cast(Task { uuid: i.uuid.clone(), ctx: Some(Arc::new(ctx.clone())), action_id: Some(aid), op: Op::Delete })
}

const RUNNING_TASKS: &[&str] = &[];

async fn action(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    rid: Option<Extension<RequestId>>,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Response> {
    let o = body.as_object().ok_or_else(|| Error::bad_request("Malformed request body"))?;
    let Some((name, arg)) = o.iter().next() else {
        return Err(Error::bad_request("Malformed request body").into());
    };
    let rid = rid.map(|r| r.0 .0).unwrap_or_else(|| format!("req-{}", uuid::Uuid::new_v4()));
    let inst = load(&c, &ctx, &id).await?;
    let ctx = Arc::new((*ctx).clone());
    let c = &c;
    use vm::*;
    match name.as_str() {
        "reboot" => {
            let kind = arg.get("type").and_then(Value::as_str).map(str::to_ascii_uppercase);
            let hard = match kind.as_deref() {
                Some("HARD") => true,
                Some("SOFT") => false,
                _ => return Err(Error::bad_request("Invalid input for field/attribute type. Value must be one of ['HARD', 'Hard', 'hard', 'SOFT', 'Soft', 'soft']").into()),
            };
            if hard {
                begin(
                    c,
                    &ctx,
                    &id,
                    &rid,
                    "reboot",
                    &[ACTIVE, STOPPED, PAUSED, SUSPENDED, ERROR],
                    &[task::REBOOTING, task::REBOOTING_HARD],
                    Some(task::REBOOTING_HARD),
                    Op::Reboot { hard },
                    |_| {},
                )
                .await?;
            } else {
                begin(
                    c,
                    &ctx,
                    &id,
                    &rid,
                    "reboot",
                    &[ACTIVE],
                    RUNNING_TASKS,
                    Some(task::REBOOTING),
                    Op::Reboot { hard },
                    |_| {},
                )
                .await?;
            }
            Ok(accepted())
        }
        "os-stop" => {
            begin(
                c,
                &ctx,
                &id,
                &rid,
                "stop",
                &[ACTIVE, ERROR],
                RUNNING_TASKS,
                Some(task::POWERING_OFF),
                Op::Stop,
                |_| {},
            )
            .await?;
            Ok(accepted())
        }
        "os-start" => {
            begin(c, &ctx, &id, &rid, "start", &[STOPPED], RUNNING_TASKS, Some(task::POWERING_ON), Op::Start, |_| {})
                .await?;
            Ok(accepted())
        }
        "pause" => {
            begin(c, &ctx, &id, &rid, "pause", &[ACTIVE], RUNNING_TASKS, Some(task::PAUSING), Op::Pause, |_| {})
                .await?;
            Ok(accepted())
        }
        "unpause" => {
            begin(c, &ctx, &id, &rid, "unpause", &[PAUSED], RUNNING_TASKS, Some(task::UNPAUSING), Op::Unpause, |_| {})
                .await?;
            Ok(accepted())
        }
        "suspend" => {
            begin(c, &ctx, &id, &rid, "suspend", &[ACTIVE], RUNNING_TASKS, Some(task::SUSPENDING), Op::Suspend, |_| {})
                .await?;
            Ok(accepted())
        }
        "resume" => {
            begin(c, &ctx, &id, &rid, "resume", &[SUSPENDED], RUNNING_TASKS, Some(task::RESUMING), Op::Resume, |_| {})
                .await?;
            Ok(accepted())
        }
        "rescue" => {
            let pass = arg
                .get("adminPass")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| "rescue-pass".into());
            if let Some(img) = arg.get("rescue_image_ref").and_then(Value::as_str) {
                if c.inner.set.images.get(&ctx, img).await?.is_none() {
                    return Err(Error::bad_request(format!("Image {img} could not be found.")).into());
                }
            }
            begin(
                c,
                &ctx,
                &id,
                &rid,
                "rescue",
                &[ACTIVE, STOPPED, ERROR],
                RUNNING_TASKS,
                Some(task::RESCUING),
                Op::Rescue,
                |_| {},
            )
            .await?;
            Ok(ok(json!({"adminPass": pass})))
        }
        "unrescue" => {
            begin(
                c,
                &ctx,
                &id,
                &rid,
                "unrescue",
                &[RESCUED],
                RUNNING_TASKS,
                Some(task::UNRESCUING),
                Op::Unrescue,
                |_| {},
            )
            .await?;
            Ok(accepted())
        }
        "lock" => {
            let reason = if v.at_least(2, 73) {
                match arg.get("locked_reason") {
                    Some(Value::String(s)) if s.len() <= 255 => Some(s.clone()),
                    None | Some(Value::Null) => None,
                    Some(_) => {
                        return Err(Error::bad_request("Invalid input for field/attribute locked_reason.").into())
                    }
                }
            } else {
                None
            };
            let by = if ctx.project_id() == Some(inst.project_id.as_str()) { "owner" } else { "admin" };
            c.store()
                .instance_modify(&id, move |i| {
                    i.locked = true;
                    i.locked_reason = reason;
                    i.locked_by = Some(by.into());
                    Ok(())
                })
                .await?;
            record(c, &ctx, &inst, &rid, "lock").await?;
            Ok(accepted())
        }
        "unlock" => {
            let admin = is_admin(&ctx);
            c.store()
                .instance_modify(&id, move |i| {
                    if i.locked && i.locked_by.as_deref() == Some("admin") && !admin {
                        return Err(Error::forbidden("Policy doesn't allow os_compute_api:os-lock-server:unlock:unlock_override to be performed."));
                    }
                    i.locked = false;
                    i.locked_reason = None;
                    i.locked_by = None;
                    Ok(())
                })
                .await?;
            record(c, &ctx, &inst, &rid, "unlock").await?;
            Ok(accepted())
        }
        "resize" => {
            let fref = match arg.get("flavorRef") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => {
                    return Err(Error::bad_request(
                        "Invalid input for field/attribute resize. 'flavorRef' is a required property",
                    )
                    .into())
                }
            };
            let f = super::flavors::usable(c, &ctx, &fref)
                .await?
                .ok_or_else(|| Error::bad_request(format!("Flavor {fref} could not be found.")))?;
            let cur = inst.flavor.clone();
            if cur.as_ref().is_some_and(|x| x.id == f.id) {
                return Err(Error::bad_request("When resizing, instances must change flavor!").into());
            }
            if cur.as_ref().is_some_and(|x| f.disk < x.disk) && f.disk > 0 {
                return Err(Error::bad_request("Resize error: Unable to resize disk down.").into());
            }
            // quota on the growth
            let limits = super::servers::limits_of(c, &inst.project_id).await?;
            let used = c.store().usage(&inst.project_id).await?;
            let cores_delta = f.vcpus - cur.as_ref().map(|x| x.vcpus).unwrap_or(0);
            let ram_delta = f.ram - cur.as_ref().map(|x| x.ram).unwrap_or(0);
            for (k, u, d) in [("cores", used.cores, cores_delta), ("ram", used.ram, ram_delta)] {
                let l = limits.get(k).copied().unwrap_or(-1);
                if l >= 0 && d > 0 && u + d > l {
                    return Err(Error::forbidden(format!(
                        "Quota exceeded for {k}: Requested {d}, but already used {u} of {l} {k}"
                    ))
                    .into());
                }
            }
            // the disk config asked for takes effect with the resize (Nova's
            // auto_disk_config instance update)
            let dc = disk_config(arg)?;
            let snap = FlavorSnap::from(&f);
            begin(
                c,
                &ctx,
                &id,
                &rid,
                "resize",
                &[ACTIVE, STOPPED],
                RUNNING_TASKS,
                Some(task::RESIZE_PREP),
                Op::Resize,
                move |i| {
                    i.old_flavor = i.flavor.take();
                    i.flavor = Some(snap);
                    i.previous_vm_state = Some(i.vm_state.clone());
                    if let Some(d) = dc {
                        i.disk_config = d;
                    }
                },
            )
            .await?;
            Ok(accepted())
        }
        "confirmResize" => {
            begin(
                c,
                &ctx,
                &id,
                &rid,
                "confirmResize",
                &[RESIZED],
                RUNNING_TASKS,
                Some(task::RESIZE_CONFIRMING),
                Op::ConfirmResize,
                |_| {},
            )
            .await?;
            Ok(no_content())
        }
        "revertResize" => {
            begin(
                c,
                &ctx,
                &id,
                &rid,
                "revertResize",
                &[RESIZED],
                RUNNING_TASKS,
                Some(task::RESIZE_REVERTING),
                Op::RevertResize,
                |_| {},
            )
            .await?;
            Ok(accepted())
        }
        "rebuild" => {
            let img = arg.get("imageRef").and_then(Value::as_str).ok_or_else(|| {
                Error::bad_request("Invalid input for field/attribute rebuild. 'imageRef' is a required property")
            })?;
            let img = img.rsplit('/').next().unwrap_or_default().to_string();
            if uuid::Uuid::parse_str(&img).is_err() {
                return Err(Error::bad_request("Invalid imageRef provided.").into());
            }
            let image = c
                .inner
                .set
                .images
                .get(&ctx, &img)
                .await?
                .ok_or_else(|| Error::bad_request("Can not find requested image"))?;
            if let Some(f) = &inst.flavor {
                if image.min_ram > f.ram {
                    return Err(Error::bad_request("Flavor's memory is too small for requested image.").into());
                }
                if f.disk > 0 && image.min_disk > f.disk {
                    return Err(Error::bad_request(
                        "Flavor's disk is smaller than the minimum size specified in image metadata.",
                    )
                    .into());
                }
            }
            let name = arg.get("name").and_then(Value::as_str).map(str::to_string);
            if name.as_deref().is_some_and(|n| n.trim().is_empty() || n.len() > 255) {
                return Err(Error::bad_request("Invalid input for field/attribute name.").into());
            }
            let metadata = match arg.get("metadata") {
                Some(m) => Some(super::servers::parse_metadata(m, c.cfg().quota_metadata_items)?),
                None => None,
            };
            let a4 = arg.get("accessIPv4").and_then(Value::as_str).map(str::to_string);
            let a6 = arg.get("accessIPv6").and_then(Value::as_str).map(str::to_string);
            let desc = if v.at_least(2, 19) { arg.get("description").cloned() } else { None };
            let dc = disk_config(arg)?;
            let new_user_data = if v.at_least(2, 57) { arg.get("user_data").cloned() } else { None };
            let pass = arg
                .get("adminPass")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| "rebuild-pass".into());
            let i = begin(
                c,
                &ctx,
                &id,
                &rid,
                "rebuild",
                &[ACTIVE, STOPPED, ERROR],
                RUNNING_TASKS,
                Some(task::REBUILDING),
                Op::Rebuild,
                move |i| {
                    i.previous_vm_state = Some(i.vm_state.clone());
                    i.image_ref = img;
                    if let Some(n) = name {
                        i.name = n;
                    }
                    if let Some(m) = metadata {
                        i.metadata = m;
                    }
                    if let Some(a) = a4 {
                        i.access_ipv4 = a;
                    }
                    if let Some(a) = a6 {
                        i.access_ipv6 = a;
                    }
                    match desc {
                        Some(Value::String(s)) => i.description = Some(s),
                        Some(Value::Null) => i.description = None,
                        _ => {}
                    }
                    i.fault = None;
                    if let Some(d) = dc {
                        i.disk_config = d;
                    }
                    match new_user_data {
                        Some(Value::String(u)) => i.user_data = Some(u),
                        Some(Value::Null) => i.user_data = None,
                        _ => {}
                    }
                },
            )
            .await?;
            let mut s = view::reduced(c, &ctx, v, &i);
            s["adminPass"] = json!(pass);
            if v.at_least(2, 57) {
                s["user_data"] = json!(i.user_data);
            }
            if v.at_least(2, 54) {
                s["key_name"] = json!(i.key_name);
            }
            if let Some(o) = s.as_object_mut() {
                o.remove("OS-EXT-SRV-ATTR:user_data");
            }
            Ok(status(202, json!({"server": s})))
        }
        "createImage" | "createBackup" => {
            let backup = if name == "createBackup" {
                let bt = arg.get("backup_type").and_then(Value::as_str);
                let rot =
                    arg.get("rotation").and_then(|r| r.as_i64().or_else(|| r.as_str().and_then(|s| s.parse().ok())));
                match (bt, rot.and_then(|r| u32::try_from(r).ok())) {
                    (Some(bt), Some(rotation)) => Some(BackupRotation { backup_type: bt.to_string(), rotation }),
                    _ => {
                        return Err(Error::bad_request(
                            "Invalid input for field/attribute createBackup: 'backup_type' and a non-negative 'rotation' are required",
                        )
                        .into())
                    }
                }
            } else {
                None
            };
            let iname =
                arg.get("name").and_then(Value::as_str).filter(|n| !n.trim().is_empty() && n.len() <= 255).ok_or_else(
                    || Error::bad_request("Invalid input for field/attribute name. 'name' is a required property"),
                )?;
            let mut props: BTreeMap<String, String> = match arg.get("metadata") {
                Some(m) => super::servers::parse_metadata(m, c.cfg().quota_metadata_items)?,
                None => BTreeMap::new(),
            };
            // check the state first so a refused snapshot leaves no image behind
            {
                let vm_ok = [ACTIVE, STOPPED, PAUSED, SUSPENDED];
                if inst.locked && !is_admin(&ctx) {
                    return Err(locked(&id).into());
                }
                if !vm_ok.contains(&inst.vm_state.as_str()) {
                    return Err(conflict_state("createImage", &id, "vm_state", &inst.vm_state).into());
                }
                if let Some(t) = &inst.task_state {
                    return Err(conflict_state("createImage", &id, "task_state", t).into());
                }
            }
            props.insert("instance_uuid".into(), id.clone());
            let kind = if backup.is_some() { "backup" } else { "snapshot" };
            if !props.contains_key("image_type") {
                props.insert("image_type".into(), kind.into());
            }
            if let Some(b) = &backup {
                props.insert("backup_type".into(), b.backup_type.clone());
            }
            props.insert("base_image_ref".into(), inst.image_ref.clone());
            let image_id = c.inner.set.images.create_snapshot(&ctx, iname, props).await?;
            let begun = begin(
                c,
                &ctx,
                &id,
                &rid,
                if backup.is_some() { "createBackup" } else { "createImage" },
                &[ACTIVE, STOPPED, PAUSED, SUSPENDED],
                RUNNING_TASKS,
                Some(if backup.is_some() { "image_backup" } else { task::IMAGE_SNAPSHOT }),
                Op::Snapshot { image_id: image_id.clone(), backup },
                |_| {},
            )
            .await;
            if let Err(e) = begun {
                return Err(forget_image(c, &ctx, Some(image_id), e).await.into());
            }
            let mut r = if v.at_least(2, 45) { status(202, json!({"image_id": image_id})) } else { accepted() };
            let loc = format!("{}/images/{image_id}", c.options().public_url);
            if let Ok(h) = loc.parse() {
                r.headers_mut().insert(LOCATION, h);
            }
            Ok(r)
        }
        "shelve" => {
            // checked first so a refused shelve leaves no image behind
            let vm_ok = [ACTIVE, STOPPED, PAUSED, SUSPENDED];
            if inst.locked && !is_admin(&ctx) {
                return Err(locked(&id).into());
            }
            if !vm_ok.contains(&inst.vm_state.as_str()) {
                return Err(conflict_state("shelve", &id, "vm_state", &inst.vm_state).into());
            }
            if let Some(t) = &inst.task_state {
                return Err(conflict_state("shelve", &id, "task_state", t).into());
            }
            // Nova snapshots an image-backed server as `<name>-shelved`;
            // unshelve boots from it and deletes it
            let image_id = if inst.image_ref.is_empty() {
                None
            } else {
                let props = BTreeMap::from([
                    ("instance_uuid".to_string(), id.clone()),
                    ("image_type".to_string(), "snapshot".to_string()),
                    ("base_image_ref".to_string(), inst.image_ref.clone()),
                ]);
                match c.inner.set.images.create_snapshot(&ctx, &format!("{}-shelved", inst.name), props).await {
                    Ok(image) => Some(image),
                    // compute alone (no image service): shelved without a snapshot
                    Err(e) if e.kind == rustack_common::ErrorKind::ServiceUnavailable => None,
                    Err(e) => return Err(e.into()),
                }
            };
            let begun = begin(
                c,
                &ctx,
                &id,
                &rid,
                "shelve",
                &[ACTIVE, STOPPED, PAUSED, SUSPENDED],
                RUNNING_TASKS,
                Some(task::SHELVING),
                Op::Shelve { image_id: image_id.clone() },
                |_| {},
            )
            .await;
            if let Err(e) = begun {
                return Err(forget_image(c, &ctx, image_id, e).await.into());
            }
            Ok(accepted())
        }
        "shelveOffload" => {
            require_admin(&ctx, "os_compute_api:os-shelve:shelve_offload")?;
            // instances are offloaded when shelved already
            if inst.vm_state != SHELVED && inst.vm_state != SHELVED_OFFLOADED {
                return Err(conflict_state("shelveOffload", &id, "vm_state", &inst.vm_state).into());
            }
            Ok(accepted())
        }
        "unshelve" => {
            if let Some(z) = arg.get("availability_zone").and_then(Value::as_str) {
                let zones = super::hosts::zones(c).await?;
                if !zones.contains_key(z) {
                    return Err(Error::bad_request("The requested availability zone is not available").into());
                }
            }
            let az = arg.get("availability_zone").and_then(Value::as_str).map(str::to_string);
            begin(
                c,
                &ctx,
                &id,
                &rid,
                "unshelve",
                &[SHELVED, SHELVED_OFFLOADED],
                RUNNING_TASKS,
                Some(task::UNSHELVING),
                Op::Unshelve,
                move |i| {
                    if az.is_some() {
                        i.requested_az = az;
                    }
                },
            )
            .await?;
            Ok(accepted())
        }
        "forceDelete" => {
            start_delete(c, &ctx, &inst, Some(rid)).await?;
            Ok(accepted())
        }
        "restore" => Err(conflict_state("restore", &id, "vm_state", &inst.vm_state).into()),
        "os-getConsoleOutput" => {
            let length = match arg.get("length") {
                None | Some(Value::Null) => None,
                Some(Value::Number(n)) => Some(
                    n.as_i64()
                        .filter(|n| *n >= -1)
                        .ok_or_else(|| Error::bad_request("Invalid input for field/attribute length."))?,
                ),
                Some(Value::String(s)) => Some(
                    s.parse::<i64>()
                        .ok()
                        .filter(|n| *n >= -1)
                        .ok_or_else(|| Error::bad_request("Invalid input for field/attribute length."))?,
                ),
                Some(_) => return Err(Error::bad_request("Invalid input for field/attribute length.").into()),
            };
            let agent = inst.host.as_deref().and_then(|h| c.agent(h));
            let out = agent
                .and_then(|a| a.driver.console_output(&id))
                .ok_or_else(|| Error::conflict(format!("Instance {id} is not ready")))?;
            let out = match length {
                Some(n) if n >= 0 => {
                    let lines: Vec<&str> = out.lines().collect();
                    let start = lines.len().saturating_sub(n as usize);
                    lines[start..].join("\n")
                }
                _ => out,
            };
            Ok(ok(json!({"output": out})))
        }
        "os-getVNCConsole" | "os-getSPICEConsole" | "os-getSerialConsole" | "os-getRDPConsole" => {
            let kind = arg.get("type").and_then(Value::as_str).unwrap_or_default().to_string();
            let ok_kind = match name.as_str() {
                "os-getVNCConsole" => ["novnc", "xvpvnc"].contains(&kind.as_str()),
                "os-getSPICEConsole" => kind == "spice-html5",
                "os-getSerialConsole" => kind == "serial",
                _ => kind == "rdp-html5",
            };
            if !ok_kind {
                return Err(
                    Error::bad_request(format!("Invalid input for field/attribute type. Value: {kind}.")).into()
                );
            }
            let url = console_url(c, &inst, &kind).await?;
            Ok(ok(json!({"console": {"type": kind, "url": url}})))
        }
        "changePassword" => {
            if arg.get("adminPass").and_then(Value::as_str).is_none() {
                return Err(Error::bad_request(
                    "Invalid input for field/attribute changePassword. 'adminPass' is a required property",
                )
                .into());
            }
            if inst.vm_state != ACTIVE {
                return Err(conflict_state("changePassword", &id, "vm_state", &inst.vm_state).into());
            }
            Ok(accepted())
        }
        "trigger_crash_dump" if v.at_least(2, 17) => {
            if inst.vm_state != ACTIVE {
                return Err(conflict_state("trigger_crash_dump", &id, "vm_state", &inst.vm_state).into());
            }
            Ok(accepted())
        }
        "addSecurityGroup" | "removeSecurityGroup" => {
            let g = arg
                .get("name")
                .and_then(Value::as_str)
                .filter(|g| !g.trim().is_empty())
                .ok_or_else(|| Error::bad_request("Security group name cannot be empty"))?
                .to_string();
            let add = name == "addSecurityGroup";
            if !inst.port_ids.is_empty() && c.inner.peers.network.is_some() {
                let tok = headers.get("x-auth-token").and_then(|v| v.to_str().ok()).unwrap_or_default();
                super::secgroups::change_server_group(c, &ctx, tok, &inst, &g, add).await?;
            }
            c.store()
                .instance_modify(&id, move |i| {
                    if add {
                        if i.security_groups.contains(&g) {
                            return Err(Error::bad_request(format!(
                                "Security group {g} is already associated with the instance {}",
                                i.uuid
                            )));
                        }
                        i.security_groups.push(g);
                    } else {
                        if !i.security_groups.contains(&g) {
                            return Err(Error::bad_request(format!(
                                "Security group {g} not associated with the instance {}",
                                i.uuid
                            )));
                        }
                        i.security_groups.retain(|x| *x != g);
                    }
                    Ok(())
                })
                .await?;
            Ok(accepted())
        }
        "os-resetState" => {
            require_admin(&ctx, "os_compute_api:os-admin-actions:reset_state")?;
            let st = match arg.get("state").and_then(Value::as_str) {
                Some("active") => ACTIVE,
                Some("error") => ERROR,
                _ => return Err(Error::bad_request("Invalid input for field/attribute state.").into()),
            };
            c.store()
                .instance_modify(&id, move |i| {
                    i.vm_state = st.into();
                    i.task_state = None;
                    Ok(())
                })
                .await?;
            Ok(accepted())
        }
        "injectNetworkInfo" | "resetNetwork" => {
            require_admin(&ctx, "os_compute_api:os-admin-actions")?;
            Ok(accepted())
        }
        "migrate" | "os-migrateLive" => super::migrate::action(c, &ctx, &rid, &inst, name, arg, &v).await,
        "addFloatingIp" | "removeFloatingIp" => {
            let tok = headers.get("x-auth-token").and_then(|v| v.to_str().ok()).unwrap_or_default();
            Ok(super::server_floating_ips::action(c, tok, v, &inst, name, arg).await?)
        }
        "addFixedIp" | "removeFixedIp" => Ok(super::fixed_ips::action(c, &ctx, v, &inst, name, arg).await?),
        "evacuate" => super::evacuate::action(c, &ctx, &rid, &inst, arg, &v).await,
        other => Err(Error::bad_request(format!("There is no such action: {other}")).into()),
    }
}

/// `OS-DCF:diskConfig` of a rebuild or resize: AUTO or MANUAL (400
/// otherwise, Nova's schema enum).
fn disk_config(arg: &Value) -> Result<Option<String>, Error> {
    match arg.get("OS-DCF:diskConfig") {
        None => Ok(None),
        Some(Value::String(d)) if d == "AUTO" || d == "MANUAL" => Ok(Some(d.clone())),
        Some(d) => Err(Error::bad_request(format!(
            "Invalid input for field/attribute OS-DCF:diskConfig. Value: {d}. {d} is not one of ['AUTO', 'MANUAL']"
        ))),
    }
}

/// A console URL of `kind` for a running instance (409 otherwise, Nova's
/// InstanceNotReady): noVNC is served (a single-use token for the proxy on
/// `[vnc] port`); xvpvnc is gone from Nova (400, invalid type); the others
/// have no proxy here (400, as Nova answers when one is disabled).
async fn console_url(c: &Compute, inst: &Instance, kind: &str) -> Result<String, Error> {
    use crate::console::tokens;
    tokens::ready_host(inst)?;
    match kind {
        "novnc" => tokens::issue_novnc(c, inst).await,
        "xvpvnc" => Err(tokens::invalid(kind)),
        _ => Err(tokens::unavailable(kind)),
    }
}

async fn remote_console(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Response> {
    if !v.at_least(2, 6) {
        return Err(Error::not_found("The resource could not be found.").into());
    }
    let inst = load(&c, &ctx, &id).await?;
    let rc = body.get("remote_console").ok_or_else(|| {
        Error::bad_request("Invalid input for field/attribute remote_console. 'remote_console' is a required property")
    })?;
    let protocol = rc.get("protocol").and_then(Value::as_str).unwrap_or_default();
    let kind = rc.get("type").and_then(Value::as_str).unwrap_or_default();
    let valid = matches!(
        (protocol, kind),
        ("vnc", "novnc") | ("vnc", "xvpvnc") | ("spice", "spice-html5") | ("serial", "serial") | ("rdp", "rdp-html5")
    ) || (protocol == "mks" && kind == "webmks" && v.at_least(2, 8));
    if !valid {
        return Err(
            Error::bad_request(format!("Invalid input for field/attribute remote_console. Value: {rc}.")).into()
        );
    }
    let url = console_url(&c, &inst, kind).await?;
    Ok(ok(json!({"remote_console": {"protocol": protocol, "type": kind, "url": url}})))
}
