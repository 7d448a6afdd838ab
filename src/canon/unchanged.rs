//! `.sql` statements whose object the target already has exactly as written: they need no
//! scratch server.
//!
//! Building the desired state's views, functions and triggers on the scratch server and reading
//! them back is what makes their comparison exact, and it is most of a plan's time once a
//! schema has thousands of them. But a statement that says, token for token, what the target's
//! catalog prints for the same object declares that object as it is: the live definition *is*
//! its canonical form. Typically every statement `pull` wrote and nobody has touched since.
//!
//! "As written" is decided on PostgreSQL's own parse trees (pg_query), so spacing, case,
//! comments, parentheses and `CREATE` versus `CREATE OR REPLACE` do not matter; anything else
//! does. A parse tree only means the same object in the same context, so a statement is taken
//! from the live catalog only when nothing it may refer to differs from the target in a way
//! that changes how it prints: every word of it that names a table whose columns the desired
//! state changes (not its indexes, keys or privileges), or a type or routine it changes, keeps
//! it on the scratch server, and so does every statement another built statement may refer to
//! or alter (a changed view over it, an `ALTER TABLE ... DISABLE TRIGGER`, a `COMMENT ON`).
//! Words are an over-approximation on purpose: a false match costs a build, never a wrong plan.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use pg_query::NodeEnum;

use crate::kinds::{self, Kind, Visitor};
use crate::load::SqlStatement;
use crate::model::{Ident, ObjectId, QualifiedName, Schema};

/// Which statements the live catalog already holds as written.
#[derive(Debug, Default)]
pub struct Unchanged {
    /// Per statement (same index as the statements): the live object it declares as it is
    /// (a schema, for a plain `CREATE SCHEMA` of one the target has), or `None` when it must
    /// be built.
    pub from_live: Vec<Option<ObjectId>>,
}

impl Unchanged {
    /// Nothing taken from the live catalog: every one of `statements` is built.
    pub fn none(statements: usize) -> Self {
        Unchanged {
            from_live: vec![None; statements],
        }
    }

    pub fn count(&self) -> usize {
        self.from_live.iter().flatten().count()
    }

    /// Whether statement `index` must run on the scratch server.
    pub fn must_build(&self, index: usize) -> bool {
        self.from_live.get(index).is_none_or(Option::is_none)
    }
}

/// What this module needs of one statement whatever the target: parsing every statement is
/// most of [`find`]'s work, and it can be done ahead of time — `plan` does it on the loader
/// thread while the catalog is read ([`prepare_until`]).
#[derive(Debug)]
pub struct Prepared {
    normal: Normal,
    /// Lower-cased identifiers of the statement (what it may refer to).
    words: BTreeSet<String>,
    /// Words that must all appear in another statement for it to refer to this one's object.
    names: Vec<String>,
    /// Whether another statement can use this one's object by name (a relation, type or
    /// routine), as opposed to a trigger or a comment, which nothing refers to.
    referable: bool,
    /// `CREATE SCHEMA name` with nothing else in it.
    plain_schema: Option<String>,
    /// What reads back what it creates on the scratch server (see [`kinds_created`]).
    creates: Creates,
}

/// Which catalog query reads back what a statement creates.
#[derive(Debug, Clone, Copy)]
enum Creates {
    /// The tables' and enums' (a table, an index, an enum, a schema).
    TablesOrEnums,
    /// A registered kind's, by its catalog query's name.
    Kind(&'static str),
    /// Anything, as far as this module knows.
    Anything,
}

/// The registered kinds (by their catalog queries' names) whose objects `sql` creates, when
/// every statement is known to create one object of a known kind: a read-back of their build
/// needs no other kind's query. `None` when one may create anything.
pub fn kinds_created(sql: &[SqlStatement]) -> Option<BTreeSet<&'static str>> {
    let mut out = BTreeSet::new();
    // Statements not prepared yet (a fleet's build of the whole desired state) are parsed on
    // every core.
    for creates in on_every_core(sql, |s| s.preparation.of(s).creates) {
        match creates {
            Creates::TablesOrEnums => {}
            Creates::Kind(name) => {
                out.insert(name);
            }
            Creates::Anything => return None,
        }
    }
    Some(out)
}

/// The statement's tree in a form where equal means "declares the same".
#[derive(Debug)]
enum Normal {
    /// It cannot be taken from the live catalog at all.
    Not,
    Ready(String),
    /// A view's: it depends on the live columns' types (see [`normal_form`]).
    View,
}

/// A statement's `Prepared` form, computed at most once and shared by the statement's
/// copies. Equal whatever its state: it is a function of the statement's text.
#[derive(Debug, Clone, Default)]
pub struct Preparation(Arc<OnceLock<Prepared>>);

impl PartialEq for Preparation {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Preparation {}

impl Preparation {
    fn of(&self, statement: &SqlStatement) -> &Prepared {
        self.0.get_or_init(|| prepare(statement))
    }
}

/// Prepares `statements`, in order, until `enough` is set (the caller then needs them, and
/// `find` prepares the rest on every core).
pub fn prepare_until(statements: &[SqlStatement], enough: &AtomicBool) {
    for statement in statements {
        if enough.load(Ordering::Relaxed) {
            return;
        }
        statement.preparation.of(statement);
    }
}

/// One statement against the live catalog.
struct Parsed<'a> {
    prepared: &'a Prepared,
    /// See [`Normal`]: `None` when the statement cannot be taken from the live catalog.
    normal: Option<Cow<'a, str>>,
}

/// Finds the statements of `sql` whose object `live` already has as written, given `yaml`
/// (the desired state's other objects, with the live spellings adopted).
pub fn find(sql: &[SqlStatement], yaml: &Schema, live: &Schema) -> Unchanged {
    let clock = std::time::Instant::now();
    let parsed: Vec<Parsed> = on_every_core(sql, |s| {
        let prepared = s.preparation.of(s);
        let normal = match &prepared.normal {
            Normal::Not => None,
            Normal::Ready(text) => Some(Cow::Borrowed(text.as_str())),
            Normal::View => normalise(&s.text, live).map(Cow::Owned),
        };
        Parsed { prepared, normal }
    });
    tracing::debug!("parsed {} statements in {:?}", sql.len(), clock.elapsed());
    let declared: BTreeMap<&str, Vec<usize>> = {
        let mut map: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (index, statement) in sql.iter().enumerate() {
            if let Some((what, _)) = &statement.declares {
                map.entry(what.as_str()).or_default().push(index);
            }
        }
        map
    };
    let mut candidates = Candidates {
        parsed: &parsed,
        declared: &declared,
        live,
        found: Vec::new(),
    };
    kinds::visit_all(&mut candidates);
    // Parsing the live texts is most of the matching: done on every core, then assigned in
    // order (a routine's overloads share a name, and each takes the first statement that
    // declares it as it is).
    let matches = on_every_core(&candidates.found, |c| c.matches(sql, &parsed, live));
    let mut from_live: Vec<Option<ObjectId>> = vec![None; sql.len()];
    for (candidate, matched) in candidates.found.iter().zip(matches) {
        if let Some(&index) = candidate
            .indexes
            .iter()
            .zip(matched)
            .find(|(index, matched)| *matched && from_live[**index].is_none())
            .map(|(index, _)| index)
        {
            from_live[index] = Some(candidate.id.clone());
        }
    }
    tracing::debug!("matched with the live catalog at {:?}", clock.elapsed());
    for (index, p) in parsed.iter().enumerate() {
        if let Some(schema) = &p.prepared.plain_schema
            && let Some(live) = live.schemas.iter().find(|s| s.as_str() == schema)
        {
            from_live[index] = Some(ObjectId::Schema(live.clone()));
        }
    }
    // Names the desired state changes: a statement naming one may print differently here.
    // Hashed: every word of every statement is looked up, each time round the loop.
    let mut changed: HashSet<String> = changed_names(yaml, live).into_iter().collect();

    loop {
        let building: Vec<usize> = (0..sql.len()).filter(|i| from_live[*i].is_none()).collect();
        // Which built statements have each word (a candidate they may use or alter is built).
        let mut by_word: HashMap<&str, Vec<usize>> = HashMap::new();
        for &index in &building {
            let p = parsed[index].prepared;
            if p.referable {
                changed.extend(p.names.iter().cloned());
            }
            for word in &p.words {
                by_word.entry(word.as_str()).or_default().push(index);
            }
        }
        let mut dropped = false;
        for index in 0..sql.len() {
            if from_live[index].is_none() {
                continue;
            }
            let p = parsed[index].prepared;
            let reads_changed = p.words.iter().any(|w| changed.contains(w));
            // A built statement may use it, or alter it (ALTER TABLE ... DISABLE TRIGGER).
            let used_by_built = p.names.split_first().is_some_and(|(first, rest)| {
                by_word.get(first.as_str()).is_some_and(|users| {
                    users.iter().any(|&other| {
                        rest.iter()
                            .all(|n| parsed[other].prepared.words.contains(n))
                    })
                })
            });
            if reads_changed || used_by_built {
                from_live[index] = None;
                dropped = true;
            }
        }
        if !dropped {
            break;
        }
    }
    Unchanged { from_live }
}

/// Whether `objects` (one kind's, all of them) are written as SQL statements: kinds declared
/// in YAML (a hundred thousand privileges at 10,000 tables) have no statement to match.
fn written_as_sql<K: Kind>(objects: &BTreeMap<K::Key, K::Object>) -> bool {
    objects
        .iter()
        .next()
        .is_some_and(|(key, object)| K::pull_sql(key, object).is_some())
}

/// Pairs each live object with the statements that declare an object of its name, per kind
/// written as SQL.
struct Candidates<'a> {
    parsed: &'a [Parsed<'a>],
    declared: &'a BTreeMap<&'a str, Vec<usize>>,
    live: &'a Schema,
    found: Vec<Candidate>,
}

/// A live object and the statements that may declare it as it is.
struct Candidate {
    id: ObjectId,
    /// The texts the catalog gives for it ([`Kind::live_spellings`]).
    spellings: Vec<String>,
    /// Statements (indexes) declaring an object of its name, in the files' order.
    indexes: Vec<usize>,
}

impl Candidate {
    /// Per statement of [`Candidate::indexes`]: whether it declares this object as it is.
    fn matches(&self, sql: &[SqlStatement], parsed: &[Parsed], live: &Schema) -> Vec<bool> {
        let mut normals: Option<Vec<Option<String>>> = None;
        self.indexes
            .iter()
            .map(|&index| {
                let Some(normal) = parsed[index].normal.as_deref() else {
                    return false;
                };
                let written = sql[index].text.trim();
                if self.spellings.iter().any(|text| text.trim() == written) {
                    return true;
                }
                normals
                    .get_or_insert_with(|| {
                        self.spellings
                            .iter()
                            .map(|text| normalise(text, live))
                            .collect()
                    })
                    .iter()
                    .any(|n| n.as_deref() == Some(normal))
            })
            .collect()
    }
}

impl Visitor for Candidates<'_> {
    fn visit<K: Kind>(&mut self) {
        let objects = K::objects(self.live);
        if !written_as_sql::<K>(objects) {
            return;
        }
        for (key, object) in objects {
            let id = K::id(key);
            // An object declared twice is a load error; a routine's overloads share a name.
            let Some(indexes) = self.declared.get(declared_form(&id).as_str()) else {
                continue;
            };
            let indexes: Vec<usize> = indexes
                .iter()
                .copied()
                .filter(|&i| self.parsed[i].normal.is_some())
                .collect();
            if indexes.is_empty() {
                continue;
            }
            self.found.push(Candidate {
                spellings: K::live_spellings(key, object),
                id,
                indexes,
            });
        }
    }
}

/// `f` of every item, the items shared out over the machine's cores (pg_query parses in
/// each thread's own memory); in the items' order.
fn on_every_core<'a, T: Sync, R: Send>(items: &'a [T], f: impl Fn(&'a T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(8);
    // Below a few hundred items a thread costs more than it saves.
    if threads < 2 || items.len() < 256 {
        return items.iter().map(&f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let f = &f;
        let workers: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(f).collect::<Vec<R>>()))
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// What a statement declaring `id` says it declares (`SqlStatement::declares`): routines by
/// name alone (only the server resolves argument types).
fn declared_form(id: &ObjectId) -> String {
    match id {
        ObjectId::Function { name, .. } => format!("function {name}"),
        ObjectId::Procedure { name, .. } => format!("procedure {name}"),
        ObjectId::Aggregate { name, .. } => format!("aggregate {name}"),
        other => other.to_string(),
    }
}

fn prepare(statement: &SqlStatement) -> Prepared {
    let mut out = Prepared {
        normal: Normal::Not,
        words: words(&statement.text),
        names: Vec::new(),
        referable: false,
        plain_schema: None,
        creates: Creates::Anything,
    };
    let Ok(parsed) = pg_query::parse(&statement.text, pg_query::ParserOptions::DEFAULT) else {
        return out;
    };
    let Some(node) = only_statement(&parsed.protobuf) else {
        return out;
    };
    let last = |names: &[pg_query::protobuf::Node]| -> Vec<String> {
        names
            .last()
            .and_then(|n| match &n.node {
                Some(NodeEnum::String(s)) => Some(vec![s.sval.to_lowercase()]),
                _ => None,
            })
            .unwrap_or_default()
    };
    let relation = |r: Option<&pg_query::protobuf::RangeVar>| -> Vec<String> {
        r.map(|r| r.relname.to_lowercase()).into_iter().collect()
    };
    // (the names others refer to it by, whether others can use it, whether it may be taken
    // from the live catalog). Everything but views, routines and triggers is built: a table
    // (the YAML side's rules apply to it), an index, a materialized view (its indexes are
    // statements of their own), a comment, a type.
    let (names, referable, comparable) = match node {
        NodeEnum::ViewStmt(s) => (relation(s.view.as_ref()), true, true),
        NodeEnum::CreateFunctionStmt(s) => (last(&s.funcname), true, true),
        NodeEnum::DefineStmt(s) => (last(&s.defnames), true, true),
        NodeEnum::CreateTrigStmt(s) => {
            let mut names = relation(s.relation.as_ref());
            names.push(s.trigname.to_lowercase());
            (names, false, true)
        }
        NodeEnum::CreateSchemaStmt(s) => {
            if s.schema_elts.is_empty() && s.authrole.is_none() {
                out.plain_schema = Some(s.schemaname.clone());
            }
            (vec![s.schemaname.to_lowercase()], false, false)
        }
        NodeEnum::CreateTableAsStmt(s) => (
            relation(s.into.as_ref().and_then(|i| i.rel.as_ref())),
            true,
            false,
        ),
        NodeEnum::CreateStmt(s) => (relation(s.relation.as_ref()), true, false),
        NodeEnum::CompositeTypeStmt(s) => (relation(s.typevar.as_ref()), true, false),
        NodeEnum::CreateEnumStmt(s) => (last(&s.type_name), true, false),
        NodeEnum::CreateDomainStmt(s) => (last(&s.domainname), true, false),
        NodeEnum::CreateSeqStmt(s) => (relation(s.sequence.as_ref()), true, false),
        _ => (Vec::new(), false, false),
    };
    out.names = names;
    out.referable = referable;
    out.creates = creates(node);
    if !comparable {
        return out;
    }
    out.normal = if matches!(node, NodeEnum::ViewStmt(_)) {
        Normal::View
    } else {
        match routine_normal_form(parsed.protobuf) {
            Some(text) => Normal::Ready(text),
            None => Normal::Not,
        }
    };
    out
}

/// See [`Creates`].
fn creates(node: &NodeEnum) -> Creates {
    use crate::kinds::{
        aggregate::AggregateKind, composite::CompositeKind, domain::DomainKind,
        function::FunctionKind, materialized_view::MaterializedViewKind, sequence::SequenceKind,
        trigger::TriggerKind, view::ViewKind,
    };
    fn of<K: Kind>() -> Creates {
        Creates::Kind(K::CATALOG.name)
    }
    match node {
        NodeEnum::ViewStmt(_) => of::<ViewKind>(),
        NodeEnum::CreateTableAsStmt(_) => of::<MaterializedViewKind>(),
        NodeEnum::CreateFunctionStmt(_) => of::<FunctionKind>(),
        NodeEnum::DefineStmt(s)
            if s.kind == pg_query::protobuf::ObjectType::ObjectAggregate as i32 =>
        {
            of::<AggregateKind>()
        }
        NodeEnum::CreateTrigStmt(_) => of::<TriggerKind>(),
        NodeEnum::CreateDomainStmt(_) => of::<DomainKind>(),
        NodeEnum::CompositeTypeStmt(_) => of::<CompositeKind>(),
        NodeEnum::CreateSeqStmt(_) => of::<SequenceKind>(),
        // A comment is kept only if what it is on is read back too, and that may be of any
        // kind (a policy the YAML declares, say).
        NodeEnum::CommentStmt(_) => Creates::Anything,
        NodeEnum::CreateStmt(_) | NodeEnum::IndexStmt(_) | NodeEnum::CreateEnumStmt(_) => {
            Creates::TablesOrEnums
        }
        NodeEnum::CreateSchemaStmt(s) if s.schema_elts.is_empty() => Creates::TablesOrEnums,
        _ => Creates::Anything,
    }
}

/// The one statement of a parse, if it is one.
fn only_statement(parsed: &pg_query::protobuf::ParseResult) -> Option<&NodeEnum> {
    match parsed.stmts.as_slice() {
        [one] => one.stmt.as_ref()?.node.as_ref(),
        _ => None,
    }
}

/// [`normal_form`] of a text.
fn normalise(text: &str, live: &Schema) -> Option<String> {
    let parsed = pg_query::parse(text, pg_query::ParserOptions::DEFAULT).ok()?;
    normal_form(parsed.protobuf, live)
}

/// The statement's parse tree, printed back, with what does not change
/// what it declares taken out or spelt one way:
///
/// * source positions, `OR REPLACE`, and the order of a routine's options;
/// * `public.` before a relation name (statements are built, and the catalog printed, with
///   `search_path = public`, and every relation of pg_catalog, searched first, is `pg_*`),
///   and before the name of the routine a statement creates;
/// * the `::text` the server adds to both operands of an operator between two `varchar`
///   columns (there are no varchar operators: both are relabelled to text, written or not).
///   The columns' types are the live tables': a statement reading a table the desired state
///   changes is never taken from the live catalog anyway.
fn normal_form(mut parsed: pg_query::protobuf::ParseResult, live: &Schema) -> Option<String> {
    let [one] = parsed.stmts.as_mut_slice() else {
        return None;
    };
    // A view's query needs the rewrites below, on its whole tree.
    if let NodeEnum::ViewStmt(s) = one.stmt.as_mut()?.node.as_mut()? {
        s.replace = false;
        let mut relations = Relations::default();
        for (node, ..) in parsed.nodes() {
            if let pg_query::NodeRef::RangeVar(relation) = node {
                relations.add(relation);
            }
        }
        let columns = ColumnTypes {
            relations: &relations,
            live,
        };
        // SAFETY: of the nodes listed, only relations and operator expressions are changed;
        // a relation's change moves nothing, and an operator expression only gives up the
        // `::text` casts around its two column references, which hold neither relations nor
        // operator expressions — the nodes the freed ones were are never looked at again.
        unsafe {
            for (node, ..) in parsed.nodes_mut() {
                match node {
                    pg_query::NodeMut::RangeVar(relation) => {
                        if let Some(relation) = relation.as_mut() {
                            unqualify_public(relation);
                        }
                    }
                    pg_query::NodeMut::AExpr(expression) => {
                        if let Some(expression) = expression.as_mut() {
                            columns.strip_varchar_casts(expression);
                        }
                    }
                    _ => {}
                }
            }
        }
        // pg_query's walk visits the expressions a view's query holds (joins, subqueries,
        // function calls, CASE, ...); a node it skips keeps its casts and `public.`, so such a
        // view is built on the scratch server rather than taken as it is — a build, never a
        // wrong plan. Printed back: positions are not printed, and this is much cheaper than
        // comparing the trees as JSON (what this did before: a third of the check).
        return pg_query::deparse(&parsed, pg_query::DeparseOptions::default()).ok();
    }
    routine_normal_form(parsed)
}

/// [`normal_form`] of anything but a view (what does not depend on the live catalog).
fn routine_normal_form(mut parsed: pg_query::protobuf::ParseResult) -> Option<String> {
    let [one] = parsed.stmts.as_mut_slice() else {
        return None;
    };
    match one.stmt.as_mut()?.node.as_mut()? {
        // Only where the rewrites can apply, and printed back (much cheaper than JSON).
        NodeEnum::CreateTrigStmt(s) => {
            s.replace = false;
            if let Some(relation) = s.relation.as_mut() {
                unqualify_public(relation);
            }
        }
        NodeEnum::CreateFunctionStmt(s) => {
            s.replace = false;
            unqualify_created(&mut s.funcname);
            s.options.sort_by_key(|o| match &o.node {
                Some(NodeEnum::DefElem(d)) => d.defname.clone(),
                _ => String::new(),
            });
        }
        NodeEnum::DefineStmt(s) => {
            s.replace = false;
            unqualify_created(&mut s.defnames);
        }
        _ => return None,
    }
    pg_query::deparse(&parsed, pg_query::DeparseOptions::default()).ok()
}

/// `public.f` → `f` for the name of the object a statement creates: an unqualified one is
/// created in the first schema of the search path, `public` (no lookup is involved).
fn unqualify_created(names: &mut Vec<pg_query::protobuf::Node>) {
    if let [first, _] = names.as_slice()
        && matches!(&first.node, Some(NodeEnum::String(s)) if s.sval == "public")
    {
        names.remove(0);
    }
}

/// `public.t` → `t` (see [`normal_form`]).
fn unqualify_public(relation: &mut pg_query::protobuf::RangeVar) {
    if relation.schemaname == "public" && !relation.relname.starts_with("pg_") {
        relation.schemaname.clear();
    }
}

/// What each relation name or alias of a statement stands for (`None`: more than one thing).
#[derive(Default)]
struct Relations(BTreeMap<String, Option<QualifiedName>>);

impl Relations {
    fn add(&mut self, relation: &pg_query::protobuf::RangeVar) {
        let schema = match relation.schemaname.as_str() {
            "" => "public",
            schema => schema,
        };
        let name = QualifiedName::new(
            Ident::from_catalog(schema.to_owned()),
            Ident::from_catalog(relation.relname.clone()),
        );
        let key = relation
            .alias
            .as_ref()
            .map_or(&relation.relname, |a| &a.aliasname)
            .clone();
        let entry = self.0.entry(key).or_insert_with(|| Some(name.clone()));
        if entry.as_ref() != Some(&name) {
            *entry = None;
        }
    }
}

struct ColumnTypes<'a> {
    relations: &'a Relations,
    live: &'a Schema,
}

impl ColumnTypes<'_> {
    /// `a.code::text = b.code::text` → `a.code = b.code` when both are `varchar` columns of
    /// live tables (the server adds the casts; people do not write them).
    fn strip_varchar_casts(&self, expression: &mut pg_query::protobuf::AExpr) {
        if expression.kind != pg_query::protobuf::AExprKind::AexprOp as i32 {
            return;
        }
        let (Some(left), Some(right)) = (&expression.lexpr, &expression.rexpr) else {
            return;
        };
        if !(self.varchar(left) && self.varchar(right)) {
            return;
        }
        for side in [&mut expression.lexpr, &mut expression.rexpr] {
            if let Some(node) = side
                && let Some(NodeEnum::TypeCast(cast)) = &mut node.node
                && is_text_cast(cast)
                && let Some(bare) = cast.arg.take()
            {
                *side = Some(bare);
            }
        }
    }

    /// Whether the node is a reference to a `varchar` column of a live table, or one with
    /// the `::text` relabelling.
    fn varchar(&self, node: &pg_query::protobuf::Node) -> bool {
        let node = match &node.node {
            Some(NodeEnum::TypeCast(cast)) if is_text_cast(cast) => match cast.arg.as_deref() {
                Some(arg) => arg,
                None => return false,
            },
            _ => node,
        };
        let Some(NodeEnum::ColumnRef(column)) = &node.node else {
            return false;
        };
        let names: Option<Vec<&str>> = column
            .fields
            .iter()
            .map(|f| match &f.node {
                Some(NodeEnum::String(s)) => Some(s.sval.as_str()),
                _ => None,
            })
            .collect();
        let type_of = |table: &QualifiedName, column: &str| {
            self.live
                .tables
                .get(table)
                .and_then(|t| t.column(column))
                .map(|c| c.data_type.as_str())
        };
        let data_type = match names.as_deref() {
            Some([relation, column]) => self
                .relations
                .0
                .get(*relation)
                .and_then(Option::as_ref)
                .and_then(|t| type_of(t, column)),
            Some([column]) => {
                let mut types = self
                    .relations
                    .0
                    .values()
                    .flatten()
                    .filter_map(|t| type_of(t, column));
                match (types.next(), types.next()) {
                    (Some(one), None) => Some(one),
                    _ => None,
                }
            }
            _ => None,
        };
        data_type.is_some_and(|t| t.starts_with("character varying") && !t.ends_with("[]"))
    }
}

/// Whether the cast is a plain `::text`.
fn is_text_cast(cast: &pg_query::protobuf::TypeCast) -> bool {
    let Some(type_name) = &cast.type_name else {
        return false;
    };
    let names: Vec<&str> = type_name
        .names
        .iter()
        .filter_map(|n| match &n.node {
            Some(NodeEnum::String(s)) => Some(s.sval.as_str()),
            _ => None,
        })
        .collect();
    matches!(names.as_slice(), ["text"] | ["pg_catalog", "text"])
        && type_name.typmods.is_empty()
        && type_name.array_bounds.is_empty()
}

/// Every identifier and keyword of `text`, lower-cased (quoted ones too: an
/// over-approximation, as the names compared with them are lower-cased).
fn words(text: &str) -> BTreeSet<String> {
    super::sql::scan_words(text)
        .map(|(words, _)| words.into_iter().map(|w| w.to_lowercase()).collect())
        .unwrap_or_default()
}

/// Names (lower-cased, unqualified) of the tables whose columns the desired state has
/// differently from `live`, and of the objects of every YAML-declared kind that it has
/// differently, or that `live` lacks.
///
/// Only a table's columns (names, types, order, ...) decide how what reads it prints: a view's
/// query, a trigger's `UPDATE OF` and `WHEN`, a routine's `%TYPE`. Its indexes, keys,
/// privileges or policies do not, and a tenth of a schema's tables gaining an index must not
/// send every view and trigger on them to the scratch server.
fn changed_names(yaml: &Schema, live: &Schema) -> BTreeSet<String> {
    let name = |q: &QualifiedName| q.name.as_str().to_lowercase();
    let mut out: BTreeSet<String> = kinds::paired(&live.tables, &yaml.tables)
        .filter_map(|(n, have, want)| match (have, want) {
            (Some(have), Some(want)) if have.columns == want.columns => None,
            (_, Some(_)) => Some(name(n)),
            (_, None) => None,
        })
        .collect();
    out.extend(
        yaml.enums
            .iter()
            .filter(|(n, e)| live.enums.get(*n) != Some(*e))
            .map(|(n, _)| name(n)),
    );
    struct Changed<'a> {
        yaml: &'a Schema,
        live: &'a Schema,
        out: &'a mut BTreeSet<String>,
    }
    impl Visitor for Changed<'_> {
        fn visit<K: Kind>(&mut self) {
            // A kind whose objects no statement names (privileges, comments, ...): nothing
            // to compare (there are hundreds of thousands of privileges at 10,000 tables).
            let wanted = K::objects(self.yaml);
            if wanted
                .keys()
                .next()
                .is_none_or(|key| object_name(&K::id(key)).is_none())
            {
                return;
            }
            let live = K::objects(self.live);
            for (key, object) in wanted {
                if live.get(key) != Some(object)
                    && let Some(name) = object_name(&K::id(key))
                {
                    self.out.insert(name);
                }
            }
        }
    }
    kinds::visit_all(&mut Changed {
        yaml,
        live,
        out: &mut out,
    });
    out
}

/// The word other statements name an object by, for objects that can be named.
fn object_name(id: &ObjectId) -> Option<String> {
    let q = match id {
        ObjectId::Type(q)
        | ObjectId::Domain(q)
        | ObjectId::Sequence(q)
        | ObjectId::Table(q)
        | ObjectId::View(q)
        | ObjectId::MaterializedView(q)
        | ObjectId::Function { name: q, .. }
        | ObjectId::Procedure { name: q, .. }
        | ObjectId::Aggregate { name: q, .. } => q,
        _ => return None,
    };
    Some(q.name.as_str().to_lowercase())
}

/// Copies into `built` every live object `unchanged` takes from `live`.
pub fn copy_from_live(unchanged: &Unchanged, live: &Schema, built: &mut Schema) {
    let wanted: BTreeSet<&ObjectId> = unchanged.from_live.iter().flatten().collect();
    if wanted.is_empty() {
        return;
    }
    struct Copy<'a> {
        wanted: &'a BTreeSet<&'a ObjectId>,
        live: &'a Schema,
        built: &'a mut Schema,
    }
    impl Visitor for Copy<'_> {
        fn visit<K: Kind>(&mut self) {
            // Only kinds written as SQL have candidates to take (see `Candidates`).
            let objects = K::objects(self.live);
            if !written_as_sql::<K>(objects) {
                return;
            }
            for (key, object) in objects {
                if self.wanted.contains(&K::id(key)) {
                    K::objects_mut(self.built).insert(key.clone(), object.clone());
                }
            }
        }
    }
    kinds::visit_all(&mut Copy {
        wanted: &wanted,
        live,
        built,
    });
    for id in wanted {
        if let ObjectId::Schema(schema) = id {
            built.schemas.insert(schema.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_shared_out_over_the_cores_comes_back_in_order() {
        let items: Vec<usize> = (0..1000).collect();
        let texts = on_every_core(&items, |i| format!("SELECT {i}"));
        let expected: Vec<String> = items.iter().map(|i| format!("SELECT {i}")).collect();
        assert_eq!(texts, expected);
        // pg_query in several threads at once: each parse is its own.
        let parsed = on_every_core(&texts, |t| {
            pg_query::parse(t, pg_query::ParserOptions::DEFAULT)
                .ok()
                .and_then(|p| {
                    pg_query::deparse(&p.protobuf, pg_query::DeparseOptions::default()).ok()
                })
        });
        assert_eq!(parsed.len(), 1000);
        for (i, p) in parsed.iter().enumerate() {
            assert_eq!(p.as_deref(), Some(format!("SELECT {i}").as_str()));
        }
    }

    fn statements() -> Vec<SqlStatement> {
        crate::load::sql::statements(
            std::path::Path::new("objects.sql"),
            "CREATE FUNCTION public.f() RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT 1';\n\
             CREATE VIEW v AS SELECT 1 AS one;\n\
             CREATE TABLE t (id int);\n\
             CREATE TRIGGER tr BEFORE INSERT ON public.t FOR EACH ROW EXECUTE FUNCTION f();\n",
        )
        .expect("the statements load")
    }

    #[test]
    fn statements_are_prepared_ahead_only_until_told_to_stop() {
        let sql = statements();
        prepare_until(&sql, &AtomicBool::new(true));
        assert!(sql.iter().all(|s| s.preparation.0.get().is_none()));
        prepare_until(&sql, &AtomicBool::new(false));
        assert!(sql.iter().all(|s| s.preparation.0.get().is_some()));
        // A copy shares its statement's preparation.
        let copy = sql[0].clone();
        assert!(copy.preparation.0.get().is_some());
    }

    #[test]
    fn a_read_back_asks_for_the_kinds_the_statements_create() {
        use crate::kinds::{
            domain::DomainKind, function::FunctionKind, grant::GrantKind,
            materialized_view::MaterializedViewKind, sequence::SequenceKind, trigger::TriggerKind,
            view::ViewKind,
        };
        let sql = statements();
        let created = kinds_created(&sql).expect("every statement is known");
        let names = |list: &[&'static str]| list.iter().copied().collect::<BTreeSet<_>>();
        assert_eq!(
            created,
            names(&[
                FunctionKind::CATALOG.name,
                ViewKind::CATALOG.name,
                TriggerKind::CATALOG.name
            ])
        );
        let left_out =
            crate::kinds::not_read_back(crate::kinds::Built::KindsOverPrerequisites(&created));
        assert!(left_out.contains(GrantKind::CATALOG.name), "never built");
        assert!(!left_out.contains(SequenceKind::CATALOG.name), "a serial's");
        assert!(!left_out.contains(ViewKind::CATALOG.name));
        assert!(
            !left_out.contains(DomainKind::CATALOG.name),
            "a prerequisite"
        );
        assert!(left_out.contains(MaterializedViewKind::CATALOG.name));
        // A statement of another shape: anything may have been created.
        let altering = crate::load::sql::statements(
            std::path::Path::new("alter.sql"),
            "ALTER TABLE public.t DISABLE TRIGGER tr;\n",
        )
        .expect("the statement loads");
        assert_eq!(kinds_created(&[sql, altering].concat()), None);
    }

    #[test]
    fn a_statement_prepared_ahead_is_prepared_as_it_would_be_on_demand() {
        let ahead = statements();
        prepare_until(&ahead, &AtomicBool::new(false));
        let on_demand = statements();
        for (a, b) in ahead.iter().zip(&on_demand) {
            let (a, b) = (a.preparation.of(a), prepare(b));
            assert_eq!(format!("{a:?}"), format!("{b:?}"));
        }
        let [function, view, table, trigger] = ahead.as_slice() else {
            panic!("four statements");
        };
        let normal = |s: &SqlStatement| match &s.preparation.of(s).normal {
            Normal::Not => "not",
            Normal::Ready(_) => "ready",
            Normal::View => "view",
        };
        // The routine and the trigger are normalised ahead (the public. of the function's
        // name is not part of its normal form); the view waits for the live columns; a
        // table is built, never taken from the live catalog.
        assert_eq!(normal(function), "ready");
        assert_eq!(normal(trigger), "ready");
        assert_eq!(normal(view), "view");
        assert_eq!(normal(table), "not");
        let Normal::Ready(text) = &function.preparation.of(function).normal else {
            unreachable!()
        };
        assert!(!text.contains("public."), "{text}");
        assert_eq!(
            function.preparation.of(function).names,
            vec!["f".to_owned()]
        );
    }
}
