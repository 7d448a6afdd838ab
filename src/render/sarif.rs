//! SARIF 2.1.0 (`--format sarif`), the format GitHub code scanning and other static-analysis
//! dashboards read: lint diagnostics and plan/verify findings become results whose rule ids are
//! our codes (with their title and help), placed on the file and line they concern, so drift
//! and risky migrations show up where teams already triage alerts.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde_json::{Value, json};

/// A rule: one of our codes.
pub struct Rule {
    pub id: String,
    pub title: String,
    pub help: String,
    /// `error`, `warning` or `note`.
    pub level: &'static str,
}

/// One result.
pub struct Finding {
    pub rule: Rule,
    pub message: String,
    /// File (as the repository names it), line, column (1-based; 0 when unknown).
    pub place: (String, u32, u32),
}

/// Writes one SARIF log with one run of `reconcile`; rules are the codes the results use,
/// sorted, each listed once.
pub fn write(findings: Vec<Finding>, out: &mut impl Write) -> io::Result<()> {
    let mut rules: BTreeMap<String, &Rule> = BTreeMap::new();
    for f in &findings {
        rules.entry(f.rule.id.clone()).or_insert(&f.rule);
    }
    let index: BTreeMap<&str, usize> = rules
        .keys()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let rule_objects: Vec<Value> = rules
        .values()
        .map(|r| {
            json!({
                "id": r.id,
                "name": r.title.split_whitespace().map(capitalise).collect::<String>(),
                "shortDescription": { "text": r.title },
                "help": { "text": r.help },
                "defaultConfiguration": { "level": r.level },
            })
        })
        .collect();
    let results: Vec<Value> = findings
        .iter()
        .map(|f| {
            let (file, line, column) = &f.place;
            let mut region = json!({ "startLine": (*line).max(1) });
            if *column > 0 {
                region["startColumn"] = json!(column);
            }
            json!({
                "ruleId": f.rule.id,
                "ruleIndex": index[f.rule.id.as_str()],
                "level": f.rule.level,
                "message": { "text": f.message },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": uri(file) },
                        "region": region,
                    }
                }],
            })
        })
        .collect();
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "reconcile",
                    "version": env!("CARGO_PKG_VERSION"),
                    "rules": rule_objects,
                }
            },
            "columnKind": "unicodeCodePoints",
            "results": results,
        }]
    });
    super::pretty_json::to_writer(&mut *out, &log)?;
    writeln!(out)
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars().filter(|c| c.is_alphanumeric());
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A relative path as a URI reference (forward slashes, spaces and `%` escaped).
fn uri(path: &str) -> String {
    path.replace('\\', "/")
        .replace('%', "%25")
        .replace(' ', "%20")
}

/// Plan and verify findings; `locate` places an object (its declaration, else its table's),
/// `fallback` is where findings about undeclared objects go (the desired state's first file).
pub fn plan(
    report: &super::Report,
    locate: &super::github::Locate,
    fallback: (String, u32),
    out: &mut impl Write,
) -> io::Result<()> {
    use crate::diff::Severity;
    let findings = report
        .plan
        .findings
        .iter()
        .map(|f| {
            let place = locate(&f.object)
                .or_else(|| {
                    f.object
                        .table()
                        .and_then(|t| locate(&crate::model::ObjectId::Table(t.clone())))
                })
                .unwrap_or_else(|| fallback.clone());
            let mut message = format!("{}: {}", f.object, f.message);
            if let Some(s) = &f.suggestion {
                message.push_str(&format!("\nSQL a human could run: {}", s.text()));
            }
            Finding {
                rule: Rule {
                    id: f.code.to_string(),
                    title: f.code.title().to_owned(),
                    help: format!(
                        "{}: reported by `reconcile {}`, never executed. Each code is \
                         explained in docs/plan.md.",
                        f.code.title(),
                        report.command
                    ),
                    level: match f.severity {
                        Severity::Destructive => "error",
                        Severity::Risky => "warning",
                        Severity::Cosmetic => "note",
                    },
                },
                message,
                place: (place.0, place.1, 0),
            }
        })
        .collect();
    write(findings, out)
}
