-- Every Neutron resource is one row: its API representation as JSON (body),
-- plus the columns the service looks resources up by. Lists filter, sort and
-- page in the service (Neutron's filter language is richer than one index).
CREATE TABLE network_resource (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    project_id TEXT NOT NULL,
    -- the network of a subnet or port, the security group of a rule
    parent_id TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX network_resource_kind ON network_resource (kind, project_id);
CREATE INDEX network_resource_parent ON network_resource (kind, parent_id);

-- IPAM: one row per address in use. The primary key is what makes an address
-- impossible to hand out twice, also between concurrent transactions.
CREATE TABLE network_ip_allocation (
    subnet_id TEXT NOT NULL,
    ip_address TEXT NOT NULL,
    port_id TEXT NOT NULL,
    network_id TEXT NOT NULL,
    PRIMARY KEY (subnet_id, ip_address)
);
CREATE INDEX network_ip_allocation_port ON network_ip_allocation (port_id);

-- Segments in use (vxlan VNIs, vlan ids, flat physical networks).
CREATE TABLE network_segment (
    network_type TEXT NOT NULL,
    physical_network TEXT NOT NULL,
    segmentation_id BIGINT NOT NULL,
    network_id TEXT NOT NULL,
    PRIMARY KEY (network_type, physical_network, segmentation_id)
);

-- MAC addresses are unique per network.
CREATE TABLE network_mac (
    network_id TEXT NOT NULL,
    mac_address TEXT NOT NULL,
    port_id TEXT NOT NULL,
    PRIMARY KEY (network_id, mac_address)
);

-- One `default` security group per project.
CREATE TABLE network_default_sg (
    project_id TEXT PRIMARY KEY,
    security_group_id TEXT NOT NULL
);
