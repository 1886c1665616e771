//! Adapters from compute's peer traits to the peer crates' Rust APIs: the
//! image service (`get_for`, `create_for`, `upload_data`), the network
//! service (`create_port_for`, `bind_port`, `delete_port`, …) and placement
//! (`ensure_provider`, `set_inventory`, `allocation_candidates`, `claim`,
//! `release`). `[compute] placement = local` keeps claims in this process
//! instead (the in-memory tracker).

use std::collections::BTreeMap;
use std::sync::Arc;

use md5::{Digest, Md5};
use rustack_common::Error;
use rustack_http::token_layer::BoxFuture;
use rustack_http::RequestContext;
use serde_json::{Map, Value};

use crate::config::ComputeConfig;
use crate::driver::HostResources;
use crate::local_placement::{LocalPlacement, Ratios};
use crate::model::Resources;
use crate::peers::{
    Candidate, Claim, ImageDownload, ImageInfo, Images, NetRequest, NoPorts, PeerSet, PlacementClient, PortInfo, Ports,
};
use crate::Peers;

pub fn peer_set(peers: &Peers, cfg: &ComputeConfig) -> PeerSet {
    let placement: Arc<dyn PlacementClient> = if cfg.local_placement {
        Arc::new(LocalPlacement::new(cfg.ratios))
    } else {
        Arc::new(PlacementAdapter { p: peers.placement.clone(), ratios: cfg.ratios })
    };
    let ports: Arc<dyn Ports> = match &peers.network {
        Some(n) => Arc::new(PortsAdapter { n: n.clone() }),
        None => Arc::new(NoPorts),
    };
    // a QEMU snapshot is a standalone qcow2 file; the fake one is bytes
    let snapshot_format = if cfg.driver == crate::config::DriverKind::Qemu { "qcow2" } else { "raw" };
    PeerSet { images: Arc::new(ImagesAdapter { i: peers.image.clone(), snapshot_format }), ports, placement }
}

struct ImagesAdapter {
    i: rustack_image::Image,
    snapshot_format: &'static str,
}

/// A file as a stream of 1 MiB chunks (snapshots go to the image service
/// without being held in memory).
fn file_stream(file: tokio::fs::File) -> rustack_image::ByteStream {
    use tokio::io::AsyncReadExt;
    Box::pin(futures_util::stream::unfold(Some(file), |state| async move {
        let mut f = state?;
        let mut buf = vec![0u8; 1 << 20];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(bytes::Bytes::from(buf)), Some(f)))
            }
            Err(e) => Some((Err(e), None)),
        }
    }))
}

impl Images for ImagesAdapter {
    fn get<'a>(&'a self, ctx: &'a RequestContext, id: &'a str) -> BoxFuture<'a, Result<Option<ImageInfo>, Error>> {
        Box::pin(async move {
            match self.i.get_for(ctx, id).await {
                Ok(r) => Ok(Some(ImageInfo {
                    id: r.id,
                    name: r.name.unwrap_or_default(),
                    status: r.status,
                    min_disk: r.min_disk,
                    min_ram: r.min_ram,
                    size: r.size.unwrap_or(0),
                    properties: r.properties.into_iter().map(|(k, v)| (k, Value::String(v))).collect(),
                    created_at: r.created_at,
                    updated_at: r.updated_at,
                })),
                Err(e) if e.status() == 404 => Ok(None),
                Err(e) => Err(e),
            }
        })
    }

    fn create_snapshot<'a>(
        &'a self,
        ctx: &'a RequestContext,
        name: &'a str,
        properties: BTreeMap<String, String>,
    ) -> BoxFuture<'a, Result<String, Error>> {
        Box::pin(async move {
            let mut fields = Map::new();
            fields.insert("disk_format".into(), Value::String(self.snapshot_format.into()));
            fields.insert("container_format".into(), Value::String("bare".into()));
            for (k, v) in properties {
                fields.insert(k, Value::String(v));
            }
            Ok(self.i.create_for(ctx, name, &fields).await?.id)
        })
    }

    fn upload<'a>(&'a self, ctx: &'a RequestContext, id: &'a str, data: Vec<u8>) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let chunk: std::io::Result<bytes::Bytes> = Ok(bytes::Bytes::from(data));
            let stream: rustack_image::ByteStream = Box::pin(futures_util::stream::once(async move { chunk }));
            self.i.upload_data(ctx, id, stream).await.map(|_| ())
        })
    }

    fn upload_file<'a>(
        &'a self,
        ctx: &'a RequestContext,
        id: &'a str,
        path: &'a std::path::Path,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let f = tokio::fs::File::open(path).await.map_err(|e| Error::internal(&e))?;
            self.i.upload_data(ctx, id, file_stream(f)).await.map(|_| ())
        })
    }

    fn download<'a>(&'a self, ctx: &'a RequestContext, id: &'a str) -> BoxFuture<'a, Result<ImageDownload, Error>> {
        Box::pin(async move {
            let d = self.i.open_data(ctx, id).await?;
            let img = d.image;
            Ok(ImageDownload {
                disk_format: img.disk_format.unwrap_or_default(),
                size: d.size,
                checksum: img.checksum,
                os_hash: img.os_hash_algo.zip(img.os_hash_value),
                properties: img.properties,
                stream: d.stream,
            })
        })
    }
}

fn port_info(rec: &rustack_network::PortRecord, network_name: String) -> PortInfo {
    PortInfo {
        id: rec.id.clone(),
        network_name,
        mac: rec.mac_address.clone(),
        ips: rec.fixed_ips.iter().map(|f| f.ip_address.clone()).collect(),
        network_id: rec.network_id.clone(),
        fixed_ips: rec.fixed_ips.iter().map(|f| (f.subnet_id.clone(), f.ip_address.clone())).collect(),
        status: rec.status.clone(),
    }
}

struct PortsAdapter {
    n: rustack_network::Network,
}

impl PortsAdapter {
    /// The one network `auto` picks: of the non-external networks the
    /// project may use (its own and shared ones, as Nova lists them: an
    /// admin sees every project's networks but uses only those), its own if
    /// it has exactly one, else the only one; none when there is none;
    /// several: Nova's 409 (`NetworkAmbiguous`). With `only_up`
    /// (auto-allocation) a network that is down does not count: an
    /// auto-allocated topology is down until it is complete.
    async fn pick(&self, ctx: &RequestContext, only_up: bool) -> Result<Option<String>, Error> {
        let nets = self.n.list_networks_for(ctx).await?;
        let admin = ctx.has_role("admin");
        let usable: Vec<&Value> = nets
            .iter()
            .filter(|n| {
                // what a non-admin is shown is its own, shared (also by RBAC) or external
                !admin
                    || n.get("project_id").and_then(Value::as_str) == ctx.project_id()
                    || n.get("shared").and_then(Value::as_bool) == Some(true)
            })
            .filter(|n| n.get("router:external").and_then(Value::as_bool) != Some(true))
            .filter(|n| n.get("status").and_then(Value::as_str).is_none_or(|s| s == "ACTIVE"))
            .filter(|n| !only_up || n.get("admin_state_up").and_then(Value::as_bool) != Some(false))
            .collect();
        let own: Vec<&&Value> =
            usable.iter().filter(|n| n.get("project_id").and_then(Value::as_str) == ctx.project_id()).collect();
        let pick: Vec<&Value> = if own.len() == 1 { vec![*own[0]] } else { usable };
        match pick.len() {
            0 => Ok(None),
            1 => Ok(pick[0].get("id").and_then(Value::as_str).map(str::to_string)),
            _ => Err(Error::conflict("Multiple possible networks found, use a Network ID to be more specific.")),
        }
    }

    /// The networks a request plugs into: explicit ones, or for `auto` the
    /// one network `pick` finds. For 2.37's `auto` with none, the project's
    /// auto-allocated topology: built when `allocate` (each instance of a
    /// multi-create asks; the network service builds it once), only checked
    /// (its dry run) when validating the request.
    async fn targets(
        &self,
        ctx: &RequestContext,
        req: &NetRequest,
        allocate: bool,
    ) -> Result<Vec<crate::peers::NetItem>, Error> {
        let item = |id: String| crate::peers::NetItem { network_id: Some(id), ..Default::default() };
        match req {
            NetRequest::None => Ok(vec![]),
            NetRequest::List(items) => Ok(items.clone()),
            NetRequest::Auto => Ok(self.pick(ctx, false).await?.map(item).into_iter().collect()),
            NetRequest::AutoAllocate => {
                if let Some(id) = self.pick(ctx, true).await? {
                    return Ok(vec![item(id)]);
                }
                // Nova's UnableToAutoAllocateNetwork for the network service's 409s
                let unable = |e: Error| {
                    if e.status() == 409 {
                        tracing::info!(error = %e.message, "compute: no auto-allocated network");
                        Error::bad_request(format!(
                            "Unable to automatically allocate a network for project {}",
                            ctx.project_id().unwrap_or_default()
                        ))
                    } else {
                        e
                    }
                };
                if allocate {
                    Ok(vec![item(self.n.auto_allocated_network_for(ctx).await.map_err(unable)?)])
                } else {
                    self.n.check_auto_allocation_for(ctx).await.map_err(unable)?;
                    Ok(vec![])
                }
            }
        }
    }
}

impl Ports for PortsAdapter {
    fn validate<'a>(&'a self, ctx: &'a RequestContext, req: &'a NetRequest) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            for it in self.targets(ctx, req, false).await? {
                if let Some(n) = &it.network_id {
                    if let Err(e) = self.n.get_network_for(ctx, n).await {
                        return Err(if e.status() == 404 {
                            Error::bad_request(format!("Network {n} could not be found."))
                        } else {
                            e
                        });
                    }
                }
            }
            Ok(())
        })
    }

    fn allocate<'a>(
        &'a self,
        ctx: &'a RequestContext,
        instance_uuid: &'a str,
        host: &'a str,
        req: &'a NetRequest,
        security_groups: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<PortInfo>, Error>> {
        Box::pin(async move {
            let mut made: Vec<String> = Vec::new();
            let mut out = Vec::new();
            let res: Result<(), Error> = async {
                for it in self.targets(ctx, req, true).await? {
                    let rec = if let Some(port) = &it.port_id {
                        // the user's port: it names the instance now, as Nova does
                        self.n.attach_port(port, host, instance_uuid, "compute:nova").await?
                    } else {
                        let net = it.network_id.clone().unwrap_or_default();
                        let fixed: Vec<Value> =
                            it.fixed_ip.iter().map(|ip| serde_json::json!({"ip_address": ip})).collect();
                        let preq: rustack_network::PortRequest = serde_json::from_value(serde_json::json!({
                            "network_id": net, "fixed_ips": fixed, "device_id": instance_uuid,
                            "device_owner": "compute:nova",
                            "security_groups": (!security_groups.is_empty()).then_some(security_groups),
                        }))
                        .map_err(|e| Error::internal(&e))?;
                        let rec = self.n.create_port_for(ctx, preq).await?;
                        made.push(rec.id.clone());
                        self.n.bind_port(&rec.id, host).await?
                    };
                    let name = self
                        .n
                        .get_network_for(ctx, &rec.network_id)
                        .await
                        .ok()
                        .and_then(|n| n.get("name").and_then(Value::as_str).map(str::to_string))
                        .unwrap_or_else(|| rec.network_id.clone());
                    out.push(port_info(&rec, name));
                }
                Ok(())
            }
            .await;
            if let Err(e) = res {
                for p in &made {
                    let _ = self.n.delete_port(p).await;
                }
                return Err(e);
            }
            Ok(out)
        })
    }

    fn ports_of<'a>(&'a self, instance_uuid: &'a str) -> BoxFuture<'a, Result<Vec<PortInfo>, Error>> {
        Box::pin(async move {
            let recs = self.n.ports_of_device(instance_uuid).await?;
            // names are for the server's addresses; here the id is enough
            Ok(recs.iter().map(|r| port_info(r, r.network_id.clone())).collect())
        })
    }

    fn unbind<'a>(&'a self, port_id: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            match self.n.attach_port(port_id, "", "", "").await {
                Err(e) if e.status() != 404 => Err(e),
                _ => Ok(()),
            }
        })
    }

    fn deallocate<'a>(&'a self, instance_uuid: &'a str, port_ids: &'a [String]) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let _ = instance_uuid;
            for p in port_ids {
                match self.n.delete_port(p).await {
                    Ok(()) => {}
                    Err(e) if e.status() == 404 => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        })
    }
}

/// The provider uuid of a compute host: stable, derived from its name.
pub fn provider_uuid(host: &str) -> String {
    let d = Md5::digest(format!("rustack-compute-node:{host}").as_bytes());
    let h: String = d.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

struct PlacementAdapter {
    p: rustack_placement::Placement,
    ratios: Ratios,
}

fn classes(want: Resources) -> Vec<(&'static str, i64)> {
    [("VCPU", want.vcpu), ("MEMORY_MB", want.memory_mb), ("DISK_GB", want.disk_gb)]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .collect()
}

impl PlacementClient for PlacementAdapter {
    fn ensure_provider<'a>(&'a self, host: &'a str, inv: HostResources) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let uuid = provider_uuid(host);
            self.p.ensure_provider(&uuid, host).await?;
            let mut m = BTreeMap::new();
            for (class, total, ratio) in [
                ("VCPU", inv.vcpus, self.ratios.cpu),
                ("MEMORY_MB", inv.memory_mb, self.ratios.ram),
                ("DISK_GB", inv.disk_gb, self.ratios.disk),
            ] {
                let mut i = rustack_placement::Inventory::new(total);
                i.allocation_ratio = ratio;
                m.insert(class.to_string(), i);
            }
            self.p.set_inventory(&uuid, &m).await?;
            Ok(())
        })
    }

    fn candidates<'a>(&'a self, want: Resources) -> BoxFuture<'a, Result<Vec<Candidate>, Error>> {
        Box::pin(async move {
            let req = rustack_placement::CandidateRequest::resources(classes(want));
            let cands = self.p.allocation_candidates(&req).await?;
            let mut out = Vec::new();
            for c in &cands.candidates {
                let Some(s) = cands.root_summary(c) else { continue };
                let free = |k: &str| s.resources.get(k).map(|r| r.capacity - r.used).unwrap_or(0);
                out.push(Candidate {
                    host: s.name.clone(),
                    free: Resources { vcpu: free("VCPU"), memory_mb: free("MEMORY_MB"), disk_gb: free("DISK_GB") },
                });
            }
            Ok(out)
        })
    }

    fn claim<'a>(&'a self, c: Claim<'a>) -> BoxFuture<'a, Result<bool, Error>> {
        Box::pin(async move {
            let mut res = BTreeMap::new();
            for (k, n) in classes(c.want) {
                res.insert(k.to_string(), n);
            }
            let mut allocs = BTreeMap::new();
            allocs.insert(provider_uuid(c.host), res);
            match self.p.claim(c.consumer, &allocs, c.project, c.user).await {
                Ok(()) => Ok(true),
                Err(e) if e.status() == 409 => Ok(false),
                Err(e) => Err(e),
            }
        })
    }

    fn release<'a>(&'a self, consumer: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move { self.p.release(consumer).await.map(|_| ()) })
    }

    fn used<'a>(&'a self, host: &'a str) -> BoxFuture<'a, Result<Resources, Error>> {
        Box::pin(async move {
            let inv = self.p.inventory(&provider_uuid(host)).await?;
            let u = |k: &str| inv.get(k).map(|x| x.used).unwrap_or(0);
            Ok(Resources { vcpu: u("VCPU"), memory_mb: u("MEMORY_MB"), disk_gb: u("DISK_GB") })
        })
    }
}
