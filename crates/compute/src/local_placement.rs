//! An in-memory resource tracker with placement's semantics (providers with
//! VCPU / MEMORY_MB / DISK_GB inventory and allocation ratios; one allocation
//! per consumer, replaced atomically). It is what compute claims against
//! until the placement crate's Rust API is wired in (see `adapters`); a claim
//! checks and takes capacity under one lock, so concurrent boots never
//! overcommit a host. Its state is rebuilt from the instances at start.

use std::collections::HashMap;
use std::sync::Mutex;

use rustack_common::Error;
use rustack_http::token_layer::BoxFuture;

use crate::driver::HostResources;
use crate::model::Resources;
use crate::peers::{Candidate, Claim, PlacementClient};

#[derive(Debug, Clone, Copy)]
pub struct Ratios {
    pub cpu: f64,
    pub ram: f64,
    pub disk: f64,
}

struct Provider {
    capacity: Resources,
    used: Resources,
}

#[derive(Default)]
struct State {
    providers: HashMap<String, Provider>,
    allocations: HashMap<String, (String, Resources)>,
}

pub struct LocalPlacement {
    ratios: Ratios,
    state: Mutex<State>,
}

impl LocalPlacement {
    pub fn new(ratios: Ratios) -> LocalPlacement {
        LocalPlacement { ratios, state: Mutex::new(State::default()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn sub(a: Resources, b: Resources) -> Resources {
    Resources { vcpu: a.vcpu - b.vcpu, memory_mb: a.memory_mb - b.memory_mb, disk_gb: a.disk_gb - b.disk_gb }
}

fn add(a: Resources, b: Resources) -> Resources {
    Resources { vcpu: a.vcpu + b.vcpu, memory_mb: a.memory_mb + b.memory_mb, disk_gb: a.disk_gb + b.disk_gb }
}

fn fits(free: Resources, want: Resources) -> bool {
    free.vcpu >= want.vcpu && free.memory_mb >= want.memory_mb && free.disk_gb >= want.disk_gb
}

impl PlacementClient for LocalPlacement {
    fn ensure_provider<'a>(&'a self, host: &'a str, inv: HostResources) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let cap = Resources {
                vcpu: (inv.vcpus as f64 * self.ratios.cpu) as i64,
                memory_mb: (inv.memory_mb as f64 * self.ratios.ram) as i64,
                disk_gb: (inv.disk_gb as f64 * self.ratios.disk) as i64,
            };
            let mut s = self.lock();
            s.providers
                .entry(host.to_string())
                .or_insert(Provider { capacity: cap, used: Resources::default() })
                .capacity = cap;
            Ok(())
        })
    }

    fn candidates<'a>(&'a self, want: Resources) -> BoxFuture<'a, Result<Vec<Candidate>, Error>> {
        Box::pin(async move {
            let s = self.lock();
            let mut out: Vec<Candidate> = s
                .providers
                .iter()
                .map(|(h, p)| Candidate { host: h.clone(), free: sub(p.capacity, p.used) })
                .filter(|c| fits(c.free, want))
                .collect();
            out.sort_by(|a, b| a.host.cmp(&b.host));
            Ok(out)
        })
    }

    fn claim<'a>(&'a self, c: Claim<'a>) -> BoxFuture<'a, Result<bool, Error>> {
        let (consumer, host, want) = (c.consumer, c.host, c.want);
        Box::pin(async move {
            let mut s = self.lock();
            let held = s.allocations.get(consumer).cloned();
            let Some(p) = s.providers.get(host) else { return Ok(false) };
            let mut free = sub(p.capacity, p.used);
            if let Some((h, r)) = &held {
                if h == host {
                    free = add(free, *r);
                }
            }
            if !fits(free, want) {
                return Ok(false);
            }
            if let Some((h, r)) = held {
                if let Some(p) = s.providers.get_mut(&h) {
                    p.used = sub(p.used, r);
                }
            }
            if let Some(p) = s.providers.get_mut(host) {
                p.used = add(p.used, want);
            }
            s.allocations.insert(consumer.to_string(), (host.to_string(), want));
            Ok(true)
        })
    }

    fn release<'a>(&'a self, consumer: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let mut s = self.lock();
            if let Some((h, r)) = s.allocations.remove(consumer) {
                if let Some(p) = s.providers.get_mut(&h) {
                    p.used = sub(p.used, r);
                }
            }
            Ok(())
        })
    }

    fn used<'a>(&'a self, host: &'a str) -> BoxFuture<'a, Result<Resources, Error>> {
        Box::pin(async move { Ok(self.lock().providers.get(host).map(|p| p.used).unwrap_or_default()) })
    }
}
