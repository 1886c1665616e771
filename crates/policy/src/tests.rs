use super::*;

fn creds(roles: &[&str], pairs: &[(&str, &str)]) -> Credentials {
    let mut c = Credentials { roles: roles.iter().map(|s| s.to_string()).collect(), ..Default::default() };
    for (k, v) in pairs {
        c.set(k, *v);
    }
    c
}

#[test]
fn parses_precedence_and_parentheses() {
    let c = parse("role:a or role:b and not role:c").unwrap();
    assert_eq!(
        c,
        Check::Or(vec![
            Check::Role("a".into()),
            Check::And(vec![Check::Role("b".into()), Check::Not(Box::new(Check::Role("c".into())))])
        ])
    );
    let c = parse("(role:a or role:b) and user_id:%(target.user.id)s").unwrap();
    assert!(matches!(c, Check::And(_)));
    assert!(parse("role:a and").is_err());
    assert!(parse("(role:a").is_err());
    assert!(parse("nonsense").is_err());
    assert_eq!(parse("").unwrap(), Check::Always);
}

#[test]
fn keystone_style_rules_evaluate() {
    let p = Policy::from_defaults(&[
        ("admin_required", "role:admin or is_admin:1"),
        ("system_reader", "role:reader and system_scope:all"),
        ("owner", "user_id:%(user_id)s"),
        ("get_user", "rule:admin_required or rule:system_reader or (role:reader and domain_id:%(target.user.domain_id)s) or user_id:%(target.user.id)s"),
        ("never", "!"),
    ]);
    let admin = creds(&["admin", "member", "reader"], &[("user_id", "u1"), ("project_id", "p")]);
    let reader_sys = creds(&["reader"], &[("user_id", "u2"), ("system_scope", "all")]);
    let dom_reader = creds(&["reader"], &[("user_id", "u3"), ("domain_id", "d1")]);
    let nobody = creds(&["member"], &[("user_id", "u4"), ("project_id", "p")]);
    let t = Target::new().with("target.user.domain_id", "d1").with("target.user.id", "u4");
    assert!(p.enforce("get_user", &admin, &t));
    assert!(p.enforce("get_user", &reader_sys, &t));
    assert!(p.enforce("get_user", &dom_reader, &t));
    assert!(p.enforce("get_user", &nobody, &t), "owner may read itself");
    let other = Target::new().with("target.user.domain_id", "d2").with("target.user.id", "u9");
    assert!(!p.enforce("get_user", &dom_reader, &other));
    assert!(!p.enforce("get_user", &nobody, &other));
    assert!(!p.enforce("never", &admin, &t));
    assert!(!p.enforce("no_such_rule", &admin, &t));
    assert!(p.enforce("owner", &nobody, &Target::new().with("user_id", "u4")));
    assert!(!p.enforce("owner", &nobody, &Target::new()), "a missing target value never matches");
}

#[test]
fn role_names_compare_case_insensitively_and_bools_match() {
    let p = Policy::from_defaults(&[("a", "role:Admin"), ("b", "is_admin_project:True")]);
    let mut c = creds(&["admin"], &[]);
    assert!(p.enforce("a", &c, &Target::new()));
    c.set("is_admin_project", true);
    assert!(p.enforce("b", &c, &Target::new()));
    c.set("is_admin_project", false);
    assert!(!p.enforce("b", &c, &Target::new()));
}

#[test]
fn self_reference_is_denied_not_a_stack_overflow() {
    let p = Policy::from_defaults(&[("loop", "rule:loop")]);
    assert!(!p.enforce("loop", &creds(&[], &[]), &Target::new()));
}

#[test]
fn overrides_from_yaml_and_json_files() {
    let dir = std::env::temp_dir().join(format!("policy-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let y = dir.join("p.yaml");
    std::fs::write(&y, "# comment\n\"identity:list_users\": \"role:reader\"\nidentity:get_user: '!'\n").unwrap();
    let mut p = Policy::from_defaults(&[("identity:list_users", "role:admin"), ("identity:get_user", "@")]);
    assert_eq!(p.load_overrides(&y).unwrap(), 2);
    let r = creds(&["reader"], &[]);
    assert!(p.enforce("identity:list_users", &r, &Target::new()));
    assert!(!p.enforce("identity:get_user", &r, &Target::new()));
    let j = dir.join("p.json");
    std::fs::write(&j, r#"{"identity:get_user": "role:reader"}"#).unwrap();
    p.load_overrides(&j).unwrap();
    assert!(p.enforce("identity:get_user", &r, &Target::new()));
    std::fs::write(&j, r#"{"x": "role:a and"}"#).unwrap();
    assert!(matches!(p.load_overrides(&j), Err(PolicyError::Rule { .. })));
    std::fs::remove_dir_all(&dir).unwrap();
}
