//! Where the database is: a URL, the libpq `PG*` variables, or an empty throwaway cluster.
//! Descriptions shown to the user never contain a password.

use anyhow::Context;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, PgConnection};

use reconcile::throwaway::Cluster;

/// A connected target and what to call it in messages.
pub struct Target {
    pub conn: PgConnection,
    /// How to open another connection to the same database (apply's lock connection).
    pub options: PgConnectOptions,
    pub description: String,
    /// Keeps a throwaway cluster alive for as long as the target is used.
    pub _cluster: Option<Cluster>,
    pub throwaway: bool,
}

impl Target {
    /// Every later transaction on this session is READ ONLY (commands that only read; belt
    /// and braces where their reads already run in READ ONLY transactions).
    pub async fn make_read_only(&mut self) -> anyhow::Result<()> {
        sqlx::raw_sql("SET default_transaction_read_only = on")
            .execute(&mut self.conn)
            .await
            .context("cannot make the session read-only")?;
        Ok(())
    }
}

fn describe(options: &PgConnectOptions) -> String {
    format!(
        "{}:{}/{}",
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or("(default database)")
    )
}

/// Whether the user named a database (`--database-url` / `DATABASE_URL`, or the libpq `PG*`
/// variables) — commands that only *consult* a database (`migrate check`, `lint`, `rollback
/// --migration`) use it then, and never start a throwaway one, which has no history.
pub fn database_named(database_url: Option<&str>) -> bool {
    database_url.is_some_and(|u| !u.trim().is_empty()) || libpq_env_present()
}

/// True when the libpq environment names a server.
/// Whether [`target`] would connect to a named database (rather than start a throwaway).
pub fn names_a_database(database_url: Option<&str>) -> bool {
    database_url.is_some_and(|u| !u.trim().is_empty()) || libpq_env_present()
}

fn libpq_env_present() -> bool {
    ["PGHOST", "PGDATABASE", "PGPORT", "PGUSER", "PGSERVICE"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
}

pub async fn start_throwaway() -> anyhow::Result<Cluster> {
    tokio::task::spawn_blocking(Cluster::start)
        .await
        .context("the throwaway PostgreSQL task failed")?
        .context("cannot start a throwaway PostgreSQL")
}

impl Target {
    /// A second connection to the same database.
    pub async fn another(&self) -> anyhow::Result<PgConnection> {
        connect_options(self.options.clone()).await
    }
}

async fn connect_options(options: PgConnectOptions) -> anyhow::Result<PgConnection> {
    let description = describe(&options);
    options
        .application_name("reconcile")
        .connect()
        .await
        .with_context(|| format!("cannot connect to {description}"))
}

/// Connects to the target named by the global options, or starts a throwaway one.
pub async fn target(database_url: Option<&str>) -> anyhow::Result<Target> {
    let options = match database_url {
        Some(url) if !url.trim().is_empty() => {
            Some(url.parse::<PgConnectOptions>().map_err(|_| {
                anyhow::anyhow!("--database-url / DATABASE_URL is not a valid PostgreSQL URL")
            })?)
        }
        _ if libpq_env_present() => Some(PgConnectOptions::new()),
        _ => None,
    };
    match options {
        Some(options) => {
            let description = describe(&options);
            Ok(Target {
                conn: connect_options(options.clone()).await?,
                options,
                description,
                _cluster: None,
                throwaway: false,
            })
        }
        None => throwaway_target().await,
    }
}

/// An empty throwaway cluster, connected to its `postgres` database.
pub async fn throwaway_target() -> anyhow::Result<Target> {
    let cluster = start_throwaway().await?;
    let options: PgConnectOptions = cluster.url("postgres").parse().context("throwaway URL")?;
    Ok(Target {
        conn: connect_options(options.clone()).await?,
        options,
        description: format!("an empty throwaway PostgreSQL on port {}", cluster.port()),
        _cluster: Some(cluster),
        throwaway: true,
    })
}

/// The database `reconcile shadow` rehearses in: `--shadow-url` (never the global
/// `--database-url` / `DATABASE_URL` / `PG*`, which name a real database), else a new
/// throwaway cluster.
pub async fn shadow(shadow_url: Option<&str>) -> anyhow::Result<Target> {
    match shadow_url.filter(|u| !u.trim().is_empty()) {
        Some(url) => {
            let options: PgConnectOptions = url.parse().map_err(|_| {
                anyhow::anyhow!("--shadow-url / RECONCILE_SHADOW_URL is not a valid PostgreSQL URL")
            })?;
            let description = describe(&options);
            Ok(Target {
                conn: connect_options(options.clone()).await?,
                options,
                description,
                _cluster: None,
                throwaway: false,
            })
        }
        None => throwaway_target().await,
    }
}

/// An empty scratch database for canonicalisation (nothing is ever committed there): the
/// `--dev-url` database when given, else a database on the target's throwaway cluster when
/// there is one, else a new throwaway cluster.
pub async fn scratch(
    dev_url: Option<&str>,
    target_cluster: Option<&Cluster>,
) -> anyhow::Result<(Option<Cluster>, PgConnection)> {
    if let Some(url) = dev_url.filter(|u| !u.trim().is_empty()) {
        let options: PgConnectOptions = url.parse().map_err(|_| {
            anyhow::anyhow!("--dev-url / RECONCILE_DEV_URL is not a valid PostgreSQL URL")
        })?;
        return Ok((None, connect_options(options).await?));
    }
    if let Some(cluster) = target_cluster {
        let options: PgConnectOptions = cluster.url("postgres").parse().context("throwaway URL")?;
        let mut admin = connect_options(options).await?;
        sqlx::raw_sql("CREATE DATABASE reconcile_scratch")
            .execute(&mut admin)
            .await
            .context("cannot create a scratch database on the throwaway PostgreSQL")?;
        let options: PgConnectOptions = cluster
            .url("reconcile_scratch")
            .parse()
            .context("throwaway URL")?;
        return Ok((None, connect_options(options).await?));
    }
    let cluster = start_throwaway().await.context(
        "the desired state is canonicalised on an empty scratch PostgreSQL: install PostgreSQL \
         locally (its initdb, pg_ctl and postgres binaries), or pass --dev-url (or \
         RECONCILE_DEV_URL) with the URL of an empty database on a server of the same major \
         version as the target",
    )?;
    let options: PgConnectOptions = cluster.url("postgres").parse().context("throwaway URL")?;
    let conn = connect_options(options).await?;
    Ok((Some(cluster), conn))
}
