//! The in-process API compute uses, on both database backends: providers,
//! inventory reports, claims (never over capacity, even concurrently),
//! moves, releases, usages and candidates.

use std::collections::BTreeMap;
use std::sync::Arc;

use rustack_placement::store::Store;
use rustack_placement::{Allocations, CandidateRequest, ConsumerWrite, Inventory};

fn inv(pairs: &[(&str, i64)]) -> BTreeMap<String, Inventory> {
    pairs.iter().map(|(c, n)| (c.to_string(), Inventory::new(*n))).collect()
}

fn alloc(rp: &str, pairs: &[(&str, i64)]) -> Allocations {
    [(rp.to_string(), pairs.iter().map(|(c, n)| (c.to_string(), *n)).collect())].into()
}

fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The Rust API over a bare store (what `Placement` does, minus HTTP).
async fn placement(db: rustack_db::Db) -> rustack_placement::Placement {
    rustack_placement::Placement::open(db, rustack_test_utils_free_options()).await.expect("opens")
}

fn rustack_test_utils_free_options() -> rustack_http::ServiceOptions {
    struct NoTokens;
    impl rustack_http::TokenValidator for NoTokens {
        fn validate<'a>(
            &'a self,
            _t: &'a str,
        ) -> rustack_http::token_layer::BoxFuture<'a, Result<Arc<rustack_http::RequestContext>, rustack_common::Error>>
        {
            Box::pin(async { Err(rustack_common::Error::unauthorized("no")) })
        }
    }
    struct NoLimits;
    impl rustack_http::LimitLookup for NoLimits {
        fn limit<'a>(
            &'a self,
            _p: &'a str,
            _s: &'a str,
            _r: &'a str,
        ) -> rustack_http::token_layer::BoxFuture<'a, Result<Option<i64>, rustack_common::Error>> {
            Box::pin(async { Ok(None) })
        }
    }
    let ini = rustack_common::config::Ini::parse("t.conf", "").unwrap();
    rustack_http::ServiceOptions {
        config: rustack_common::config::Config::from_ini(ini).unwrap(),
        data_dir: std::env::temp_dir(),
        public_url: "http://127.0.0.1:1".into(),
        identity_url: "http://127.0.0.1:1/v3".into(),
        validator: Arc::new(NoTokens),
        limits: Arc::new(NoLimits),
    }
}

#[tokio::test]
async fn inventory_reports_are_no_ops_when_unchanged() {
    for t in rustack_db::testing::all_backends().await {
        let p = placement(t.db.clone()).await;
        let rp = uuid();
        p.ensure_provider(&rp, "host1").await.unwrap();
        let again = p.ensure_provider(&rp, "host1").await.unwrap();
        assert_eq!(again.generation, 0);
        let i = inv(&[("VCPU", 8), ("MEMORY_MB", 4096), ("DISK_GB", 100)]);
        assert!(p.set_inventory(&rp, &i).await.unwrap());
        let g = p.provider(&rp).await.unwrap().unwrap().generation;
        assert!(!p.set_inventory(&rp, &i).await.unwrap(), "same inventory: nothing written");
        assert_eq!(p.provider(&rp).await.unwrap().unwrap().generation, g, "generation unchanged");
        assert_eq!(p.set_inventory(&uuid(), &i).await.unwrap_err().status(), 404);
        // a name another provider holds
        assert_eq!(p.ensure_provider(&uuid(), "host1").await.unwrap_err().status(), 409);
    }
}

#[tokio::test]
async fn claims_check_capacity_and_units_and_release() {
    for t in rustack_db::testing::all_backends().await {
        let p = placement(t.db.clone()).await;
        let rp = uuid();
        p.ensure_provider(&rp, "h").await.unwrap();
        let mut i = inv(&[("VCPU", 4), ("MEMORY_MB", 2048)]);
        i.get_mut("VCPU").unwrap().allocation_ratio = 2.0; // 8 VCPU of capacity
        i.get_mut("VCPU").unwrap().max_unit = 8;
        p.set_inventory(&rp, &i).await.unwrap();
        let (a, b) = (uuid(), uuid());
        p.claim(&a, &alloc(&rp, &[("VCPU", 4), ("MEMORY_MB", 1024)]), "p1", "u1").await.unwrap();
        p.claim(&b, &alloc(&rp, &[("VCPU", 4), ("MEMORY_MB", 1024)]), "p1", "u1").await.unwrap();
        let e = p.claim(&uuid(), &alloc(&rp, &[("VCPU", 1), ("MEMORY_MB", 1)]), "p1", "u1").await.unwrap_err();
        assert_eq!(e.status(), 409, "{e}");
        assert!(e.message.contains("exceed the capacity"), "{e}");
        // a class with no inventory
        let e = p.claim(&uuid(), &alloc(&rp, &[("DISK_GB", 1)]), "p1", "u1").await.unwrap_err();
        assert_eq!(e.status(), 409);
        // a provider that does not exist
        assert_eq!(p.claim(&uuid(), &alloc(&uuid(), &[("VCPU", 1)]), "p1", "u1").await.unwrap_err().status(), 400);
        let used = p.inventory(&rp).await.unwrap();
        assert_eq!((used["VCPU"].used, used["MEMORY_MB"].used), (8, 2048));
        assert_eq!(p.usages_by_project("p1", None).await.unwrap()["VCPU"], 8);
        assert!(p.release(&a).await.unwrap());
        assert!(!p.release(&a).await.unwrap());
        assert_eq!(p.inventory(&rp).await.unwrap()["VCPU"].used, 4);
        // replacing a consumer's allocation counts what it gives up
        p.claim(&b, &alloc(&rp, &[("VCPU", 8), ("MEMORY_MB", 2048)]), "p1", "u1").await.unwrap();
        assert_eq!(p.inventory(&rp).await.unwrap()["VCPU"].used, 8);
        // an inventory class in use cannot go away
        let e = p.set_inventory(&rp, &inv(&[("VCPU", 4)])).await.unwrap_err();
        assert_eq!(e.code.as_deref(), Some("placement.inventory.inuse"));
        assert_eq!(p.delete_provider(&rp).await.unwrap_err().status(), 409);
        p.release(&b).await.unwrap();
        assert!(p.usages_by_project("p1", None).await.unwrap().is_empty());
        p.delete_provider(&rp).await.unwrap();
    }
}

#[tokio::test]
async fn resize_moves_the_old_allocation_to_the_migration() {
    for t in rustack_db::testing::all_backends().await {
        let p = placement(t.db.clone()).await;
        let (h1, h2) = (uuid(), uuid());
        for (h, n) in [(&h1, "h1"), (&h2, "h2")] {
            p.ensure_provider(h, n).await.unwrap();
            p.set_inventory(h, &inv(&[("VCPU", 4), ("MEMORY_MB", 4096)])).await.unwrap();
        }
        let (inst, mig) = (uuid(), uuid());
        p.claim(&inst, &alloc(&h1, &[("VCPU", 2), ("MEMORY_MB", 2048)]), "p", "u").await.unwrap();
        p.move_allocations(&inst, &mig).await.unwrap();
        assert!(p.allocations(&inst).await.unwrap().is_empty());
        p.claim(&inst, &alloc(&h2, &[("VCPU", 4), ("MEMORY_MB", 4096)]), "p", "u").await.unwrap();
        assert_eq!(p.inventory(&h1).await.unwrap()["VCPU"].used, 2, "the source is still held");
        // revert: drop the new claim, move the old one back
        p.write_allocations(&[ConsumerWrite {
            consumer: inst.clone(),
            project_id: "p".into(),
            user_id: "u".into(),
            ..Default::default()
        }])
        .await
        .unwrap();
        p.move_allocations(&mig, &inst).await.unwrap();
        assert_eq!(p.allocations(&inst).await.unwrap(), alloc(&h1, &[("VCPU", 2), ("MEMORY_MB", 2048)]));
        assert_eq!(p.inventory(&h2).await.unwrap()["VCPU"].used, 0);
        assert_eq!(p.move_allocations(&mig, &inst).await.unwrap_err().status(), 404);
    }
}

#[tokio::test]
async fn concurrent_claims_never_exceed_capacity() {
    for t in rustack_db::testing::all_backends().await {
        let p = placement(t.db.clone()).await;
        let rp = uuid();
        p.ensure_provider(&rp, "h").await.unwrap();
        p.set_inventory(&rp, &inv(&[("VCPU", 10), ("MEMORY_MB", 10 * 512)])).await.unwrap();
        let mut tasks = Vec::new();
        for _ in 0..32 {
            let p = p.clone();
            let rp = rp.clone();
            tasks.push(tokio::spawn(async move {
                p.claim(&uuid(), &alloc(&rp, &[("VCPU", 1), ("MEMORY_MB", 512)]), "p", "u").await
            }));
        }
        let mut won = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(()) => won += 1,
                Err(e) => assert_eq!(e.status(), 409, "{e}"),
            }
        }
        assert_eq!(won, 10, "exactly the capacity");
        let u = p.inventory(&rp).await.unwrap();
        assert_eq!((u["VCPU"].used, u["MEMORY_MB"].used), (10, 5120));
    }
}

#[tokio::test]
async fn candidates_fit_filter_and_summarise() {
    for t in rustack_db::testing::all_backends().await {
        let p = placement(t.db.clone()).await;
        let (big, small, full) = (uuid(), uuid(), uuid());
        for (h, n, cpus) in [(&big, "big", 16), (&small, "small", 2), (&full, "full", 4)] {
            p.ensure_provider(h, n).await.unwrap();
            p.set_inventory(h, &inv(&[("VCPU", cpus), ("MEMORY_MB", 8192)])).await.unwrap();
        }
        p.claim(&uuid(), &alloc(&full, &[("VCPU", 4)]), "p", "u").await.unwrap();
        let found =
            p.allocation_candidates(&CandidateRequest::resources([("VCPU", 2), ("MEMORY_MB", 512)])).await.unwrap();
        let hosts: Vec<&str> = found.candidates.iter().map(|c| c.root_provider_uuid.as_str()).collect();
        assert_eq!(hosts.len(), 2);
        assert!(hosts.contains(&big.as_str()) && hosts.contains(&small.as_str()));
        let s = found.root_summary(&found.candidates[0]).unwrap();
        assert!(s.resources["VCPU"].capacity >= 2);
        // a trait narrows it
        p.set_traits(&big, &["HW_CPU_X86_AVX2".into(), "CUSTOM_FAST".into()]).await.unwrap();
        let mut req = CandidateRequest::resources([("VCPU", 1)]);
        req.groups[0].required = vec![vec!["CUSTOM_FAST".into()]];
        let found = p.allocation_candidates(&req).await.unwrap();
        assert_eq!(found.candidates.len(), 1);
        assert_eq!(found.candidates[0].allocations, alloc(&big, &[("VCPU", 1)]));
        assert_eq!(found.summaries[&big].traits, vec!["CUSTOM_FAST", "HW_CPU_X86_AVX2"]);
        req.groups[0].required.clear();
        req.groups[0].forbidden = vec!["CUSTOM_FAST".into()];
        let found = p.allocation_candidates(&req).await.unwrap();
        assert_eq!(found.candidates.len(), 1);
        assert_eq!(found.candidates[0].root_provider_uuid, small);
        // aggregates
        let agg = uuid();
        p.set_aggregates(&small, std::slice::from_ref(&agg)).await.unwrap();
        let mut req = CandidateRequest::resources([("VCPU", 1)]);
        req.groups[0].member_of = vec![vec![agg.clone()]];
        let found = p.allocation_candidates(&req).await.unwrap();
        assert_eq!(found.candidates.len(), 1);
        assert_eq!(found.summaries[&small].aggregates, vec![agg]);
        // limit
        let mut req = CandidateRequest::resources([("MEMORY_MB", 1)]);
        req.limit = Some(1);
        assert_eq!(p.allocation_candidates(&req).await.unwrap().candidates.len(), 1);
        // nested: a child provider gives SRIOV_NET_VF, the root VCPU
        let child = uuid();
        p.store().create_provider(&child, "big-nic", Some(&big)).await.unwrap();
        p.set_inventory(&child, &inv(&[("SRIOV_NET_VF", 8)])).await.unwrap();
        let found =
            p.allocation_candidates(&CandidateRequest::resources([("VCPU", 1), ("SRIOV_NET_VF", 1)])).await.unwrap();
        assert_eq!(found.candidates.len(), 1);
        let c = &found.candidates[0];
        assert_eq!(c.root_provider_uuid, big);
        assert_eq!(c.allocations[&child]["SRIOV_NET_VF"], 1);
        assert_eq!(c.allocations[&big]["VCPU"], 1);
        assert_eq!(found.summaries[&child].root_provider_uuid, big);
        let _ = Store::new(t.db.clone());
    }
}
