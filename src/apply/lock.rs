//! The advisory lock that makes `apply` (and `migrate apply`) run one at a time per database.
//!
//! A session-level advisory lock on a dedicated connection: held for the whole run, released
//! by the server if the process dies (the connection closes). The key is a fixed namespace
//! plus a hash of the database name, so applies against different databases of one server
//! do not wait for each other.

use std::time::Duration;

use sqlx::{PgConnection, Row};

/// 'reco' in ASCII: our namespace in the two-key advisory lock space.
pub const NAMESPACE: i32 = 0x7265_636f;

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another reconcile run holds the apply lock on this database ({holder}); waited {waited:?} — \
         retry later or raise --wait-lock"
    )]
    Timeout { holder: String, waited: Duration },
    #[error("while taking the apply lock: {0}")]
    Database(#[from] sqlx::Error),
}

/// Who holds the lock, for messages: `pid 1234, application reconcile, since <time>`.
pub async fn holder(conn: &mut PgConnection) -> Result<Option<String>, sqlx::Error> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT a.pid, coalesce(a.application_name, '') AS app, \
                coalesce({}, '?') AS since, \
                coalesce(a.client_addr::text, 'local') AS client \
           FROM pg_catalog.pg_locks l \
           JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid \
          WHERE l.locktype = 'advisory' AND l.granted \
            AND l.classid = $1::int4::oid AND l.objsubid = 2 \
            AND l.objid = hashtext(current_database())::oid \
            AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database()) \
          LIMIT 1",
        super::history::utc_text("a.backend_start")
    )))
    .bind(NAMESPACE)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|r| {
        let pid: i32 = r.get("pid");
        let app: String = r.get("app");
        let since: String = r.get("since");
        let client: String = r.get("client");
        format!("held by pid {pid} ({app}, from {client}), connected since {since}")
    }))
}

/// Takes the lock, waiting up to `wait`. `on_wait` is called once with the holder's
/// description if the lock is not free at once.
///
/// Waits by polling `pg_try_advisory_lock` rather than blocking in `pg_advisory_lock`: a
/// blocked query holds a snapshot, and the holder's `CREATE INDEX CONCURRENTLY` waits for
/// every older snapshot in the database — the waiters would stall the very run they wait for.
pub async fn acquire(
    conn: &mut PgConnection,
    wait: Duration,
    mut on_wait: impl FnMut(&str),
) -> Result<(), LockError> {
    let started = std::time::Instant::now();
    let mut announced = false;
    let mut pause = Duration::from_millis(50);
    loop {
        if try_once(conn).await? {
            return Ok(());
        }
        if !announced {
            let who = holder(conn)
                .await?
                .unwrap_or_else(|| "holder unknown".to_owned());
            on_wait(&who);
            announced = true;
        }
        let waited = started.elapsed();
        if waited >= wait {
            let holder = holder(conn)
                .await?
                .unwrap_or_else(|| "holder unknown".to_owned());
            return Err(LockError::Timeout { holder, waited });
        }
        tokio::time::sleep(pause.min(wait - waited)).await;
        pause = (pause * 2).min(Duration::from_secs(1));
    }
}

async fn try_once(conn: &mut PgConnection) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT pg_catalog.pg_try_advisory_lock($1, hashtext(current_database()))")
        .bind(NAMESPACE)
        .fetch_one(&mut *conn)
        .await
}

/// Detects a transaction-pooling proxy (PgBouncer in transaction mode, Supavisor on 6543):
/// consecutive statements outside a transaction land on different server backends, and a
/// session-level advisory lock would not protect anything.
pub async fn behind_transaction_pooler(conn: &mut PgConnection) -> Result<bool, sqlx::Error> {
    let mut pids = Vec::with_capacity(4);
    for _ in 0..4 {
        let pid: i32 = sqlx::query_scalar("SELECT pg_catalog.pg_backend_pid()")
            .fetch_one(&mut *conn)
            .await?;
        pids.push(pid);
    }
    pids.dedup();
    Ok(pids.len() > 1)
}

/// Releases the lock [`acquire`] took on this connection, for callers that go on using the
/// connection afterwards (`migrate apply` called by another command). Returns whether it was
/// held.
pub async fn release(conn: &mut PgConnection) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT pg_catalog.pg_advisory_unlock($1, hashtext(current_database()))")
        .bind(NAMESPACE)
        .fetch_one(&mut *conn)
        .await
}
