//! The image service of the test cloud.

use rustack_image::Image;

use crate::{Served, StartCtx};

pub(crate) async fn start(ctx: &StartCtx<'_>) -> Served<Image> {
    let (listener, opts) = ctx.listen().await;
    let svc = Image::open(ctx.db.clone(), opts).await.expect("image opens");
    svc.bootstrap(ctx.projects).await.expect("image bootstrap");
    svc.spawn_workers();
    let router = svc.router();
    ctx.serve(svc, listener, router, "image", "glance", "").await
}
