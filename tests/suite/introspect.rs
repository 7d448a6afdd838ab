//! The catalog read in two halves (`introspect::schema_with`): the registered kinds' queries
//! on a second connection, in the snapshot the first one exports. `plan` and `verify` read
//! this way; what they read must be exactly what one connection reads.

use reconcile::introspect::{self, Introspected, Scope};

use crate::common;

/// Asserts that two reads hand the pipeline the same facts, compared as text (the model
/// types need not be `PartialEq`). Not the roles: they are the cluster's, and tests running
/// beside this one create theirs between two reads (see [`has_own_role`]).
pub(crate) fn assert_same_read(read: &Introspected, expected: &Introspected, what: &str) {
    for (a, b) in facts(read).iter().zip(facts(expected).iter()) {
        assert_eq!(a, b, "{what}");
    }
}

fn facts(read: &Introspected) -> Vec<String> {
    vec![
        format!("{:#?}", read.schema),
        format!("{:#?}", read.skipped),
        format!("{:?}", read.estimated_rows),
        format!("{:?}", read.invalid_indexes),
        format!("{:?}", read.unmanaged_tables),
        format!("{:?}", read.partition_indexes),
        format!("{:?}", read.undeclared_schemas),
        format!("{:?}", read.current_role),
        format!("{:?}", read.environment.functions),
        format!("{} catalog queries", read.catalog_queries),
    ]
}

/// Whether the read holds the roles, with this test's own among them.
fn has_own_role(read: &Introspected) -> bool {
    read.roles.contains("introspect_halves_reader")
        && read.environment.roles.as_ref() == Some(&read.roles)
}

async fn backend_pid(conn: &mut sqlx::PgConnection) -> i32 {
    sqlx::query_scalar("SELECT pg_catalog.pg_backend_pid()")
        .fetch_one(conn)
        .await
        .expect("backend pid")
}

/// The last statement the backend `pid` ran, as the server's activity view shows it.
async fn last_statement(conn: &mut sqlx::PgConnection, pid: i32) -> String {
    sqlx::query_scalar("SELECT query FROM pg_catalog.pg_stat_activity WHERE pid = $1")
        .bind(pid)
        .fetch_one(conn)
        .await
        .expect("the backend's activity")
}

const EVERY_KIND: &str = "
    DO $$ BEGIN CREATE ROLE introspect_halves_reader;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
    CREATE SCHEMA app;
    CREATE TYPE app.tier AS ENUM ('free', 'pro');
    CREATE DOMAIN app.email AS text CHECK (VALUE LIKE '%@%');
    CREATE TYPE app.money_pair AS (amount numeric, currency char(3));
    CREATE SEQUENCE app.tickets;
    CREATE TABLE app.accounts (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        email app.email NOT NULL UNIQUE,
        tier app.tier NOT NULL DEFAULT 'free',
        tenant_id bigint NOT NULL,
        notes text
    );
    CREATE INDEX accounts_notes ON app.accounts (lower(notes)) WHERE notes IS NOT NULL;
    CREATE TABLE app.events (
        id bigint NOT NULL, at timestamptz NOT NULL,
        account_id bigint REFERENCES app.accounts,
        PRIMARY KEY (id, at)
    ) PARTITION BY RANGE (at);
    CREATE TABLE app.events_2026 PARTITION OF app.events
        FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
    CREATE TABLE app.events_default PARTITION OF app.events DEFAULT;
    CREATE TABLE app.legacy_parent (id int);
    CREATE TABLE app.legacy_child () INHERITS (app.legacy_parent);
    CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql
        AS $$ BEGIN NEW.notes := coalesce(NEW.notes, ''); RETURN NEW; END $$;
    CREATE TRIGGER accounts_touch BEFORE UPDATE ON app.accounts
        FOR EACH ROW EXECUTE FUNCTION app.touch();
    CREATE VIEW app.pro_accounts AS SELECT id, email FROM app.accounts WHERE tier = 'pro';
    CREATE MATERIALIZED VIEW app.tier_counts AS
        SELECT tier, count(*) AS n FROM app.accounts GROUP BY tier;
    ALTER TABLE app.accounts ENABLE ROW LEVEL SECURITY;
    CREATE POLICY tenant_isolation ON app.accounts
        USING (tenant_id = current_setting('app.tenant_id')::bigint);
    GRANT USAGE ON SCHEMA app TO introspect_halves_reader;
    GRANT SELECT ON app.accounts, app.pro_accounts TO introspect_halves_reader;
    GRANT UPDATE (notes) ON app.accounts TO introspect_halves_reader;
    ALTER DEFAULT PRIVILEGES IN SCHEMA app GRANT SELECT ON TABLES TO introspect_halves_reader;
    COMMENT ON TABLE app.accounts IS 'who pays';
    COMMENT ON COLUMN app.accounts.email IS 'where invoices go';
    COMMENT ON VIEW app.pro_accounts IS 'the paying ones';
    ALTER TABLE app.accounts ADD CONSTRAINT notes_short CHECK (length(notes) < 1000) NOT VALID;
    CREATE TABLE app.duplicates (a int);
    INSERT INTO app.duplicates VALUES (1), (1);
    CREATE SCHEMA elsewhere; CREATE TABLE elsewhere.unrelated (id int);
";

/// A failed concurrent build: an INVALID index, which the read skips (psql runs it outside
/// a transaction).
const INVALID_INDEX: &str = "CREATE UNIQUE INDEX CONCURRENTLY duplicates_a ON app.duplicates (a);";

#[tokio::test]
async fn a_read_in_two_halves_equals_a_read_on_one_connection() {
    let db = common::fresh_db();
    db.psql(EVERY_KIND).expect("schema");
    assert!(
        db.psql(INVALID_INDEX).is_err(),
        "the duplicates fail the build"
    );
    let scope = Scope::named(["app".to_owned(), "public".to_owned()], &[]);

    let mut conn = db.connect().await;
    let alone = introspect::schema(&mut conn, &scope).await.expect("read");
    let mut helper = db.connect().await;
    let helper_pid = backend_pid(&mut helper).await;
    let halves = introspect::schema_with(&mut conn, Some(&mut helper), &scope)
        .await
        .expect("read in halves");
    assert_same_read(&halves, &alone, "the read in two halves differs");
    // The second connection did read: its last statement is its transaction's end (an
    // equal read on one connection alone would pass the comparison above).
    assert_eq!(
        last_statement(&mut conn, helper_pid).await.trim(),
        "ROLLBACK"
    );
    assert!(has_own_role(&halves) && has_own_role(&alone));
    // Not vacuous: both halves were read (the kinds' objects and the tables').
    assert!(
        halves
            .schema
            .tables
            .keys()
            .any(|t| t.to_string() == "app.accounts")
    );
    for kind in [
        !halves.schema.views.is_empty(),
        !halves.schema.materialized_views.is_empty(),
        !halves.schema.functions.is_empty(),
        !halves.schema.triggers.is_empty(),
        !halves.schema.policies.is_empty(),
        !halves.schema.grants.is_empty(),
        !halves.schema.comments.is_empty(),
        !halves.schema.domains.is_empty(),
        !halves.schema.sequences.is_empty(),
    ] {
        assert!(
            kind,
            "a kind is missing from the read: {:#?}",
            halves.schema
        );
    }
    assert!(
        !halves.skipped.is_empty() && !halves.undeclared_schemas.is_empty(),
        "{:?} {:?}",
        halves.skipped,
        halves.undeclared_schemas
    );
    // The constraints are read on the second connection and attached after both halves:
    // their skips still come where one connection lists them, after the tables' and before
    // the indexes'.
    let skipped: Vec<String> = halves
        .skipped
        .iter()
        .map(|s| s.object.to_string())
        .collect();
    let at = |what: &str| {
        skipped
            .iter()
            .position(|s| s.contains(what))
            .unwrap_or_else(|| panic!("{what} is not among the skipped: {skipped:?}"))
    };
    assert!(
        at("legacy_child") < at("notes_short") && at("notes_short") < at("duplicates_a"),
        "{skipped:?}"
    );
    // Both connections are usable afterwards (each transaction was ended).
    for c in [&mut conn, &mut helper] {
        let one: i32 = sqlx::query_scalar("SELECT 1")
            .fetch_one(&mut *c)
            .await
            .expect("connection still usable");
        assert_eq!(one, 1);
    }
}

/// A second connection that cannot take the snapshot (here: one to another database, which
/// PostgreSQL refuses) is not used: everything is read on the first, and nothing of the
/// other database appears.
#[tokio::test]
async fn a_helper_that_cannot_share_the_snapshot_is_not_used() {
    let db = common::fresh_db();
    db.psql(EVERY_KIND).expect("schema");
    let other = common::fresh_db();
    other
        .psql(
            "CREATE SCHEMA app;
             CREATE VIEW app.only_in_the_other_database AS SELECT 1 AS one;",
        )
        .expect("other database");
    let scope = Scope::named(["app".to_owned(), "public".to_owned()], &[]);

    let mut conn = db.connect().await;
    let alone = introspect::schema(&mut conn, &scope).await.expect("read");
    let mut foreign = other.connect().await;
    let foreign_pid = backend_pid(&mut foreign).await;
    let read = introspect::schema_with(&mut conn, Some(&mut foreign), &scope)
        .await
        .expect("read despite the unusable helper");
    assert_same_read(
        &read,
        &alone,
        "the fallback read differs from a read on one connection",
    );
    // The snapshot was offered to the helper, which refused it.
    let tried = last_statement(&mut conn, foreign_pid).await;
    assert!(tried.starts_with("SET TRANSACTION SNAPSHOT"), "{tried}");
    assert!(has_own_role(&read));
    assert!(
        !read
            .schema
            .views
            .keys()
            .any(|v| v.to_string().contains("only_in_the_other_database")),
        "read the other database's catalog"
    );
}
