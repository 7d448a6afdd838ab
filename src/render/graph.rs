//! A picture of a plan: its steps and what each must follow, grouped by the table they belong
//! to, steps with hazards marked. Markdown embeds it as a Mermaid graph (GitHub draws those in
//! a PR comment); `--format dot` writes Graphviz. Past [`COLLAPSE_OVER`] steps a picture of
//! every step is unreadable, so each table (or kind of object without a table) becomes one
//! node that counts its steps.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};

use crate::model::ObjectId;
use crate::plan::{Plan, Step};

/// Plans with more steps are drawn one node per group.
pub const COLLAPSE_OVER: usize = 40;

/// What is drawn: nodes (id, label, hazardous), groups of node ids, and edges.
struct Picture {
    nodes: Vec<Node>,
    /// Group label → node indexes (steps of one table); empty when collapsed.
    groups: BTreeMap<String, Vec<usize>>,
    edges: BTreeSet<(usize, usize)>,
}

struct Node {
    label: String,
    hazardous: bool,
}

/// The table a step belongs to, or what kind of object it creates.
fn group_of(step: &Step) -> String {
    match step.object.table().or_else(|| step.object.owner_name()) {
        Some(name) => name.to_string(),
        None => match &step.object {
            ObjectId::Schema(_) => "schemas".to_owned(),
            ObjectId::Extension(_) => "extensions".to_owned(),
            other => other.kind().to_owned(),
        },
    }
}

fn picture(plan: &Plan) -> Picture {
    let number_to_index: BTreeMap<usize, usize> = plan
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.number, i))
        .collect();
    if plan.steps.len() <= COLLAPSE_OVER {
        let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        let mut edges = BTreeSet::new();
        let nodes = plan
            .steps
            .iter()
            .enumerate()
            .map(|(i, step)| {
                groups.entry(group_of(step)).or_default().push(i);
                for dep in &step.depends_on {
                    if let Some(&from) = number_to_index.get(dep) {
                        edges.insert((from, i));
                    }
                }
                Node {
                    label: format!("{}. {}", step.number, step.object),
                    hazardous: !step.hazards.is_empty(),
                }
            })
            .collect();
        return Picture {
            nodes,
            groups,
            edges,
        };
    }
    // One node per group, in the order the groups first appear in the plan.
    let mut order: Vec<String> = Vec::new();
    let mut members: BTreeMap<String, (usize, bool)> = BTreeMap::new();
    let mut group_of_step = Vec::with_capacity(plan.steps.len());
    for step in &plan.steps {
        let group = group_of(step);
        let entry = members.entry(group.clone()).or_insert_with(|| {
            order.push(group.clone());
            (0, false)
        });
        entry.0 += 1;
        entry.1 |= !step.hazards.is_empty();
        group_of_step.push(group);
    }
    let index: BTreeMap<&str, usize> = order
        .iter()
        .enumerate()
        .map(|(i, g)| (g.as_str(), i))
        .collect();
    let mut edges = BTreeSet::new();
    for (i, step) in plan.steps.iter().enumerate() {
        let to = index[group_of_step[i].as_str()];
        for dep in &step.depends_on {
            if let Some(&from_step) = number_to_index.get(dep) {
                let from = index[group_of_step[from_step].as_str()];
                if from != to {
                    edges.insert((from, to));
                }
            }
        }
    }
    let nodes = order
        .iter()
        .map(|g| {
            let (count, hazardous) = members[g];
            Node {
                label: format!("{g} ({count} step{})", if count == 1 { "" } else { "s" }),
                hazardous,
            }
        })
        .collect();
    Picture {
        nodes,
        groups: BTreeMap::new(),
        edges,
    }
}

/// Text inside a Mermaid `["..."]` label.
fn mermaid_text(text: &str) -> String {
    text.replace('"', "#quot;")
}

/// The plan as a Mermaid flowchart (without the code fence).
pub fn mermaid(plan: &Plan, out: &mut impl Write) -> io::Result<()> {
    let picture = picture(plan);
    writeln!(out, "flowchart TD")?;
    let node = |out: &mut dyn Write, i: usize| -> io::Result<()> {
        let n = &picture.nodes[i];
        let class = if n.hazardous { ":::hazard" } else { "" };
        writeln!(out, "  s{i}[\"{}\"]{class}", mermaid_text(&n.label))
    };
    if picture.groups.is_empty() {
        for i in 0..picture.nodes.len() {
            node(out, i)?;
        }
    } else {
        for (g, (label, members)) in picture.groups.iter().enumerate() {
            writeln!(out, "  subgraph g{g}[\"{}\"]", mermaid_text(label))?;
            for &i in members {
                node(out, i)?;
            }
            writeln!(out, "  end")?;
        }
    }
    for (from, to) in &picture.edges {
        writeln!(out, "  s{from} --> s{to}")?;
    }
    if picture.nodes.iter().any(|n| n.hazardous) {
        writeln!(out, "  classDef hazard stroke:#d73a49,stroke-width:3px")?;
    }
    Ok(())
}

/// Text inside a DOT `"..."` string.
fn dot_text(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The plan as a Graphviz digraph.
pub fn dot(plan: &Plan, out: &mut impl Write) -> io::Result<()> {
    let picture = picture(plan);
    writeln!(out, "digraph plan {{")?;
    writeln!(out, "  rankdir=TB;")?;
    writeln!(out, "  node [shape=box, fontname=\"Helvetica\"];")?;
    let node = |out: &mut dyn Write, i: usize, indent: &str| -> io::Result<()> {
        let n = &picture.nodes[i];
        let style = if n.hazardous {
            ", color=\"#d73a49\", penwidth=3"
        } else {
            ""
        };
        writeln!(
            out,
            "{indent}s{i} [label=\"{}\"{style}];",
            dot_text(&n.label)
        )
    };
    if picture.groups.is_empty() {
        for i in 0..picture.nodes.len() {
            node(out, i, "  ")?;
        }
    } else {
        for (g, (label, members)) in picture.groups.iter().enumerate() {
            writeln!(out, "  subgraph cluster_{g} {{")?;
            writeln!(out, "    label=\"{}\";", dot_text(label))?;
            for &i in members {
                node(out, i, "    ")?;
            }
            writeln!(out, "  }}")?;
        }
    }
    for (from, to) in &picture.edges {
        writeln!(out, "  s{from} -> s{to};")?;
    }
    writeln!(out, "}}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Ident, QualifiedName};
    use crate::plan::{Hazard, HazardCode, StepKind, Transaction};

    fn id(name: &str) -> Ident {
        Ident::new(name).expect("a valid name")
    }

    fn table(name: &str) -> QualifiedName {
        QualifiedName::new(id("public"), id(name))
    }

    fn step(number: usize, object: ObjectId, depends_on: Vec<usize>, hazard: bool) -> Step {
        Step {
            number,
            kind: StepKind::CreateTable,
            object,
            sql: String::new(),
            transaction: Transaction::Grouped,
            locks: Vec::new(),
            hazards: if hazard {
                vec![Hazard {
                    code: HazardCode::BuildsIndex,
                    message: "builds an index".into(),
                }]
            } else {
                Vec::new()
            },
            depends_on,
            index: None,
            previous: None,
        }
    }

    fn plan(steps: Vec<Step>) -> Plan {
        Plan {
            steps,
            findings: Vec::new(),
            fingerprint: String::new(),
        }
    }

    fn small() -> Plan {
        plan(vec![
            step(1, ObjectId::Table(table("authors")), vec![], false),
            step(2, ObjectId::Table(table("posts")), vec![], false),
            step(
                3,
                ObjectId::index(&table("posts"), &id("posts_author_idx")),
                vec![2],
                true,
            ),
            step(
                4,
                ObjectId::constraint(&table("posts"), &id("posts_author_fkey")),
                vec![1, 2],
                false,
            ),
        ])
    }

    fn text(render: impl Fn(&Plan, &mut Vec<u8>) -> io::Result<()>, plan: &Plan) -> String {
        let mut out = Vec::new();
        render(plan, &mut out).expect("render");
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn steps_grouped_by_table_with_their_dependencies_and_hazards() {
        let mermaid = text(mermaid, &small());
        assert_eq!(
            mermaid,
            "flowchart TD\n  subgraph g0[\"public.authors\"]\n  s0[\"1. table public.authors\"]\n  \
             end\n  subgraph g1[\"public.posts\"]\n  s1[\"2. table public.posts\"]\n  \
             s2[\"3. index posts_author_idx on public.posts\"]:::hazard\n  \
             s3[\"4. constraint posts_author_fkey on public.posts\"]\n  end\n  s0 --> s3\n  \
             s1 --> s2\n  s1 --> s3\n  classDef hazard stroke:#d73a49,stroke-width:3px\n"
        );
        let dot = text(dot, &small());
        assert!(dot.starts_with("digraph plan {"));
        assert!(dot.contains("subgraph cluster_1 {\n    label=\"public.posts\";"));
        assert!(dot.contains(
            "s2 [label=\"3. index posts_author_idx on public.posts\", color=\"#d73a49\", penwidth=3];"
        ));
        assert!(dot.contains("  s0 -> s3;\n"));
    }

    #[test]
    fn large_plans_collapse_to_one_node_per_table() {
        let mut steps = Vec::new();
        for t in 0..30 {
            let n = steps.len() + 1;
            steps.push(step(
                n,
                ObjectId::Table(table(&format!("t{t}"))),
                vec![],
                false,
            ));
            let column = ObjectId::column(&table(&format!("t{t}")), &id("c"));
            // Each table's column follows its table and the previous table.
            let mut deps = vec![n];
            if t > 0 {
                deps.push(n - 2);
            }
            steps.push(step(n + 1, column, deps, t == 7));
        }
        let big = plan(steps);
        assert!(big.steps.len() > COLLAPSE_OVER);
        let mermaid = text(mermaid, &big);
        assert!(mermaid.contains("  s0[\"public.t0 (2 steps)\"]\n"));
        assert!(mermaid.contains("  s7[\"public.t7 (2 steps)\"]:::hazard\n"));
        assert!(!mermaid.contains("subgraph"));
        // Edges between tables only, each once.
        assert!(mermaid.contains("  s0 --> s1\n"));
        assert_eq!(mermaid.matches(" --> ").count(), 29);
    }

    #[test]
    fn labels_cannot_break_out_of_their_quotes() {
        let p = plan(vec![step(
            1,
            ObjectId::Table(table("we\"ird")),
            vec![],
            false,
        )]);
        assert!(
            text(mermaid, &p).contains("s0[\"1. table public.#quot;we#quot;#quot;ird#quot;\"]")
        );
        assert!(text(dot, &p).contains("[label=\"1. table public.\\\"we\\\"\\\"ird\\\"\"]"));
    }
}
