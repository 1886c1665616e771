//! `os-server-password`: the encrypted password a guest posted to the
//! metadata API (`/openstack/latest/password`). Show gives it (empty when
//! none was posted); delete forgets it, so the guest may post a new one.
//! It never changes the guest's own password.

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use rustack_http::token_layer::Authenticated;
use rustack_http::ApiResult;
use serde_json::json;

use super::servers::load;
use super::{no_content, ok};
use crate::Compute;

pub fn routes() -> Router<Compute> {
    Router::new().route("/servers/{id}/os-server-password", get(show).delete(clear))
}

async fn show(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let i = load(&c, &ctx, &id).await?;
    let password = c.store().metadata_password_get(&i.uuid).await?.unwrap_or_default();
    Ok(ok(json!({ "password": password })))
}

async fn clear(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let i = load(&c, &ctx, &id).await?;
    c.store().metadata_password_clear(&i.uuid).await?;
    Ok(no_content())
}

#[cfg(test)]
mod tests {
    use axum::http::Method;
    use rustack_test_utils::TestCloud;
    use serde_json::json;

    #[tokio::test]
    async fn server_password_shows_empty_until_the_guest_posts_one_and_delete_answers_204() {
        let cloud = TestCloud::start().await;
        let token = cloud.demo_token().await;
        let nova = format!("{}/v2.1", cloud.compute.url);
        let image = cloud.tiny_image(&token, "pw", false).await;
        let id = cloud
            .request_with(
                Method::POST,
                &format!("{nova}/servers"),
                Some(&token),
                Some(json!({"server": {"name": "pw", "imageRef": image, "flavorRef": "1", "networks": "none"}})),
                &[("OpenStack-API-Version", "compute 2.37")],
            )
            .await
            .expect(202)
            .body["server"]["id"]
            .as_str()
            .expect("id")
            .to_string();
        let url = format!("{nova}/servers/{id}/os-server-password");
        let r = cloud.get(&url, &token).await.expect(200);
        assert_eq!(r.body, json!({"password": ""}));

        cloud.delete(&url, &token).await.expect(204);
        let r = cloud.get(&url, &token).await.expect(200);
        assert_eq!(r.body, json!({"password": ""}));

        // an unknown server: 404
        let unknown = format!("{nova}/servers/00000000-0000-0000-0000-000000000000/os-server-password");
        cloud.get(&unknown, &token).await.expect(404);
    }
}
