//! The metadata API (port 8775): what a guest reads at 169.254.169.254,
//! reached through the network service's proxy, which names the instance
//! (`X-Instance-ID`, signed when a shared secret is set). The same content
//! fills config drives.

use std::collections::BTreeMap;

use rustack_common::Error;

use crate::model::Instance;
use crate::Compute;

/// The metadata API's routes.
pub(crate) fn router(_c: Compute) -> axum::Router {
    axum::Router::new()
}

/// The files of an instance's config drive (`openstack/latest/meta_data.json`
/// and the rest), paths relative to the volume's root.
#[allow(dead_code)] // the QEMU driver calls it (being wired)
pub(crate) async fn config_drive_files(_c: &Compute, inst: &Instance) -> Result<BTreeMap<String, Vec<u8>>, Error> {
    let meta = serde_json::json!({"uuid": inst.uuid, "name": inst.name, "hostname": inst.name});
    let mut files = BTreeMap::new();
    files.insert("openstack/latest/meta_data.json".to_string(), meta.to_string().into_bytes());
    Ok(files)
}
