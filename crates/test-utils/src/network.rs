//! The network service of the test cloud.

use rustack_network::Network;

use crate::{Served, StartCtx};

pub(crate) async fn start(ctx: &StartCtx<'_>) -> Served<Network> {
    let (listener, opts) = ctx.listen().await;
    let svc = Network::open(ctx.db.clone(), opts).await.expect("network opens");
    svc.bootstrap(ctx.projects).await.expect("network bootstrap");
    svc.spawn_workers();
    let router = svc.router();
    ctx.serve(svc, listener, router, "network", "neutron", "").await
}
