//! The placement service of the test cloud.

use rustack_placement::Placement;

use crate::{Served, StartCtx};

pub(crate) async fn start(ctx: &StartCtx<'_>) -> Served<Placement> {
    let (listener, opts) = ctx.listen().await;
    let svc = Placement::open(ctx.db.clone(), opts).await.expect("placement opens");
    svc.bootstrap(ctx.projects).await.expect("placement bootstrap");
    svc.spawn_workers();
    let router = svc.router();
    ctx.serve(svc, listener, router, "placement", "placement", "").await
}
