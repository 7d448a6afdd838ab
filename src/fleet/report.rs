//! The fleet report: one entry per target, summaries that group targets with identical
//! drift, and the merge of the reports of many shards into one.
//!
//! The JSON form is versioned ([`VERSION`]) and deterministic — entries sorted by target
//! name, groups in a fixed order — so that the reports of `--shard 1/N` … `N/N`, merged, are
//! the report of the whole fleet (durations aside). It carries no URL and no password: a
//! target is its name, tags and the *source* of its connection (a variable's name).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::{self, Write};

use serde::{Deserialize, Serialize};

use super::shard::Shard;
use crate::diff::Finding;
use crate::plan::Step;

/// The report format's version: readers refuse another.
pub const VERSION: u32 = 1;

/// What the JSON says it is, so that `report merge` refuses a plan or a random file.
pub const KIND: &str = "reconcile-fleet-report";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub version: u32,
    pub kind: String,
    /// `verify` or `apply`.
    pub command: String,
    /// Fingerprint of the canonical desired state every target was compared with: reports of
    /// different desired states are not merged.
    pub desired: String,
    /// Tenant mode: the desired state's template schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// Which shards the report covers; absent for the whole fleet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shards: Option<Shards>,
    /// The fleet's exit code: the worst of the targets' (see the README's exit codes).
    pub exit_code: u8,
    pub summary: Summary,
    pub targets: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shards {
    pub count: u32,
    pub indexes: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub targets: usize,
    pub counts: BTreeMap<Status, usize>,
    pub groups: Vec<Group>,
}

/// Targets with the same outcome: in sync, the same drift, or the same kind of error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub status: Status,
    pub label: String,
    pub count: usize,
    pub targets: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Nothing to do.
    InSync,
    /// `apply`: steps ran and the result was verified.
    Applied,
    /// Additive steps pending (`apply`: some were skipped).
    Pending,
    /// Findings: drift reconcile never repairs (`apply`: refused by `--fail-on`).
    Drift,
    /// The target could not be audited or applied to (see its error).
    Error,
    /// `apply`: not attempted (the canary failed, or `--max-failures` was reached).
    NotRun,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::InSync => "in sync",
            Status::Applied => "applied",
            Status::Pending => "pending",
            Status::Drift => "drift",
            Status::Error => "error",
            Status::NotRun => "not run",
        }
    }
}

/// Why a target failed, as a class the summary groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Connection refused, host unknown, no such database, connect timeout.
    Unreachable,
    /// The server refused the credentials.
    Auth,
    /// Permission denied (CONNECT, catalog access, history tables).
    Privileges,
    /// A statement or the whole target ran past its timeout.
    Timeout,
    /// Another reconcile apply holds the target's advisory lock.
    Locked,
    /// The target's configuration (a variable that is not set, a malformed URL, a service).
    Config,
    /// The desired state does not fit this target (roles it lacks, a rejected object).
    Rejected,
    /// `apply`: a step failed.
    Failed,
    Other,
}

impl ErrorKind {
    pub fn label(self) -> &'static str {
        match self {
            ErrorKind::Unreachable => "unreachable",
            ErrorKind::Auth => "refused the credentials",
            ErrorKind::Privileges => "lacks privileges",
            ErrorKind::Timeout => "timed out",
            ErrorKind::Locked => "locked by a running apply",
            ErrorKind::Config => "misconfigured",
            ErrorKind::Rejected => "rejects the desired state",
            ErrorKind::Failed => "apply failed",
            ErrorKind::Other => "failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub kind: ErrorKind,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Tenant mode: the target's schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    pub status: Status,
    /// This target's exit code alone (same meaning as a single `verify` / `apply`).
    pub exit_code: u8,
    pub steps: Vec<Step>,
    pub findings: Vec<Finding>,
    /// The live model's fingerprint (as plans carry it); absent when it was not read.
    pub fingerprint: Option<String>,
    pub duration_ms: u64,
    pub error: Option<Failure>,
    /// `apply`: the run recorded in the target's own history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<i64>,
}

impl Entry {
    /// What the target's drift is, in words that are the same for two targets with the same
    /// drift (a tenant's schema written as the template's).
    fn items(&self, template: Option<&str>) -> Vec<String> {
        let general = |text: String| match (&self.schema, template) {
            (Some(schema), Some(template)) => {
                super::tenant::replace_qualifier(&text, schema, template)
            }
            _ => text,
        };
        let mut items: Vec<String> = self
            .steps
            .iter()
            .map(|s| general(step_label(s)))
            .chain(
                self.findings
                    .iter()
                    .map(|f| general(format!("{} {}", f.code, f.object))),
            )
            .collect();
        items.sort();
        items.dedup();
        items
    }
}

/// `missing column public.leads.timezone` for a step that creates something, `changed view
/// public.v` for a replace, else the step's object.
fn step_label(step: &Step) -> String {
    let kind = serde_json::to_value(step.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    if kind.starts_with("create") || kind.starts_with("add") {
        format!("missing {}", step.object)
    } else if kind.starts_with("replace") {
        format!("changed {}", step.object)
    } else {
        // `validation of constraint c on public.t`: the object says what the step does.
        step.object.to_string()
    }
}

/// Everything but the entries: what the run was.
#[derive(Debug, Clone)]
pub struct Header {
    pub command: String,
    pub desired: String,
    pub template: Option<String>,
    pub shard: Option<Shard>,
}

impl Report {
    /// The report of `entries`; `worst` picks the fleet's exit code from two targets'.
    pub fn new(header: Header, mut entries: Vec<Entry>, worst: fn(u8, u8) -> u8) -> Self {
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        let mut report = Report {
            version: VERSION,
            kind: KIND.to_owned(),
            command: header.command,
            desired: header.desired,
            template: header.template,
            shards: header.shard.map(|s| Shards {
                count: s.count,
                indexes: vec![s.index],
            }),
            exit_code: 0,
            summary: Summary {
                targets: 0,
                counts: BTreeMap::new(),
                groups: Vec::new(),
            },
            targets: entries,
        };
        report.summarise(worst);
        report
    }

    fn summarise(&mut self, worst: fn(u8, u8) -> u8) {
        self.exit_code = self.targets.iter().map(|e| e.exit_code).fold(0, worst);
        let mut counts = BTreeMap::new();
        let mut groups: BTreeMap<(Status, String), Vec<String>> = BTreeMap::new();
        for entry in &self.targets {
            *counts.entry(entry.status).or_insert(0) += 1;
            let label = match (&entry.error, entry.status) {
                (Some(failure), _) => failure.kind.label().to_owned(),
                (None, Status::InSync | Status::NotRun) => entry.status.label().to_owned(),
                (None, status) => {
                    let items = entry.items(self.template.as_deref());
                    let shown = items.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
                    let more = items.len().saturating_sub(3);
                    let mut label = match status {
                        Status::Applied => format!("applied: {shown}"),
                        _ => shown,
                    };
                    if more > 0 {
                        let _ = write!(label, " (+{more} more)");
                    }
                    if label.is_empty() {
                        label = status.label().to_owned();
                    }
                    label
                }
            };
            groups
                .entry((entry.status, label))
                .or_default()
                .push(entry.name.clone());
        }
        let mut groups: Vec<Group> = groups
            .into_iter()
            .map(|((status, label), targets)| Group {
                status,
                label,
                count: targets.len(),
                targets,
            })
            .collect();
        // In sync first, then drift by size, then what could not be done.
        groups.sort_by(|a, b| {
            let class = |g: &Group| match g.status {
                Status::InSync => 0,
                Status::Applied | Status::Pending | Status::Drift => 1,
                Status::Error => 2,
                Status::NotRun => 3,
            };
            class(a)
                .cmp(&class(b))
                .then(b.count.cmp(&a.count))
                .then(a.label.cmp(&b.label))
        });
        self.summary = Summary {
            targets: self.targets.len(),
            counts,
            groups,
        };
    }

    /// `412 in sync · 3 missing column public.leads.timezone · 1 unreachable`.
    pub fn line(&self) -> String {
        let parts: Vec<String> = self
            .summary
            .groups
            .iter()
            .map(|g| format!("{} {}", g.count, g.label))
            .collect();
        if parts.is_empty() {
            "no targets".to_owned()
        } else {
            parts.join(" · ")
        }
    }

    fn title(&self) -> String {
        let mut title = format!(
            "reconcile fleet {}: {} target(s)",
            self.command, self.summary.targets
        );
        if let Some(shards) = &self.shards {
            let list: Vec<String> = shards.indexes.iter().map(u32::to_string).collect();
            let _ = write!(title, ", shard {} of {}", list.join(","), shards.count);
        }
        if let Some(template) = &self.template {
            let _ = write!(title, ", tenant schemas compared with {template}");
        }
        title
    }

    /// The JSON form (what `report merge` reads).
    pub fn write_json(&self, out: &mut dyn Write) -> io::Result<()> {
        crate::render::pretty_json::to_writer(&mut *out, self)?;
        writeln!(out)
    }

    /// Plain text: the summary line, each group with (some of) its targets, every error.
    pub fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "{}", self.title())?;
        writeln!(out, "{}", self.line())?;
        for group in &self.summary.groups {
            if group.status == Status::InSync {
                continue;
            }
            writeln!(out)?;
            writeln!(
                out,
                "{} × {} ({})",
                group.count,
                group.label,
                group.status.label()
            )?;
            writeln!(out, "  {}", names(&group.targets, 10))?;
        }
        let failed: Vec<&Entry> = self.targets.iter().filter(|e| e.error.is_some()).collect();
        if !failed.is_empty() {
            writeln!(out)?;
            writeln!(out, "errors:")?;
            for entry in failed.iter().take(50) {
                if let Some(failure) = &entry.error {
                    let message = failure.message.replace('\n', "\n    ");
                    writeln!(out, "  {}: {message}", entry.name)?;
                }
            }
            if failed.len() > 50 {
                writeln!(out, "  ... {} more in the JSON report", failed.len() - 50)?;
            }
        }
        Ok(())
    }

    /// Markdown (a CI job summary, an issue comment).
    pub fn write_markdown(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "### {}", self.title())?;
        writeln!(out)?;
        writeln!(out, "{}", self.line())?;
        writeln!(out)?;
        writeln!(out, "| targets | status | outcome | which |")?;
        writeln!(out, "|---:|---|---|---|")?;
        for group in &self.summary.groups {
            writeln!(
                out,
                "| {} | {} | {} | {} |",
                group.count,
                group.status.label(),
                cell(&group.label),
                cell(&names(&group.targets, 10))
            )?;
        }
        let failed: Vec<&Entry> = self.targets.iter().filter(|e| e.error.is_some()).collect();
        if !failed.is_empty() {
            writeln!(out)?;
            writeln!(out, "<details><summary>{} error(s)</summary>", failed.len())?;
            writeln!(out)?;
            for entry in failed {
                if let Some(failure) = &entry.error {
                    writeln!(out, "- `{}`: {}", entry.name, cell(&failure.message))?;
                }
            }
            writeln!(out)?;
            writeln!(out, "</details>")?;
        }
        Ok(())
    }
}

fn names(list: &[String], at_most: usize) -> String {
    let mut text = list
        .iter()
        .take(at_most)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if list.len() > at_most {
        let _ = write!(text, " (+{} more)", list.len() - at_most);
    }
    text
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "{path}: not a fleet report ({message}); give the JSON files `reconcile fleet ... --format json` wrote"
    )]
    NotAReport { path: String, message: String },
    #[error("{path}: report format version {found}, this reconcile reads version {VERSION}")]
    Version { path: String, found: u32 },
    #[error(
        "{path}: {what} differs from {first}'s ({theirs} vs {ours}); merge reports of one run only"
    )]
    Mismatch {
        path: String,
        first: String,
        what: &'static str,
        theirs: String,
        ours: String,
    },
    #[error("{path}: target {name:?} is also in {other}; shards must not overlap")]
    Duplicate {
        path: String,
        name: String,
        other: String,
    },
    #[error("nothing to merge: give one or more report files")]
    Empty,
}

/// Parses a report file's text.
pub fn parse(path: &str, text: &str) -> Result<Report, MergeError> {
    #[derive(Deserialize)]
    struct Probe {
        kind: Option<String>,
        version: Option<u32>,
    }
    let probe: Probe = serde_json::from_str(text).map_err(|e| MergeError::NotAReport {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    if probe.kind.as_deref() != Some(KIND) {
        return Err(MergeError::NotAReport {
            path: path.to_owned(),
            message: format!("its \"kind\" is not {KIND:?}"),
        });
    }
    if probe.version != Some(VERSION) {
        return Err(MergeError::Version {
            path: path.to_owned(),
            found: probe.version.unwrap_or(0),
        });
    }
    serde_json::from_str(text).map_err(|e| MergeError::NotAReport {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

/// One report from the reports of several shards (or runs over disjoint targets).
pub fn merge(
    reports: Vec<(String, Report)>,
    worst: fn(u8, u8) -> u8,
) -> Result<Report, MergeError> {
    let mut reports = reports.into_iter();
    let (first_path, mut merged) = reports.next().ok_or(MergeError::Empty)?;
    let mut owner: BTreeMap<String, String> = merged
        .targets
        .iter()
        .map(|e| (e.name.clone(), first_path.clone()))
        .collect();
    for (path, report) in reports {
        let mismatch = |what: &'static str, theirs: String, ours: String| MergeError::Mismatch {
            path: path.clone(),
            first: first_path.clone(),
            what,
            theirs,
            ours,
        };
        if report.command != merged.command {
            return Err(mismatch("the command", report.command, merged.command));
        }
        if report.desired != merged.desired {
            return Err(mismatch(
                "the desired state",
                report.desired,
                merged.desired,
            ));
        }
        if report.template != merged.template {
            return Err(mismatch(
                "the template schema",
                format!("{:?}", report.template),
                format!("{:?}", merged.template),
            ));
        }
        merged.shards = match (merged.shards.take(), report.shards) {
            (Some(mut ours), Some(theirs)) if ours.count == theirs.count => {
                ours.indexes.extend(theirs.indexes);
                Some(ours)
            }
            (ours, theirs) => {
                return Err(mismatch(
                    "the sharding",
                    describe_shards(theirs.as_ref()),
                    describe_shards(ours.as_ref()),
                ));
            }
        };
        for entry in report.targets {
            if let Some(other) = owner.insert(entry.name.clone(), path.clone()) {
                return Err(MergeError::Duplicate {
                    path: path.clone(),
                    name: entry.name,
                    other,
                });
            }
            merged.targets.push(entry);
        }
    }
    if let Some(shards) = &mut merged.shards {
        shards.indexes.sort_unstable();
        let distinct: BTreeSet<u32> = shards.indexes.iter().copied().collect();
        if distinct.len() != shards.indexes.len() {
            return Err(MergeError::Duplicate {
                path: "(shards)".to_owned(),
                name: format!("shard list {:?}", shards.indexes),
                other: "another report of the same shard".to_owned(),
            });
        }
        // Every shard present: the report of the whole fleet.
        if distinct.len() as u32 == shards.count {
            merged.shards = None;
        }
    }
    merged.targets.sort_by(|a, b| a.name.cmp(&b.name));
    merged.summarise(worst);
    Ok(merged)
}

fn describe_shards(shards: Option<&Shards>) -> String {
    match shards {
        None => "the whole fleet".to_owned(),
        Some(s) => format!("shards {:?} of {}", s.indexes, s.count),
    }
}
