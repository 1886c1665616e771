//! Options of the compute and placement services (docs/config-compute.md).

use super::OptSpec;

pub static OPTIONS: &[OptSpec] = &[
    opt!("compute", "port", Int, "8774", "Port of the Compute API v2.1."),
    opt!("placement", "port", Int, "8778", "Port of the Placement API."),
];
