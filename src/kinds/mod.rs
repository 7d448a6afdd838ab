//! Object kinds: one home for everything the pipeline must know about a kind of object.
//!
//! A kind (domain, composite type, sequence, grant, ...) is a type implementing [`Kind`]: its
//! model type and the key it is found by, its YAML form and how it resolves, its catalog query
//! and how a row becomes an object, how it prints for `pull`, its DDL, its diff rule (missing
//! → created, different → a finding with its code, extra → a finding with its code) and the
//! plan steps that create it with what they provide and require. The pipeline's stages walk
//! every registered kind with a [`Visitor`] instead of naming kinds one by one, so the shared
//! shape — compare two maps, copy what the scratch server did not print, write a YAML section
//! — is written once.
//!
//! # Adding a kind
//! 1. Write `src/kinds/<kind>.rs`: the model type, its YAML form, the catalog query in
//!    `src/kinds/sql/`, and `impl Kind`. A kind declared as a section of named entries
//!    (`domains: { name: {...} }`), keyed by its schema-qualified name, implements [`Named`]
//!    too and lets [`named`] resolve and pull it.
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
//! Tables (with their columns, constraints and indexes) and enums stay hand-written in
//! `diff::table`, `diff` and `plan::generate`: a table's diff is many rules, not one, and an
//! enum grows label by label.
//!
//! Privileges and owners ([`grant`], [`default_privilege`], [`owner`]) are kinds too, with
//! keys that are not names (a grant is found by object, grantee and privilege), YAML sections
//! that are not lists of named objects, and diff rules of their own ([`Kind::diff`]). They
//! name roles, which the scratch server does not have, so they are never built there
//! ([`Kind::BUILT`]): they are compared structurally, as written.

pub mod composite;
pub mod default_privilege;
pub mod domain;
pub mod grant;
pub mod owner;
pub mod privilege;
pub mod sequence;

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::path::Path;

use serde::Serialize;
use sqlx::postgres::PgRow;

use crate::diff::{Code, Diff, Finding, Severity};
use crate::load::format::{At, Entries, FileSpec};
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
    /// Whether canonicalisation builds the objects on the scratch server and reads them back
    /// (see `canon`). Privileges and owners name roles the scratch server does not have, and
    /// have no text the server would print differently: they stay as written.
    const BUILT: bool = true;
    /// Whether `pull` writes the kind's section after the tables (grants are about them).
    const PULLED_AFTER_TABLES: bool = false;

    /// How one object is found: its schema-qualified name for most kinds; (object, grantee,
    /// privilege) for a grant.
    type Key: Clone + Ord + Debug + Serialize;
    /// One object, as both the YAML loader and the catalog produce it.
    type Object: Clone + PartialEq + Debug + Serialize;

    // --- model

    fn objects(schema: &Schema) -> &BTreeMap<Self::Key, Self::Object>;
    fn objects_mut(schema: &mut Schema) -> &mut BTreeMap<Self::Key, Self::Object>;
    fn id(key: &Self::Key) -> ObjectId;
    /// The schema the object belongs to (its file when pulled; an extra object is reported
    /// only in a schema the desired state describes).
    fn schema_of(key: &Self::Key) -> Option<&Ident>;

    // --- desired state (YAML)

    /// Resolves the kind's sections of every file into the model, reporting what is wrong
    /// through `r`. Runs once every file's tables, enums and earlier kinds are in.
    fn resolve(r: &mut Resolver, files: &[(ParsedFile, Ident)]);
    /// The names of the types a file declares (kinds with [`Kind::IS_TYPE`]), so columns can
    /// use them whatever the file order.
    fn type_names(_file: &FileSpec) -> Vec<&At<String>> {
        Vec::new()
    }
    /// What `pull` writes for the objects of schema `namespace`: the kind's section(s),
    /// each starting with a blank line, or `None` when there is nothing to write.
    fn pull(schema: &Schema, namespace: &Ident) -> Option<String>;

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

    /// Puts back into the object as the scratch server printed it what the server does not
    /// print or was not given (see [`Kind::without_unbuilt_tables`]), from the desired one.
    fn restore(_printed: &mut Self::Object, _desired: &Self::Object) {}

    // --- diff rule

    /// The finding when an object differs under the same key.
    const DIFFERS: Code;
    /// What differs, in words.
    const DIFFERS_MESSAGE: &'static str;
    /// The finding when the database has an object the desired state does not; `None` when
    /// such objects are not compared (an owner the desired state does not name).
    const EXTRA: Option<Code>;
    /// How the "extra" finding names the object (plans have always said `type X` for extra
    /// domains and composites).
    fn extra_id(key: &Self::Key) -> ObjectId {
        Self::id(key)
    }
    /// Compares the kind's objects: [`diff_kind`], the rule every named kind shares, unless
    /// the kind has a rule of its own.
    fn diff(live: &Schema, desired: &Schema, _options: &crate::diff::Options, out: &mut Diff) {
        diff_kind::<Self>(live, desired, out);
    }

    // --- DDL

    /// The CREATE statement (not idempotent by itself: [`Kind::steps`] guards it).
    fn create(key: &Self::Key, object: &Self::Object) -> String;
    /// The statement a human would run to remove an extra object (findings only; reconcile
    /// never runs it), or `None` when there is nothing to remove ([`Kind::EXTRA`] is `None`).
    fn drop(key: &Self::Key) -> Option<String>;

    // --- plan

    /// The idempotent steps that create the object, with what they provide and require.
    fn steps(key: &Self::Key, object: &Self::Object, out: &mut Vec<Draft>);

    /// Table columns the object needs to exist as desired (its creation waits for a change
    /// to them that is held back, see `diff::hold_back`).
    fn columns_used(_object: &Self::Object) -> Vec<(QualifiedName, crate::model::Ident)> {
        Vec::new()
    }

    // --- tests

    /// Two different objects in the server's canonical form, under the same key, that need
    /// only built-in types and no other object (but the roles [`Kind::SAMPLE_SETUP`] makes):
    /// the registry walk (`tests`) creates, reads back, diffs, pulls and loads them.
    #[cfg(test)]
    fn samples() -> (Self::Key, [Self::Object; 2]);
    /// SQL the registry walk runs (as a superuser, on its own cluster) before creating a
    /// sample: the roles a sample names.
    #[cfg(test)]
    const SAMPLE_SETUP: &'static str = "";
}

/// A kind declared as a YAML section of named entries (`domains: { name: {...} }`) in the
/// file's schema, and keyed by that schema-qualified name.
pub(crate) trait Named: Kind<Key = QualifiedName> {
    /// One entry's YAML form.
    type Entry;
    /// The kind's section of a file.
    fn entries(file: &FileSpec) -> &Entries<Self::Entry>;
    /// One declaration → the object, or `None` after reporting what is wrong through `r`.
    fn resolve_entry(
        r: &mut Resolver,
        file: &Path,
        name: &QualifiedName,
        spec: &Self::Entry,
    ) -> Option<Self::Object>;
    /// The object as `pull` writes it under the section: `  name: ...` lines (two spaces of
    /// indentation), or `None` when something else already says it (a serial's sequence).
    fn pull_entry(name: &QualifiedName, object: &Self::Object, schema: &Schema) -> Option<String>;
}

/// [`Kind`]'s YAML methods for a [`Named`] kind.
pub(crate) mod named {
    use super::*;

    pub(crate) fn resolve<K: Named>(r: &mut Resolver, files: &[(ParsedFile, Ident)]) {
        for (file, schema) in files {
            r.resolve_named::<K>(file, schema);
        }
    }

    pub(crate) fn type_names<K: Named>(file: &FileSpec) -> Vec<&At<String>> {
        K::entries(file).0.iter().map(|(name, _)| name).collect()
    }

    pub(crate) fn pull<K: Named>(schema: &Schema, namespace: &Ident) -> Option<String> {
        let entries: Vec<String> = K::objects(schema)
            .iter()
            .filter(|(name, _)| &name.schema == namespace)
            .filter_map(|(name, object)| K::pull_entry(name, object, schema))
            .collect();
        if entries.is_empty() {
            return None;
        }
        Some(format!("\n{}:\n{}", K::SECTION, entries.concat()))
    }
}

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
    ($($variant:ident => $kind:ty, $key:ty, $object:ty;)+) => {
        /// A missing object of a registered kind, to be created.
        #[derive(Debug, Clone, PartialEq, Eq, Serialize)]
        pub enum Created {
            $($variant($key, $object),)+
        }

        impl Created {
            /// The object it creates.
            pub fn object(&self) -> ObjectId {
                match self {
                    $(Created::$variant(name, _) => <$kind as Kind>::id(name),)+
                }
            }

            /// Table columns it needs (see [`Kind::columns_used`]).
            pub(crate) fn columns_used(&self) -> Vec<(QualifiedName, crate::model::Ident)> {
                match self {
                    $(Created::$variant(_, object) => <$kind as Kind>::columns_used(object),)+
                }
            }

            /// Its steps, before ordering.
            pub(crate) fn steps(&self, out: &mut Vec<Draft>) {
                match self {
                    $(Created::$variant(name, object) => <$kind as Kind>::steps(name, object, out),)+
                }
            }
        }

        $(impl Registered for $kind {
            fn created(name: <$kind as Kind>::Key, object: <$kind as Kind>::Object) -> Created {
                Created::$variant(name, object)
            }
        })+

        /// Runs `visitor` over every registered kind, in registration order (which is the
        /// order of their YAML sections in pulled files).
        pub(crate) fn visit_all(visitor: &mut impl Visitor) {
            $(visitor.visit::<$kind>();)+
        }
    };
}

// Kind => its type, its key, its object. The order is the order of resolution and that of the
// sections in pulled files.
registry! {
    Domain => domain::DomainKind, QualifiedName, domain::Domain;
    Composite => composite::CompositeKind, QualifiedName, composite::CompositeType;
    Sequence => sequence::SequenceKind, QualifiedName, sequence::Sequence;
    // After every kind of object that has an owner: `owner:` applies to the ones resolved.
    Owner => owner::OwnerKind, ObjectId, owner::Owner;
    Grant => grant::GrantKind, grant::GrantKey, grant::Grant;
    DefaultPrivilege => default_privilege::DefaultPrivilegeKind, default_privilege::DefaultKey,
        default_privilege::DefaultGrant;
}

/// The diff rule every named kind shares: created when missing; a finding (with the two
/// CREATE statements side by side) when different; a finding (with the DROP a human would
/// run) when the database has one in a schema the desired state manages.
pub(crate) fn diff_kind<K: Kind>(live: &Schema, desired: &Schema, out: &mut Diff) {
    let (have, want) = (K::objects(live), K::objects(desired));
    for (name, wanted) in want {
        match have.get(name) {
            None => out.additive.push(crate::diff::Change::Create(K::created(
                name.clone(),
                wanted.clone(),
            ))),
            Some(existing) if existing != wanted => out.findings.push(
                Finding::new(K::DIFFERS, Severity::Risky, K::id(name), K::DIFFERS_MESSAGE).suggest(
                    format!(
                        "-- database: {}\n-- desired:  {}",
                        K::create(name, existing),
                        K::create(name, wanted)
                    ),
                ),
            ),
            Some(_) => {}
        }
    }
    let Some(extra) = K::EXTRA else {
        return;
    };
    for name in have.keys() {
        let declared = want.contains_key(name)
            || (K::IS_TYPE
                && matches!(K::id(name), ObjectId::Type(n) | ObjectId::Domain(n) if declares_type(desired, &n)));
        if !declared && K::schema_of(name).is_some_and(|s| desired.schemas.contains(s)) {
            let finding = Finding::new(
                extra,
                Severity::Risky,
                K::extra_id(name),
                "in the database, not in the desired state",
            );
            out.findings.push(match K::drop(name) {
                Some(sql) => finding.suggest(sql),
                None => finding,
            });
        }
    }
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
            if K::IS_TYPE {
                self.found |= K::objects(self.desired)
                    .keys()
                    .any(|key| matches!(K::id(key), ObjectId::Type(n) | ObjectId::Domain(n) if n == *self.name));
            }
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

/// Copies the objects of every registered kind the scratch server builds ([`Kind::BUILT`])
/// from `from` into `to` (replacing them): what canonicalisation builds before tables.
pub(crate) fn copy_all(from: &Schema, to: &mut Schema) {
    struct Copy<'a> {
        from: &'a Schema,
        to: &'a mut Schema,
    }
    impl Visitor for Copy<'_> {
        fn visit<K: Kind>(&mut self) {
            if K::BUILT {
                K::objects_mut(self.to).clone_from(K::objects(self.from));
            }
        }
    }
    visit_all(&mut Copy { from, to });
}

/// Puts into the scratch server's `printed` model every desired object it lacks, and into
/// the ones it has what it does not print ([`Kind::restore`]), for every registered kind.
/// The objects of kinds the scratch server does not build ([`Kind::BUILT`]) are the desired
/// ones, whatever the scratch server has (its owners, say).
pub(crate) fn restore_all(desired: &Schema, printed: &mut Schema) {
    struct Restore<'a> {
        desired: &'a Schema,
        printed: &'a mut Schema,
    }
    impl Visitor for Restore<'_> {
        fn visit<K: Kind>(&mut self) {
            let printed = K::objects_mut(self.printed);
            if !K::BUILT {
                printed.clone_from(K::objects(self.desired));
                return;
            }
            for (name, object) in K::objects(self.desired) {
                match printed.get_mut(name) {
                    Some(got) => K::restore(got, object),
                    None => {
                        printed.insert(name.clone(), object.clone());
                    }
                }
            }
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
            for object in K::objects_mut(self.schema).values_mut() {
                K::without_unbuilt_tables(object, self.built);
            }
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

/// Whether every object of every registered kind in `wanted` is in `live`, equal.
pub(crate) fn all_in(wanted: &Schema, live: &Schema) -> bool {
    struct AllIn<'a> {
        wanted: &'a Schema,
        live: &'a Schema,
        all: bool,
    }
    impl Visitor for AllIn<'_> {
        fn visit<K: Kind>(&mut self) {
            if !K::BUILT {
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
