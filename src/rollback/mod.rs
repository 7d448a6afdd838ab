//! Rollback guides: the inverse SQL of an applied run or migration, for a human to review.
//! reconcile never executes it.
//!
//! reconcile only ever adds to a database, so undoing a run means dropping what it added —
//! which *is* destructive (data written to an added column or table since is lost). That is a
//! decision for a person, so the output is a reviewed-and-run-by-hand psql script: each
//! statement's inverse (`DROP ... IF EXISTS`) in reverse execution order, each marked with
//! what it destroys, and every statement that has no automatic inverse listed with the reason
//! (an enum label cannot be dropped in PostgreSQL; a `DELETE` cannot be un-run) — never
//! silently left out.
//!
//! Statements are understood with the PostgreSQL parser (libpg_query), not by text matching:
//! reconcile's guarded steps are `DO` blocks whose PL/pgSQL body holds the real statement,
//! found the same way [`crate::classify`] finds it. [`guide_for_sql`] works on any SQL text (a
//! migration file); [`guide_for_run`] on the steps `reconcile apply` recorded in its history
//! ([`run::load`] reads them).

mod invert;
pub mod run;

use std::io::{self, Write};

use serde::Serialize;

pub use run::{RecordedStep, RunRecord};

/// A rollback guide: what to run, in order, to undo `source`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Guide {
    /// What is undone: `run 12`, `migration 0005_add_leads.sql`.
    pub source: String,
    /// Facts about the source worth knowing before running the guide (shown in the header).
    pub notes: Vec<String>,
    /// In the order to run them: the reverse of the original execution order.
    pub entries: Vec<Entry>,
}

/// One original statement (or one part of it) and its inverse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// Where the original came from: `step 7: index leads_due_idx on public.leads`,
    /// `statement 3 (line 12)`.
    pub origin: String,
    /// The original statement (the innermost one, for a statement inside a `DO` block), with
    /// whitespace collapsed.
    pub original: String,
    #[serde(flatten)]
    pub action: Action,
}

/// What undoes a statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Run `sql` (no terminating semicolon). `impact` says what it destroys or changes.
    Inverse {
        sql: String,
        impact: String,
        /// Anything else to check first.
        #[serde(skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// The statement changed nothing that needs undoing (a query, a validation, a `SET`).
    NothingToUndo { reason: String },
    /// No automatic inverse: a person has to decide (and the reason says why).
    Manual { reason: String },
}

impl Guide {
    pub fn inverses(&self) -> usize {
        self.count(|a| matches!(a, Action::Inverse { .. }))
    }
    pub fn manual(&self) -> usize {
        self.count(|a| matches!(a, Action::Manual { .. }))
    }
    pub fn nothing_to_undo(&self) -> usize {
        self.count(|a| matches!(a, Action::NothingToUndo { .. }))
    }
    fn count(&self, f: impl Fn(&Action) -> bool) -> usize {
        self.entries.iter().filter(|e| f(&e.action)).count()
    }
}

/// The rollback guide of arbitrary SQL text (a migration file): every statement's inverse,
/// in reverse order. A text that does not parse gives one [`Action::Manual`] entry saying so.
pub fn guide_for_sql(source_label: &str, sql: &str) -> Guide {
    let mut entries = match invert::statements(sql, &invert::Context::SQL) {
        Ok(mut entries) => {
            for e in &mut entries {
                e.origin = match e.origin.as_str() {
                    "" => "statement".to_owned(),
                    o => o.to_owned(),
                };
            }
            entries
        }
        Err(message) => vec![Entry {
            origin: source_label.to_owned(),
            original: invert::one_line(sql),
            action: Action::Manual {
                reason: format!("the SQL does not parse, so nothing could be inverted: {message}"),
            },
        }],
    };
    invert::resolve_enum_labels(&mut entries);
    entries.reverse();
    Guide {
        source: source_label.to_owned(),
        notes: vec![
            "Statements with IF NOT EXISTS (and statements inside DO blocks, which may run \
             conditionally) may have done nothing because the object already existed; their \
             DROP would then remove an object this SQL did not create. Check each one."
                .to_owned(),
        ],
        entries,
    }
}

/// The rollback guide of an apply run from its recorded steps (in execution order).
pub fn guide_for_run(run: &RunRecord, steps: &[RecordedStep]) -> Guide {
    let mut entries = Vec::new();
    for step in steps {
        let origin = format!("step {}: {}", step.number, step.object);
        if step.outcome != "applied" {
            entries.push(Entry {
                origin,
                original: invert::one_line(&step.sql),
                action: Action::NothingToUndo {
                    reason: format!(
                        "the step {} ({}); its transaction was rolled back (a failed \
                         concurrent index build's INVALID index was dropped by apply)",
                        step.outcome,
                        step.error
                            .as_deref()
                            .map(invert::one_line)
                            .unwrap_or_default()
                    ),
                },
            });
            continue;
        }
        if step.object.starts_with("invalid index ") {
            entries.push(Entry {
                origin,
                original: invert::one_line(&step.sql),
                action: Action::NothingToUndo {
                    reason: "dropped an INVALID index left by a failed concurrent build (it \
                             served no query); the step after it built the index again, and \
                             that build is undone on its own"
                        .to_owned(),
                },
            });
            continue;
        }
        if let Some(previous) = &step.previous {
            entries.push(Entry {
                origin,
                original: invert::one_line(&step.sql),
                action: Action::Inverse {
                    sql: previous.clone(),
                    impact: "puts back the definition this step replaced".to_owned(),
                    note: None,
                },
            });
            continue;
        }
        match invert::statements(&step.sql, &invert::Context::RUN) {
            Ok(parts) => entries.extend(parts.into_iter().map(|mut e| {
                e.origin = origin.clone();
                e
            })),
            Err(message) => entries.push(Entry {
                origin,
                original: invert::one_line(&step.sql),
                action: Action::Manual {
                    reason: format!("the recorded SQL does not parse: {message}"),
                },
            }),
        }
    }
    invert::resolve_enum_labels(&mut entries);
    entries.reverse();
    let mut notes = vec![format!(
        "Run {} ({}, {} by {}, reconcile {}): {} of {} planned step(s) executed.",
        run.id,
        run.outcome,
        run.started,
        run.applied_by,
        run.tool_version,
        run.steps_executed,
        run.steps_planned
    )];
    notes.push(
        "Every step of a run was planned because its object was missing when the run read \
         the database (under the apply lock), so each object here was created by this run — \
         unless something other than reconcile created the same object between that read and \
         the step (IF NOT EXISTS then made the step a no-op, and history cannot tell)."
            .to_owned(),
    );
    if steps.is_empty() {
        notes.push("The run executed no steps: there is nothing to roll back.".to_owned());
    }
    Guide {
        source: format!("run {}", run.id),
        notes,
        entries,
    }
}

/// The guide as a psql script: the header, then each entry with its comments.
pub fn render_text(guide: &Guide, out: &mut impl Write) -> io::Result<()> {
    let c = |text: &str| invert::comment(text);
    writeln!(
        out,
        "{}",
        c(&format!("Rollback guide for {}", guide.source))
    )?;
    writeln!(
        out,
        "-- Generated by reconcile {}. reconcile NEVER executes this script: a person reviews \
         it\n-- and runs it by hand (psql -v ON_ERROR_STOP=1 -f <file>).",
        env!("CARGO_PKG_VERSION")
    )?;
    writeln!(out, "--")?;
    writeln!(
        out,
        "-- DESTRUCTIVE. Review every statement before running it. Dropping an added table or\n\
         -- column deletes the data written to it since; dropping an index or constraint \
         removes\n-- what it sped up or enforced. Statements undo the original in reverse \
         order and use\n-- IF EXISTS, so a statement whose object is already gone is \
         skipped. There is no\n-- BEGIN/COMMIT: DROP INDEX CONCURRENTLY cannot run in a \
         transaction."
    )?;
    for note in &guide.notes {
        writeln!(out, "--")?;
        writeln!(out, "{}", c(note))?;
    }
    writeln!(out, "--")?;
    writeln!(
        out,
        "-- {} statement(s) to run; {} that cannot be undone automatically (listed as \
         comments);\n-- {} with nothing to undo.",
        guide.inverses(),
        guide.manual(),
        guide.nothing_to_undo()
    )?;
    for (i, entry) in guide.entries.iter().enumerate() {
        writeln!(out)?;
        writeln!(
            out,
            "{}",
            c(&format!("[{}] undoes {}", i + 1, entry.origin))
        )?;
        writeln!(out, "{}", c(&format!("    original: {}", entry.original)))?;
        match &entry.action {
            Action::Inverse { sql, impact, note } => {
                writeln!(out, "{}", c(&format!("DESTRUCTIVE: {impact}")))?;
                if let Some(note) = note {
                    writeln!(out, "{}", c(&format!("check: {note}")))?;
                }
                writeln!(out, "{sql};")?;
            }
            Action::NothingToUndo { reason } => {
                writeln!(out, "{}", c(&format!("nothing to undo: {reason}")))?;
            }
            Action::Manual { reason } => {
                writeln!(
                    out,
                    "{}",
                    c(&format!("CANNOT BE UNDONE AUTOMATICALLY: {reason}"))
                )?;
            }
        }
    }
    Ok(())
}

/// The guide as JSON (`format_version` 1): `source`, `notes`, `entries` (each with
/// `origin`, `original`, `action` = `inverse` | `nothing_to_undo` | `manual`, and `sql` +
/// `impact` [+ `note`] or `reason`), and the counts.
pub fn render_json(guide: &Guide, out: &mut impl Write) -> io::Result<()> {
    #[derive(Serialize)]
    struct Document<'a> {
        format_version: u32,
        tool: &'static str,
        tool_version: &'static str,
        never_executed: bool,
        #[serde(flatten)]
        guide: &'a Guide,
        inverses: usize,
        manual: usize,
        nothing_to_undo: usize,
    }
    let doc = Document {
        format_version: 1,
        tool: "reconcile",
        tool_version: env!("CARGO_PKG_VERSION"),
        never_executed: true,
        guide,
        inverses: guide.inverses(),
        manual: guide.manual(),
        nothing_to_undo: guide.nothing_to_undo(),
    };
    crate::render::pretty_json::to_writer(&mut *out, &doc)?;
    writeln!(out)
}
