//! Drafts → ordered steps, over a petgraph dependency graph.
//!
//! Kahn's algorithm with a sorted ready set: among the steps whose dependencies are done, the
//! one with the smallest stable key goes next. That gives a valid order, the same order for
//! the same input, and a natural grouping (catalog objects, new tables, each existing table's
//! short-lock changes, index builds, keys, foreign keys, validations).

use std::collections::{BTreeMap, BTreeSet};

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};

use super::{Draft, Key, PlanError, SortKey, Step};

pub(super) fn order(drafts: Vec<Draft>) -> Result<Vec<Step>, PlanError> {
    let mut graph: DiGraph<usize, ()> = DiGraph::with_capacity(drafts.len(), drafts.len() * 2);
    let nodes: Vec<NodeIndex> = (0..drafts.len()).map(|i| graph.add_node(i)).collect();
    let mut providers: BTreeMap<&Key, Vec<usize>> = BTreeMap::new();
    for (i, d) in drafts.iter().enumerate() {
        for key in &d.provides {
            providers.entry(key).or_default().push(i);
        }
    }
    for (i, d) in drafts.iter().enumerate() {
        let mut before: BTreeSet<usize> = BTreeSet::new();
        for key in &d.requires {
            if let Some(list) = providers.get(key) {
                before.extend(list.iter().copied().filter(|&p| p != i));
            }
        }
        for p in before {
            graph.add_edge(nodes[p], nodes[i], ());
        }
    }

    let mut waiting: Vec<usize> = graph
        .node_indices()
        .map(|n| graph.neighbors_directed(n, petgraph::Incoming).count())
        .collect();
    let mut ready: BTreeSet<(&SortKey, usize)> = drafts
        .iter()
        .enumerate()
        .filter(|(i, _)| waiting[*i] == 0)
        .map(|(i, d)| (&d.sort_key, i))
        .collect();
    let mut sequence: Vec<usize> = Vec::with_capacity(drafts.len());
    while let Some(first) = ready.pop_first() {
        let i = first.1;
        sequence.push(i);
        for next in graph.neighbors_directed(nodes[i], petgraph::Outgoing) {
            let n = next.index();
            waiting[n] -= 1;
            if waiting[n] == 0 {
                ready.insert((&drafts[n].sort_key, n));
            }
        }
    }
    if sequence.len() < drafts.len() {
        return Err(cycle(&graph, &drafts, &sequence));
    }

    let mut number_of = vec![0usize; drafts.len()];
    for (position, &i) in sequence.iter().enumerate() {
        number_of[i] = position + 1;
    }
    let mut drafts: Vec<Option<Draft>> = drafts.into_iter().map(Some).collect();
    let mut steps = Vec::with_capacity(sequence.len());
    for &i in &sequence {
        let mut depends_on: Vec<usize> = graph
            .neighbors_directed(nodes[i], petgraph::Incoming)
            .map(|p| number_of[p.index()])
            .collect();
        depends_on.sort_unstable();
        depends_on.dedup();
        let Some(d) = drafts[i].take() else { continue };
        steps.push(Step {
            number: number_of[i],
            kind: d.kind,
            object: d.object,
            sql: d.sql,
            transaction: d.transaction,
            locks: d.locks,
            hazards: d.hazards,
            depends_on,
            index: d.index,
            previous: d.previous,
        });
    }
    Ok(steps)
}

/// Names the objects of one strongly connected component among the steps that never became
/// ready.
fn cycle(graph: &DiGraph<usize, ()>, drafts: &[Draft], done: &[usize]) -> PlanError {
    let done: BTreeSet<usize> = done.iter().copied().collect();
    let stuck = graph.filter_map(
        |n, &i| (!done.contains(&n.index())).then_some(i),
        |_, _| Some(()),
    );
    let mut objects: Vec<String> = tarjan_scc(&stuck)
        .into_iter()
        .find(|component| component.len() > 1 || stuck.contains_edge(component[0], component[0]))
        .unwrap_or_default()
        .into_iter()
        .map(|n| drafts[stuck[n]].object.to_string())
        .collect();
    objects.sort();
    PlanError::Cycle { objects }
}
