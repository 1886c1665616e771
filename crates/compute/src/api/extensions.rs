//! `GET /extensions[/{alias}]`: Nova's deprecated extension listing. Nova
//! answers a frozen list of its legacy v2 extensions (the API moved to
//! microversions); rustack lists the ones whose behaviour its compute API
//! really serves, in Nova's entry shape.

use axum::extract::Path;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use rustack_common::Error;
use rustack_http::token_layer::Authenticated;
use rustack_http::ApiResult;
use serde_json::{json, Value};

use super::ok;
use crate::Compute;

pub(super) fn routes() -> Router<Compute> {
    Router::new().route("/extensions", get(list)).route("/extensions/{alias}", get(show))
}

/// (alias, name, what it covers) of each legacy extension served here.
const SERVED: &[(&str, &str, &str)] = &[
    ("OS-DCF", "DiskConfig", "The disk configuration (AUTO or MANUAL) of servers."),
    ("OS-EXT-AZ", "ExtendedAvailabilityZone", "The availability zone of a server in its view."),
    ("OS-EXT-IPS", "ExtendedIps", "The type (fixed or floating) of each server address."),
    ("OS-EXT-IPS-MAC", "ExtendedIpsMac", "The MAC address of each server address."),
    ("OS-EXT-SRV-ATTR", "ExtendedServerAttributes", "Host and instance attributes of servers (admin)."),
    ("OS-EXT-STS", "ExtendedStatus", "vm_state, task_state and power_state of servers."),
    ("OS-FLV-DISABLED", "FlavorDisabled", "Whether a flavor is disabled."),
    ("OS-FLV-EXT-DATA", "FlavorExtraData", "Ephemeral disk size of flavors."),
    ("OS-SCH-HNT", "SchedulerHints", "Scheduler hints at server creation."),
    ("OS-SRV-USG", "ServerUsage", "Launch and termination times of servers."),
    ("os-access-ips", "AccessIPs", "accessIPv4 and accessIPv6 of servers."),
    ("os-admin-actions", "AdminActions", "Administrative server actions (reset state, network)."),
    ("os-admin-password", "AdminPassword", "The changePassword server action."),
    ("os-aggregates", "Aggregates", "Host aggregates."),
    ("os-attach-interfaces", "AttachInterfaces", "Attaching and detaching server interfaces."),
    ("os-availability-zone", "AvailabilityZone", "Listing availability zones."),
    ("os-config-drive", "ConfigDrive", "Config drives of servers."),
    ("os-console-auth-tokens", "ConsoleAuthTokens", "Console connection details of a token (admin)."),
    ("os-console-output", "ConsoleOutput", "The console log of a server."),
    ("os-consoles", "Consoles", "Interactive consoles of servers."),
    ("os-create-backup", "CreateBackup", "The createBackup server action."),
    ("os-extended-volumes", "ExtendedVolumes", "The volumes attached to a server in its view."),
    ("os-flavor-access", "FlavorAccess", "Access of projects to private flavors."),
    ("os-flavor-extra-specs", "FlavorExtraSpecs", "Extra specs of flavors."),
    ("os-flavor-manage", "FlavorManage", "Creating and deleting flavors."),
    ("os-flavor-rxtx", "FlavorRxtx", "The rxtx_factor of flavors."),
    ("os-flavor-swap", "FlavorSwap", "The swap size of flavors."),
    ("os-floating-ip-pools", "FloatingIpPools", "Listing floating IP pools."),
    ("os-floating-ips", "FloatingIps", "Floating IPs and their association with servers."),
    ("os-hosts", "Hosts", "Host administration (admin)."),
    ("os-hypervisors", "Hypervisors", "Hypervisor details and statistics (admin)."),
    ("os-instance-actions", "InstanceActions", "The actions taken on a server."),
    ("os-instance_usage_audit_log", "OSInstanceUsageAuditLog", "The instance usage audit log (admin)."),
    ("os-keypairs", "Keypairs", "SSH key pairs."),
    ("os-lock-server", "LockServer", "Locking and unlocking servers."),
    ("os-migrations", "Migrations", "Listing migrations (admin)."),
    ("os-multiple-create", "MultipleCreate", "Creating several servers in one request."),
    ("os-networks", "Networks", "Listing networks (a proxy to the network service)."),
    ("os-pause-server", "PauseServer", "Pausing and unpausing servers."),
    ("os-quota-class-sets", "QuotaClasses", "Quota classes."),
    ("os-quota-sets", "Quotas", "Project and user quotas."),
    ("os-rescue", "Rescue", "Rescuing and unrescuing servers."),
    ("os-security-groups", "SecurityGroups", "Security groups and their rules."),
    ("os-server-diagnostics", "ServerDiagnostics", "Hypervisor diagnostics of a server (admin)."),
    ("os-server-external-events", "ServerExternalEvents", "Events from other services (admin)."),
    ("os-server-groups", "ServerGroups", "Server groups (affinity policies)."),
    ("os-server-password", "ServerPassword", "The encrypted password of a server."),
    ("os-server-start-stop", "ServerStartStop", "Starting and stopping servers."),
    ("os-services", "Services", "Compute services (admin)."),
    ("os-shelve", "Shelve", "Shelving and unshelving servers."),
    ("os-simple-tenant-usage", "SimpleTenantUsage", "Usage of projects over a period."),
    ("os-suspend-server", "SuspendServer", "Suspending and resuming servers."),
    ("os-tenant-networks", "OSTenantNetworks", "Listing the networks of a project."),
    ("os-used-limits", "UsedLimits", "Used resources in the limits."),
    ("os-user-data", "UserData", "User data of servers."),
];

fn entry(alias: &str, name: &str, description: &str) -> Value {
    // Nova's entries all carry these fixed values since the list froze
    json!({
        "alias": alias, "name": name, "description": description, "links": [],
        "namespace": "http://docs.openstack.org/compute/ext/fake_xml",
        "updated": "2014-12-03T00:00:00Z",
    })
}

async fn list(Authenticated(_ctx): Authenticated) -> ApiResult<Response> {
    let all: Vec<Value> = SERVED.iter().map(|(a, n, d)| entry(a, n, d)).collect();
    Ok(ok(json!({ "extensions": all })))
}

async fn show(Authenticated(_ctx): Authenticated, Path(alias): Path<String>) -> ApiResult<Response> {
    let (a, n, d) = SERVED
        .iter()
        .find(|(a, _, _)| *a == alias)
        .ok_or_else(|| Error::not_found(format!("Extension {alias} could not be found.")))?;
    Ok(ok(json!({ "extension": entry(a, n, d) })))
}
