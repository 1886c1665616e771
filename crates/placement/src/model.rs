//! Placement's entities as the Rust API (and the HTTP handlers) see them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Resources by class (`VCPU` → 2), the amounts of one provider.
pub type Resources = BTreeMap<String, i64>;

/// A consumer's allocations: provider uuid → class → amount.
pub type Allocations = BTreeMap<String, Resources>;

/// One class of inventory of a provider.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Inventory {
    pub total: i64,
    pub reserved: i64,
    pub min_unit: i64,
    pub max_unit: i64,
    pub step_size: i64,
    pub allocation_ratio: f64,
}

impl Inventory {
    /// `total` units, none reserved, any amount from 1 to `total` in steps of 1, ratio 1.0.
    pub fn new(total: i64) -> Inventory {
        Inventory { total, reserved: 0, min_unit: 1, max_unit: total.max(1), step_size: 1, allocation_ratio: 1.0 }
    }

    /// What can be allocated in all: `(total - reserved) * allocation_ratio`, rounded down.
    pub fn capacity(&self) -> i64 {
        (((self.total - self.reserved) as f64) * self.allocation_ratio).floor() as i64
    }

    /// Whether one allocation of `amount` respects min_unit, max_unit and step_size.
    pub fn admits(&self, amount: i64) -> bool {
        amount >= self.min_unit && amount <= self.max_unit && (self.step_size <= 1 || amount % self.step_size == 0)
    }
}

/// A resource provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceProvider {
    pub uuid: String,
    pub name: String,
    pub generation: i64,
    pub parent_provider_uuid: Option<String>,
    pub root_provider_uuid: String,
}

/// An inventory with the amount allocated from it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InventoryUsage {
    pub inventory: Inventory,
    pub used: i64,
}

/// A consumer (an instance, a migration) and what it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Consumer {
    pub uuid: String,
    pub project_id: String,
    pub user_id: String,
    pub consumer_type: Option<String>,
    pub generation: i64,
}

/// One consumer's allocations to write: empty `allocations` removes them all.
#[derive(Debug, Clone, Default)]
pub struct ConsumerWrite {
    pub consumer: String,
    pub allocations: Allocations,
    pub project_id: String,
    pub user_id: String,
    pub consumer_type: Option<String>,
    /// Checked when `Some`: `Some(None)` means "the consumer must not exist
    /// yet", `Some(Some(g))` "its generation must be g" (microversion 1.28+).
    pub expected_generation: Option<Option<i64>>,
}

/// A group of resources (and trait / aggregate constraints) that must come
/// from one provider: the unnamed group of a request, or a numbered one
/// (`resources1=…`, granular, 1.25+).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestGroup {
    /// `""` for the unnamed group, else the suffix (`1`, `_NET`).
    pub suffix: String,
    pub resources: Resources,
    /// Each inner list is an any-of (1.39 `in:`); all lists must hold.
    pub required: Vec<Vec<String>>,
    pub forbidden: Vec<String>,
    /// Each inner list is an any-of set of aggregates; all must hold.
    pub member_of: Vec<Vec<String>>,
    pub forbidden_aggregates: Vec<String>,
    pub in_tree: Option<String>,
}

/// What `allocation_candidates` is asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct CandidateRequest {
    /// The unnamed group first (it may be empty), then the numbered ones.
    pub groups: Vec<RequestGroup>,
    /// `isolate`: numbered groups on different providers; `none`: anything goes.
    pub group_policy_isolate: bool,
    /// Only trees whose root provider has these traits (1.35 `root_required`).
    pub root_required: Vec<String>,
    pub root_forbidden: Vec<String>,
    pub limit: Option<usize>,
    /// Whether one candidate may take from several providers of a tree
    /// (1.29+; true for the in-process API).
    pub nested: bool,
}

impl Default for CandidateRequest {
    fn default() -> Self {
        CandidateRequest {
            groups: Vec::new(),
            group_policy_isolate: false,
            root_required: Vec::new(),
            root_forbidden: Vec::new(),
            limit: None,
            nested: true,
        }
    }
}

impl CandidateRequest {
    /// One unnamed group of `resources` (`[("VCPU", 1), ("MEMORY_MB", 512)]`).
    pub fn resources<'a>(resources: impl IntoIterator<Item = (&'a str, i64)>) -> CandidateRequest {
        let group = RequestGroup {
            resources: resources.into_iter().filter(|(_, n)| *n > 0).map(|(c, n)| (c.to_string(), n)).collect(),
            ..Default::default()
        };
        CandidateRequest { groups: vec![group], ..Default::default() }
    }
}

/// The capacity and usage of one class of a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ClassSummary {
    pub capacity: i64,
    pub used: i64,
}

/// A provider as allocation candidates describe it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProviderSummary {
    pub uuid: String,
    pub name: String,
    pub generation: i64,
    pub parent_provider_uuid: Option<String>,
    pub root_provider_uuid: String,
    pub resources: BTreeMap<String, ClassSummary>,
    pub traits: Vec<String>,
    pub aggregates: Vec<String>,
}

/// One way to satisfy a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The tree the resources come from (a compute host, for compute).
    pub root_provider_uuid: String,
    pub allocations: Allocations,
    /// Request group suffix → the providers that satisfied it (1.34 `mappings`).
    pub mappings: BTreeMap<String, Vec<String>>,
}

/// The answer to an allocation candidates request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Candidates {
    pub candidates: Vec<Candidate>,
    /// Every provider of every tree named by a candidate.
    pub summaries: BTreeMap<String, ProviderSummary>,
}

impl Candidates {
    /// The summary of a candidate's root provider (its host).
    pub fn root_summary(&self, c: &Candidate) -> Option<&ProviderSummary> {
        self.summaries.get(&c.root_provider_uuid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_and_units() {
        let mut i = Inventory::new(10);
        i.reserved = 2;
        i.allocation_ratio = 1.5;
        assert_eq!(i.capacity(), 12);
        i.step_size = 2;
        i.min_unit = 2;
        i.max_unit = 6;
        assert!(i.admits(4) && !i.admits(3) && !i.admits(8) && !i.admits(0));
    }
}
