//! Options of the image service (docs/config-image.md).

use super::OptSpec;

pub static OPTIONS: &[OptSpec] = &[
    opt!("image", "port", Int, "9292", "Port of the Image API v2."),
    opt!(
        "image",
        "filesystem_store_datadir",
        Str,
        "",
        "Directory of the filesystem store (image bytes); empty means <data dir>/images."
    ),
    opt!(
        "image",
        "image_size_cap",
        Int,
        "1099511627776",
        "Largest image size accepted, in bytes (Glance's default, 1 TiB)."
    ),
    opt!("image", "image_member_quota", Int, "128", "Most members an image may have."),
    opt!("image", "image_tag_quota", Int, "128", "Most tags an image may have."),
    opt!("image", "image_property_quota", Int, "128", "Most custom properties an image may have."),
    opt!("image", "limit_param_default", Int, "25", "Page size of an image list without `limit`."),
    opt!("image", "api_limit_max", Int, "1000", "Largest page size of an image list."),
    opt!(
        "image",
        "test_image_dir",
        Str,
        "~/.cache/rustack/test-image",
        "Where `rustack up` looks for the test guest (scripts/build-test-image.sh) to register at bootstrap; empty: never."
    ),
];
