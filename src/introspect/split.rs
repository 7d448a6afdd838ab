//! One catalog read for many tenant schemas, split per tenant.
//!
//! A schema-per-tenant database audited tenant by tenant reads the catalog once per tenant,
//! and each read walks the whole catalog (PostgreSQL has no index by schema on `pg_class`,
//! `pg_attribute` or `pg_depend`): 1,000 tenants cost 1,000 walks of a catalog that grows
//! with them. [`tenants`] reads many tenants, with the schemas they share (`public`, say), in
//! one transaction and hands each tenant its share: what [`super::schema`] reads in the scope
//! of the shared schemas and that tenant. That holds because every catalog query filters by
//! the schema of the object a row describes, never by another object's, so a schema's rows are
//! the same whatever else is in scope; what depends on what else was read — a partition whose
//! parent was read, a foreign key to a table left out, a view on a relation the model lacks,
//! the privileges and comments of what was left out — is settled afterwards, on each share
//! alone ([`super::settle`]), as a read of that tenant alone settles it.
//!
//! Two facts of a share differ from a tenant's own read: `undeclared_schemas` is empty (for a
//! tenant every other tenant is such a schema — a list a thousand long, per tenant — and the
//! fleet reports none of them) and `catalog_queries` counts the queries of the whole read.
//! The environment (roles, the role connected as, the database's functions) does not depend
//! on the scope and is the same in every share.

use std::collections::{BTreeMap, BTreeSet};

use sqlx::PgConnection;

use super::{IntrospectError, Introspected, Reader, Scope, q};
use crate::ident::QualifiedName;
use crate::kinds;
use crate::model::{Ident, Schema};

/// Reads the schemas `shared` and `tenants` (but not `ignore`) at once, and returns each
/// tenant's share, by tenant: what a read in the scope of `shared` and that tenant gives,
/// `undeclared_schemas` left empty. A tenant that does not exist gets an empty share (as its
/// own read would: nothing of it exists).
pub async fn tenants(
    conn: &mut PgConnection,
    shared: &[String],
    tenants: &[String],
    ignore: &[String],
) -> Result<BTreeMap<String, Introspected>, IntrospectError> {
    let scope = Scope::named(shared.iter().chain(tenants).cloned(), ignore);
    let mut tx = super::begin_read(conn).await?;
    let mut reader = Reader {
        conn: &mut tx,
        queries: 0,
        leave_out: Default::default(),
        helper: None,
    };
    let read = super::read_unsettled(&mut reader, &scope).await;
    let queries = reader.queries;
    let read = match read {
        Ok(read) => super::environment(&mut tx, &read.schema)
            .await
            .map(|environment| (read, environment)),
        Err(e) => Err(e),
    };
    tx.rollback().await.map_err(q("rollback"))?;
    let (read, (environment, current_role)) = read?;
    let mut shares = split(read, shared, tenants);
    for share in &mut shares {
        super::settle(share);
        share.roles = environment.roles.clone().unwrap_or_default();
        share.current_role.clone_from(&current_role);
        share.environment = environment.clone();
        share.catalog_queries = queries + 1;
    }
    Ok(tenants.iter().cloned().zip(shares).collect())
}

/// Where a schema's objects go.
#[derive(Clone, Copy)]
enum Home {
    /// A shared schema's (or, were there one, an object in no schema): into every share.
    Every,
    One(usize),
    /// Outside the scope (no query returns such an object).
    Nowhere,
}

struct Router {
    shared: BTreeSet<Ident>,
    tenants: BTreeMap<Ident, usize>,
}

impl Router {
    fn home(&self, schema: Option<&Ident>) -> Home {
        match schema {
            None => Home::Every,
            Some(s) if self.shared.contains(s) => Home::Every,
            Some(s) => self.tenants.get(s).map_or(Home::Nowhere, |i| Home::One(*i)),
        }
    }

    /// Moves each item into the share of its home (a copy into each, for the shared ones).
    fn deal<T: Clone>(
        &self,
        items: impl IntoIterator<Item = T>,
        shares: &mut [Introspected],
        home: impl Fn(&Self, &T) -> Home,
        mut put: impl FnMut(&mut Introspected, T),
    ) {
        for item in items {
            match home(self, &item) {
                Home::One(i) => put(&mut shares[i], item),
                Home::Every => {
                    for share in shares.iter_mut() {
                        put(share, item.clone());
                    }
                }
                Home::Nowhere => {}
            }
        }
    }
}

impl Router {
    /// [`Router::deal`] for a map by schema-qualified name.
    fn by_name<V: Clone>(
        &self,
        map: BTreeMap<QualifiedName, V>,
        shares: &mut [Introspected],
        field: fn(&mut Introspected) -> &mut BTreeMap<QualifiedName, V>,
    ) {
        self.deal(
            map,
            shares,
            |r, (name, _)| r.home(Some(&name.schema)),
            |share, (name, value)| {
                field(share).insert(name, value);
            },
        );
    }
}

/// The read of many schemas, cut into one unsettled read per tenant (in `tenants`' order).
fn split(read: Introspected, shared: &[String], tenants: &[String]) -> Vec<Introspected> {
    let router = Router {
        shared: shared.iter().cloned().map(Ident::from_catalog).collect(),
        tenants: tenants
            .iter()
            .enumerate()
            .map(|(i, t)| (Ident::from_catalog(t.clone()), i))
            .collect(),
    };
    let mut shares: Vec<Introspected> = tenants.iter().map(|_| super::empty()).collect();
    // Every field by name, so that a new one cannot be forgotten here.
    let Introspected {
        mut schema,
        skipped,
        estimated_rows,
        catalog_queries: _,
        invalid_indexes,
        unmanaged_tables,
        partition_indexes,
        undeclared_schemas: _,
        roles: _,
        current_role: _,
        environment: _,
    } = read;
    kinds::visit_all(&mut DealKinds {
        raw: &mut schema,
        router: &router,
        shares: &mut shares,
    });
    let Schema {
        schemas,
        extensions,
        enums,
        tables,
        // Dealt by kind above.
        domains: _,
        composites: _,
        sequences: _,
        views: _,
        materialized_views: _,
        triggers: _,
        grants: _,
        default_privileges: _,
        owners: _,
        functions: _,
        aggregates: _,
        policies: _,
        comments: _,
        // Only a desired state has origins.
        origins: _,
    } = schema;
    router.deal(
        schemas,
        &mut shares,
        |r, s| r.home(Some(s)),
        |share, s| {
            share.schema.schemas.insert(s);
        },
    );
    router.deal(
        extensions,
        &mut shares,
        |r, (_, e)| r.home(Some(&e.schema)),
        |share, (name, e)| {
            share.schema.extensions.insert(name, e);
        },
    );
    router.by_name(enums, &mut shares, |i| &mut i.schema.enums);
    router.by_name(tables, &mut shares, |i| &mut i.schema.tables);
    // In the order read: a tenant's own read lists them in the same order.
    router.deal(
        skipped,
        &mut shares,
        |r, s| r.home(s.object.schema()),
        |share, s| share.skipped.push(s),
    );
    router.by_name(estimated_rows, &mut shares, |i| &mut i.estimated_rows);
    let names = |names: BTreeSet<QualifiedName>,
                 shares: &mut [Introspected],
                 field: fn(&mut Introspected) -> &mut BTreeSet<QualifiedName>| {
        router.deal(
            names,
            shares,
            |r, name| r.home(Some(&name.schema)),
            |share, name| {
                field(share).insert(name);
            },
        );
    };
    names(invalid_indexes, &mut shares, |i| &mut i.invalid_indexes);
    names(unmanaged_tables, &mut shares, |i| &mut i.unmanaged_tables);
    names(partition_indexes, &mut shares, |i| &mut i.partition_indexes);
    shares
}

/// Deals the objects of every registered kind, by the schema of each.
struct DealKinds<'a> {
    raw: &'a mut Schema,
    router: &'a Router,
    shares: &'a mut [Introspected],
}

impl kinds::Visitor for DealKinds<'_> {
    fn visit<K: kinds::Kind>(&mut self) {
        let objects = std::mem::take(K::objects_mut(self.raw));
        self.router.deal(
            objects,
            self.shares,
            |r, (key, _)| r.home(K::id(key).schema()),
            |share, (key, object)| {
                K::objects_mut(&mut share.schema).insert(key, object);
            },
        );
    }
}
