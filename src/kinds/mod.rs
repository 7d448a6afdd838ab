//! Object kinds: one home for everything the pipeline must know about a kind of object.
//!
//! A kind (domain, composite type, sequence, grant, ...) is a type implementing [`Kind`]: its
//! model type and the key it is found by, its YAML form and how it resolves, its catalog query and how a row becomes an
//! object, how it prints for `pull`, its DDL, its diff rule (missing → created, different →
//! a finding with its code, extra → a finding with its code) and the plan steps that create
//! it with what they provide and require. The pipeline's stages walk every registered kind
//! with a [`Visitor`] instead of naming kinds one by one, so the shared shape — compare two
//! maps, copy what the scratch server did not print, write a YAML section — is written once.
//!
//! # Adding a kind
//! 1. Write `src/kinds/<kind>.rs`: the model type, a `Spec` for its YAML form, the catalog
//!    query in `src/kinds/sql/`, and `impl Kind`.
//! 2. Register it: one line in the `registry!` call below (which also gives it its variant
//!    of [`Created`], the change that creates it), a field of [`crate::model::Schema`], and
//!    a section of [`crate::load::format::FileSpec`].
//! 3. Give its finding codes a row in docs/plan.md, and a create statement that
//!    [`crate::classify`] accepts as additive and [`crate::rollback`] can invert.
//!
//! A kind that is not registered does not compile (`Kind` requires [`Registered`], which only
//! the registry implements); `tests::every_kind_is_complete` walks every registered kind and
//! checks what the compiler cannot: its codes are documented, its statements are additive
//! and invertible, its catalog query is one statement.
//!
//! Privileges and owners ([`grant`], [`default_privilege`], [`owner`]) are kinds too, with
//! keys that are not names (a grant is found by object, grantee and privilege), YAML sections
//! that are not lists of named objects ([`Kind::resolve_files`], [`Kind::pull_section`]), and
//! diff rules of their own ([`Kind::diff`]). They name roles, which the scratch server does
//! not have, so they are never built there ([`Kind::BUILT`]): they are compared structurally,
//! as written.
//!
//! A scratch read-back queries only the kinds it built objects of ([`not_read_back`]): a kind
//! whose objects the server also creates for statements of other kinds (a `serial`
//! column's sequence) must say so ([`Kind::IMPLICIT`]), or those objects go unread.
//!
//! Tables (with their columns, constraints and indexes) and enums stay hand-written in
//! `diff::table`, `diff` and `plan::generate`: a table's diff is many rules, not one, and an
//! enum grows label by label.

pub mod aggregate;
pub mod comment;
pub mod composite;
pub mod default_privilege;
pub mod domain;
pub mod function;
pub mod grant;
pub mod materialized_view;
pub mod owner;
pub mod policy;
pub mod privilege;
pub mod sequence;
pub mod trigger;
pub mod view;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::path::Path;

use serde::Serialize;
use sqlx::postgres::PgRow;

use crate::diff::{Code, Diff, Finding, Severity};
use crate::load::format::{Entries, FileSpec};
use crate::load::resolve::{ParsedFile, Resolver};
use crate::model::{Ident, ObjectId, QualifiedName, Schema};
use crate::plan::Draft;

/// Everything the pipeline needs to know about one kind of object.
pub(crate) trait Kind: Registered + Sized + 'static {
    /// What plans call one object of the kind (`domain`).
    const NAME: &'static str;
    /// The YAML section that declares them (`domains`).
    const SECTION: &'static str;
    /// Whether the objects are types (PostgreSQL's one namespace of types, which columns
    /// name): they are declared before any table is resolved.
    const IS_TYPE: bool;
    /// Whether the objects are relations (one namespace per schema with tables, sequences
    /// and indexes).
    const IS_RELATION: bool;
    /// Whether canonicalisation builds the objects, before any table, in every scratch
    /// transaction (types and sequences, which tables use). Kinds declared in SQL files are
    /// canonical once built (`canon::sql`) and are not built again.
    const PREREQUISITE: bool;
    /// Whether canonicalisation builds the objects on the scratch server at all and reads
    /// them back (see `canon`). Privileges and owners name roles the scratch server does not
    /// have, and have no text the server would print differently: they stay as written.
    const BUILT: bool = true;
    /// Whether the server creates objects of the kind for statements of other kinds (a
    /// `serial` column's sequence): a scratch build of none of them may still read some back.
    const IMPLICIT: bool = false;
    /// Whether `pull` writes the kind's section after the tables (grants are about them).
    const PULLED_AFTER_TABLES: bool = false;

    /// What tells two objects of the kind apart: a schema-qualified name for most; a
    /// function's also has its argument types, a trigger's its table.
    type Key: Ord + Clone + Debug + Serialize;
    /// One object, as both the YAML loader and the catalog produce it.
    type Object: Clone + PartialEq + Debug + Serialize;
    /// Its YAML form ([`NoYaml`] for kinds declared in SQL files only).
    type Spec;

    // --- model

    fn objects(schema: &Schema) -> &BTreeMap<Self::Key, Self::Object>;
    fn objects_mut(schema: &mut Schema) -> &mut BTreeMap<Self::Key, Self::Object>;
    fn id(key: &Self::Key) -> ObjectId;
    /// The schema the object lives in (its table's, for a part of a table).
    fn schema_of(key: &Self::Key) -> &crate::model::Ident;
    /// The relation name, for kinds whose objects are relations ([`Kind::IS_RELATION`]).
    fn relation_name(_key: &Self::Key) -> Option<&QualifiedName> {
        None
    }
    /// What else the database has under this object's identity where PostgreSQL allows only
    /// one (a function where a procedure of the same name and argument types is wanted);
    /// `None` when it is free.
    fn identity_taken_by(_key: &Self::Key, _live: &Schema) -> Option<&'static str> {
        None
    }
    /// The type name, for kinds whose objects are types ([`Kind::IS_TYPE`]).
    fn type_name(_key: &Self::Key) -> Option<&QualifiedName> {
        None
    }

    // --- desired state (YAML)

    /// The kind's section of a file (none for kinds declared in SQL files only).
    fn section(file: &FileSpec) -> Option<&Entries<Self::Spec>>;
    /// One declaration → the object, or `None` after reporting what is wrong through `r`.
    fn resolve(
        _r: &mut Resolver,
        _file: &Path,
        _name: &QualifiedName,
        _spec: &Self::Spec,
    ) -> Option<(Self::Key, Self::Object)> {
        None
    }
    /// The object as `pull` writes it under the section: `  name: ...` lines (two spaces of
    /// indentation), or `None` when something else already says it (a serial's sequence) or
    /// the kind is written as SQL ([`Kind::pull_sql`]).
    fn pull(_key: &Self::Key, _object: &Self::Object, _schema: &Schema) -> Option<String> {
        None
    }
    /// The object as `pull` writes it in a `.sql` file (kinds declared in SQL files): one
    /// statement, without the final `;`.
    fn pull_sql(_key: &Self::Key, _object: &Self::Object) -> Option<String> {
        None
    }
    /// Statements that declare the object exactly as it is ([`Kind::pull_sql`] first), for
    /// `canon::unchanged`: a kind whose printed form leaves out what the model knows (a
    /// trigger's function's schema) adds the spelling that says it.
    fn live_spellings(key: &Self::Key, object: &Self::Object) -> Vec<String> {
        Self::pull_sql(key, object).into_iter().collect()
    }
    /// Resolves the kind's declarations in every file (with the file's schema) into the
    /// model; once every file's tables, enums and earlier kinds are in. By default, each
    /// entry of [`Kind::section`] through [`Kind::resolve`]; kinds whose YAML is not a
    /// section of named entries (privileges, owners) read their own sections.
    fn resolve_files(r: &mut Resolver, files: &[(ParsedFile, Ident)]) {
        for (file, schema) in files {
            r.resolve_kind::<Self>(file, schema);
        }
    }
    /// What `pull` writes for the objects of schema `namespace`: the kind's section, starting
    /// with a blank line, or `None` when there is nothing to write. By default, the entries
    /// [`Kind::pull`] writes under [`Kind::SECTION`].
    fn pull_section(schema: &Schema, namespace: &Ident) -> Option<String> {
        let entries: Vec<String> = Self::objects(schema)
            .iter()
            .filter(|(key, _)| Self::schema_of(key) == namespace)
            .filter_map(|(key, object)| Self::pull(key, object, schema))
            .collect();
        if entries.is_empty() {
            return None;
        }
        Some(format!("\n{}:\n{}", Self::SECTION, entries.concat()))
    }

    // --- live state (catalog)

    /// The catalog query (`$1`: the schemas in scope, a `text[]`), one object per row.
    const CATALOG: Catalog;
    fn from_row(row: &PgRow) -> Result<(Self::Key, Self::Object), sqlx::Error>;
    /// Called once every kind and table is read: drop what refers to what was left out.
    fn settle(_schema: &mut Schema) {}

    // --- canonical form

    /// Texts of the object that the server prints (expressions), for the canonicaliser's
    /// second pass (see `canon`).
    fn printed_texts(_object: &Self::Object) -> Vec<&str> {
        Vec::new()
    }

    /// Leaves out of the object what refers to tables the scratch server does not build with
    /// it (they cannot be checked there).
    fn without_unbuilt_tables(_object: &mut Self::Object, _built: &dyn Fn(&QualifiedName) -> bool) {
    }

    /// [`Kind::without_unbuilt_tables`] for every object of the kind in `schema`; a kind whose
    /// objects cannot be built at all without such tables (a function taking a table's row
    /// type) takes those objects out instead, and [`Kind::restore`] puts them back.
    fn leave_out_unbuilt(schema: &mut Schema, built: &dyn Fn(&QualifiedName) -> bool) {
        for object in Self::objects_mut(schema).values_mut() {
            Self::without_unbuilt_tables(object, built);
        }
    }

    /// Puts back into the object as the scratch server printed it what the server does not
    /// print or was not given (see [`Kind::without_unbuilt_tables`]), from the desired one.
    fn restore(_printed: &mut Self::Object, _desired: &Self::Object) {}

    // --- diff rule

    /// The finding when an object differs under the same name.
    const DIFFERS: Code;
    /// What differs, in words.
    const DIFFERS_MESSAGE: &'static str;
    /// The finding when the database has an object the desired state does not.
    const EXTRA: Code;

    /// Whether an object both sides have is the same. A kind whose objects have parts that
    /// are created on their own (a materialized view's indexes, built one by one) pushes the
    /// changes and findings for those parts into `out` and compares the rest.
    fn same(
        _key: &Self::Key,
        live: &Self::Object,
        desired: &Self::Object,
        _out: &mut Diff,
    ) -> bool {
        live == desired
    }

    /// How the "extra" finding names the object (plans have always said `type X` for extra
    /// domains and composites).
    fn extra_id(key: &Self::Key) -> ObjectId {
        Self::id(key)
    }

    /// The finding for an object the database has and the desired state does not, or `None`
    /// when another finding's suggestion removes it already (a sequence owned by a column that
    /// is dropped goes with it). A suggestion must run as written, in the order printed, or
    /// say what else it needs.
    fn extra(
        name: &Self::Key,
        _object: &Self::Object,
        _live: &Schema,
        _desired: &Schema,
    ) -> Option<Finding> {
        Some(
            Finding::new(
                Self::EXTRA,
                Severity::Risky,
                Self::extra_id(name),
                "in the database, not in the desired state",
            )
            .suggest(Self::drop(name)),
        )
    }

    /// Compares the kind's objects: [`diff_kind`], the rule every named kind shares, unless
    /// the kind has a rule of its own (privileges: never revoked, see [`grant`]).
    fn diff(live: &Schema, desired: &Schema, options: &crate::diff::Options, out: &mut Diff) {
        diff_kind::<Self>(live, desired, options, out);
    }

    /// The SQL a human would run when an object differs and no replace step is planned
    /// (`replaceable`: one could be, but `--no-replace` holds it back); by default both
    /// definitions side by side.
    fn differs_suggestion(
        key: &Self::Key,
        live: &Self::Object,
        desired: &Self::Object,
        _live_schema: &Schema,
        _replaceable: bool,
    ) -> String {
        format!(
            "-- database: {}\n-- desired:  {}",
            Self::create(key, live),
            Self::create(key, desired)
        )
    }

    /// The finding for an object that differs when it is not replaced (`replaceable`: a
    /// replace could express it but `--no-replace` holds it back), or `None` for the generic
    /// one (risky, both CREATE statements side by side as comments). Kinds whose difference
    /// has a statement a human can run, or is only cosmetic, say so here.
    fn differs(
        _key: &Self::Key,
        _live: &Self::Object,
        _desired: &Self::Object,
        _replaceable: bool,
    ) -> Option<Finding> {
        None
    }

    // --- DDL

    /// The CREATE statement (not idempotent by itself: [`Kind::steps`] guards it).
    fn create(key: &Self::Key, object: &Self::Object) -> String;
    /// The DROP statement a human would run (findings only; reconcile never runs it).
    fn drop(key: &Self::Key) -> String;

    // --- plan

    /// The idempotent steps that create the object, with what they provide and require.
    fn steps(key: &Self::Key, object: &Self::Object, out: &mut Vec<Draft>);

    /// When the object differs from the live one and PostgreSQL can swap the definition in
    /// place (`CREATE OR REPLACE`, `ALTER POLICY`, `COMMENT ON`): the replacement. Only
    /// kinds in the registry's `replaceable` list can build one ([`Replaced`]); for the rest,
    /// and for changes a replace cannot express, a difference is a finding.
    fn replacement(
        _key: &Self::Key,
        _live: &Self::Object,
        _desired: &Self::Object,
    ) -> Option<Replaced> {
        None
    }

    /// Table columns the object needs to exist as desired (its creation waits for a change
    /// to them that is held back, see `diff::hold_back`).
    fn columns_used(
        _key: &Self::Key,
        _object: &Self::Object,
    ) -> Vec<(QualifiedName, crate::model::Ident)> {
        Vec::new()
    }

    // --- tests

    /// Two different objects in the server's canonical form, under the same name, that need
    /// only built-in types and no other object: the registry walk (`tests`) creates, reads
    /// back, diffs, pulls and loads them.
    #[cfg(test)]
    fn samples() -> (Self::Key, [Self::Object; 2]);

    /// SQL the samples need first on a real server (the table a policy or comment is on).
    #[cfg(test)]
    fn sample_context() -> &'static str {
        ""
    }
    /// SQL the registry walk runs (as a superuser, on its own cluster) before creating a
    /// sample: the roles a sample names.
    #[cfg(test)]
    const SAMPLE_SETUP: &'static str = "";
}

/// The definition-swapping half of a replaceable kind (see [`Kind::replacement`]).
pub(crate) trait Replaceable: Kind {
    /// The statement that puts `object` in place of whatever definition the object has now;
    /// run twice, it changes nothing the second time.
    fn replace(key: &Self::Key, object: &Self::Object) -> String;
    /// The replace steps (with what they require), before ordering; the previous definition
    /// goes with them so a rollback guide can put it back.
    fn replace_steps(
        key: &Self::Key,
        previous: &Self::Object,
        object: &Self::Object,
        out: &mut Vec<Draft>,
    );
}

/// The YAML form of a kind declared in SQL files only.
#[derive(Debug, serde::Deserialize)]
pub(crate) enum NoYaml {}

/// Where a kind's catalog query is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Catalog {
    /// For error messages: "while reading the catalog (domains)".
    pub name: &'static str,
    pub sql: &'static str,
}

/// Implemented by the registry for every registered kind only.
pub(crate) trait Registered {
    /// The change that creates a missing object of this kind.
    fn created(key: Self::Key, object: Self::Object) -> Created
    where
        Self: Kind;
}

/// Something that does the same thing for every kind, one kind at a time.
pub(crate) trait Visitor {
    fn visit<K: Kind>(&mut self);
}

macro_rules! registry {
    (
        kinds {
            $($variant:ident => $kind:ty, $key:ty, $object:ty;)+
        }
        replaceable {
            $($rvariant:ident => $rkind:ty, $rkey:ty, $robject:ty;)*
        }
    ) => {
        /// A missing object of a registered kind, to be created.
        #[derive(Debug, Clone, PartialEq, Eq, Serialize)]
        pub enum Created {
            $($variant($key, $object),)+
        }

        impl Created {
            /// The object it creates.
            pub fn object(&self) -> ObjectId {
                match self {
                    $(Created::$variant(key, _) => <$kind as Kind>::id(key),)+
                }
            }

            /// Table columns it needs (see [`Kind::columns_used`]).
            pub(crate) fn columns_used(&self) -> Vec<(QualifiedName, crate::model::Ident)> {
                match self {
                    $(Created::$variant(key, object) => <$kind as Kind>::columns_used(key, object),)+
                }
            }

            /// Its steps, before ordering.
            pub(crate) fn steps(&self, out: &mut Vec<Draft>) {
                match self {
                    $(Created::$variant(key, object) => <$kind as Kind>::steps(key, object, out),)+
                }
            }
        }

        $(impl Registered for $kind {
            fn created(key: $key, object: $object) -> Created {
                Created::$variant(key, object)
            }
        })+

        /// A definition PostgreSQL swaps in place: the object, its definition now, and the
        /// one it gets. Only replaceable kinds have a variant, so nothing else can be replaced.
        #[derive(Debug, Clone, PartialEq, Eq, Serialize)]
        pub enum Replaced {
            $($rvariant { key: $rkey, previous: $robject, desired: $robject },)*
        }

        impl Replaced {
            /// The object whose definition it replaces.
            pub fn object(&self) -> ObjectId {
                match *self {
                    $(Replaced::$rvariant { ref key, .. } => <$rkind as Kind>::id(key),)*
                }
            }

            /// Table columns the new definition needs.
            pub(crate) fn columns_used(&self) -> Vec<(QualifiedName, crate::model::Ident)> {
                match *self {
                    $(Replaced::$rvariant { ref key, ref desired, .. } => {
                        <$rkind as Kind>::columns_used(key, desired)
                    })*
                }
            }

            /// Its steps, before ordering.
            pub(crate) fn steps(&self, out: &mut Vec<Draft>) {
                match *self {
                    $(Replaced::$rvariant { ref key, ref previous, ref desired } => {
                        <$rkind as Replaceable>::replace_steps(key, previous, desired, out)
                    })*
                }
            }
        }

        /// Runs `visitor` over every registered kind, in registration order (which is the
        /// order of their YAML sections in pulled files).
        pub(crate) fn visit_all(visitor: &mut impl Visitor) {
            $(visitor.visit::<$kind>();)+
        }
    };
}

registry! {
    kinds {
        Domain => domain::DomainKind, QualifiedName, domain::Domain;
        Composite => composite::CompositeKind, QualifiedName, composite::CompositeType;
        Sequence => sequence::SequenceKind, QualifiedName, sequence::Sequence;
        Function => function::FunctionKind, function::Routine, function::Function;
        Aggregate => aggregate::AggregateKind, function::Routine, aggregate::Aggregate;
        View => view::ViewKind, QualifiedName, view::View;
        MaterializedView => materialized_view::MaterializedViewKind, QualifiedName,
            materialized_view::MaterializedView;
        Trigger => trigger::TriggerKind, trigger::TriggerKey, trigger::Trigger;
        // After every kind of object that has an owner: `owner:` applies to the ones resolved.
        Owner => owner::OwnerKind, ObjectId, owner::Owner;
        Grant => grant::GrantKind, grant::GrantKey, grant::Grant;
        DefaultPrivilege => default_privilege::DefaultPrivilegeKind,
            default_privilege::DefaultKey, default_privilege::DefaultGrant;
        Policy => policy::PolicyKind, policy::PolicyKey, policy::Policy;
        Comment => comment::CommentKind, ObjectId, String;
    }
    replaceable {
        Function => function::FunctionKind, function::Routine, function::Function;
        Aggregate => aggregate::AggregateKind, function::Routine, aggregate::Aggregate;
        View => view::ViewKind, QualifiedName, view::View;
        Trigger => trigger::TriggerKind, trigger::TriggerKey, trigger::Trigger;
        Policy => policy::PolicyKind, policy::PolicyKey, policy::Policy;
        Comment => comment::CommentKind, ObjectId, String;
    }
}

/// The diff rule every kind shares: created when missing; a finding (with the two CREATE
/// statements side by side) when different; a finding (with the DROP a human would run) when
/// the database has one in a schema the desired state manages.
pub(crate) fn diff_kind<K: Kind>(
    live: &Schema,
    desired: &Schema,
    options: &crate::diff::Options,
    out: &mut Diff,
) {
    let (have, want) = (K::objects(live), K::objects(desired));
    // One pass over both maps (a lookup per object was most of the diff's time with 120,000
    // privileges); extras are reported after the rest, as they always were.
    let mut extra: Vec<&K::Key> = Vec::new();
    for (name, existing, wanted) in paired(have, want) {
        let Some(wanted) = wanted else {
            extra.push(name);
            continue;
        };
        match existing {
            None => match K::relation_name(name)
                .and_then(|r| {
                    relation_kind(live, r).or_else(|| {
                        options
                            .unmanaged_tables
                            .contains(r)
                            .then_some("relation reconcile does not manage")
                    })
                })
                .or_else(|| K::identity_taken_by(name, live))
            {
                // The name is another kind of relation's in the database (a table where a view
                // is wanted): creating it would fail, or be skipped by its guard forever.
                Some(taken_by) => out.findings.push(name_taken(K::id(name), taken_by)),
                None => out.additive.push(crate::diff::Change::Create(K::created(
                    name.clone(),
                    wanted.clone(),
                ))),
            },
            Some(existing) if !K::same(name, existing, wanted, out) => {
                match K::replacement(name, existing, wanted) {
                    Some(replaced) if options.replace => {
                        out.additive.push(crate::diff::Change::Replace(replaced));
                    }
                    replaceable => out.findings.push(
                        K::differs(name, existing, wanted, replaceable.is_some()).unwrap_or_else(
                            || {
                                Finding::new(
                                    K::DIFFERS,
                                    Severity::Risky,
                                    K::id(name),
                                    if replaceable.is_some() {
                                        format!(
                                            "{} (--no-replace: not replaced in place)",
                                            K::DIFFERS_MESSAGE
                                        )
                                    } else {
                                        K::DIFFERS_MESSAGE.to_owned()
                                    },
                                )
                                .suggest(K::differs_suggestion(
                                    name,
                                    existing,
                                    wanted,
                                    live,
                                    replaceable.is_some(),
                                ))
                            },
                        ),
                    ),
                }
            }
            Some(_) => {}
        }
    }
    for name in extra {
        let declared = match K::type_name(name) {
            Some(type_name) => declares_type(desired, type_name),
            None => false,
        };
        if !declared && desired.schemas.contains(K::schema_of(name)) {
            out.findings
                .extend(K::extra(name, &have[name], live, desired));
        }
    }
}

/// Every key of `left` and `right`, in order, with what each map has under it: one pass over
/// both sorted maps instead of a lookup per key.
pub(crate) fn paired<'a, K: Ord, A, B>(
    left: &'a BTreeMap<K, A>,
    right: &'a BTreeMap<K, B>,
) -> impl Iterator<Item = (&'a K, Option<&'a A>, Option<&'a B>)> {
    let (mut left, mut right) = (left.iter().peekable(), right.iter().peekable());
    std::iter::from_fn(move || {
        let order = match (left.peek(), right.peek()) {
            (None, None) => return None,
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some((l, _)), Some((r, _))) => l.cmp(r),
        };
        Some(match order {
            std::cmp::Ordering::Less => left.next().map(|(k, a)| (k, Some(a), None))?,
            std::cmp::Ordering::Greater => right.next().map(|(k, b)| (k, None, Some(b)))?,
            std::cmp::Ordering::Equal => {
                let (k, a) = left.next()?;
                let (_, b) = right.next()?;
                (k, Some(a), Some(b))
            }
        })
    })
}

/// What the database has under a relation name: `table`, `view`, `sequence`, ...; `None`
/// when the name is free.
pub(crate) fn relation_kind(live: &Schema, name: &QualifiedName) -> Option<&'static str> {
    struct Find<'a> {
        live: &'a Schema,
        name: &'a QualifiedName,
        found: Option<&'static str>,
    }
    impl Visitor for Find<'_> {
        fn visit<K: Kind>(&mut self) {
            // Only relation kinds name relations: the others (120,000 privileges at 10,000
            // tables) are not scanned for every name looked up.
            if self.found.is_none()
                && K::IS_RELATION
                && K::objects(self.live)
                    .keys()
                    .any(|k| K::relation_name(k) == Some(self.name))
            {
                self.found = Some(K::NAME);
            }
        }
    }
    if live.tables.contains_key(name) {
        return Some("table");
    }
    let mut find = Find {
        live,
        name,
        found: None,
    };
    visit_all(&mut find);
    find.found
}

/// The finding for an object that cannot be created because another kind of relation has
/// its name in the database.
pub(crate) fn name_taken(object: ObjectId, taken_by: &str) -> Finding {
    Finding::new(
        Code::NameTaken,
        Severity::Risky,
        object,
        format!(
            "not created: the database has a {taken_by} of this name (its own finding says what \
             to do with it); once the name is free, the next plan creates it"
        ),
    )
}

/// Whether some registered kind has the object `id` in `schema` (a function a trigger calls,
/// say): what reconcile can build from the desired state and compare.
pub(crate) fn manages(schema: &Schema, id: &ObjectId) -> bool {
    struct Find<'a> {
        schema: &'a Schema,
        id: &'a ObjectId,
        found: bool,
    }
    impl Visitor for Find<'_> {
        fn visit<K: Kind>(&mut self) {
            self.found = self.found || K::objects(self.schema).keys().any(|k| K::id(k) == *self.id);
        }
    }
    let mut find = Find {
        schema,
        id,
        found: false,
    };
    visit_all(&mut find);
    find.found
}

/// Whether the desired state declares a type of this name, of any kind (a type the database
/// has as another kind is not reported as extra: PostgreSQL has one namespace of types).
pub(crate) fn declares_type(desired: &Schema, name: &QualifiedName) -> bool {
    struct Find<'a> {
        desired: &'a Schema,
        name: &'a QualifiedName,
        found: bool,
    }
    impl Visitor for Find<'_> {
        fn visit<K: Kind>(&mut self) {
            self.found |= K::IS_TYPE
                && K::objects(self.desired)
                    .keys()
                    .any(|k| K::type_name(k) == Some(self.name));
        }
    }
    let mut find = Find {
        desired,
        name,
        found: desired.enums.contains_key(name),
    };
    visit_all(&mut find);
    find.found
}

/// Diffs every registered kind.
pub(crate) fn diff_all(
    live: &Schema,
    desired: &Schema,
    options: &crate::diff::Options,
    out: &mut Diff,
) {
    struct DiffAll<'a> {
        live: &'a Schema,
        desired: &'a Schema,
        options: &'a crate::diff::Options,
        out: &'a mut Diff,
    }
    impl Visitor for DiffAll<'_> {
        fn visit<K: Kind>(&mut self) {
            K::diff(self.live, self.desired, self.options, self.out);
        }
    }
    visit_all(&mut DiffAll {
        live,
        desired,
        options,
        out,
    });
}

/// Puts the rows of the catalog query named `query` into `schema`, as objects of the kind
/// whose query it is.
pub(crate) fn insert_rows(
    query: &str,
    rows: &[PgRow],
    schema: &mut Schema,
) -> Result<(), sqlx::Error> {
    struct Insert<'a> {
        query: &'a str,
        rows: &'a [PgRow],
        schema: &'a mut Schema,
        result: Result<(), sqlx::Error>,
    }
    impl Visitor for Insert<'_> {
        fn visit<K: Kind>(&mut self) {
            if K::CATALOG.name != self.query || self.result.is_err() {
                return;
            }
            for row in self.rows {
                match K::from_row(row) {
                    Ok((name, object)) => {
                        K::objects_mut(self.schema).insert(name, object);
                    }
                    Err(e) => {
                        self.result = Err(e);
                        return;
                    }
                }
            }
        }
    }
    let mut insert = Insert {
        query,
        rows,
        schema,
        result: Ok(()),
    };
    visit_all(&mut insert);
    insert.result
}

/// Every kind's [`Kind::settle`], once the whole catalog is read.
pub(crate) fn settle_all(schema: &mut Schema) {
    struct Settle<'a>(&'a mut Schema);
    impl Visitor for Settle<'_> {
        fn visit<K: Kind>(&mut self) {
            K::settle(self.0);
        }
    }
    visit_all(&mut Settle(schema));
}

/// Moves the objects of every registered kind from `from` into `to` (a catalog read in two
/// halves joins them).
pub(crate) fn move_all(from: &mut Schema, to: &mut Schema) {
    struct Move<'a> {
        from: &'a mut Schema,
        to: &'a mut Schema,
    }
    impl Visitor for Move<'_> {
        fn visit<K: Kind>(&mut self) {
            K::objects_mut(self.to).append(K::objects_mut(self.from));
        }
    }
    visit_all(&mut Move { from, to });
}

/// Copies the objects of every prerequisite kind ([`Kind::PREREQUISITE`]) from `from` into
/// `to` (replacing them).
pub(crate) fn copy_all(from: &Schema, to: &mut Schema) {
    struct Copy<'a> {
        from: &'a Schema,
        to: &'a mut Schema,
    }
    impl Visitor for Copy<'_> {
        fn visit<K: Kind>(&mut self) {
            if K::PREREQUISITE {
                K::objects_mut(self.to).clone_from(K::objects(self.from));
            }
        }
    }
    visit_all(&mut Copy { from, to });
}

/// What a scratch build ran, as far as reading it back is concerned (see [`not_read_back`]).
#[derive(Clone, Copy)]
pub(crate) enum Built<'a> {
    /// Statements of any kind.
    Anything,
    /// The objects of this model, on an empty database.
    Objects(&'a Schema),
    /// Statements that create objects of these kinds only (by their catalog queries' names),
    /// over the desired state's prerequisites ([`Kind::PREREQUISITE`]), which are read too:
    /// a routine whose argument or result type is not in the model read back is left out of
    /// it as unmanaged.
    KindsOverPrerequisites(&'a BTreeSet<&'static str>),
}

/// The catalog queries (by [`Catalog`] name) a read-back of what was `built` on the empty
/// scratch server can leave out: kinds it reads only to overwrite ([`Kind::BUILT`]), and
/// kinds nothing built has objects of — which a kind the server creates for statements of
/// other kinds ([`Kind::IMPLICIT`]) never is.
pub(crate) fn not_read_back(built: Built<'_>) -> BTreeSet<&'static str> {
    struct NotReadBack<'a> {
        built: Built<'a>,
        out: BTreeSet<&'static str>,
    }
    impl Visitor for NotReadBack<'_> {
        fn visit<K: Kind>(&mut self) {
            let read = K::IMPLICIT
                || match self.built {
                    Built::Anything => true,
                    Built::Objects(schema) => !K::objects(schema).is_empty(),
                    Built::KindsOverPrerequisites(created) => {
                        K::PREREQUISITE || created.contains(K::CATALOG.name)
                    }
                };
            if !K::BUILT || !read {
                self.out.insert(K::CATALOG.name);
            }
        }
    }
    let mut visitor = NotReadBack {
        built,
        out: BTreeSet::new(),
    };
    visit_all(&mut visitor);
    visitor.out
}

/// [`restore_all`], but the objects of kinds never built ([`Kind::BUILT`]: hundreds of
/// thousands of privileges at 10,000 tables) are moved out of `desired`, not copied.
pub(crate) fn restore_all_from(desired: &mut Schema, printed: &mut Schema) {
    struct Restore<'a> {
        desired: &'a mut Schema,
        printed: &'a mut Schema,
    }
    impl Visitor for Restore<'_> {
        fn visit<K: Kind>(&mut self) {
            if K::BUILT {
                restore_built::<K>(self.desired, self.printed);
            } else {
                *K::objects_mut(self.printed) = std::mem::take(K::objects_mut(self.desired));
            }
        }
    }
    visit_all(&mut Restore { desired, printed });
}

/// [`restore_all`] for a kind the scratch server builds.
fn restore_built<K: Kind>(desired: &Schema, printed: &mut Schema) {
    let printed = K::objects_mut(printed);
    for (name, object) in K::objects(desired) {
        match printed.get_mut(name) {
            Some(got) => K::restore(got, object),
            None => {
                printed.insert(name.clone(), object.clone());
            }
        }
    }
}

/// Puts into the scratch server's `printed` model every desired object it lacks, and into
/// the ones it has what it does not print ([`Kind::restore`]), for every registered kind.
pub(crate) fn restore_all(desired: &Schema, printed: &mut Schema) {
    struct Restore<'a> {
        desired: &'a Schema,
        printed: &'a mut Schema,
    }
    impl Visitor for Restore<'_> {
        fn visit<K: Kind>(&mut self) {
            if !K::BUILT {
                // Never built there: the scratch server's (its owners, say) mean nothing.
                K::objects_mut(self.printed).clone_from(K::objects(self.desired));
                return;
            }
            restore_built::<K>(self.desired, self.printed);
        }
    }
    visit_all(&mut Restore { desired, printed });
}

/// [`Kind::without_unbuilt_tables`] for every object of every registered kind.
pub(crate) fn leave_out_unbuilt_tables(
    schema: &mut Schema,
    built: &dyn Fn(&QualifiedName) -> bool,
) {
    struct LeaveOut<'a> {
        schema: &'a mut Schema,
        built: &'a dyn Fn(&QualifiedName) -> bool,
    }
    impl Visitor for LeaveOut<'_> {
        fn visit<K: Kind>(&mut self) {
            K::leave_out_unbuilt(self.schema, self.built);
        }
    }
    visit_all(&mut LeaveOut { schema, built });
}

/// The names, per kind, of the objects of `live` that `desired` has in another form and that
/// print texts (expressions) — the ones a re-parse by the server may bring to the same form.
pub(crate) fn differing_texts(live: &Schema, desired: &Schema) -> Vec<ObjectId> {
    struct Differing<'a> {
        live: &'a Schema,
        desired: &'a Schema,
        out: Vec<ObjectId>,
    }
    impl Visitor for Differing<'_> {
        fn visit<K: Kind>(&mut self) {
            let wanted = K::objects(self.desired);
            for (name, object) in K::objects(self.live) {
                if !K::printed_texts(object).is_empty()
                    && wanted.get(name).is_some_and(|w| w != object)
                {
                    self.out.push(K::id(name));
                }
            }
        }
    }
    let mut differing = Differing {
        live,
        desired,
        out: Vec::new(),
    };
    visit_all(&mut differing);
    differing.out
}

/// Replaces in `live` the objects named in `names` with their form in `rebuilt`, where it
/// has them.
pub(crate) fn replace_from(live: &mut Schema, rebuilt: &mut Schema, names: &[ObjectId]) {
    struct Replace<'a> {
        live: &'a mut Schema,
        rebuilt: &'a mut Schema,
        names: &'a [ObjectId],
    }
    impl Visitor for Replace<'_> {
        fn visit<K: Kind>(&mut self) {
            let rebuilt = K::objects_mut(self.rebuilt);
            let live = K::objects_mut(self.live);
            for (name, object) in live.iter_mut() {
                if self.names.contains(&K::id(name))
                    && let Some(got) = rebuilt.remove(name)
                {
                    *object = got;
                }
            }
        }
    }
    visit_all(&mut Replace {
        live,
        rebuilt,
        names,
    });
}

/// Whether every object of every prerequisite kind in `wanted` is in `live`, equal.
pub(crate) fn all_in(wanted: &Schema, live: &Schema) -> bool {
    struct AllIn<'a> {
        wanted: &'a Schema,
        live: &'a Schema,
        all: bool,
    }
    impl Visitor for AllIn<'_> {
        fn visit<K: Kind>(&mut self) {
            if !K::PREREQUISITE {
                return;
            }
            let live = K::objects(self.live);
            self.all &= K::objects(self.wanted)
                .iter()
                .all(|(name, object)| live.get(name) == Some(object));
        }
    }
    let mut check = AllIn {
        wanted,
        live,
        all: true,
    };
    visit_all(&mut check);
    check.all
}

/// Whether any registered kind's object prints a text for which `suspicious` holds.
pub(crate) fn any_printed_text(schema: &Schema, suspicious: &dyn Fn(&str) -> bool) -> bool {
    struct Any<'a> {
        schema: &'a Schema,
        suspicious: &'a dyn Fn(&str) -> bool,
        found: bool,
    }
    impl Visitor for Any<'_> {
        fn visit<K: Kind>(&mut self) {
            self.found |= K::objects(self.schema)
                .values()
                .any(|o| K::printed_texts(o).into_iter().any(self.suspicious));
        }
    }
    let mut any = Any {
        schema,
        suspicious,
        found: false,
    };
    visit_all(&mut any);
    any.found
}

#[cfg(test)]
mod tests;
