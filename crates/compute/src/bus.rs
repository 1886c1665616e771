//! The bus between the API and the conductor: casts (fire and forget) of
//! workflow requests. In-process it is a tokio channel; an AMQP bus would
//! implement the same trait and serialize `Task`.

use std::sync::Arc;

use rustack_common::Error;
use rustack_http::RequestContext;
use tokio::sync::mpsc;

use crate::peers::NetRequest;

/// A workflow the conductor runs for one instance.
#[derive(Debug, Clone)]
pub struct Task {
    pub uuid: String,
    /// The caller, for the peer services the workflow reaches on their behalf.
    pub ctx: Option<Arc<RequestContext>>,
    /// The instance action whose event this run records.
    pub action_id: Option<String>,
    pub op: Op,
}

#[derive(Debug, Clone)]
pub enum Op {
    /// `security_groups`: ids of the groups the new ports get (empty: the
    /// project's `default`, as the network service gives a port by default).
    Build {
        networks: NetRequest,
        security_groups: Vec<String>,
    },
    Delete,
    Reboot {
        hard: bool,
    },
    Stop,
    Start,
    Pause,
    Unpause,
    Suspend,
    Resume,
    Rescue,
    Unrescue,
    Resize,
    ConfirmResize,
    RevertResize,
    Rebuild,
    /// `createImage`, and `createBackup` with its rotation.
    Snapshot {
        image_id: String,
        backup: Option<BackupRotation>,
    },
    /// `image_id`: the `<name>-shelved` snapshot the shelve uploads (None for
    /// a server without an image, e.g. booted from a volume).
    Shelve {
        image_id: Option<String>,
    },
    Unshelve,
    /// Cold migration: a resize to the same flavor on another host (`host`
    /// asked for by an admin, else the scheduler's pick).
    Migrate {
        host: Option<String>,
    },
    /// Live migration to `host` (None: the scheduler picks one).
    LiveMigrate {
        host: Option<String>,
        block_migration: bool,
    },
    /// Evacuation: rebuilt on `host` (None: the scheduler picks one) while
    /// the instance's own host is down.
    Evacuate {
        host: Option<String>,
    },
}

/// `createBackup`'s rotation: keep the newest `rotation` backups of this
/// `backup_type` for the instance, delete older ones.
#[derive(Debug, Clone)]
pub struct BackupRotation {
    pub backup_type: String,
    pub rotation: u32,
}

impl Op {
    /// The event name Nova records for this step.
    pub fn event(&self) -> &'static str {
        match self {
            Op::Build { .. } => "compute__do_build_and_run_instance",
            Op::Delete => "compute_terminate_instance",
            Op::Reboot { .. } => "compute_reboot_instance",
            Op::Stop => "compute_stop_instance",
            Op::Start => "compute_start_instance",
            Op::Pause => "compute_pause_instance",
            Op::Unpause => "compute_unpause_instance",
            Op::Suspend => "compute_suspend_instance",
            Op::Resume => "compute_resume_instance",
            Op::Rescue => "compute_rescue_instance",
            Op::Unrescue => "compute_unrescue_instance",
            Op::Resize => "compute_resize_instance",
            Op::ConfirmResize => "compute_confirm_resize",
            Op::RevertResize => "compute_revert_resize",
            Op::Rebuild => "compute_rebuild_instance",
            Op::Snapshot { .. } => "compute_snapshot_instance",
            Op::Shelve { .. } => "compute_shelve_instance",
            Op::Unshelve => "compute_unshelve_instance",
            Op::Migrate { .. } => "compute_prep_resize",
            Op::LiveMigrate { .. } => "compute_live_migration",
            Op::Evacuate { .. } => "compute_rebuild_instance",
        }
    }
}

pub trait Bus: Send + Sync + 'static {
    fn cast(&self, task: Task) -> Result<(), Error>;
}

/// The in-process bus.
pub struct InProcBus {
    tx: mpsc::UnboundedSender<Task>,
}

impl InProcBus {
    pub fn new() -> (InProcBus, mpsc::UnboundedReceiver<Task>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (InProcBus { tx }, rx)
    }
}

impl Bus for InProcBus {
    fn cast(&self, task: Task) -> Result<(), Error> {
        self.tx
            .send(task)
            .map_err(|_| Error::new(rustack_common::ErrorKind::ServiceUnavailable, "The conductor is not running."))
    }
}
