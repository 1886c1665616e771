//! Cold and live migration workflows of the conductor.

use rustack_common::Error;

use crate::bus::Task;
use crate::Compute;

impl Compute {
    /// Runs `Op::Migrate` and `Op::LiveMigrate`.
    pub(crate) async fn migrate(&self, t: &Task) -> Result<(), Error> {
        Err(Error::not_implemented(format!("Migration of {} is not served by rustack yet.", t.uuid)))
    }
}
