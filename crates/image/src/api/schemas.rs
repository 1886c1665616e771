//! `/v2/schemas/image(s)` and `/v2/schemas/member(s)`: the JSON schemas
//! clients (glanceclient) read to know the fields.

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use rustack_http::token_layer::Authenticated;
use serde_json::{json, Value};

use super::json;
use crate::model::{CONTAINER_FORMATS, DISK_FORMATS, MEMBER_STATUSES, VISIBILITIES};
use crate::Image;

pub fn routes() -> Router<Image> {
    Router::new()
        .route("/v2/schemas/image", get(|_: State<Image>, _: Authenticated| async { ok(image_schema()) }))
        .route("/v2/schemas/images", get(|_: State<Image>, _: Authenticated| async { ok(images_schema()) }))
        .route("/v2/schemas/member", get(|_: State<Image>, _: Authenticated| async { ok(member_schema()) }))
        .route("/v2/schemas/members", get(|_: State<Image>, _: Authenticated| async { ok(members_schema()) }))
        .route("/v2/schemas/metadefs/{name}", get(metadef_schema))
}

/// The metadata definition schemas (the catalog itself is not served: 501).
async fn metadef_schema(
    _: State<Image>,
    _: Authenticated,
    axum::extract::Path(name): axum::extract::Path<String>,
) -> Result<Response, rustack_http::ApiError> {
    let (title, item, plural) = match name.as_str() {
        "namespace" => ("namespace", "namespace", false),
        "namespaces" => ("namespaces", "namespace", true),
        "resource_type" => ("resource_type_association", "resource_type_association", false),
        "resource_types" => ("resource_type_associations", "resource_type_association", true),
        "object" => ("object", "object", false),
        "objects" => ("objects", "object", true),
        "property" => ("property", "property", false),
        "properties" => ("properties", "property", true),
        "tag" => ("tag", "tag", false),
        "tags" => ("tags", "tag", true),
        _ => return Err(rustack_common::Error::not_found("The resource could not be found.").into()),
    };
    let one = json!({
        "name": item,
        "properties": {
            "name": {"type": "string", "maxLength": 255},
            "description": {"type": "string"},
            "created_at": {"type": "string", "readOnly": true, "format": "date-time"},
            "updated_at": {"type": "string", "readOnly": true, "format": "date-time"}
        },
        "additionalProperties": false
    });
    Ok(ok(if plural {
        json!({
            "name": title,
            "properties": {title: {"type": "array", "items": one}, "schema": {"type": "string"}, "first": {"type": "string"}, "next": {"type": "string"}},
            "links": [{"rel": "first", "href": "{first}"}, {"rel": "next", "href": "{next}"}, {"rel": "describedby", "href": "{schema}"}]
        })
    } else {
        let mut o = one;
        o["name"] = json!(title);
        o
    }))
}

fn ok(v: Value) -> Response {
    json(200, v)
}

fn nullable_str(max: usize, desc: &str) -> Value {
    json!({"type": ["null", "string"], "maxLength": max, "description": desc})
}

pub fn image_schema() -> Value {
    let ro = |t: Value, desc: &str| json!({"type": t, "readOnly": true, "description": desc});
    let mut disk: Vec<Value> = vec![Value::Null];
    disk.extend(DISK_FORMATS.iter().map(|f| json!(f)));
    let mut container: Vec<Value> = vec![Value::Null];
    container.extend(CONTAINER_FORMATS.iter().map(|f| json!(f)));
    json!({
        "name": "image",
        "additionalProperties": {"type": "string"},
        "properties": {
            "id": {"type": "string", "pattern": "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$",
                   "description": "An identifier for the image"},
            "name": nullable_str(255, "Descriptive name for the image"),
            "status": {"type": "string", "readOnly": true, "description": "Status of the image",
                       "enum": crate::model::status::ALL},
            "visibility": {"type": "string", "enum": VISIBILITIES, "description": "Scope of image accessibility"},
            "protected": {"type": "boolean", "description": "If true, image will not be deletable."},
            "os_hidden": {"type": "boolean", "description": "If true, image will not appear in default image list response."},
            "checksum": ro(json!(["null", "string"]), "md5 hash of image contents."),
            "os_hash_algo": ro(json!(["null", "string"]), "Algorithm to calculate the os_hash_value"),
            "os_hash_value": ro(json!(["null", "string"]), "Hexdigest of the image contents using the algorithm specified by the os_hash_algo"),
            "owner": nullable_str(255, "Owner of the image"),
            "size": ro(json!(["null", "integer"]), "Size of image file in bytes"),
            "virtual_size": ro(json!(["null", "integer"]), "Virtual size of image in bytes"),
            "container_format": {"type": ["null", "string"], "enum": container, "description": "Format of the container"},
            "disk_format": {"type": ["null", "string"], "enum": disk, "description": "Format of the disk"},
            "created_at": ro(json!("string"), "Date and time of image registration"),
            "updated_at": ro(json!("string"), "Date and time of the last image modification"),
            "tags": {"type": "array", "items": {"type": "string", "maxLength": 255}, "description": "List of strings related to the image"},
            "direct_url": ro(json!("string"), "URL to access the image file kept in external store"),
            "min_ram": {"type": "integer", "description": "Amount of ram (in MB) required to boot image."},
            "min_disk": {"type": "integer", "description": "Amount of disk space (in GB) required to boot image."},
            "self": ro(json!("string"), "An image self url"),
            "file": ro(json!("string"), "An image file url"),
            "stores": ro(json!("string"), "Store in which image data resides.  Only present when the operator has enabled multiple stores."),
            "schema": ro(json!("string"), "An image schema url"),
            "locations": {"type": "array", "items": {"type": "object"}, "description": "A set of URLs to access the image file kept in external store"},
            "kernel_id": {"type": ["null", "string"], "description": "ID of image stored in Glance that should be used as the kernel when booting an AMI-style image.", "is_base": false},
            "ramdisk_id": {"type": ["null", "string"], "description": "ID of image stored in Glance that should be used as the ramdisk when booting an AMI-style image.", "is_base": false},
            "instance_uuid": {"type": "string", "description": "Metadata which can be used to record which instance this image is associated with. (Informational only, does not create an instance snapshot.)", "is_base": false},
            "architecture": {"type": "string", "description": "Operating system architecture as specified in https://docs.openstack.org/python-glanceclient/latest/cli/property-keys.html", "is_base": false},
            "os_distro": {"type": "string", "description": "Common name of operating system distribution as specified in https://docs.openstack.org/python-glanceclient/latest/cli/property-keys.html", "is_base": false},
            "os_version": {"type": "string", "description": "Operating system version as specified by the distributor.", "is_base": false},
        },
        "links": [
            {"rel": "self", "href": "{self}"},
            {"rel": "enclosure", "href": "{file}"},
            {"rel": "describedby", "href": "{schema}"}
        ]
    })
}

pub fn images_schema() -> Value {
    json!({
        "name": "images",
        "properties": {
            "images": {"type": "array", "items": image_schema()},
            "schema": {"type": "string"},
            "first": {"type": "string"},
            "next": {"type": "string"}
        },
        "links": [
            {"rel": "first", "href": "{first}"},
            {"rel": "next", "href": "{next}"},
            {"rel": "describedby", "href": "{schema}"}
        ]
    })
}

pub fn member_schema() -> Value {
    json!({
        "name": "member",
        "properties": {
            "created_at": {"type": "string", "description": "Date and time of image member creation"},
            "image_id": {"type": "string", "description": "An identifier for the image",
                         "pattern": "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$"},
            "member_id": {"type": "string", "description": "An identifier for the image member (tenantId)"},
            "status": {"type": "string", "enum": MEMBER_STATUSES, "description": "The status of this image member"},
            "updated_at": {"type": "string", "description": "Date and time of last modification of image member"},
            "schema": {"type": "string", "readOnly": true}
        }
    })
}

pub fn members_schema() -> Value {
    json!({
        "name": "members",
        "properties": {
            "members": {"type": "array", "items": member_schema()},
            "schema": {"type": "string"}
        },
        "links": [{"rel": "describedby", "href": "{schema}"}]
    })
}
