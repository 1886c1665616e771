//! The first start: devstack's default flavors, ids as devstack makes them.

use std::collections::BTreeMap;

use rustack_common::Error;

use crate::model::Flavor;
use crate::store::Store;

const DEFAULTS: &[(&str, &str, i64, i64, i64)] = &[
    ("1", "m1.tiny", 1, 512, 1),
    ("2", "m1.small", 1, 2048, 20),
    ("3", "m1.medium", 2, 4096, 40),
    ("4", "m1.large", 4, 8192, 80),
    ("5", "m1.xlarge", 8, 16384, 160),
    ("42", "m1.nano", 1, 128, 1),
    ("84", "m1.micro", 1, 192, 1),
];

pub async fn flavors(store: &Store) -> Result<(), Error> {
    for (id, name, vcpus, ram, disk) in DEFAULTS {
        if store.flavor_get(id).await?.is_some() {
            continue;
        }
        let f = Flavor {
            id: id.to_string(),
            name: name.to_string(),
            vcpus: *vcpus,
            ram: *ram,
            disk: *disk,
            ephemeral: 0,
            swap: 0,
            rxtx_factor: 1.0,
            is_public: true,
            disabled: false,
            description: None,
            extra_specs: BTreeMap::new(),
        };
        match store.flavor_create(&f).await {
            Ok(()) => {}
            // a flavor of that name made by an operator is kept
            Err(e) if e.status() == 409 => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
