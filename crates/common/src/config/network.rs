//! Options of the network service (docs/config-network.md).

use super::OptSpec;

pub static OPTIONS: &[OptSpec] = &[
    opt!("network", "port", Int, "9696", "Port of the Networking API v2.0."),
    opt!("network", "dataplane", Str, "auto", "Which data plane makes networks real on this host: `linux` (bridges, namespaces, dnsmasq, nftables), `fake` (records the desired state only; for tests) or `auto` (linux when this host can run it, else fake)."),
    opt!("network", "tenant_network_types", Str, "vxlan", "Comma list of the network types a project's network gets, tried in order (`vxlan`, `vlan`, `local`)."),
    opt!("network", "vni_ranges", Str, "1:1000", "VXLAN network identifiers given to tenant networks, `min:max`."),
    opt!("network", "network_vlan_ranges", Str, "physnet1:100:199", "Comma list of `physical_network:min:max` VLAN ranges for tenant vlan networks; a bare `physical_network` allows provider vlan networks on it only."),
    opt!("network", "flat_networks", Str, "public,physnet1", "Comma list of physical networks flat provider networks may use (`*`: any)."),
    opt!("network", "public_physical_network", Str, "public", "The physical network name of the bootstrap external network `public`."),
    opt!("network", "public_cidr", Str, "172.24.4.0/24", "CIDR of the bootstrap external network `public` (devstack's FLOATING_RANGE)."),
    opt!("network", "private_cidr", Str, "10.0.0.0/26", "CIDR of the demo project's bootstrap network `private` (devstack's FIXED_RANGE)."),
    opt!("network", "default_subnetpool_prefix", Str, "10.0.0.0/16", "Prefix of the shared default IPv4 subnet pool bootstrap creates (devstack's `shared-default-subnetpool-v4`), from which auto-allocated topologies get their subnets; the bootstrap `private` subnet is carved from it when it lies inside. Empty: no default pool (no auto-allocation)."),
    opt!("network", "default_subnetpool_prefixlen", Int, "26", "Prefix length of the subnets the default subnet pool hands out when none is asked for."),
    opt!("network", "masquerade_uplink", Str, "", "Host interface the external bridge's traffic is masqueraded to; empty: no masquerading (the host's own addresses and routes are never touched)."),
    opt!("network", "physical_interface_mappings", Str, "", "Comma list of `physical_network:interface`: the host interface each physical network's flat and vlan networks use (vlan tagging by tc eBPF, docs/dataplane.md); empty: none, such networks stay on this host and no host interface is touched."),
    opt!("network", "global_physnet_mtu", Int, "1500", "MTU of the physical networks; vxlan networks get this minus 50."),
    opt!("network", "metadata_url", Str, "", "The compute metadata API the metadata proxy forwards to; empty: `http://127.0.0.1:<[metadata] port>`."),
    opt!("network", "dns_servers", Str, "", "Comma list of DNS servers dnsmasq hands out when a subnet names none."),
    opt!("network", "reconcile_interval", Int, "30", "Seconds between two full reconciliations of the host's data plane with the database."),
    opt!("network", "host", Str, "", "This host's name in port bindings and agents; empty: the system host name."),
];
