//! GitHub Actions workflow commands (`--format github`): one annotation per step and per
//! finding, placed on the desired-state file and line that declares the object (or its
//! table), so a pull request shows the plan beside the YAML or SQL it comes from. Objects the
//! desired state does not declare (an extra table) are annotated without a place.

use std::io::{self, Write};

use crate::diff::Severity;
use crate::model::ObjectId;

use super::Report;
use crate::lint::render::{escape_data as data, escape_property as property};

/// Where an object is declared: (file as the repository names it, line).
pub type Locate<'a> = dyn Fn(&ObjectId) -> Option<(String, u32)> + 'a;

pub fn render(report: &Report, locate: &Locate, out: &mut impl Write) -> io::Result<()> {
    let place = |object: &ObjectId| {
        locate(object).or_else(|| {
            object
                .table()
                .and_then(|t| locate(&ObjectId::Table(t.clone())))
        })
    };
    for step in &report.plan.steps {
        let mut message = format!("{} {}", report.command, step.object);
        for hazard in &step.hazards {
            message.push_str(&format!("\n{}: {}", hazard.code.as_str(), hazard.message));
        }
        message.push_str(&format!("\n{}", step.sql));
        annotation(
            out,
            "notice",
            place(&step.object),
            &format!("reconcile: step {} ({})", step.number, step.object),
            &message,
        )?;
    }
    for finding in &report.plan.findings {
        let level = match finding.severity {
            Severity::Destructive => "error",
            _ => "warning",
        };
        let mut message = format!("{}: {}", finding.object, finding.message);
        if let Some(suggestion) = &finding.suggestion {
            message.push_str(&format!("\n{}", suggestion.text()));
        }
        annotation(
            out,
            level,
            place(&finding.object),
            &format!("{} {}", finding.code, finding.code.title()),
            &message,
        )?;
    }
    writeln!(
        out,
        "reconcile {}: {}",
        report.command,
        super::Summary::of(report.plan).line()
    )
}

fn annotation(
    out: &mut impl Write,
    level: &str,
    place: Option<(String, u32)>,
    title: &str,
    message: &str,
) -> io::Result<()> {
    let mut properties = Vec::new();
    if let Some((file, line)) = place {
        properties.push(format!("file={}", property(&file)));
        properties.push(format!("line={line}"));
    }
    properties.push(format!("title={}", property(title)));
    writeln!(out, "::{level} {}::{}", properties.join(","), data(message))
}
