//! The metadata API (what guests read at 169.254.169.254), in-process with the
//! fake driver: the router `Compute::metadata_router` gives, served on a
//! loopback port, asked with the headers the network service's proxy sends.

mod common;

use base64::Engine;
use common::{boot, image, url, wait_status};
use hmac::{Hmac, Mac};
use rustack_test_utils::TestCloud;
use serde_json::{json, Value};
use sha2::Sha256;

async fn serve(router: axum::Router) -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(l, router).await;
    });
    format!("http://{addr}")
}

/// GET `path` with `headers`: (status, content type, body).
async fn get(base: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String, Vec<u8>) {
    let mut r = reqwest::Client::new().get(format!("{base}{path}"));
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    let resp = r.send().await.unwrap();
    let status = resp.status().as_u16();
    let ct = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    (status, ct, resp.bytes().await.unwrap().to_vec())
}

async fn text(base: &str, path: &str, headers: &[(&str, &str)]) -> String {
    let (status, _, body) = get(base, path, headers).await;
    let body = String::from_utf8(body).unwrap();
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

async fn json_doc(base: &str, path: &str, headers: &[(&str, &str)]) -> Value {
    let (status, ct, body) = get(base, path, headers).await;
    assert_eq!(status, 200, "GET {path}: {}", String::from_utf8_lossy(&body));
    assert_eq!(ct, "application/json", "{path}");
    serde_json::from_slice(&body).unwrap()
}

async fn post(base: &str, path: &str, headers: &[(&str, &str)], body: &str) -> u16 {
    let mut r = reqwest::Client::new().post(format!("{base}{path}")).body(body.to_string());
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    r.send().await.unwrap().status().as_u16()
}

fn sign(secret: &str, id: &str) -> String {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
    m.update(id.as_bytes());
    m.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

const USER_DATA: &str = "#!/bin/sh\necho hello from user data\n";

/// Boots the demo project's server on its `private` network with a key
/// pair, user data and metadata; returns (server id, its view, public key).
async fn boot_full(cloud: &TestCloud) -> (String, Value, String) {
    let demo = cloud.demo_token().await;
    let img = image(cloud, &cloud.admin_token().await).await;
    let r = cloud.post(&url(cloud, "/os-keypairs"), &demo, json!({"keypair": {"name": "k1"}})).await.expect(200);
    let public = r.body["keypair"]["public_key"].as_str().unwrap().to_string();
    let ud = base64::engine::general_purpose::STANDARD.encode(USER_DATA);
    let id = boot(
        cloud,
        &demo,
        &img,
        json!({"name": "My VM_1", "key_name": "k1", "user_data": ud, "metadata": {"role": "web"}, "networks": "auto"}),
    )
    .await;
    let s = wait_status(cloud, &demo, &id, "ACTIVE").await;
    (id, s, public)
}

#[tokio::test]
async fn openstack_and_ec2_documents_of_a_server() {
    let cloud = TestCloud::start().await;
    let (id, server, public) = boot_full(&cloud).await;
    let md = serve(cloud.compute.svc.metadata_router()).await;
    let h = [("X-Instance-ID", id.as_str())];

    // listings
    let root = text(&md, "/", &[]).await;
    assert!(root.starts_with("1.0\n2007-01-19\n") && root.ends_with("2009-04-04\nlatest"), "{root}");
    let os = text(&md, "/openstack", &h).await;
    assert!(os.starts_with("2012-08-10\n") && os.ends_with("\nlatest"), "{os}");
    let latest = text(&md, "/openstack/latest/", &h).await;
    assert_eq!(
        latest.lines().collect::<Vec<_>>(),
        ["meta_data.json", "user_data", "password", "vendor_data.json", "network_data.json", "vendor_data2.json"]
    );
    assert_eq!(text(&md, "/openstack/2012-08-10", &h).await, "meta_data.json\nuser_data");

    // meta_data.json
    let m = json_doc(&md, "/openstack/latest/meta_data.json", &h).await;
    assert_eq!(m["uuid"], id.as_str());
    assert_eq!(m["name"], "My VM_1");
    assert_eq!(m["hostname"], "my-vm-1.novalocal");
    assert_eq!(m["launch_index"], 0);
    assert_eq!(m["availability_zone"], "nova");
    assert_eq!(m["project_id"], cloud.projects.demo_project_id.as_str());
    assert_eq!(m["meta"], json!({"role": "web"}));
    assert_eq!(m["public_keys"], json!({"k1": public}));
    assert_eq!(m["keys"], json!([{"name": "k1", "type": "ssh", "data": public}]));
    assert_eq!(m["devices"], json!([]));
    let seed = base64::engine::general_purpose::STANDARD.decode(m["random_seed"].as_str().unwrap()).unwrap();
    assert_eq!(seed.len(), 512);
    let old = json_doc(&md, "/openstack/2012-08-10/meta_data.json", &h).await;
    assert!(old.get("random_seed").is_none() && old.get("project_id").is_none() && old.get("devices").is_none());

    // user data: the raw bytes
    let (status, _, body) = get(&md, "/openstack/latest/user_data", &h).await;
    assert_eq!((status, body.as_slice()), (200, USER_DATA.as_bytes()));

    // network_data.json: the port the server got on `private`
    let addr = &server["addresses"]["private"][0];
    let mac = addr["OS-EXT-IPS-MAC:mac_addr"].as_str().unwrap();
    let ip = addr["addr"].as_str().unwrap();
    let n = json_doc(&md, "/openstack/latest/network_data.json", &h).await;
    let link = &n["links"][0];
    assert_eq!(link["ethernet_mac_address"], mac);
    assert_eq!(link["type"], "bridge");
    let tap = link["id"].as_str().unwrap();
    assert!(tap.starts_with("tap") && tap.len() == 14, "{tap}");
    let port_id = link["vif_id"].as_str().unwrap();
    assert!(port_id.starts_with(&tap[3..]));
    let net = &n["networks"][0];
    assert_eq!(net["link"], tap);
    assert_eq!(net["id"], "network0");
    // the private subnet has DHCP: the guest asks it (and its MTU) there
    assert_eq!(net["type"], "ipv4_dhcp", "{n}");
    assert!(net["network_id"].as_str().is_some_and(|x| x.len() == 36), "{n}");
    assert_eq!(link["mtu"], Value::Null);
    assert!(n["services"].is_array());

    assert_eq!(json_doc(&md, "/openstack/latest/vendor_data.json", &h).await, json!({}));
    assert_eq!(json_doc(&md, "/openstack/latest/vendor_data2.json", &h).await, json!({"static": {}}));
    assert_eq!(get(&md, "/openstack/2012-08-10/network_data.json", &h).await.0, 404);
    assert_eq!(get(&md, "/openstack/2099-01-01/meta_data.json", &h).await.0, 404);
    assert_eq!(get(&md, "/openstack/latest/nothing", &h).await.0, 404);

    // the password: empty, set once, then 409
    assert_eq!(text(&md, "/openstack/latest/password", &h).await, "");
    assert_eq!(post(&md, "/openstack/latest/password", &h, "encrypted-pw").await, 200);
    assert_eq!(post(&md, "/openstack/latest/password", &h, "again").await, 409);
    assert_eq!(text(&md, "/openstack/latest/password", &h).await, "encrypted-pw");
    assert_eq!(post(&md, "/openstack/latest/password", &h, &"x".repeat(2000)).await, 400);

    // EC2
    let top = text(&md, "/latest", &h).await;
    assert_eq!(top, "meta-data/\nuser-data");
    let listing = text(&md, "/latest/meta-data/", &h).await;
    for k in ["ami-id", "hostname", "instance-id", "local-ipv4", "public-keys/", "placement/", "reservation-id"] {
        assert!(listing.lines().any(|l| l == k), "{k} not in {listing}");
    }
    assert_eq!(text(&md, "/latest/meta-data/hostname", &h).await, "my-vm-1.novalocal");
    assert_eq!(text(&md, "/latest/meta-data/local-hostname", &h).await, "my-vm-1.novalocal");
    assert_eq!(text(&md, "/latest/meta-data/instance-id", &h).await, format!("i-{}", &id[..8]));
    assert_eq!(text(&md, "/latest/meta-data/local-ipv4", &h).await, ip);
    assert_eq!(text(&md, "/latest/meta-data/mac", &h).await, mac);
    assert_eq!(text(&md, "/latest/meta-data/public-ipv4", &h).await, "");
    assert_eq!(text(&md, "/latest/meta-data/placement/availability-zone", &h).await, "nova");
    assert_eq!(text(&md, "/latest/meta-data/public-keys/", &h).await, "0=k1");
    assert_eq!(text(&md, "/latest/meta-data/public-keys/0/", &h).await, "openssh-key");
    assert_eq!(text(&md, "/latest/meta-data/public-keys/0/openssh-key", &h).await, public);
    assert_eq!(text(&md, "/latest/meta-data/security-groups", &h).await, "default");
    assert_eq!(text(&md, "/2009-04-04/meta-data/instance-type", &h).await, server["flavor"]["original_name"]);
    assert_eq!(text(&md, "/ec2/latest/meta-data/ami-launch-index", &h).await, "0");
    assert_eq!(text(&md, "/latest/user-data", &h).await, USER_DATA);
    assert_eq!(get(&md, "/1.0/meta-data/local-hostname", &h).await.0, 404);
    assert_eq!(get(&md, "/latest/meta-data/nothing", &h).await.0, 404);
    assert_eq!(get(&md, "/2010-01-01/meta-data/", &h).await.0, 404);

    // a floating IP on the server's port is its public-ipv4
    let demo = cloud.demo_token().await;
    let publics = cloud.get(&format!("{}/v2.0/networks?name=public", cloud.network.url), &demo).await.expect(200);
    let public_net = publics.body["networks"][0]["id"].as_str().unwrap().to_string();
    let fip = cloud
        .post(
            &format!("{}/v2.0/floatingips", cloud.network.url),
            &demo,
            json!({"floatingip": {"floating_network_id": public_net, "port_id": port_id}}),
        )
        .await
        .expect(201);
    let fip_addr = fip.body["floatingip"]["floating_ip_address"].as_str().unwrap();
    assert_eq!(text(&md, "/latest/meta-data/public-ipv4", &h).await, fip_addr);
}

#[tokio::test]
async fn instances_are_found_by_id_or_by_address_on_their_network() {
    let cloud = TestCloud::start().await;
    let (id, server, _) = boot_full(&cloud).await;
    let md = serve(cloud.compute.svc.metadata_router()).await;
    let ip = server["addresses"]["private"][0]["addr"].as_str().unwrap().to_string();
    let admin = cloud.admin_token().await;
    let nets = cloud.get(&format!("{}/v2.0/networks?name=private", cloud.network.url), &admin).await.expect(200);
    let net_id = nets.body["networks"][0]["id"].as_str().unwrap().to_string();
    let routers = cloud.get(&format!("{}/v2.0/routers?name=router1", cloud.network.url), &admin).await.expect(200);
    let router_id = routers.body["routers"][0]["id"].as_str().unwrap().to_string();

    // unknown instance, or a project that is not the instance's: Nova's 404 page
    let (status, ct, body) = get(&md, "/openstack/latest/meta_data.json", &[("X-Instance-ID", "nope")]).await;
    assert_eq!(status, 404);
    assert!(ct.starts_with("text/plain"));
    assert!(String::from_utf8(body).unwrap().starts_with("404 Not Found"));
    let wrong_tenant = [("X-Instance-ID", id.as_str()), ("X-Tenant-ID", "someone-else")];
    assert_eq!(get(&md, "/openstack/latest/meta_data.json", &wrong_tenant).await.0, 404);
    let right_tenant = [("X-Instance-ID", id.as_str()), ("X-Tenant-ID", cloud.projects.demo_project_id.as_str())];
    assert_eq!(json_doc(&md, "/openstack/latest/meta_data.json", &right_tenant).await["uuid"], id.as_str());
    // two ids in one request: Nova's 400
    let resp = reqwest::Client::new()
        .get(format!("{md}/openstack/latest/meta_data.json"))
        .header("X-Instance-ID", id.as_str())
        .header("X-Instance-ID", "another")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    assert!(resp.text().await.unwrap().contains("Multiple X-Instance-ID headers"));
    // only GET, HEAD (and POST of the password) are served
    let put = reqwest::Client::new().put(format!("{md}/openstack/latest/meta_data.json")).send().await.unwrap();
    assert_eq!(put.status().as_u16(), 405);
    // no headers at all: nobody to answer for
    assert_eq!(get(&md, "/openstack/latest/meta_data.json", &[]).await.0, 404);

    // by fixed IP on the network the proxy names
    let by_net = [("X-Forwarded-For", ip.as_str()), ("X-Neutron-Network-ID", net_id.as_str())];
    assert_eq!(json_doc(&md, "/openstack/latest/meta_data.json", &by_net).await["uuid"], id.as_str());
    assert_eq!(text(&md, "/latest/meta-data/instance-id", &by_net).await, format!("i-{}", &id[..8]));
    // …or on a network of the router it names
    let by_router = [("X-Forwarded-For", ip.as_str()), ("X-Neutron-Router-ID", router_id.as_str())];
    assert_eq!(json_doc(&md, "/openstack/latest/meta_data.json", &by_router).await["uuid"], id.as_str());
    // the same address on another network is someone else
    let other = [("X-Forwarded-For", ip.as_str()), ("X-Neutron-Network-ID", "00000000-0000-0000-0000-000000000000")];
    assert_eq!(get(&md, "/openstack/latest/meta_data.json", &other).await.0, 404);
    let unknown_ip = [("X-Forwarded-For", "192.0.2.77"), ("X-Neutron-Network-ID", net_id.as_str())];
    assert_eq!(get(&md, "/openstack/latest/meta_data.json", &unknown_ip).await.0, 404);
    let garbage = [("X-Forwarded-For", "not-an-ip"), ("X-Neutron-Network-ID", net_id.as_str())];
    assert_eq!(get(&md, "/openstack/latest/meta_data.json", &garbage).await.0, 400);

    // a deleted server is gone from the metadata service too
    let demo = cloud.demo_token().await;
    cloud.delete(&url(&cloud, &format!("/servers/{id}")), &demo).await.expect(204);
    wait_status(&cloud, &demo, &id, "DELETED").await;
    assert_eq!(get(&md, "/openstack/latest/meta_data.json", &[("X-Instance-ID", id.as_str())]).await.0, 404);
}

#[tokio::test]
async fn with_a_shared_secret_only_signed_requests_are_answered() {
    let db = rustack_db::testing::sqlite().await;
    let cloud = TestCloud::start_with(db, "[metadata]\nshared_secret = s3cret\n").await;
    let demo = cloud.demo_token().await;
    let img = image(&cloud, &cloud.admin_token().await).await;
    let id = boot(&cloud, &demo, &img, json!({})).await;
    wait_status(&cloud, &demo, &id, "ACTIVE").await;
    let md = serve(cloud.compute.svc.metadata_router()).await;
    let path = "/openstack/latest/meta_data.json";

    let good = sign("s3cret", &id);
    let m = json_doc(&md, path, &[("X-Instance-ID", &id), ("X-Instance-ID-Signature", &good)]).await;
    assert_eq!(m["uuid"], id.as_str());
    // no key pair: no keys; no user data: 404 and not listed
    assert!(m.get("public_keys").is_none() && m.get("keys").is_none());
    let signed = [("X-Instance-ID", id.as_str()), ("X-Instance-ID-Signature", good.as_str())];
    assert_eq!(get(&md, "/openstack/latest/user_data", &signed).await.0, 404);
    assert!(!text(&md, "/openstack/latest", &signed).await.contains("user_data"));
    assert_eq!(text(&md, "/latest", &signed).await, "meta-data/");
    assert!(!text(&md, "/latest/meta-data/", &signed).await.contains("public-keys"));

    let bad = sign("wrong", &id);
    let (status, _, body) = get(&md, path, &[("X-Instance-ID", &id), ("X-Instance-ID-Signature", &bad)]).await;
    assert_eq!(status, 403);
    assert!(String::from_utf8(body).unwrap().starts_with("403 Forbidden"));
    assert_eq!(get(&md, path, &[("X-Instance-ID", &id)]).await.0, 403);
    assert_eq!(get(&md, path, &[("X-Instance-ID", &id), ("X-Instance-ID-Signature", "zz")]).await.0, 403);
    // a signature of another instance's id does not pass for this one
    let other = sign("s3cret", "another-instance");
    assert_eq!(get(&md, path, &[("X-Instance-ID", &id), ("X-Instance-ID-Signature", &other)]).await.0, 403);
    // an address lookup carries no signature: refused when a secret is set
    assert_eq!(get(&md, path, &[("X-Forwarded-For", "10.0.0.5")]).await.0, 403);
    // the version list of `/` needs no instance
    assert_eq!(get(&md, "/", &[]).await.0, 200);
    // a signed id of no instance is a 404
    let ghost = sign("s3cret", "ghost");
    assert_eq!(get(&md, path, &[("X-Instance-ID", "ghost"), ("X-Instance-ID-Signature", &ghost)]).await.0, 404);
}

/// The whole path a guest's request takes: the network service's metadata
/// proxy (here on loopback, the guest being 127.0.0.1) signs the instance id
/// it finds for the guest's address, and the metadata API believes it.
#[tokio::test]
async fn requests_through_the_network_proxy_are_signed_and_answered() {
    use rustack_network::netplane::linux::metadata::{start, ProxyContext};

    let db = rustack_db::testing::sqlite().await;
    let cloud = TestCloud::start_with(db, "[metadata]\nshared_secret = s3cret\n").await;
    let (id, _, public) = boot_full(&cloud).await;
    let md = serve(cloud.compute.svc.metadata_router()).await;
    let guest: std::net::IpAddr = "127.0.0.1".parse().unwrap();
    let proxy_for = |secret: &str, ports| {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        let ctx = ProxyContext {
            url: md.clone(),
            shared_secret: Some(secret.to_string()),
            network_id: Some("net-1".into()),
            ports,
            ..Default::default()
        };
        (start(l, ctx).unwrap(), url)
    };
    let known = vec![("net-1".to_string(), guest, Some(id.clone()), Some(cloud.projects.demo_project_id.clone()))];

    let (_p, url) = proxy_for("s3cret", known.clone());
    let m = json_doc(&url, "/openstack/latest/meta_data.json", &[]).await;
    assert_eq!(m["uuid"], id.as_str());
    assert_eq!(m["public_keys"]["k1"], public.as_str());
    assert_eq!(text(&url, "/latest/user-data", &[]).await, USER_DATA);
    // headers a guest sends itself are dropped by the proxy, not believed
    let spoofed = [("X-Instance-ID", "someone-else")];
    assert_eq!(json_doc(&url, "/openstack/latest/meta_data.json", &spoofed).await["uuid"], id.as_str());

    // a proxy with another secret is refused
    let (_q, wrong) = proxy_for("not-the-secret", known);
    assert_eq!(get(&wrong, "/openstack/latest/meta_data.json", &[]).await.0, 403);
    // a proxy that does not know the guest's port sends no signed id: refused
    let (_r, unknown) = proxy_for("s3cret", vec![]);
    assert_eq!(get(&unknown, "/openstack/latest/meta_data.json", &[]).await.0, 403);
}
