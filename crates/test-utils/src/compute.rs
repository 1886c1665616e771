//! The compute service of the test cloud.

use rustack_compute::{Compute, Peers};

use crate::{Served, StartCtx};

pub(crate) async fn start(ctx: &StartCtx<'_>, peers: Peers) -> Served<Compute> {
    let (listener, opts) = ctx.listen().await;
    let svc = Compute::open(ctx.db.clone(), opts, peers).await.expect("compute opens");
    svc.bootstrap(ctx.projects).await.expect("compute bootstrap");
    svc.spawn_workers();
    let router = svc.router();
    ctx.serve(svc, listener, router, "compute", "nova", "/v2.1").await
}
