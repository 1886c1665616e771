//! What compute needs of its peer services, as small traits of its own: the
//! image service (validate imageRef, store snapshots), the network service
//! (ports) and placement (providers, candidates, claims). Adapters over the
//! peer crates live in `adapters`; the fallbacks here keep compute working
//! where a peer is absent.

use std::collections::BTreeMap;
use std::sync::Arc;

use rustack_common::Error;
use rustack_http::token_layer::BoxFuture;
use rustack_http::RequestContext;

use crate::driver::HostResources;
use crate::model::Resources;

/// What compute reads of an image.
#[derive(Debug, Clone, Default)]
pub struct ImageInfo {
    pub id: String,
    pub name: String,
    pub status: String,
    /// GB
    pub min_disk: i64,
    /// MB
    pub min_ram: i64,
    /// bytes
    pub size: i64,
    pub properties: BTreeMap<String, serde_json::Value>,
    pub created_at: String,
    pub updated_at: String,
}

/// An image's bytes, opened for download, with what a cache checks them
/// against.
pub struct ImageDownload {
    /// Glance's `disk_format` (`raw`, `qcow2`, `aki`, …).
    pub disk_format: String,
    /// Bytes the stream yields.
    pub size: u64,
    /// The md5 `checksum`.
    pub checksum: Option<String>,
    /// The multihash (`os_hash_algo`, `os_hash_value`).
    pub os_hash: Option<(String, String)>,
    /// Custom properties (`kernel_id`, `ramdisk_id`, `os_command_line`, …).
    pub properties: BTreeMap<String, String>,
    pub stream: ByteStream,
}

/// A stream of image bytes.
pub type ByteStream = rustack_image::ByteStream;

pub trait Images: Send + Sync + 'static {
    /// The image as `ctx` may see it; None when it does not exist for them.
    fn get<'a>(&'a self, ctx: &'a RequestContext, id: &'a str) -> BoxFuture<'a, Result<Option<ImageInfo>, Error>>;
    /// Creates a snapshot image record (queued) owned by `ctx`'s project.
    fn create_snapshot<'a>(
        &'a self,
        ctx: &'a RequestContext,
        name: &'a str,
        properties: BTreeMap<String, String>,
    ) -> BoxFuture<'a, Result<String, Error>>;
    /// Uploads the snapshot's data (the image becomes active).
    fn upload<'a>(&'a self, ctx: &'a RequestContext, id: &'a str, data: Vec<u8>) -> BoxFuture<'a, Result<(), Error>>;
    /// Uploads the snapshot's data from a file, streamed (a real disk is
    /// never held in memory).
    fn upload_file<'a>(
        &'a self,
        ctx: &'a RequestContext,
        id: &'a str,
        path: &'a std::path::Path,
    ) -> BoxFuture<'a, Result<(), Error>>;
    /// Opens an active image's bytes as `ctx` may download them.
    fn download<'a>(&'a self, ctx: &'a RequestContext, id: &'a str) -> BoxFuture<'a, Result<ImageDownload, Error>>;
}

/// One requested network of a server create.
#[derive(Debug, Clone, PartialEq)]
pub enum NetRequest {
    None,
    /// No networks named (before 2.37, or an interface attach without one):
    /// the one network the project can use, or none at all.
    Auto,
    /// `networks: "auto"` (2.37): the one network the project can use, else
    /// the network service's auto-allocated topology for the project.
    AutoAllocate,
    List(Vec<NetItem>),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct NetItem {
    pub network_id: Option<String>,
    pub port_id: Option<String>,
    pub fixed_ip: Option<String>,
}

/// A port made or bound for an instance.
#[derive(Debug, Clone)]
pub struct PortInfo {
    pub id: String,
    pub network_name: String,
    pub mac: String,
    pub ips: Vec<String>,
    pub network_id: String,
    /// (subnet id, address)
    pub fixed_ips: Vec<(String, String)>,
    /// The port's `status` (ACTIVE once bound).
    pub status: String,
}

pub trait Ports: Send + Sync + 'static {
    /// Checks the request before the instance is accepted (400 for an
    /// unknown network); cheap.
    fn validate<'a>(&'a self, ctx: &'a RequestContext, req: &'a NetRequest) -> BoxFuture<'a, Result<(), Error>>;
    /// Creates (or takes) the instance's ports and binds them to `host`.
    fn allocate<'a>(
        &'a self,
        ctx: &'a RequestContext,
        instance_uuid: &'a str,
        host: &'a str,
        req: &'a NetRequest,
        security_groups: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<PortInfo>, Error>>;
    /// The ports whose device is the instance (what is plugged into it now).
    fn ports_of<'a>(&'a self, instance_uuid: &'a str) -> BoxFuture<'a, Result<Vec<PortInfo>, Error>>;
    /// Unbinds a port the user made (a detach keeps it, as Nova does).
    fn unbind<'a>(&'a self, port_id: &'a str) -> BoxFuture<'a, Result<(), Error>>;
    /// Deletes the instance's ports (the undo of `allocate`, and delete).
    fn deallocate<'a>(&'a self, instance_uuid: &'a str, port_ids: &'a [String]) -> BoxFuture<'a, Result<(), Error>>;
}

/// A host that has room for a request.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub host: String,
    pub free: Resources,
}

/// A claim of `want` on `host` for the instance `consumer`.
#[derive(Debug, Clone, Copy)]
pub struct Claim<'a> {
    pub consumer: &'a str,
    pub host: &'a str,
    pub want: Resources,
    pub project: &'a str,
    pub user: &'a str,
}

pub trait PlacementClient: Send + Sync + 'static {
    /// Creates or updates the host's provider and inventory.
    fn ensure_provider<'a>(&'a self, host: &'a str, inv: HostResources) -> BoxFuture<'a, Result<(), Error>>;
    /// Hosts with room for `want`.
    fn candidates<'a>(&'a self, want: Resources) -> BoxFuture<'a, Result<Vec<Candidate>, Error>>;
    /// Claims `want` on `host` for `consumer`, replacing what it held (false:
    /// no room any more, someone was faster).
    fn claim<'a>(&'a self, c: Claim<'a>) -> BoxFuture<'a, Result<bool, Error>>;
    fn release<'a>(&'a self, consumer: &'a str) -> BoxFuture<'a, Result<(), Error>>;
    /// What is used on a host (the hypervisor views).
    fn used<'a>(&'a self, host: &'a str) -> BoxFuture<'a, Result<Resources, Error>>;
}

/// No image service: any id is taken as a bootable image with no minimums
/// (compute runs alone, e.g. in benchmarks of the fake driver).
pub struct NoImages;

impl Images for NoImages {
    fn get<'a>(&'a self, _ctx: &'a RequestContext, id: &'a str) -> BoxFuture<'a, Result<Option<ImageInfo>, Error>> {
        Box::pin(async move {
            Ok(Some(ImageInfo {
                id: id.to_string(),
                name: id.to_string(),
                status: "active".into(),
                ..Default::default()
            }))
        })
    }
    fn create_snapshot<'a>(
        &'a self,
        _ctx: &'a RequestContext,
        _name: &'a str,
        _properties: BTreeMap<String, String>,
    ) -> BoxFuture<'a, Result<String, Error>> {
        Box::pin(async move {
            Err(Error::new(rustack_common::ErrorKind::ServiceUnavailable, "The image service is not available."))
        })
    }
    fn upload<'a>(
        &'a self,
        _ctx: &'a RequestContext,
        _id: &'a str,
        _data: Vec<u8>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move { Ok(()) })
    }
    fn upload_file<'a>(
        &'a self,
        _ctx: &'a RequestContext,
        _id: &'a str,
        _path: &'a std::path::Path,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move { Ok(()) })
    }
    fn download<'a>(&'a self, _ctx: &'a RequestContext, _id: &'a str) -> BoxFuture<'a, Result<ImageDownload, Error>> {
        Box::pin(async move {
            Err(Error::new(rustack_common::ErrorKind::ServiceUnavailable, "The image service is not available."))
        })
    }
}

/// No network service: servers boot with no ports; asking for networks
/// (or 2.37's `auto`, which needs a network to allocate) is a 400.
pub struct NoPorts;

impl Ports for NoPorts {
    fn validate<'a>(&'a self, ctx: &'a RequestContext, req: &'a NetRequest) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            match req {
                NetRequest::List(items) if !items.is_empty() => {
                    Err(Error::bad_request("Networking is not available: the network service is not running."))
                }
                NetRequest::AutoAllocate => Err(Error::bad_request(format!(
                    "Unable to automatically allocate a network for project {}",
                    ctx.project_id().unwrap_or_default()
                ))),
                _ => Ok(()),
            }
        })
    }
    fn allocate<'a>(
        &'a self,
        _ctx: &'a RequestContext,
        _instance_uuid: &'a str,
        _host: &'a str,
        _req: &'a NetRequest,
        _security_groups: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<PortInfo>, Error>> {
        Box::pin(async move { Ok(vec![]) })
    }
    fn ports_of<'a>(&'a self, _instance_uuid: &'a str) -> BoxFuture<'a, Result<Vec<PortInfo>, Error>> {
        Box::pin(async move { Ok(vec![]) })
    }
    fn unbind<'a>(&'a self, _port_id: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move { Ok(()) })
    }
    fn deallocate<'a>(&'a self, _instance_uuid: &'a str, _port_ids: &'a [String]) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move { Ok(()) })
    }
}

/// The handles compute uses, behind its traits.
#[derive(Clone)]
pub struct PeerSet {
    pub images: Arc<dyn Images>,
    pub ports: Arc<dyn Ports>,
    pub placement: Arc<dyn PlacementClient>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> RequestContext {
        RequestContext::from_token_json(&serde_json::json!({
            "user": {"id": "u1", "name": "u", "domain": {"id": "default", "name": "Default"}},
            "project": {"id": "p1", "name": "p", "domain": {"id": "default", "name": "Default"}},
            "roles": [{"id": "r", "name": "member"}],
            "methods": ["password"],
            "expires_at": "2999-01-01T00:00:00.000000Z",
        }))
        .expect("a token")
    }

    #[tokio::test]
    async fn without_a_network_service_only_no_network_boots() {
        let p = NoPorts;
        assert!(p.validate(&ctx(), &NetRequest::None).await.is_ok());
        assert!(p.validate(&ctx(), &NetRequest::Auto).await.is_ok(), "before 2.37: no network, as Nova");
        let e = p.validate(&ctx(), &NetRequest::AutoAllocate).await.unwrap_err();
        assert_eq!(
            (e.status(), e.message.as_str()),
            (400, "Unable to automatically allocate a network for project p1")
        );
        let item = NetItem { network_id: Some("n1".into()), ..Default::default() };
        assert_eq!(p.validate(&ctx(), &NetRequest::List(vec![item])).await.unwrap_err().status(), 400);
    }
}
