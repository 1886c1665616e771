//! Options of the network service (docs/config-network.md).

use super::OptSpec;

pub static OPTIONS: &[OptSpec] = &[opt!("network", "port", Int, "9696", "Port of the Networking API v2.0.")];
