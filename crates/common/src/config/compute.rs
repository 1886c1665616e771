//! Options of the compute and placement services (docs/config-compute.md).

use super::OptSpec;

pub static OPTIONS: &[OptSpec] = &[
    opt!("compute", "port", Int, "8774", "Port of the Compute API v2.1."),
    opt!("compute", "driver", Str, "fake", "Hypervisor driver of the compute agents: `fake` (instances kept in memory)."),
    opt!("compute", "placement", Str, "service", "Where compute claims host resources: `service` (the placement service, in-process) or `local` (an in-memory tracker of this process)."),
    opt!("compute", "fake_hosts", Int, "1", "Number of fake compute hosts this process runs (`fake-compute-1` … `fake-compute-N`; 0: none), each its own resource provider."),
    opt!("compute", "fake_host_vcpus", Int, "64", "VCPUs each fake host reports."),
    opt!("compute", "fake_host_memory_mb", Int, "262144", "Memory (MB) each fake host reports."),
    opt!("compute", "fake_host_disk_gb", Int, "4096", "Disk (GB) each fake host reports."),
    opt!("compute", "fake_spawn_delay_ms", Int, "0", "Milliseconds the fake driver takes to spawn an instance."),
    opt!("compute", "fake_action_delay_ms", Int, "0", "Milliseconds the fake driver takes for any other operation (reboot, power off, …)."),
    opt!("compute", "fake_fail_spawn", Str, "", "Comma list of fake hosts whose spawns fail (to test rescheduling and undo); `*` for every host."),
    opt!("compute", "max_microversion", Str, "2.79", "Highest Compute API microversion served (2.1 up to 2.79)."),
    opt!("compute", "cpu_allocation_ratio", Str, "16.0", "Virtual CPUs per physical CPU placement lets a host give out."),
    opt!("compute", "ram_allocation_ratio", Str, "1.5", "Memory overcommit ratio of each host's MEMORY_MB inventory."),
    opt!("compute", "disk_allocation_ratio", Str, "1.0", "Disk overcommit ratio of each host's DISK_GB inventory."),
    opt!("compute", "ram_weight_multiplier", Str, "1.0", "Weight of free RAM when the scheduler ranks hosts (negative: stack instead of spread)."),
    opt!("compute", "cpu_weight_multiplier", Str, "1.0", "Weight of free VCPUs when the scheduler ranks hosts."),
    opt!("compute", "disk_weight_multiplier", Str, "1.0", "Weight of free disk when the scheduler ranks hosts."),
    opt!("compute", "max_attempts", Int, "3", "Hosts the conductor tries before a boot ends in ERROR (a failed spawn reschedules to the next candidate)."),
    opt!("compute", "sync_power_state_interval", Int, "60", "Seconds between runs of the power-state reconciler (driver → database); 0: never."),
    opt!("compute", "default_availability_zone", Str, "nova", "Availability zone of hosts in no aggregate with one."),
    opt!("compute", "quota_instances", Int, "10", "Default quota of servers per project (Nova's default)."),
    opt!("compute", "quota_cores", Int, "20", "Default quota of VCPUs per project."),
    opt!("compute", "quota_ram", Int, "51200", "Default quota of RAM (MB) per project."),
    opt!("compute", "quota_key_pairs", Int, "100", "Default quota of key pairs per user."),
    opt!("compute", "quota_metadata_items", Int, "128", "Default quota of metadata items per server."),
    opt!("compute", "quota_server_groups", Int, "10", "Default quota of server groups per project."),
    opt!("compute", "quota_server_group_members", Int, "10", "Default quota of members per server group."),
    opt!("placement", "port", Int, "8778", "Port of the Placement API."),
];
