//! The network service of the test cloud, always on the fake data plane
//! (`cloud.network.svc.dataplane()` downcasts to `FakeDataPlane`).

use std::sync::Arc;

use rustack_network::netplane::FakeDataPlane;
use rustack_network::Network;

use crate::{Served, StartCtx};

pub(crate) async fn start(ctx: &StartCtx<'_>) -> Served<Network> {
    let (listener, opts) = ctx.listen().await;
    let svc = Network::open_with(ctx.db.clone(), opts, Arc::new(FakeDataPlane::new())).await.expect("network opens");
    svc.bootstrap(ctx.projects).await.expect("network bootstrap");
    svc.spawn_workers();
    let router = svc.router();
    ctx.serve(svc, listener, router, "network", "neutron", "").await
}
