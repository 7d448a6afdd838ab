//! Reviewed plan files: `reconcile plan --out plan.json` in the pull request,
//! `reconcile apply plan.json` in the deploy — exactly what was reviewed, or nothing.
//!
//! The file is the JSON report (format version 1), which carries the steps, the fingerprint of
//! the live state they were planned against, and both models. Before anything runs, `apply`
//! re-reads the database: a different fingerprint means the database changed since the review,
//! and the plan is refused with a list of what changed. Every statement in the file is also
//! re-checked with the PostgreSQL parser, so a hand-edited file cannot smuggle in a DROP.
//!
//! The parser alone cannot judge a statement that swaps a definition in place (`ALTER
//! POLICY`, `CREATE OR REPLACE`, `COMMENT ON`, `ENABLE/DISABLE TRIGGER`): a plan runs them,
//! and `ALTER POLICY p ON t TO PUBLIC USING (true)` parses as well as the reviewed one. So
//! each such statement must also be one the planner writes for the file's own models — the
//! reviewed live and desired states — for the object its step names.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Deserialize;

use crate::classify::{Kind, Object, classify};
use crate::diff::{self, Code, Finding};
use crate::model::{ObjectId, Schema};
use crate::plan::{self, Plan, Step, StepKind};

#[derive(Debug, Deserialize)]
pub struct PlanFile {
    pub format_version: u32,
    pub command: String,
    pub fingerprint: String,
    pub steps: Vec<Step>,
    pub findings: Vec<Finding>,
    pub models: Models,
}

#[derive(Debug, Deserialize)]
pub struct Models {
    pub live: Schema,
    pub desired: Schema,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    #[error("cannot read the plan file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path}:{line}:{column}: not a reconcile plan file ({message}) — write one with \
         `reconcile plan --format json --out {path}`"
    )]
    Parse {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "{path}: plan file format version {found}, this reconcile reads version {expected} — \
         make the plan with the same reconcile version that applies it"
    )]
    Version {
        path: String,
        found: u32,
        expected: u32,
    },
    #[error("{path}: made by `reconcile {command}`, not `reconcile plan`")]
    NotAPlan { path: String, command: String },
    #[error(
        "{path}: step {number} ({object}) is not an additive statement reconcile would plan \
         ({why}); the file was edited by hand — make a new plan"
    )]
    Tampered {
        path: String,
        number: usize,
        object: Box<crate::model::ObjectId>,
        why: String,
    },
}

/// Reads and checks a plan file.
pub fn read(path: &Path) -> Result<PlanFile, PlanFileError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| PlanFileError::Read {
        path: shown.clone(),
        source,
    })?;
    let file: PlanFile = serde_json::from_str(&text).map_err(|e| PlanFileError::Parse {
        path: shown.clone(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    if file.format_version != crate::render::json::FORMAT_VERSION {
        return Err(PlanFileError::Version {
            path: shown,
            found: file.format_version,
            expected: crate::render::json::FORMAT_VERSION,
        });
    }
    if file.command != "plan" {
        return Err(PlanFileError::NotAPlan {
            path: shown,
            command: file.command,
        });
    }
    let tampered = |step: &Step, why: String| PlanFileError::Tampered {
        path: shown.clone(),
        number: step.number,
        object: Box::new(step.object.clone()),
        why,
    };
    for (i, step) in file.steps.iter().enumerate() {
        check_step(step, &file.steps[..i]).map_err(|why| tampered(step, why))?;
    }
    // Derived once, and only for a file that swaps a definition in place.
    let mut planned: Option<BTreeSet<(ObjectId, String)>> = None;
    for step in &file.steps {
        for statement in replace_statements(&step.sql) {
            let planned = planned.get_or_insert_with(|| planned_replacements(&file.models));
            if !planned.contains(&(step.object.clone(), statement.clone())) {
                return Err(tampered(
                    step,
                    format!(
                        "it runs `{}`, which the plan's desired state does not call for",
                        first_line(&statement)
                    ),
                ));
            }
        }
    }
    Ok(file)
}

/// The statements in `sql` (nested ones included) that swap a definition in place rather
/// than add — what [`Kind::is_replace`] allows and [`Kind::is_additive`] does not — in one
/// spelling (the parser's deparsed form, so the whitespace of a guard does not matter).
fn replace_statements(sql: &str) -> Vec<String> {
    let Ok(statements) = classify(sql) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for top in &statements {
        for s in top.flatten() {
            if s.kind.is_replace() && !s.kind.is_additive() {
                out.push(normalised(&s.text));
            }
        }
    }
    out
}

fn normalised(text: &str) -> String {
    pg_query::parse(text, pg_query::ParserOptions::DEFAULT)
        .and_then(|tree| tree.deparse(Default::default()))
        .unwrap_or_else(|_| text.to_owned())
}

/// The in-place swaps the planner writes for the file's models, by the object of their step:
/// with and without rename hints (which move what a plan holds back), so whichever options
/// the plan was made with, its statements are among them.
fn planned_replacements(models: &Models) -> BTreeSet<(ObjectId, String)> {
    let rows = BTreeMap::new();
    let mut out = BTreeSet::new();
    for rename_hints in [true, false] {
        let options = diff::Options {
            rename_hints,
            replace: true,
            ..Default::default()
        };
        let derived = diff::diff(&models.live, &models.desired, &options);
        let context = plan::Context {
            live: &models.live,
            estimated_rows: &rows,
            concurrently: true,
        };
        // A plan that cannot be ordered has no statements to vouch for anything.
        let Ok(derived) = plan::build(&derived, &context) else {
            continue;
        };
        for step in derived.steps {
            for statement in replace_statements(&step.sql) {
                out.insert((step.object.clone(), statement));
            }
        }
    }
    out
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("").trim()
}

/// A step from a file must be one statement the planner could have produced: additive
/// throughout (guards included), or — for the two named exceptions — a concurrent drop of an
/// index, which the executor only runs when the index is INVALID, and the owner of an object
/// an earlier step of the same file creates.
fn check_step(step: &Step, earlier: &[Step]) -> Result<(), String> {
    let statements = classify(&step.sql).map_err(|e| e.to_string())?;
    let [statement] = statements.as_slice() else {
        return Err(format!(
            "{} statements where the planner writes one",
            statements.len()
        ));
    };
    if step.kind == StepKind::DropInvalidIndex {
        // Exactly the statement the planner writes for the index the step names.
        let Some(index) = &step.index else {
            return Err("a drop-invalid-index step that names no index".to_owned());
        };
        if step.sql != format!("DROP INDEX CONCURRENTLY IF EXISTS {}", index.quoted()) {
            return Err(format!(
                "a drop-invalid-index step whose statement is not the drop of {index}"
            ));
        }
        return match &statement.kind {
            Kind::Drop {
                object: Object::Index,
                concurrently: true,
                cascade: false,
            } => Ok(()),
            _ => Err("a drop-invalid-index step that is not DROP INDEX CONCURRENTLY".to_owned()),
        };
    }
    if step.kind == StepKind::SetOwner {
        return check_owner_step(step, statement, earlier);
    }
    match statement.violations().first() {
        None => Ok(()),
        Some(v) => Err(format!("it runs `{}`", v.text)),
    }
}

/// `ALTER ... OWNER TO` takes an object from its owner: a plan sets the owner only of an
/// object it creates, so the step must name such an object, right after an earlier step of
/// the file that creates it, and run exactly the planner's statement for it.
fn check_owner_step(
    step: &Step,
    statement: &crate::classify::Statement,
    earlier: &[Step],
) -> Result<(), String> {
    let crate::model::ObjectId::Owner(owned) = &step.object else {
        return Err("a set-owner step that names no object's owner".to_owned());
    };
    if !earlier.iter().any(|s| s.object == **owned) {
        return Err(format!(
            "a set-owner step for {owned}, which no earlier step creates"
        ));
    }
    // The guarded ALTER ... OWNER TO the planner writes, for the role it names: nothing else.
    let prefix = crate::kinds::owner::owner_sql_prefix(owned);
    let role = statement
        .flatten()
        .into_iter()
        .find(|s| matches!(s.kind, Kind::AlterOwner { .. }))
        .and_then(|s| s.text.strip_prefix(&prefix))
        .and_then(|role| crate::ident::Ident::new(unquote(role)).ok());
    match role {
        Some(role) if step.sql == crate::kinds::owner::owner_step_sql(owned, &role) => Ok(()),
        _ => Err(format!(
            "a set-owner step that is not the planner's guarded `{prefix}<role>`"
        )),
    }
}

/// A role name as `quote_ident` writes it → the name.
fn unquote(text: &str) -> String {
    match text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        None => text.to_owned(),
    }
}

impl PlanFile {
    pub fn into_plan(self) -> (Plan, Models) {
        (
            Plan {
                steps: self.steps,
                findings: self.findings,
                fingerprint: self.fingerprint,
            },
            self.models,
        )
    }
}

/// What changed in the database between the plan's snapshot and now, one line per object.
pub fn what_changed(planned: &Schema, now: &Schema) -> Vec<String> {
    let options = diff::Options {
        rename_hints: false,
        ..Default::default()
    };
    // Diffing "now" towards "planned": additive changes are objects that disappeared,
    // findings are objects that appeared or changed.
    let d = diff::diff(now, planned, &options);
    let mut out: Vec<String> = d
        .additive
        .iter()
        .map(|c| format!("{} no longer exists", c.object()))
        .collect();
    out.extend(d.findings.iter().map(|f| match f.code {
        Code::ExtraTable
        | Code::ExtraColumn
        | Code::ExtraIndex
        | Code::ExtraConstraint
        | Code::ExtraEnumValue
        | Code::ExtraType
        | Code::ExtraSequence
        | Code::ExtraView
        | Code::ExtraPolicy => format!("{} was added", f.object),
        _ => format!("{} changed: {}", f.object, f.message),
    }));
    out.sort();
    out.dedup();
    out
}
