//! The allocation candidate search: which trees of providers can satisfy
//! every request group at once, and how.
//!
//! One read of the inventories of the requested classes (each row carries its
//! usage), one of the providers holding them, and only the traits and
//! aggregates the request names; the combination is done in memory, per tree.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rustack_common::Error;

use super::Store;
use crate::model::{
    Allocations, Candidate, CandidateRequest, Candidates, ClassSummary, InventoryUsage, ProviderSummary, RequestGroup,
    ResourceProvider,
};

/// The trait of a provider that shares its inventory with the providers of
/// its aggregates (shared storage, an IP pool).
const SHARES: &str = "MISC_SHARES_VIA_AGGREGATE";

/// At most this many ways to satisfy one group (or the whole request) per tree.
const PER_TREE: usize = 256;

/// One way to satisfy one group: (provider, class, amount) triples.
type Option_ = Vec<(String, String, i64)>;

struct Ctx<'a> {
    inv: &'a HashMap<(String, String), InventoryUsage>,
    providers: &'a BTreeMap<String, ResourceProvider>,
    traits: &'a HashMap<String, BTreeSet<String>>,
    aggs: &'a HashMap<String, BTreeSet<String>>,
}

impl Ctx<'_> {
    fn free(&self, p: &str, class: &str) -> Option<(i64, &InventoryUsage)> {
        self.inv.get(&(p.to_string(), class.to_string())).map(|u| (u.inventory.capacity() - u.used, u))
    }

    fn fits(&self, p: &str, class: &str, n: i64) -> bool {
        self.free(p, class).is_some_and(|(free, u)| free >= n && u.inventory.admits(n))
    }

    fn has_trait(&self, p: &str, t: &str) -> bool {
        self.traits.get(p).is_some_and(|s| s.contains(t))
    }

    fn in_agg(&self, p: &str, a: &str) -> bool {
        self.aggs.get(p).is_some_and(|s| s.contains(a))
    }

    /// A provider (or, for the unnamed group, its root) meets the aggregate rules.
    fn aggregates_ok(&self, g: &RequestGroup, p: &str, root: &str) -> bool {
        let member = |a: &String| self.in_agg(p, a) || (g.suffix.is_empty() && self.in_agg(root, a));
        g.member_of.iter().all(|any| any.iter().any(member)) && !g.forbidden_aggregates.iter().any(member)
    }

    /// Traits held by any of `ps` meet the group's rules.
    fn traits_ok(&self, g: &RequestGroup, ps: &BTreeSet<&str>) -> bool {
        let has = |t: &String| ps.iter().any(|p| self.has_trait(p, t));
        g.required.iter().all(|any| any.iter().any(has)) && !g.forbidden.iter().any(has)
    }

    /// The ways one group can be met inside the tree whose providers are `tree`.
    fn group_options(&self, g: &RequestGroup, root: &str, tree: &[String]) -> Vec<Option_> {
        // a provider of the named tree (a sharing provider is in its own tree)
        let in_tree_ok = |p: &str| match &g.in_tree {
            None => true,
            Some(t) => {
                let root_of = |x: &str| self.providers.get(x).map(|r| r.root_provider_uuid.as_str());
                root_of(t).is_some() && root_of(t) == root_of(p)
            }
        };
        if !g.suffix.is_empty() {
            // a numbered group: everything from one provider
            return tree
                .iter()
                .filter(|p| in_tree_ok(p) && self.aggregates_ok(g, p, root))
                .filter(|p| g.resources.iter().all(|(c, n)| self.fits(p, c, *n)))
                .filter(|p| self.traits_ok(g, &[p.as_str()].into()))
                .take(PER_TREE)
                .map(|p| g.resources.iter().map(|(c, n)| (p.clone(), c.clone(), *n)).collect())
                .collect();
        }
        // the unnamed group: each class from any provider of the tree
        let mut combos: Vec<Option_> = vec![vec![]];
        for (c, n) in &g.resources {
            let ps: Vec<&String> = tree
                .iter()
                .filter(|p| in_tree_ok(p) && self.fits(p, c, *n) && self.aggregates_ok(g, p, root))
                .collect();
            let mut next = Vec::new();
            for combo in &combos {
                for p in &ps {
                    if next.len() >= PER_TREE {
                        break;
                    }
                    let mut x = combo.clone();
                    x.push(((*p).clone(), c.clone(), *n));
                    next.push(x);
                }
            }
            combos = next;
            if combos.is_empty() {
                return combos;
            }
        }
        combos.retain(|combo| {
            let ps: BTreeSet<&str> = combo.iter().map(|(p, _, _)| p.as_str()).collect();
            // with no resources the traits are the root's
            let ps = if ps.is_empty() { [root].into() } else { ps };
            self.traits_ok(g, &ps)
        });
        combos
    }
}

impl Store {
    pub async fn allocation_candidates(&self, req: &CandidateRequest) -> Result<Candidates, Error> {
        let classes: Vec<String> =
            req.groups.iter().flat_map(|g| g.resources.keys().cloned()).collect::<BTreeSet<_>>().into_iter().collect();
        let inv = self.inventories_of_classes(&classes).await?;
        let holders: Vec<String> = inv.keys().map(|(p, _)| p.clone()).collect::<BTreeSet<_>>().into_iter().collect();
        let mut providers = self.providers_by_uuid(&holders).await?;
        // in_tree names a provider that may hold none of the classes
        let trees: Vec<String> = req.groups.iter().filter_map(|g| g.in_tree.clone()).collect();
        if !trees.is_empty() {
            providers.extend(self.providers_by_uuid(&trees).await?);
        }
        let trait_names: Vec<String> = req
            .groups
            .iter()
            .flat_map(|g| g.required.iter().flatten().chain(g.forbidden.iter()))
            .chain(req.root_required.iter().chain(req.root_forbidden.iter()))
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let traits = if trait_names.is_empty() { HashMap::new() } else { self.traits_of_named(&trait_names).await? };
        let agg_names: Vec<String> = req
            .groups
            .iter()
            .flat_map(|g| g.member_of.iter().flatten().chain(g.forbidden_aggregates.iter()))
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let aggs = if agg_names.is_empty() { HashMap::new() } else { self.aggregates_of_named(&agg_names).await? };
        let ctx = Ctx { inv: &inv, providers: &providers, traits: &traits, aggs: &aggs };

        let mut by_root: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for p in providers.values() {
            if holders.binary_search(&p.uuid).is_ok() {
                by_root.entry(p.root_provider_uuid.clone()).or_default().push(p.uuid.clone());
            }
        }
        let shared = self.sharing_providers(&holders, &providers).await?;
        let limit = req.limit.unwrap_or(usize::MAX);
        let mut out = Candidates::default();
        for (root, tree) in &by_root {
            if out.candidates.len() >= limit {
                break;
            }
            if !req.root_required.iter().all(|t| ctx.has_trait(root, t))
                || req.root_forbidden.iter().any(|t| ctx.has_trait(root, t))
            {
                continue;
            }
            // the tree's own providers, then those that share with it
            let mut tree = tree.clone();
            tree.extend(
                shared.get(root).into_iter().flatten().filter(|s| !tree.contains(s)).cloned().collect::<Vec<_>>(),
            );
            let per_group: Vec<Vec<Option_>> = req.groups.iter().map(|g| ctx.group_options(g, root, &tree)).collect();
            if per_group.iter().any(Vec::is_empty) {
                continue;
            }
            let mut seen: BTreeSet<Vec<(String, String, i64)>> = BTreeSet::new();
            let mut pick = vec![0usize; per_group.len()];
            'combos: for _ in 0..PER_TREE * 4 {
                // the current pick of one option per group
                let chosen: Vec<&Option_> = pick.iter().zip(&per_group).map(|(k, opts)| &opts[*k]).collect();
                if let Some(c) = combine(&ctx, req, root, &chosen) {
                    let key: Vec<(String, String, i64)> = c
                        .allocations
                        .iter()
                        .flat_map(|(p, r)| r.iter().map(move |(cl, n)| (p.clone(), cl.clone(), *n)))
                        .collect();
                    if seen.insert(key) {
                        out.candidates.push(c);
                        if out.candidates.len() >= limit || seen.len() >= PER_TREE {
                            break 'combos;
                        }
                    }
                }
                // next pick (odometer)
                let mut k = 0;
                loop {
                    if k == pick.len() {
                        break 'combos;
                    }
                    pick[k] += 1;
                    if pick[k] < per_group[k].len() {
                        break;
                    }
                    pick[k] = 0;
                    k += 1;
                }
            }
        }
        out.summaries = self.summaries(&out.candidates).await?;
        Ok(out)
    }

    /// Sharing providers (trait `MISC_SHARES_VIA_AGGREGATE`) among `holders`,
    /// by the root of each tree they share with (a tree with a provider in
    /// one of their aggregates).
    async fn sharing_providers(
        &self,
        holders: &[String],
        providers: &BTreeMap<String, ResourceProvider>,
    ) -> Result<HashMap<String, Vec<String>>, Error> {
        let mut out: HashMap<String, Vec<String>> = HashMap::new();
        let marked = self.traits_of_named(&[SHARES.to_string()]).await?;
        let sharing: Vec<String> = holders.iter().filter(|p| marked.contains_key(*p)).cloned().collect();
        if sharing.is_empty() {
            return Ok(out);
        }
        let their_aggs = self.aggregates_of_providers(&sharing).await?;
        let aggs: Vec<String> = their_aggs.values().flatten().cloned().collect::<BTreeSet<_>>().into_iter().collect();
        let members = self.aggregates_of_named(&aggs).await?;
        let member_rps = self.providers_by_uuid(&members.keys().cloned().collect::<Vec<_>>()).await?;
        for (m, m_aggs) in &members {
            let Some(rp) = member_rps.get(m) else { continue };
            for s in &sharing {
                let own_root = providers.get(s).map(|p| p.root_provider_uuid.as_str());
                if own_root == Some(rp.root_provider_uuid.as_str()) {
                    continue;
                }
                if their_aggs.get(s).is_some_and(|sa| sa.intersection(m_aggs).next().is_some()) {
                    let e = out.entry(rp.root_provider_uuid.clone()).or_default();
                    if !e.contains(s) {
                        e.push(s.clone());
                    }
                }
            }
        }
        Ok(out)
    }

    /// Every provider of every tree a candidate names (and every sharing
    /// provider it takes from), with all its inventory, traits and aggregates.
    async fn summaries(&self, candidates: &[Candidate]) -> Result<BTreeMap<String, ProviderSummary>, Error> {
        let roots: Vec<String> =
            candidates.iter().map(|c| c.root_provider_uuid.clone()).collect::<BTreeSet<_>>().into_iter().collect();
        if roots.is_empty() {
            return Ok(BTreeMap::new());
        }
        let mut provs = self.providers_in_trees(&roots).await?;
        let known: BTreeSet<String> = provs.iter().map(|p| p.uuid.clone()).collect();
        let others: Vec<String> = candidates
            .iter()
            .flat_map(|c| c.allocations.keys())
            .filter(|p| !known.contains(*p))
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if !others.is_empty() {
            provs.extend(self.providers_by_uuid(&others).await?.into_values());
        }
        let uuids: Vec<String> = provs.iter().map(|p| p.uuid.clone()).collect();
        let mut inv = self.inventories_of_providers(&uuids).await?;
        let mut traits = self.traits_of_providers(&uuids).await?;
        let mut aggs = self.aggregates_of_providers(&uuids).await?;
        Ok(provs
            .into_iter()
            .map(|p| {
                let resources = inv
                    .remove(&p.uuid)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(c, u)| (c, ClassSummary { capacity: u.inventory.capacity(), used: u.used }))
                    .collect();
                let s = ProviderSummary {
                    traits: traits.remove(&p.uuid).unwrap_or_default().into_iter().collect(),
                    aggregates: aggs.remove(&p.uuid).unwrap_or_default().into_iter().collect(),
                    uuid: p.uuid.clone(),
                    name: p.name,
                    generation: p.generation,
                    parent_provider_uuid: p.parent_provider_uuid,
                    root_provider_uuid: p.root_provider_uuid,
                    resources,
                };
                (p.uuid, s)
            })
            .collect())
    }
}

/// Joins one option per group into a candidate, if together they fit
/// (amounts summed per provider and class) and respect group isolation.
fn combine(ctx: &Ctx<'_>, req: &CandidateRequest, root: &str, chosen: &[&Option_]) -> Option<Candidate> {
    let mut alloc = Allocations::new();
    let mut mappings: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut numbered_providers: Vec<&str> = Vec::new();
    for (g, opt) in req.groups.iter().zip(chosen) {
        let mut ps: Vec<String> = opt.iter().map(|(p, _, _)| p.clone()).collect::<BTreeSet<_>>().into_iter().collect();
        if req.group_policy_isolate && !g.suffix.is_empty() {
            if let Some(p) = ps.first() {
                if numbered_providers.contains(&p.as_str()) {
                    return None;
                }
                numbered_providers.push(opt[0].0.as_str());
            }
        }
        for (p, c, n) in opt.iter() {
            *alloc.entry(p.clone()).or_default().entry(c.clone()).or_default() += n;
        }
        if ps.is_empty() {
            ps.push(root.to_string());
        }
        mappings.insert(g.suffix.clone(), ps);
    }
    for (p, res) in &alloc {
        for (c, n) in res {
            if !ctx.fits(p, c, *n) {
                return None;
            }
        }
    }
    // before 1.29 a candidate takes from one provider of its tree at most
    if !req.nested {
        let in_tree =
            alloc.keys().filter(|p| ctx.providers.get(*p).is_some_and(|r| r.root_provider_uuid == root)).count();
        if in_tree > 1 {
            return None;
        }
    }
    Some(Candidate { root_provider_uuid: root.to_string(), allocations: alloc, mappings })
}
