//! Security groups and their rules. Every project gets a `default` group on
//! first use, with upstream's rules: all egress, and ingress from members
//! of the group itself, for IPv4 and IPv6.

use rustack_common::Error;
use serde_json::{json, Value};

use super::*;
use crate::ipam;
use crate::query::ListQuery;

const RULE_CREATE: &[&str] = &[
    "security_group_id",
    "direction",
    "ethertype",
    "protocol",
    "port_range_min",
    "port_range_max",
    "remote_ip_prefix",
    "remote_group_id",
    "remote_address_group_id",
    "description",
    "project_id",
    "tenant_id",
];

fn new_group(id: &str, project: &str, name: &str, description: &str) -> Value {
    let mut d = Doc::new();
    std_attrs(&mut d, id, project, Some(name.into()), Some(description.into()));
    d.insert("stateful".into(), json!(true));
    d.insert("shared".into(), json!(false));
    Value::Object(d)
}

#[allow(clippy::too_many_arguments)]
fn new_rule(
    sg: &str,
    project: &str,
    direction: &str,
    ethertype: &str,
    protocol: Option<String>,
    min: Option<i64>,
    max: Option<i64>,
    prefix: Option<String>,
    remote_group: Option<String>,
    description: Option<String>,
) -> Value {
    let mut d = Doc::new();
    let id = new_id();
    std_attrs(&mut d, &id, project, None, description);
    d.remove("name");
    d.remove("tags");
    d.insert("security_group_id".into(), json!(sg));
    d.insert("direction".into(), json!(direction));
    d.insert("ethertype".into(), json!(ethertype));
    d.insert("protocol".into(), json!(protocol));
    d.insert("port_range_min".into(), json!(min));
    d.insert("port_range_max".into(), json!(max));
    let normalized = prefix.clone().or_else(|| {
        remote_group.is_none().then(|| if ethertype == "IPv6" { "::/0".to_string() } else { "0.0.0.0/0".to_string() })
    });
    d.insert("remote_ip_prefix".into(), json!(prefix));
    d.insert("normalized_cidr".into(), json!(normalized));
    d.insert("remote_group_id".into(), json!(remote_group));
    d.insert("remote_address_group_id".into(), Value::Null);
    Value::Object(d)
}

/// The egress rules every new group starts with.
async fn add_egress_defaults(c: &mut Conn, sg: &str, project: &str) -> Result<(), Error> {
    for e in ["IPv4", "IPv6"] {
        let r = new_rule(sg, project, "egress", e, None, None, None, None, None, None);
        store::insert(c, "security_group_rule", sg, &r).await?;
    }
    Ok(())
}

/// The project's `default` group, created (with upstream's rules) if missing.
pub async fn ensure_default(c: &mut Conn, project: &str) -> Result<String, Error> {
    if let Some(id) = store::default_sg(c, project).await? {
        return Ok(id);
    }
    let id = new_id();
    store::set_default_sg(c, project, &id).await?;
    let g = new_group(&id, project, "default", "Default security group");
    store::insert(c, "security_group", "", &g).await?;
    add_egress_defaults(c, &id, project).await?;
    for e in ["IPv4", "IPv6"] {
        let r = new_rule(&id, project, "ingress", e, None, None, None, None, Some(id.clone()), None);
        store::insert(c, "security_group_rule", &id, &r).await?;
    }
    Ok(id)
}

/// Makes the caller's project's default group exist (before a list or create).
async fn ensure_for_caller(net: &Network, caller: &Caller) -> Result<(), Error> {
    if caller.project_id.is_empty() {
        return Ok(());
    }
    let mut c = conn(net).await?;
    if store::default_sg(&mut c, &caller.project_id).await?.is_some() {
        return Ok(());
    }
    drop(c);
    let mut w = begin(net).await?;
    ensure_default(&mut w, &caller.project_id).await?;
    commit(net, w).await
}

fn with_rules(mut g: Value, rules: &[Value]) -> Value {
    let id = g["id"].clone();
    g["security_group_rules"] = json!(rules.iter().filter(|r| r["security_group_id"] == id).collect::<Vec<_>>());
    g
}

pub async fn list(net: &Network, caller: &Caller, q: &ListQuery, base: &str) -> Result<Value, Error> {
    ensure_for_caller(net, caller).await?;
    let mut c = conn(net).await?;
    let rules = store::list(&mut c, "security_group_rule").await?;
    let groups: Vec<Value> = store::list(&mut c, "security_group")
        .await?
        .into_iter()
        .filter(|g| caller.owns(g) || g["shared"] == json!(true))
        .map(|g| with_rules(g, &rules))
        .collect();
    q.apply("security_groups", base, groups)
}

async fn get_visible(c: &mut Conn, caller: &Caller, id: &str) -> Result<Value, Error> {
    let g = must_get(c, "security_group", id).await?;
    if !caller.owns(&g) && g["shared"] != json!(true) {
        return Err(not_found("security_group", id));
    }
    Ok(g)
}

pub async fn show(net: &Network, caller: &Caller, id: &str) -> Result<Value, Error> {
    let mut c = conn(net).await?;
    let g = get_visible(&mut c, caller, id).await?;
    let rules = store::children(&mut c, "security_group_rule", id).await?;
    Ok(with_rules(g, &rules))
}

pub async fn create(net: &Network, caller: &Caller, doc: Doc) -> Result<Value, Error> {
    only(&doc, &["name", "description", "project_id", "tenant_id", "stateful"])?;
    let project = owner_of_new(caller, &doc)?;
    let name = get_str(&doc, "name")?.unwrap_or_default();
    let mut w = begin(net).await?;
    ensure_default(&mut w, &project).await?;
    if name == "default" {
        return Err(
            Error::conflict("Default security group already exists.").with_code("SecurityGroupDefaultAlreadyExists")
        );
    }
    check_quota(&mut w, &project, "security_group", "security_group", 1).await?;
    let id = new_id();
    let mut g = new_group(&id, &project, &name, &get_str(&doc, "description")?.unwrap_or_default());
    if let Some(s) = get_bool(&doc, "stateful")? {
        g["stateful"] = json!(s);
    }
    store::insert(&mut w, "security_group", "", &g).await?;
    add_egress_defaults(&mut w, &id, &project).await?;
    let rules = store::children(&mut w, "security_group_rule", &id).await?;
    commit(net, w).await?;
    Ok(with_rules(g, &rules))
}

pub async fn update(net: &Network, caller: &Caller, id: &str, upd: Doc) -> Result<Value, Error> {
    only(&upd, &["name", "description", "stateful"])?;
    let mut w = begin(net).await?;
    let mut g = get_visible(&mut w, caller, id).await?;
    if !caller.owns(&g) {
        return Err(forbidden("update_security_group"));
    }
    let is_default = g["name"] == json!("default")
        && store::default_sg(&mut w, g["project_id"].as_str().unwrap_or_default()).await?.as_deref() == Some(id);
    if let Some(n) = get_str(&upd, "name")? {
        if is_default && n != "default" {
            return Err(Error::conflict("Updating default security group not allowed.")
                .with_code("SecurityGroupCannotUpdateDefault"));
        }
        if !is_default && n == "default" {
            return Err(Error::conflict("Default security group already exists.")
                .with_code("SecurityGroupDefaultAlreadyExists"));
        }
    }
    update_std(&mut g, &upd)?;
    if let Some(s) = get_bool(&upd, "stateful")? {
        g["stateful"] = json!(s);
    }
    bump(&mut g);
    store::update(&mut w, "security_group", &g).await?;
    let rules = store::children(&mut w, "security_group_rule", id).await?;
    commit(net, w).await?;
    Ok(with_rules(g, &rules))
}

pub async fn delete(net: &Network, caller: &Caller, id: &str) -> Result<(), Error> {
    let mut w = begin(net).await?;
    let g = get_visible(&mut w, caller, id).await?;
    if !caller.owns(&g) {
        return Err(forbidden("delete_security_group"));
    }
    let project = g["project_id"].as_str().unwrap_or_default().to_string();
    if store::default_sg(&mut w, &project).await?.as_deref() == Some(id) && !caller.is_admin {
        return Err(Error::conflict("Insufficient rights for removing default security group.")
            .with_code("SecurityGroupCannotRemoveDefault"));
    }
    if store::list(&mut w, "port")
        .await?
        .iter()
        .any(|p| p["security_groups"].as_array().is_some_and(|a| a.contains(&json!(id))))
    {
        return Err(Error::conflict(format!("Security Group {id} in use.")).with_code("SecurityGroupInUse"));
    }
    for r in store::children(&mut w, "security_group_rule", id).await? {
        store::delete(&mut w, "security_group_rule", r["id"].as_str().unwrap_or_default()).await?;
    }
    // rules of other groups naming this one as remote go too
    for r in store::list(&mut w, "security_group_rule").await? {
        if r["remote_group_id"] == json!(id) {
            store::delete(&mut w, "security_group_rule", r["id"].as_str().unwrap_or_default()).await?;
        }
    }
    store::clear_default_sg(&mut w, id).await?;
    store::delete(&mut w, "security_group", id).await?;
    commit(net, w).await
}

// ---- rules -------------------------------------------------------------

pub async fn list_rules(net: &Network, caller: &Caller, q: &ListQuery, base: &str) -> Result<Value, Error> {
    ensure_for_caller(net, caller).await?;
    let mut c = conn(net).await?;
    let groups: Vec<String> = store::list(&mut c, "security_group")
        .await?
        .into_iter()
        .filter(|g| caller.owns(g))
        .filter_map(|g| g["id"].as_str().map(String::from))
        .collect();
    let rules = store::list(&mut c, "security_group_rule")
        .await?
        .into_iter()
        .filter(|r| caller.owns(r) || groups.iter().any(|g| r["security_group_id"].as_str() == Some(g)))
        .collect();
    q.apply("security_group_rules", base, rules)
}

pub async fn show_rule(net: &Network, caller: &Caller, id: &str) -> Result<Value, Error> {
    let mut c = conn(net).await?;
    let r = must_get(&mut c, "security_group_rule", id).await?;
    if caller.owns(&r) {
        return Ok(r);
    }
    let g = store::get(&mut c, "security_group", r["security_group_id"].as_str().unwrap_or_default()).await?;
    if g.is_some_and(|g| caller.owns(&g)) {
        return Ok(r);
    }
    Err(not_found("security_group_rule", id))
}

/// Protocol names Neutron knows, with their numbers.
fn protocol_number(p: &str) -> Option<i64> {
    Some(match p {
        "ah" => 51,
        "dccp" => 33,
        "egp" => 8,
        "esp" => 50,
        "gre" => 47,
        "hopopt" => 0,
        "icmp" => 1,
        "icmpv6" | "ipv6-icmp" => 58,
        "igmp" => 2,
        "ipip" => 4,
        "ipv6-encap" => 41,
        "ipv6-frag" => 44,
        "ipv6-nonxt" => 59,
        "ipv6-opts" => 60,
        "ipv6-route" => 43,
        "ospf" => 89,
        "pgm" => 113,
        "rsvp" => 46,
        "sctp" => 132,
        "tcp" => 6,
        "udp" => 17,
        "udplite" => 136,
        "vrrp" => 112,
        _ => return None,
    })
}

pub async fn create_rule(net: &Network, caller: &Caller, doc: Doc) -> Result<Value, Error> {
    let mut w = begin(net).await?;
    let r = create_rule_in(&mut w, caller, doc).await?;
    commit(net, w).await?;
    Ok(r)
}

pub async fn create_rule_in(c: &mut Conn, caller: &Caller, doc: Doc) -> Result<Value, Error> {
    only(&doc, RULE_CREATE)?;
    let sg_id = get_str(&doc, "security_group_id")?.ok_or_else(|| invalid("security_group_id is required"))?;
    let g = store::get(c, "security_group", &sg_id).await?.ok_or_else(|| not_found("security_group", &sg_id))?;
    if !caller.owns(&g) {
        return Err(not_found("security_group", &sg_id));
    }
    let project = g["project_id"].as_str().unwrap_or_default().to_string();
    let direction = get_str(&doc, "direction")?.ok_or_else(|| invalid("direction is required"))?;
    if direction != "ingress" && direction != "egress" {
        return Err(invalid(format!("'{direction}' is not in ['ingress', 'egress']")));
    }
    let ethertype = get_str(&doc, "ethertype")?.unwrap_or_else(|| "IPv4".into());
    let ethertype = match ethertype.to_ascii_lowercase().as_str() {
        "ipv4" => "IPv4".to_string(),
        "ipv6" => "IPv6".to_string(),
        _ => {
            return Err(Error::bad_request(format!(
                "Security group rule for ethertype '{ethertype}' not supported. Allowed values are ['IPv4', 'IPv6']."
            ))
            .with_code("SecurityGroupRuleInvalidEtherType"))
        }
    };
    let protocol = match doc.get("protocol") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::String(s)) if s.is_empty() || s == "any" => None,
        Some(Value::String(s)) => Some(s.to_ascii_lowercase()),
        Some(v) => return Err(invalid(format!("'{v}' is not a valid protocol"))),
    };
    let proto_num = match &protocol {
        None => None,
        Some(p) => match p.parse::<i64>() {
            Ok(n) if (0..=255).contains(&n) => Some(n),
            Ok(_) => {
                return Err(Error::bad_request(format!(
                    "Security group rule protocol {p} not supported. Only protocol values [None, tcp, udp, icmp, icmpv6] and integer representations [0 to 255] are supported."
                ))
                .with_code("SecurityGroupRuleInvalidProtocol"))
            }
            Err(_) => Some(protocol_number(p).ok_or_else(|| {
                Error::bad_request(format!(
                    "Security group rule protocol {p} not supported. Only protocol values [None, tcp, udp, icmp, icmpv6] and integer representations [0 to 255] are supported."
                ))
                .with_code("SecurityGroupRuleInvalidProtocol")
            })?),
        },
    };
    if ethertype == "IPv4" && proto_num == Some(58) {
        return Err(invalid(format!(
            "Protocol {} is not supported for ethertype IPv4",
            protocol.clone().unwrap_or_default()
        )));
    }
    let min = get_int(&doc, "port_range_min")?;
    let max = get_int(&doc, "port_range_max")?;
    match proto_num {
        Some(6) | Some(17) | Some(33) | Some(132) | Some(136) => {
            for v in [min, max].into_iter().flatten() {
                if !(0..=65535).contains(&v) {
                    return Err(Error::bad_request(format!("Invalid value for port {v}"))
                        .with_code("SecurityGroupInvalidPortValue"));
                }
            }
            match (min, max) {
                (Some(a), Some(b)) if a > b => {
                    return Err(Error::bad_request("For TCP/UDP protocols, port_range_min must be <= port_range_max")
                        .with_code("SecurityGroupInvalidPortRange"))
                }
                (Some(0), _) | (_, Some(0)) => {
                    return Err(
                        Error::bad_request("Invalid value for port 0").with_code("SecurityGroupInvalidPortValue")
                    )
                }
                (None, Some(_)) => {
                    return Err(Error::bad_request("For TCP/UDP protocols, port_range_min must be <= port_range_max")
                        .with_code("SecurityGroupInvalidPortRange"))
                }
                _ => {}
            }
        }
        Some(1) | Some(58) => {
            for (v, what) in [(min, "type"), (max, "code")] {
                if let Some(v) = v {
                    if !(0..=255).contains(&v) {
                        return Err(Error::bad_request(format!(
                            "Invalid value for ICMP {what} (port_range_{}) {v}. It must be 0 to 255.",
                            if what == "type" { "min" } else { "max" }
                        ))
                        .with_code("SecurityGroupInvalidIcmpValue"));
                    }
                }
            }
            if min.is_none() && max.is_some() {
                return Err(Error::bad_request(format!(
                    "ICMP code (port-range-max) {} is provided but ICMP type (port-range-min) is missing.",
                    max.unwrap_or_default()
                ))
                .with_code("SecurityGroupMissingIcmpType"));
            }
        }
        _ => {
            if min.is_some() || max.is_some() {
                return Err(Error::bad_request(
                    "Ports may only be given for TCP, UDP, SCTP, DCCP, UDP-Lite or ICMP rules",
                )
                .with_code("SecurityGroupInvalidPortRange"));
            }
        }
    }
    let prefix = match get_str(&doc, "remote_ip_prefix")? {
        None => None,
        Some(p) => {
            let n = ipam::parse_prefix(&p)?;
            if n.addr().is_ipv6() != (ethertype == "IPv6") {
                return Err(Error::bad_request(format!("Conflicting value ethertype {ethertype} for CIDR {p}"))
                    .with_code("SecurityGroupRuleParameterConflict"));
            }
            Some(n.trunc().to_string())
        }
    };
    let remote_group = get_str(&doc, "remote_group_id")?;
    if prefix.is_some() && remote_group.is_some() {
        return Err(Error::bad_request("Only remote_ip_prefix or remote_group_id may be provided.")
            .with_code("SecurityGroupRemoteGroupAndRemoteIpPrefix"));
    }
    if let Some(rg) = &remote_group {
        if store::get(c, "security_group", rg).await?.is_none() {
            return Err(not_found("security_group", rg));
        }
    }
    let description = get_str(&doc, "description")?;
    let rule =
        new_rule(&sg_id, &project, &direction, &ethertype, protocol, min, max, prefix, remote_group, description);
    // a rule equal to an existing one is refused (upstream compares every match field)
    let same = |a: &Value, b: &Value| {
        ["direction", "ethertype", "port_range_min", "port_range_max", "remote_group_id", "normalized_cidr"]
            .iter()
            .all(|k| a[*k] == b[*k])
            && proto_key(a) == proto_key(b)
    };
    for r in store::children(c, "security_group_rule", &sg_id).await? {
        if same(&r, &rule) {
            return Err(Error::conflict(format!(
                "Security group rule already exists. Rule id is {}.",
                r["id"].as_str().unwrap_or_default()
            ))
            .with_code("SecurityGroupRuleExists"));
        }
    }
    check_quota(c, &project, "security_group_rule", "security_group_rule", 1).await?;
    store::insert(c, "security_group_rule", &sg_id, &rule).await?;
    Ok(rule)
}

fn proto_key(r: &Value) -> Option<i64> {
    r["protocol"].as_str().map(|p| p.parse().ok().or_else(|| protocol_number(p)).unwrap_or(-1))
}

pub async fn delete_rule(net: &Network, caller: &Caller, id: &str) -> Result<(), Error> {
    let mut w = begin(net).await?;
    let r = must_get(&mut w, "security_group_rule", id).await?;
    let g = store::get(&mut w, "security_group", r["security_group_id"].as_str().unwrap_or_default()).await?;
    if !caller.owns(&r) && !g.is_some_and(|g| caller.owns(&g)) {
        return Err(not_found("security_group_rule", id));
    }
    store::delete(&mut w, "security_group_rule", id).await?;
    commit(net, w).await
}
