//! Claim + release cost against how many allocations a host already holds.
//!
//! `cargo run --release -p rustack-placement --example claim_bench [-- <rounds>]`
//!
//! For each of 50 and 5000 existing allocations on one provider (and the
//! same numbers spread over 10 providers), times `allocation_candidates`,
//! `claim` and `release` of one more consumer, on a fresh SQLite file (and
//! on PostgreSQL when `RUSTACK_TEST_POSTGRES_URL` is set). The per-call
//! cost should not depend on the existing count: a claim reads and updates
//! one inventory row per class, never the provider's allocations.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustack_placement::{Allocations, CandidateRequest, Inventory, Placement};

fn options() -> rustack_http::ServiceOptions {
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
    let ini = rustack_common::config::Ini::parse("bench.conf", "").expect("empty config");
    rustack_http::ServiceOptions {
        config: rustack_common::config::Config::from_ini(ini).expect("config"),
        data_dir: std::env::temp_dir(),
        public_url: "http://127.0.0.1:1".into(),
        identity_url: "http://127.0.0.1:1/v3".into(),
        validator: Arc::new(NoTokens),
        limits: Arc::new(NoLimits),
    }
}

fn flavor(rp: &str) -> Allocations {
    [(rp.to_string(), [("VCPU".to_string(), 1), ("MEMORY_MB".to_string(), 64), ("DISK_GB".to_string(), 1)].into())]
        .into()
}

fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn per_op(d: Duration, n: usize) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0 / n as f64)
}

async fn run(db: rustack_db::Db, backend: &str, existing: usize, hosts: usize, rounds: usize) {
    let p = Placement::open(db, options()).await.expect("placement opens");
    let mut rps = Vec::new();
    for h in 0..hosts {
        let rp = uuid();
        p.ensure_provider(&rp, &format!("host-{h}")).await.expect("provider");
        let inv: BTreeMap<String, Inventory> = [
            (
                "VCPU".to_string(),
                Inventory { allocation_ratio: 16.0, max_unit: 1_000_000, ..Inventory::new(1_000_000) },
            ),
            ("MEMORY_MB".to_string(), Inventory { max_unit: 1_000_000_000, ..Inventory::new(1_000_000_000) }),
            ("DISK_GB".to_string(), Inventory { max_unit: 1_000_000, ..Inventory::new(1_000_000) }),
        ]
        .into();
        p.set_inventory(&rp, &inv).await.expect("inventory");
        rps.push(rp);
    }
    for k in 0..existing {
        let rp = &rps[k % hosts];
        p.claim(&uuid(), &flavor(rp), "proj", "user").await.expect("fill");
    }
    let req = CandidateRequest::resources([("VCPU", 1), ("MEMORY_MB", 64), ("DISK_GB", 1)]);
    let (mut cand, mut claim, mut release, mut report) =
        (Duration::ZERO, Duration::ZERO, Duration::ZERO, Duration::ZERO);
    for _ in 0..rounds {
        let t = Instant::now();
        let found = p.allocation_candidates(&req).await.expect("candidates");
        cand += t.elapsed();
        let pick = found.candidates[0].allocations.clone();
        let c = uuid();
        let t = Instant::now();
        p.claim(&c, &pick, "proj", "user").await.expect("claim");
        claim += t.elapsed();
        let t = Instant::now();
        p.release(&c).await.expect("release");
        release += t.elapsed();
        let t = Instant::now();
        let inv = p.inventory(&rps[0]).await.expect("inventory");
        let same: BTreeMap<String, Inventory> = inv.into_iter().map(|(c, u)| (c, u.inventory)).collect();
        assert!(!p.set_inventory(&rps[0], &same).await.expect("report"));
        report += t.elapsed();
    }
    println!(
        "| {backend} | {existing} | {hosts} | {} | {} | {} | {} |",
        per_op(cand, rounds),
        per_op(claim, rounds),
        per_op(release, rounds),
        per_op(report, rounds)
    );
}

#[tokio::main]
async fn main() {
    let rounds: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(300);
    println!("{rounds} rounds each; time per call\n");
    println!("| backend | existing allocations | hosts | allocation_candidates | claim | release | unchanged inventory report |");
    println!("|---|---|---|---|---|---|---|");
    for (existing, hosts) in [(50, 1), (5000, 1), (50, 10), (5000, 10)] {
        let t = rustack_db::testing::sqlite().await;
        run(t.db.clone(), "SQLite", existing, hosts, rounds).await;
        if let Some(t) = rustack_db::testing::postgres().await {
            run(t.db.clone(), "PostgreSQL", existing, hosts, rounds).await;
        }
    }
}
