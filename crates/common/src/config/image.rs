//! Options of the image service (docs/config-image.md).

use super::OptSpec;

pub static OPTIONS: &[OptSpec] = &[opt!("image", "port", Int, "9292", "Port of the Image API v2.")];
