//! Where the database is: a URL, the libpq `PG*` variables, or an empty throwaway cluster.
//! Descriptions shown to the user never contain a password.

use anyhow::Context;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, PgConnection};

use reconcile::throwaway::Cluster;
use reconcile::throwaway::warm::{self, Lease};

/// A connected target and what to call it in messages.
pub struct Target {
    pub conn: PgConnection,
    /// How to open another connection to the same database (apply's lock connection).
    pub options: PgConnectOptions,
    pub description: String,
    /// Keeps a throwaway cluster alive for as long as the target is used.
    pub _cluster: Option<Cluster>,
    /// Keeps the warm scratch server from being stopped while it is `plan`'s empty target.
    _lease: Option<Lease>,
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

pub(super) fn describe(options: &PgConnectOptions) -> String {
    format!(
        "{}:{}/{}",
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or("(default database)")
    )
}

/// Which option a URL came from, for messages about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlOption {
    Database,
    Dev,
    Shadow,
    /// A fleet target's URL (from the variable its targets file names).
    Target,
}

impl UrlOption {
    fn name(self) -> &'static str {
        match self {
            UrlOption::Database => "--database-url / DATABASE_URL",
            UrlOption::Dev => "--dev-url / RECONCILE_DEV_URL",
            UrlOption::Shadow => "--shadow-url / RECONCILE_SHADOW_URL",
            UrlOption::Target => "the target's URL variable",
        }
    }
}

/// What a valid URL looks like, for the messages that refuse one.
const URL_SHAPE: &str = "a PostgreSQL URL looks like postgres://USER:PASSWORD@HOST:5432/DATABASE?sslmode=require \
     (postgresql:// is accepted too)";

/// Parses a PostgreSQL URL. Anything but `postgres://` and `postgresql://` is refused: the
/// driver would otherwise read `mysql://db/x` as a PostgreSQL server on db:5432. Messages
/// name the option and never echo the URL (it may hold a password).
pub fn parse_url(url: &str, option: UrlOption) -> anyhow::Result<PgConnectOptions> {
    let url = url.trim();
    let name = option.name();
    let Some((scheme, _)) = url.split_once("://") else {
        if url.contains('=') {
            anyhow::bail!(
                "{name} looks like a key=value connection string, which reconcile does not \
                 read; {URL_SHAPE}"
            );
        }
        anyhow::bail!("{name} is not a URL; {URL_SHAPE}");
    };
    let plain_scheme = !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if !plain_scheme {
        anyhow::bail!("{name} is not a URL; {URL_SHAPE}");
    }
    if !scheme.eq_ignore_ascii_case("postgres") && !scheme.eq_ignore_ascii_case("postgresql") {
        anyhow::bail!(
            "{name} is a `{scheme}://` URL, and reconcile connects to PostgreSQL only; \
             {URL_SHAPE}"
        );
    }
    let parsed = url::Url::parse(url)
        .map_err(|e| anyhow::anyhow!("{name} is not a valid PostgreSQL URL ({e}); {URL_SHAPE}"))?;
    url.parse::<PgConnectOptions>().map_err(|e| {
        let mut why = e.to_string();
        if let Some(password) = parsed.password() {
            let decoded = percent_decode(password);
            for secret in [password.to_owned(), decoded] {
                if !secret.is_empty() {
                    why = why.replace(&secret, "***");
                }
            }
        }
        anyhow::anyhow!("{name} is not a valid PostgreSQL URL ({why}); {URL_SHAPE}")
    })
}

/// Refuses a malformed `--database-url` (and `--dev-url`, for the commands that use it)
/// before any file is read or connection made.
pub fn check_urls(global: &super::Global, uses_dev_url: bool) -> anyhow::Result<()> {
    let given = |url: &Option<String>| url.clone().filter(|u| !u.trim().is_empty());
    if let Some(url) = given(&global.database_url) {
        parse_url(&url, UrlOption::Database)?;
    }
    if uses_dev_url && let Some(url) = given(&global.dev_url) {
        parse_url(&url, UrlOption::Dev)?;
    }
    Ok(())
}

fn percent_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", text.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Whether the user named a database (`--database-url` / `DATABASE_URL`, or the libpq `PG*`
/// variables) — commands that only *consult* a database (`migrate check`, `lint`, `rollback
/// --migration`) use it then, and never start a throwaway one, which has no history.
pub fn database_named(database_url: Option<&str>) -> bool {
    database_url.is_some_and(|u| !u.trim().is_empty()) || libpq_env_present()
}

/// Whether [`plan_target`] would connect to a named database (rather than start a throwaway).
pub fn names_a_database(database_url: Option<&str>) -> bool {
    database_named(database_url)
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

pub(super) async fn connect_options(options: PgConnectOptions) -> anyhow::Result<PgConnection> {
    let description = describe(&options);
    options
        .application_name("reconcile")
        .connect()
        .await
        .map_err(|e| {
            let hint = tls_hint(&e);
            anyhow::Error::new(e).context(format!("cannot connect to {description}{hint}"))
        })
}

/// What to do about a certificate the TLS layer refused (rustls names the problem, not the
/// remedy).
fn tls_hint(error: &sqlx::Error) -> &'static str {
    let text = format!("{error:?}");
    if text.contains("CaUsedAsEndEntity") {
        "\n  hint: the server presents a CA certificate (basicConstraints CA:TRUE, what \
         `openssl req -x509` makes by default) as its own certificate. libpq accepts that when \
         it is also the sslrootcert; reconcile's TLS library (rustls) does not. Give the server \
         a certificate signed by that CA, or a self-signed one made with \
         `-addext basicConstraints=critical,CA:FALSE` (and pass it as sslrootcert), or use \
         sslmode=require to encrypt without verifying the server"
    } else if text.contains("UnknownIssuer") {
        "\n  hint: the server's certificate is not signed by a CA reconcile trusts (the \
         built-in public web CAs, plus sslrootcert): add sslrootcert=/path/to/root.crt to the \
         URL (or set PGSSLROOTCERT) with the CA that signed it — for a managed database, the \
         provider's CA bundle — or use sslmode=require to encrypt without verifying the server"
    } else if text.contains("NotValidForName") {
        "\n  hint: the server's certificate does not name the host in the URL: connect with a \
         host name the certificate lists, or use sslmode=verify-ca to check only the CA"
    } else {
        ""
    }
}

/// The database a command reads or changes: `--database-url` / `DATABASE_URL`, else the
/// libpq `PG*` variables. Without either it is an error, never an empty throwaway: an
/// `apply` whose `DATABASE_URL` secret is missing must fail, not go green against nothing.
pub async fn target(database_url: Option<&str>, command: &str) -> anyhow::Result<Target> {
    match named_options(database_url)? {
        Some(options) => connect_target(options).await,
        None => anyhow::bail!(
            "`{command}` needs a database, and none was named{}: pass --database-url URL, set \
             DATABASE_URL, or set the libpq variables (PGHOST, PGPORT, PGDATABASE, PGUSER, \
             PGPASSWORD). Nothing was read or changed. (Only `plan` runs without one: it previews \
             against an empty local database.)",
            empty_url_hint(database_url)
        ),
    }
}

/// What to say of a `--database-url` / `DATABASE_URL` that is there but empty: in CI, the
/// expansion of a secret that is not set.
pub fn empty_url_hint(database_url: Option<&str>) -> &'static str {
    if database_url.is_some_and(|u| u.trim().is_empty()) {
        " (--database-url or DATABASE_URL is set but empty: is the CI secret that sets it \
         missing?)"
    } else {
        ""
    }
}

/// `plan`'s target: the named database, else an empty throwaway PostgreSQL (the README's
/// first command previews a schema this way).
pub async fn plan_target(database_url: Option<&str>) -> anyhow::Result<Target> {
    match named_options(database_url)? {
        Some(options) => connect_target(options).await,
        None => empty_target().await,
    }
}

/// [`plan_target`], and a second connection to the same database for reading its catalog
/// in two halves (see `introspect::schema_with`): none for an empty target, nor when only one
/// connection could be opened (a server at its connection limit still gets its plan).
pub async fn plan_target_and_helper(
    database_url: Option<&str>,
) -> anyhow::Result<(Target, Option<PgConnection>)> {
    let Some(options) = named_options(database_url)? else {
        return Ok((empty_target().await?, None));
    };
    let (first, second) = tokio::join!(
        connect_options(options.clone()),
        connect_options(options.clone())
    );
    let (conn, helper) = match (first, second) {
        (Ok(first), Ok(second)) => (first, Some(second)),
        (Ok(one), Err(e)) | (Err(e), Ok(one)) => {
            tracing::debug!("the catalog is read on one connection: {e:#}");
            (one, None)
        }
        (Err(e), Err(_)) => return Err(e),
    };
    Ok((named_target(conn, options), helper))
}

fn named_options(database_url: Option<&str>) -> anyhow::Result<Option<PgConnectOptions>> {
    Ok(match database_url {
        Some(url) if !url.trim().is_empty() => Some(parse_url(url, UrlOption::Database)?),
        _ if libpq_env_present() => Some(PgConnectOptions::new()),
        _ => None,
    })
}

pub(super) async fn connect_target(options: PgConnectOptions) -> anyhow::Result<Target> {
    Ok(named_target(
        connect_options(options.clone()).await?,
        options,
    ))
}

/// The target a connection made with `options` reaches (a database named by the user).
fn named_target(conn: PgConnection, options: PgConnectOptions) -> Target {
    Target {
        conn,
        description: describe(&options),
        options,
        _cluster: None,
        _lease: None,
        throwaway: false,
    }
}

/// An empty database for `plan` to preview against: one of the warm scratch server's
/// databases (see [`Scratch`]), else a new throwaway cluster.
async fn empty_target() -> anyhow::Result<Target> {
    if let Some(idle) = warm::idle_time() {
        match lease_warm(None, idle).await {
            Ok(lease) => {
                let (conn, options, database) = warm_database(&lease).await?;
                tracing::debug!("the empty target is {database} on the warm scratch server");
                // Not named in the description: which one a run gets depends on the runs
                // beside it, and output must not.
                return Ok(Target {
                    conn,
                    options,
                    description: format!(
                        "an empty database on the local scratch PostgreSQL {}",
                        lease.major()
                    ),
                    _cluster: None,
                    _lease: Some(lease),
                    throwaway: true,
                });
            }
            Err(e) => tracing::info!("no warm scratch server ({e:#}); starting a throwaway one"),
        }
    }
    throwaway_target().await
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
        _lease: None,
        throwaway: true,
    })
}

/// The database `reconcile shadow` rehearses in: `--shadow-url` (never the global
/// `--database-url` / `DATABASE_URL` / `PG*`, which name a real database), else a new
/// throwaway cluster.
pub async fn shadow(shadow_url: Option<&str>) -> anyhow::Result<Target> {
    match shadow_url.filter(|u| !u.trim().is_empty()) {
        Some(url) => connect_target(parse_url(url, UrlOption::Shadow)?).await,
        None => throwaway_target().await,
    }
}

/// The empty scratch database canonicalisation builds in (nothing is ever committed there),
/// opened on first use: a plan with nothing to build never opens it (issue 16, item 17).
/// It is the `--dev-url` database when given, else a database on the target's throwaway
/// cluster when there is one, else a database of the warm scratch server
/// ([`reconcile::throwaway::warm`]), of the target's major version where installed, else a
/// new throwaway cluster.
pub struct Scratch {
    dev_url: Option<String>,
    /// `postgres` on the target's own throwaway cluster.
    target_cluster: Option<PgConnectOptions>,
    /// The target server's major version, to pick a matching scratch server.
    target_major: Option<u32>,
    opened: Option<Opened>,
}

/// An open scratch connection and what keeps its server up (dropped in this order).
struct Opened {
    conn: PgConnection,
    _lease: Option<Lease>,
    _cluster: Option<Cluster>,
}

impl Scratch {
    /// Checks `--dev-url` now (a malformed URL is an error even when nothing is built), and
    /// opens nothing yet.
    pub fn new(dev_url: Option<&str>, target: &Target) -> anyhow::Result<Self> {
        let dev_url = dev_url.filter(|u| !u.trim().is_empty());
        if let Some(url) = dev_url {
            parse_url(url, UrlOption::Dev)?;
        }
        let target_cluster = match &target._cluster {
            Some(cluster) => Some(cluster.url("postgres").parse().context("throwaway URL")?),
            None => None,
        };
        Ok(Scratch {
            dev_url: dev_url.map(str::to_owned),
            target_cluster,
            target_major: target.conn.server_version_num().map(|v| v / 10_000),
            opened: None,
        })
    }

    /// The scratch database of a fleet run, shared by its targets: `--dev-url`, else the warm
    /// scratch server (of `major` where installed), else a new throwaway cluster.
    pub fn standalone(dev_url: Option<&str>, major: Option<u32>) -> anyhow::Result<Self> {
        let dev_url = dev_url.filter(|u| !u.trim().is_empty());
        if let Some(url) = dev_url {
            parse_url(url, UrlOption::Dev)?;
        }
        Ok(Scratch {
            dev_url: dev_url.map(str::to_owned),
            target_cluster: None,
            target_major: major,
            opened: None,
        })
    }

    async fn open(&self) -> anyhow::Result<Opened> {
        let just = |conn| Opened {
            conn,
            _lease: None,
            _cluster: None,
        };
        if let Some(url) = &self.dev_url {
            let options = parse_url(url, UrlOption::Dev)?;
            let conn = connect_options(options)
                .await
                .context("cannot open the --dev-url / RECONCILE_DEV_URL database")?;
            self.note_versions(conn.server_version_num().map(|v| v / 10_000), "--dev-url");
            return Ok(just(conn));
        }
        if let Some(options) = &self.target_cluster {
            let mut admin = connect_options(options.clone()).await?;
            sqlx::raw_sql("CREATE DATABASE reconcile_scratch")
                .execute(&mut admin)
                .await
                .context("cannot create a scratch database on the throwaway PostgreSQL")?;
            let options = options.clone().database("reconcile_scratch");
            return Ok(just(connect_options(options).await?));
        }
        if let Some(idle) = warm::idle_time() {
            match lease_warm(self.target_major, idle).await {
                Ok(lease) => {
                    self.note_versions(Some(lease.major()), "the scratch server");
                    let (conn, _, _) = warm_database(&lease).await?;
                    return Ok(Opened {
                        conn,
                        _lease: Some(lease),
                        _cluster: None,
                    });
                }
                Err(e) => {
                    tracing::info!("no warm scratch server ({e:#}); starting a throwaway one")
                }
            }
        }
        let cluster = start_throwaway().await.context(
            "the desired state is canonicalised on an empty scratch PostgreSQL: install \
             PostgreSQL locally (its initdb, pg_ctl and postgres binaries), or pass --dev-url \
             (or RECONCILE_DEV_URL) with the URL of an empty database on a server of the same \
             major version as the target",
        )?;
        let options: PgConnectOptions = cluster.url("postgres").parse().context("throwaway URL")?;
        let conn = connect_options(options).await?;
        Ok(Opened {
            conn,
            _lease: None,
            _cluster: Some(cluster),
        })
    }

    /// Says once, when the scratch server's major version differs from the target's, that
    /// canonical forms may differ.
    fn note_versions(&self, scratch: Option<u32>, what: &str) {
        if let Some(note) = version_note(self.target_major, scratch, what) {
            eprintln!("{note}");
        }
    }
}

fn version_note(target: Option<u32>, scratch: Option<u32>, what: &str) -> Option<String> {
    let (target, scratch) = (target?, scratch?);
    (target != scratch).then(|| {
        format!(
            "note: the target runs PostgreSQL {target} and {what} PostgreSQL {scratch}; \
             canonical forms (how defaults, checks and index expressions print) can differ \
             between major versions, which can show as drift. Install PostgreSQL {target}'s \
             server binaries (they are preferred when installed), or pass --dev-url with an \
             empty database on a PostgreSQL {target} server."
        )
    })
}

impl reconcile::canon::Scratch for Scratch {
    async fn connection(&mut self) -> Result<&mut PgConnection, reconcile::canon::CanonError> {
        let opened = match self.opened.take() {
            Some(opened) => opened,
            None => self
                .open()
                .await
                .map_err(|e| reconcile::canon::CanonError::NoScratch(e.into()))?,
        };
        Ok(&mut self.opened.insert(opened).conn)
    }
}

async fn lease_warm(major: Option<u32>, idle: std::time::Duration) -> anyhow::Result<Lease> {
    Ok(
        tokio::task::spawn_blocking(move || warm::lease(major, idle))
            .await
            .context("the scratch PostgreSQL task failed")??,
    )
}

/// How many databases the warm server offers at most (one per concurrent run).
const WARM_DATABASES: usize = 32;
/// Advisory lock key (two ints) that marks a warm database as taken for a session.
const WARM_LOCK: (i32, i32) = (0x7265_636f, 0x7363_7261);

/// A database of the warm server that no other run is using, taken for this connection's
/// life by a session advisory lock (released when it closes, whatever ends the process).
/// Each is empty: only rolled-back transactions ever run there.
async fn warm_database(lease: &Lease) -> anyhow::Result<(PgConnection, PgConnectOptions, String)> {
    let base = PgConnectOptions::new_without_pgpass()
        .socket(lease.socket_dir())
        .port(lease.port())
        .username(lease.user())
        .ssl_mode(sqlx::postgres::PgSslMode::Disable);
    for n in 0..WARM_DATABASES {
        let name = format!("reconcile_scratch_{n}");
        let options = base.clone().database(&name);
        let mut conn = match connect_options(options.clone()).await {
            Ok(conn) => conn,
            Err(e) if sqlstate(&e).as_deref() == Some("3D000") => {
                let mut admin = connect_options(base.clone().database("postgres")).await?;
                // Another run may create it at the same moment; connecting tells.
                let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut admin)
                    .await;
                connect_options(options.clone())
                    .await
                    .context("cannot create a database on the scratch PostgreSQL")?
            }
            Err(e) => return Err(e),
        };
        let mine: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, $2)")
            .bind(WARM_LOCK.0)
            .bind(WARM_LOCK.1)
            .fetch_one(&mut conn)
            .await
            .context("cannot take a database on the scratch PostgreSQL")?;
        if mine {
            return Ok((conn, options, name));
        }
    }
    anyhow::bail!(
        "all {WARM_DATABASES} databases of the scratch PostgreSQL are in use by other runs; \
         wait for them, or pass --dev-url"
    )
}

fn sqlstate(error: &anyhow::Error) -> Option<String> {
    match error.downcast_ref::<sqlx::Error>()? {
        sqlx::Error::Database(db) => db.code().map(|c| c.into_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_mismatch_is_named_with_what_to_do() {
        assert_eq!(version_note(Some(15), Some(15), "the scratch server"), None);
        assert_eq!(version_note(None, Some(16), "the scratch server"), None);
        let note = version_note(Some(14), Some(16), "the scratch server").expect("a note");
        assert!(
            note.contains("PostgreSQL 14 and the scratch server PostgreSQL 16"),
            "{note}"
        );
        assert!(note.contains("--dev-url"), "{note}");
    }

    #[test]
    fn url_errors_never_echo_the_password() {
        for url in [
            "mysql://u:s3cret@h/db",
            "postgres://u:s3cret@h:70000/db",
            "postgres://u:s3cret@h/db?sslmode=s3cret",
            "postgres://u:s%33cret@h/db?sslmode=s3cret",
        ] {
            let e = parse_url(url, UrlOption::Dev).expect_err(url).to_string();
            assert!(!e.contains("s3cret"), "{url}: {e}");
            assert!(e.contains("--dev-url / RECONCILE_DEV_URL"), "{url}: {e}");
        }
        assert!(
            parse_url(
                "postgresql://u:p@h:5433/db?sslmode=require",
                UrlOption::Database
            )
            .is_ok()
        );
    }
}
