//! Machine-readable output, versioned by `format_version`.
//!
//! Format version 1 (documented in docs/json-format.md): the top-level keys below; steps and
//! findings as their serde forms. Fields may be added within a version; none are removed or
//! changed without bumping it.

use std::io::{self, Write};

use serde::Serialize;

use super::assertions::JsonAssertions;
use super::{Assertions, Report, Summary};
use crate::diff::Finding;
use crate::model::Schema;
use crate::plan::{Batch, Step};

pub const FORMAT_VERSION: u32 = 1;

#[derive(Serialize)]
struct Document<'a> {
    format_version: u32,
    tool: &'static str,
    tool_version: &'static str,
    command: &'a str,
    target: &'a str,
    fingerprint: &'a str,
    /// `in_sync`, `pending` (steps to run, no findings) or `drift` (findings present).
    status: &'static str,
    summary: Summary,
    batches: Vec<JsonBatch>,
    steps: &'a [Step],
    findings: &'a [Finding],
    skipped: Vec<JsonSkipped<'a>>,
    /// Both models, so a plan file can be checked and verified without the YAML.
    models: Models<'a>,
    /// `reconcile verify` only (added within format version 1): the `verify/` assertions.
    #[serde(skip_serializing_if = "Option::is_none")]
    assertions: Option<JsonAssertions<'a>>,
}

#[derive(Serialize)]
struct Models<'a> {
    live: &'a Schema,
    desired: &'a Schema,
}

#[derive(Serialize)]
struct JsonBatch {
    /// Step numbers.
    steps: Vec<usize>,
    transactional: bool,
}

#[derive(Serialize)]
struct JsonSkipped<'a> {
    object: &'a crate::model::ObjectId,
    reason: &'a str,
}

pub fn render(report: &Report, out: &mut impl Write) -> io::Result<()> {
    render_with(report, None, out)
}

/// With the `assertions` field (`reconcile verify`).
pub fn render_with(
    report: &Report,
    assertions: Option<&Assertions>,
    out: &mut impl Write,
) -> io::Result<()> {
    let plan = report.plan;
    let summary = Summary::of(plan);
    let status = if summary.findings() > 0 {
        "drift"
    } else if summary.steps > 0 {
        "pending"
    } else {
        "in_sync"
    };
    let document = Document {
        format_version: FORMAT_VERSION,
        tool: "reconcile",
        tool_version: env!("CARGO_PKG_VERSION"),
        command: report.command,
        target: report.target,
        fingerprint: &plan.fingerprint,
        status,
        summary,
        batches: plan
            .batches()
            .into_iter()
            .map(
                |Batch {
                     steps,
                     transactional,
                 }| JsonBatch {
                    steps: steps.map(|i| plan.steps[i].number).collect(),
                    transactional,
                },
            )
            .collect(),
        steps: &plan.steps,
        findings: &plan.findings,
        skipped: report
            .skipped
            .iter()
            .map(|s| JsonSkipped {
                object: &s.object,
                reason: s.reason,
            })
            .collect(),
        models: Models {
            live: report.live,
            desired: report.desired,
        },
        assertions: assertions.map(JsonAssertions::of),
    };
    super::pretty_json::to_writer(&mut *out, &document)?;
    writeln!(out)
}
