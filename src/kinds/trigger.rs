//! Triggers: declared in `.sql` files (`CREATE [CONSTRAINT] TRIGGER`, and `ALTER TABLE ...
//! DISABLE TRIGGER` for one that must not fire), compared in the server's own words
//! (`pg_get_triggerdef` of the trigger as built on the scratch server) and by when they fire.
//!
//! A missing trigger is created, after its table (and the columns the plan adds to it: `UPDATE
//! OF` and `WHEN` name them). A plain trigger whose definition or enabled state differs is
//! replaced in place — `CREATE OR REPLACE TRIGGER`, which PostgreSQL has since 14, and `ALTER
//! TABLE ... ENABLE/DISABLE [REPLICA | ALWAYS] TRIGGER` — as a replace step (H013) that keeps
//! the previous definition for the rollback guide. Changing when a trigger fires is a replace
//! rather than a finding for the same reason a view's query is: nothing is lost, the previous
//! state is recorded and printed back by `rollback`, and `--no-replace` makes it a finding for
//! those who want every behaviour change reviewed by hand. A constraint trigger cannot be
//! replaced (`CREATE OR REPLACE CONSTRAINT TRIGGER` is not supported), so any change of its
//! definition is a finding (D167) with the DROP and CREATE a human would run. An extra trigger
//! is D166.
//!
//! A trigger runs a function. One of PostgreSQL's or an extension's is there on the scratch
//! server and the target alike; a function of the database's own is modelled by its own kind
//! once functions are managed ([`super::manages`]): until then a trigger calling one is
//! skipped by introspection (with its reason), so `pull` never writes a trigger that would
//! not build, and a desired trigger whose function is not declared is an error at its
//! statement.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::postgres::PgRow;

use super::{Catalog, Kind, NoYaml, Replaceable, Replaced};
use crate::diff::Code;
use crate::load::format::{Entries, FileSpec};
use crate::model::{Ident, ObjectId, QualifiedName, Schema};
use crate::plan::{Draft, HazardCode, Key, LockLevel, StepBuilder, StepKind, guard, stage};

/// A trigger is named per table: its table, and its name there.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TriggerKey {
    pub table: QualifiedName,
    pub name: Ident,
}

impl TriggerKey {
    pub fn new(table: QualifiedName, name: Ident) -> Self {
        Self { table, name }
    }

    fn id(&self) -> ObjectId {
        ObjectId::Trigger {
            table: self.table.clone(),
            name: self.name.clone(),
        }
    }
}

impl fmt::Display for TriggerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.id().fmt(f)
    }
}

// Map keys in the model's JSON are strings: a trigger's key is written as plans name it
// (`trigger audit on public.orders`) and read back from that text.
impl Serialize for TriggerKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TriggerKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match ObjectId::deserialize(d)? {
            ObjectId::Trigger { table, name } => Ok(TriggerKey { table, name }),
            other => Err(serde::de::Error::custom(format!("not a trigger: {other}"))),
        }
    }
}

/// When a trigger fires (`pg_trigger.tgenabled`, set by `ALTER TABLE ... ENABLE/DISABLE
/// TRIGGER`; `CREATE [OR REPLACE] TRIGGER` always leaves it [`Firing::Enabled`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Firing {
    /// Fires except in sessions replicating changes (`session_replication_role = replica`).
    #[default]
    Enabled,
    Disabled,
    /// Fires only in replicating sessions.
    Replica,
    /// Fires in every session.
    Always,
}

impl Firing {
    fn from_catalog(code: &str) -> Result<Self, sqlx::Error> {
        match code {
            "O" => Ok(Firing::Enabled),
            "D" => Ok(Firing::Disabled),
            "R" => Ok(Firing::Replica),
            "A" => Ok(Firing::Always),
            other => Err(sqlx::Error::Decode(
                format!("unknown trigger state tgenabled = {other:?}").into(),
            )),
        }
    }

    /// In words, for hazard messages.
    fn words(self) -> &'static str {
        match self {
            Firing::Enabled => "enabled",
            Firing::Disabled => "disabled",
            Firing::Replica => "only in replicating sessions (ENABLE REPLICA)",
            Firing::Always => "in every session (ENABLE ALWAYS)",
        }
    }

    /// The `ALTER TABLE` action that sets it.
    fn action(self) -> &'static str {
        match self {
            Firing::Enabled => "ENABLE TRIGGER",
            Firing::Disabled => "DISABLE TRIGGER",
            Firing::Replica => "ENABLE REPLICA TRIGGER",
            Firing::Always => "ENABLE ALWAYS TRIGGER",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trigger {
    /// The whole `CREATE [CONSTRAINT] TRIGGER` statement as `pg_get_triggerdef(trigger, true)`
    /// prints it: timing, events, columns, transition tables, level, `WHEN`, function and
    /// arguments; deferrability for a constraint trigger.
    pub definition: String,
    #[serde(default, skip_serializing_if = "is_enabled")]
    pub firing: Firing,
    /// The function it runs, when it is the database's own (not PostgreSQL's or an
    /// extension's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<ObjectId>,
}

fn is_enabled(firing: &Firing) -> bool {
    *firing == Firing::Enabled
}

impl Trigger {
    fn is_constraint(&self) -> bool {
        self.definition.starts_with("CREATE CONSTRAINT TRIGGER ")
    }

    /// `CREATE OR REPLACE TRIGGER ...`, for a plain trigger.
    fn or_replace(&self) -> Option<String> {
        self.definition
            .strip_prefix("CREATE TRIGGER ")
            .map(|rest| format!("CREATE OR REPLACE TRIGGER {rest}"))
    }
}

/// `ALTER TABLE t <ENABLE|DISABLE ...> TRIGGER name`.
fn set_firing(key: &TriggerKey, firing: Firing) -> String {
    format!(
        "ALTER TABLE {} {} {}",
        key.table.quoted(),
        firing.action(),
        key.name.quoted()
    )
}

/// The statements that create the trigger as desired: its definition, and what sets when it
/// fires unless that is the default.
fn statements(key: &TriggerKey, trigger: &Trigger) -> Vec<String> {
    let mut out = vec![trigger.definition.clone()];
    if trigger.firing != Firing::Enabled {
        out.push(set_firing(key, trigger.firing));
    }
    out
}

pub(crate) struct TriggerKind;

impl Kind for TriggerKind {
    const NAME: &'static str = "trigger";
    const SECTION: &'static str = "triggers";
    const IS_TYPE: bool = false;
    const IS_RELATION: bool = false;
    const PREREQUISITE: bool = false;
    type Key = TriggerKey;
    type Object = Trigger;
    type Spec = NoYaml;

    fn objects(schema: &Schema) -> &BTreeMap<TriggerKey, Trigger> {
        &schema.triggers
    }

    fn objects_mut(schema: &mut Schema) -> &mut BTreeMap<TriggerKey, Trigger> {
        &mut schema.triggers
    }

    fn id(key: &TriggerKey) -> ObjectId {
        key.id()
    }

    fn schema_of(key: &TriggerKey) -> &Ident {
        &key.table.schema
    }

    fn section(_file: &FileSpec) -> Option<&Entries<NoYaml>> {
        None
    }

    fn pull_sql(key: &TriggerKey, trigger: &Trigger) -> Option<String> {
        Some(statements(key, trigger).join(";\n"))
    }

    /// The printed definition names the function as the search path finds it
    /// (`EXECUTE FUNCTION touch()`); the model knows its schema, which a statement may say.
    fn live_spellings(key: &TriggerKey, trigger: &Trigger) -> Vec<String> {
        let printed = statements(key, trigger).join(";\n");
        let mut out = vec![printed.clone()];
        if let Some(ObjectId::Function { name, .. }) = &trigger.function {
            let bare = format!(
                "EXECUTE FUNCTION {}(",
                crate::ident::quote_ident(name.name.as_str())
            );
            if printed.contains(&bare) {
                out.push(printed.replacen(&bare, &format!("EXECUTE FUNCTION {name}("), 1));
            }
        }
        out
    }

    const CATALOG: Catalog = Catalog {
        name: "triggers",
        sql: include_str!("sql/triggers.sql"),
    };

    fn from_row(row: &PgRow) -> Result<(TriggerKey, Trigger), sqlx::Error> {
        let table = QualifiedName::new(
            Ident::from_catalog(row.try_get("schema")?),
            Ident::from_catalog(row.try_get("table_name")?),
        );
        let name = Ident::from_catalog(row.try_get("name")?);
        let enabled: String = row.try_get("enabled")?;
        let function: Option<String> = row.try_get("function")?;
        let function = function
            .map(|f| {
                f.parse::<ObjectId>().map_err(|e| {
                    sqlx::Error::Decode(format!("the function of trigger {name}: {e}").into())
                })
            })
            .transpose()?;
        Ok((
            TriggerKey::new(table, name),
            Trigger {
                definition: row.try_get("definition")?,
                firing: Firing::from_catalog(&enabled)?,
                function,
            },
        ))
    }

    const DIFFERS: Code = Code::TriggerDefinition;
    const DIFFERS_MESSAGE: &'static str = "the trigger differs, and PostgreSQL cannot replace it in place: \
         CREATE OR REPLACE TRIGGER does not apply to constraint triggers, nor turn a trigger into \
         one or back";
    const EXTRA: Code = Code::ExtraTrigger;

    fn differs_suggestion(
        key: &TriggerKey,
        existing: &Trigger,
        wanted: &Trigger,
        _live: &Schema,
        _replaceable: bool,
    ) -> String {
        let mut out = format!(
            "-- database: {};\n{};\n",
            existing.definition,
            Self::drop(key)
        );
        for statement in statements(key, wanted) {
            out.push_str(&statement);
            out.push_str(";\n");
        }
        out.trim_end().trim_end_matches(';').to_owned()
    }

    fn create(_key: &TriggerKey, trigger: &Trigger) -> String {
        trigger.definition.clone()
    }

    fn drop(key: &TriggerKey) -> String {
        format!(
            "DROP TRIGGER {} ON {}",
            key.name.quoted(),
            key.table.quoted()
        )
    }

    fn steps(key: &TriggerKey, trigger: &Trigger, out: &mut Vec<Draft>) {
        StepBuilder::new(
            StepKind::CreateTrigger,
            stage::VIEWS,
            Some(&key.table),
            Self::id(key),
        )
        .sql(guard::unless_exists(
            &guard::trigger_exists(&key.table, &key.name),
            &statements(key, trigger).join(";\n"),
        ))
        .lock(&key.table, LockLevel::ShareRowExclusive)
        .requires_all(requirements(key))
        .push(out);
    }

    fn replacement(key: &TriggerKey, live: &Trigger, desired: &Trigger) -> Option<Replaced> {
        let same_definition = live.definition == desired.definition;
        let replaceable = same_definition || !(live.is_constraint() || desired.is_constraint());
        replaceable.then(|| Replaced::Trigger {
            key: key.clone(),
            previous: live.clone(),
            desired: desired.clone(),
        })
    }

    #[cfg(test)]
    fn samples() -> (TriggerKey, [Trigger; 2]) {
        let key = TriggerKey::new(
            QualifiedName::new(
                Ident::from_catalog("app".into()),
                Ident::from_catalog("Orders".into()),
            ),
            Ident::from_catalog("Touch it".into()),
        );
        (
            key,
            [
                Trigger {
                    definition: "CREATE TRIGGER \"Touch it\" BEFORE UPDATE ON app.\"Orders\" \
                                 FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger()"
                        .into(),
                    firing: Firing::Enabled,
                    function: None,
                },
                Trigger {
                    definition: "CREATE TRIGGER \"Touch it\" BEFORE INSERT OR UPDATE OF note ON \
                                 app.\"Orders\" FOR EACH ROW WHEN (new.id > 0) EXECUTE FUNCTION \
                                 tsvector_update_trigger('search', 'pg_catalog.english', 'note')"
                        .into(),
                    firing: Firing::Disabled,
                    function: None,
                },
            ],
        )
    }

    #[cfg(test)]
    fn sample_context() -> &'static str {
        "CREATE TABLE app.\"Orders\" (id integer, note text, search tsvector)"
    }
}

impl Replaceable for TriggerKind {
    /// What makes the trigger `trigger` whatever it is now: `CREATE OR REPLACE TRIGGER` and,
    /// since that leaves it enabled, the statement that sets when it fires; for a constraint
    /// trigger (whose definition a replace cannot change) only the latter.
    fn replace(key: &TriggerKey, trigger: &Trigger) -> String {
        match trigger.or_replace() {
            Some(replace) if trigger.firing == Firing::Enabled => replace,
            Some(replace) => guard::together(&[replace, set_firing(key, trigger.firing)]),
            None => set_firing(key, trigger.firing),
        }
    }

    fn replace_steps(
        key: &TriggerKey,
        previous: &Trigger,
        trigger: &Trigger,
        out: &mut Vec<Draft>,
    ) {
        // Only when it fires changes: one ALTER TABLE each way.
        let (sql, undo, what) = if previous.definition == trigger.definition {
            (
                set_firing(key, trigger.firing),
                set_firing(key, previous.firing),
                format!(
                    "changes when {} fires: {} → {}",
                    Self::id(key),
                    previous.firing.words(),
                    trigger.firing.words()
                ),
            )
        } else {
            (
                Self::replace(key, trigger),
                Self::replace(key, previous),
                format!(
                    "replaces the definition of {} in place: writes to {} run the new one from \
                     the commit on",
                    Self::id(key),
                    key.table
                ),
            )
        };
        StepBuilder::new(
            StepKind::Replace,
            stage::VIEWS,
            Some(&key.table),
            Self::id(key),
        )
        .sql(sql)
        .previous(undo)
        .hazard(HazardCode::ReplacesDefinition, what)
        .lock(&key.table, LockLevel::ShareRowExclusive)
        .requires_all(requirements(key))
        .push(out);
    }
}

/// A trigger needs its table, and the columns the plan adds to it (`UPDATE OF` and `WHEN`
/// may name them). Its function, once functions are a managed kind, is one more key here.
fn requirements(key: &TriggerKey) -> Vec<Key> {
    vec![
        Key::Table(key.table.clone()),
        Key::NewColumns(key.table.clone()),
    ]
}
