//! The network service's SQL. Resources are JSON documents keyed by id and
//! kind; IP addresses, segments, MACs and default security groups have their
//! own tables whose keys make double allocation impossible.

use rustack_common::Error;
use rustack_db::{Db, Migration};
use serde_json::Value;
use sqlx::{AnyConnection, Row};

pub type Conn = AnyConnection;

pub static MIGRATIONS: &[Migration] = &[
    Migration { version: 1, name: "initial", sql: include_str!("../migrations/0001_initial.sql") },
    Migration {
        version: 2,
        name: "auto_allocated_topology",
        sql: include_str!("../migrations/0002_auto_allocated_topology.sql"),
    },
];

pub fn db_err(e: sqlx::Error) -> Error {
    Error::internal(&e)
}

/// Runs an INSERT that may hit a unique key: Ok(false) when it did. On
/// PostgreSQL a failed statement aborts the transaction, so it runs under a
/// savepoint there; SQLite only undoes the statement.
async fn try_insert<'q>(
    c: &mut Conn,
    q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
) -> Result<bool, Error> {
    let pg = c.backend_name() == "PostgreSQL";
    if pg {
        sqlx::query("SAVEPOINT try_insert").execute(&mut *c).await.map_err(db_err)?;
    }
    match q.execute(&mut *c).await {
        Ok(_) => {
            if pg {
                sqlx::query("RELEASE SAVEPOINT try_insert").execute(&mut *c).await.map_err(db_err)?;
            }
            Ok(true)
        }
        Err(e) if rustack_db::is_unique_violation(&e) => {
            if pg {
                sqlx::query("ROLLBACK TO SAVEPOINT try_insert").execute(&mut *c).await.map_err(db_err)?;
            }
            Ok(false)
        }
        Err(e) => Err(db_err(e)),
    }
}

/// One stored resource.
pub async fn get(c: &mut Conn, kind: &str, id: &str) -> Result<Option<Value>, Error> {
    let row = sqlx::query("SELECT body FROM network_resource WHERE id = $1 AND kind = $2")
        .bind(id)
        .bind(kind)
        .fetch_optional(&mut *c)
        .await
        .map_err(db_err)?;
    row.map(|r| parse(&r.get::<String, _>(0))).transpose()
}

fn parse(s: &str) -> Result<Value, Error> {
    serde_json::from_str(s).map_err(|e| Error::internal(&e))
}

/// Every resource of a kind.
pub async fn list(c: &mut Conn, kind: &str) -> Result<Vec<Value>, Error> {
    let rows = sqlx::query("SELECT body FROM network_resource WHERE kind = $1 ORDER BY id")
        .bind(kind)
        .fetch_all(&mut *c)
        .await
        .map_err(db_err)?;
    rows.iter().map(|r| parse(&r.get::<String, _>(0))).collect()
}

/// The resources of a kind under one parent (a network's subnets and ports,
/// a security group's rules).
pub async fn children(c: &mut Conn, kind: &str, parent: &str) -> Result<Vec<Value>, Error> {
    let rows = sqlx::query("SELECT body FROM network_resource WHERE kind = $1 AND parent_id = $2 ORDER BY id")
        .bind(kind)
        .bind(parent)
        .fetch_all(&mut *c)
        .await
        .map_err(db_err)?;
    rows.iter().map(|r| parse(&r.get::<String, _>(0))).collect()
}

pub async fn count(c: &mut Conn, kind: &str, project_id: &str) -> Result<i64, Error> {
    let row = sqlx::query("SELECT COUNT(*) FROM network_resource WHERE kind = $1 AND project_id = $2")
        .bind(kind)
        .bind(project_id)
        .fetch_one(&mut *c)
        .await
        .map_err(db_err)?;
    Ok(row.get::<i64, _>(0))
}

pub async fn insert(c: &mut Conn, kind: &str, parent: &str, body: &Value) -> Result<(), Error> {
    let id = body["id"].as_str().unwrap_or_default();
    let project = body.get("project_id").and_then(Value::as_str).unwrap_or_default();
    sqlx::query("INSERT INTO network_resource (id, kind, project_id, parent_id, body) VALUES ($1, $2, $3, $4, $5)")
        .bind(id)
        .bind(kind)
        .bind(project)
        .bind(parent)
        .bind(body.to_string())
        .execute(&mut *c)
        .await
        .map_err(db_err)?;
    Ok(())
}

pub async fn update(c: &mut Conn, kind: &str, body: &Value) -> Result<(), Error> {
    let id = body["id"].as_str().unwrap_or_default();
    sqlx::query("UPDATE network_resource SET body = $1 WHERE id = $2 AND kind = $3")
        .bind(body.to_string())
        .bind(id)
        .bind(kind)
        .execute(&mut *c)
        .await
        .map_err(db_err)?;
    Ok(())
}

pub async fn delete(c: &mut Conn, kind: &str, id: &str) -> Result<bool, Error> {
    let r = sqlx::query("DELETE FROM network_resource WHERE id = $1 AND kind = $2")
        .bind(id)
        .bind(kind)
        .execute(&mut *c)
        .await
        .map_err(db_err)?;
    Ok(r.rows_affected() > 0)
}

// ---- IPAM ----------------------------------------------------------------

/// The addresses in use on a subnet.
pub async fn allocated_ips(c: &mut Conn, subnet_id: &str) -> Result<Vec<String>, Error> {
    let rows = sqlx::query("SELECT ip_address FROM network_ip_allocation WHERE subnet_id = $1")
        .bind(subnet_id)
        .fetch_all(&mut *c)
        .await
        .map_err(db_err)?;
    Ok(rows.iter().map(|r| r.get::<String, _>(0)).collect())
}

pub async fn count_allocated(c: &mut Conn, subnet_id: &str) -> Result<i64, Error> {
    let row = sqlx::query("SELECT COUNT(*) FROM network_ip_allocation WHERE subnet_id = $1")
        .bind(subnet_id)
        .fetch_one(&mut *c)
        .await
        .map_err(db_err)?;
    Ok(row.get::<i64, _>(0))
}

/// Records an address as used by a port: Ok(false) when it is taken already.
pub async fn allocate_ip(
    c: &mut Conn,
    subnet_id: &str,
    ip: &str,
    port_id: &str,
    network_id: &str,
) -> Result<bool, Error> {
    let q = sqlx::query(
        "INSERT INTO network_ip_allocation (subnet_id, ip_address, port_id, network_id) VALUES ($1, $2, $3, $4)",
    )
    .bind(subnet_id.to_string())
    .bind(ip.to_string())
    .bind(port_id.to_string())
    .bind(network_id.to_string());
    try_insert(c, q).await
}

pub async fn release_port_ips(c: &mut Conn, port_id: &str) -> Result<(), Error> {
    sqlx::query("DELETE FROM network_ip_allocation WHERE port_id = $1")
        .bind(port_id)
        .execute(&mut *c)
        .await
        .map_err(db_err)?;
    Ok(())
}

pub async fn release_ip(c: &mut Conn, subnet_id: &str, ip: &str) -> Result<(), Error> {
    sqlx::query("DELETE FROM network_ip_allocation WHERE subnet_id = $1 AND ip_address = $2")
        .bind(subnet_id)
        .bind(ip)
        .execute(&mut *c)
        .await
        .map_err(db_err)?;
    Ok(())
}

// ---- segments, MACs, default groups --------------------------------------

/// The segmentation ids in use of a type on a physical network.
pub async fn segments_in_use(c: &mut Conn, network_type: &str, physnet: &str) -> Result<Vec<i64>, Error> {
    let rows =
        sqlx::query("SELECT segmentation_id FROM network_segment WHERE network_type = $1 AND physical_network = $2")
            .bind(network_type)
            .bind(physnet)
            .fetch_all(&mut *c)
            .await
            .map_err(db_err)?;
    Ok(rows.iter().map(|r| r.get::<i64, _>(0)).collect())
}

/// Takes a segment: Ok(false) when it is in use.
pub async fn take_segment(
    c: &mut Conn,
    network_type: &str,
    physnet: &str,
    seg: i64,
    network_id: &str,
) -> Result<bool, Error> {
    let q = sqlx::query(
        "INSERT INTO network_segment (network_type, physical_network, segmentation_id, network_id) VALUES ($1, $2, $3, $4)",
    )
    .bind(network_type.to_string())
    .bind(physnet.to_string())
    .bind(seg)
    .bind(network_id.to_string());
    try_insert(c, q).await
}

pub async fn release_segments(c: &mut Conn, network_id: &str) -> Result<(), Error> {
    sqlx::query("DELETE FROM network_segment WHERE network_id = $1")
        .bind(network_id)
        .execute(&mut *c)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// Records a MAC on a network: Ok(false) when another port has it.
pub async fn take_mac(c: &mut Conn, network_id: &str, mac: &str, port_id: &str) -> Result<bool, Error> {
    let q = sqlx::query("INSERT INTO network_mac (network_id, mac_address, port_id) VALUES ($1, $2, $3)")
        .bind(network_id.to_string())
        .bind(mac.to_string())
        .bind(port_id.to_string());
    try_insert(c, q).await
}

pub async fn release_mac(c: &mut Conn, port_id: &str) -> Result<(), Error> {
    sqlx::query("DELETE FROM network_mac WHERE port_id = $1").bind(port_id).execute(&mut *c).await.map_err(db_err)?;
    Ok(())
}

pub async fn default_sg(c: &mut Conn, project_id: &str) -> Result<Option<String>, Error> {
    let row = sqlx::query("SELECT security_group_id FROM network_default_sg WHERE project_id = $1")
        .bind(project_id)
        .fetch_optional(&mut *c)
        .await
        .map_err(db_err)?;
    Ok(row.map(|r| r.get::<String, _>(0)))
}

pub async fn set_default_sg(c: &mut Conn, project_id: &str, sg_id: &str) -> Result<(), Error> {
    sqlx::query("INSERT INTO network_default_sg (project_id, security_group_id) VALUES ($1, $2)")
        .bind(project_id)
        .bind(sg_id)
        .execute(&mut *c)
        .await
        .map_err(db_err)?;
    Ok(())
}

pub async fn clear_default_sg(c: &mut Conn, sg_id: &str) -> Result<(), Error> {
    sqlx::query("DELETE FROM network_default_sg WHERE security_group_id = $1")
        .bind(sg_id)
        .execute(&mut *c)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// Applies the migrations.
pub async fn migrate(db: &Db) -> Result<(), Error> {
    db.migrate("network", MIGRATIONS).await.map_err(db_err)?;
    Ok(())
}

/// Forgets every address of a subnet (the subnet is going).
pub async fn release_subnet(c: &mut Conn, subnet_id: &str) -> Result<(), Error> {
    sqlx::query("DELETE FROM network_ip_allocation WHERE subnet_id = $1")
        .bind(subnet_id)
        .execute(&mut *c)
        .await
        .map_err(db_err)?;
    Ok(())
}

// ---- auto-allocated topologies -------------------------------------------

/// A project's auto-allocated topology: (network id, router id).
pub async fn auto_topology(c: &mut Conn, project_id: &str) -> Result<Option<(String, String)>, Error> {
    let row = sqlx::query("SELECT network_id, router_id FROM network_auto_topology WHERE project_id = $1")
        .bind(project_id)
        .fetch_optional(&mut *c)
        .await
        .map_err(db_err)?;
    Ok(row.map(|r| (r.get::<String, _>(0), r.get::<String, _>(1))))
}

/// Records a project's topology: Ok(false) when the project has one already.
pub async fn save_auto_topology(
    c: &mut Conn,
    project_id: &str,
    network_id: &str,
    router_id: &str,
) -> Result<bool, Error> {
    let q = sqlx::query("INSERT INTO network_auto_topology (project_id, network_id, router_id) VALUES ($1, $2, $3)")
        .bind(project_id.to_string())
        .bind(network_id.to_string())
        .bind(router_id.to_string());
    try_insert(c, q).await
}

pub async fn delete_auto_topology(c: &mut Conn, project_id: &str) -> Result<(), Error> {
    sqlx::query("DELETE FROM network_auto_topology WHERE project_id = $1")
        .bind(project_id)
        .execute(&mut *c)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// Forgets the topology a network or router belonged to (it is being
/// deleted; Neutron's foreign keys cascade the same way).
pub async fn forget_auto_topology_of(c: &mut Conn, resource_id: &str) -> Result<(), Error> {
    sqlx::query("DELETE FROM network_auto_topology WHERE network_id = $1 OR router_id = $2")
        .bind(resource_id)
        .bind(resource_id)
        .execute(&mut *c)
        .await
        .map_err(db_err)?;
    Ok(())
}
