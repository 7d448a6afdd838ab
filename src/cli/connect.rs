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

/// Which option a URL came from, for messages about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlOption {
    Database,
    Dev,
    Shadow,
}

impl UrlOption {
    fn name(self) -> &'static str {
        match self {
            UrlOption::Database => "--database-url / DATABASE_URL",
            UrlOption::Dev => "--dev-url / RECONCILE_DEV_URL",
            UrlOption::Shadow => "--shadow-url / RECONCILE_SHADOW_URL",
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

async fn connect_options(options: PgConnectOptions) -> anyhow::Result<PgConnection> {
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
            "`{command}` needs a database, and none was named: pass --database-url URL, set \
             DATABASE_URL, or set the libpq variables (PGHOST, PGPORT, PGDATABASE, PGUSER, \
             PGPASSWORD). Nothing was read or changed. (Only `plan` previews against an empty \
             throwaway PostgreSQL when no database is named.)"
        ),
    }
}

/// `plan`'s target: the named database, else an empty throwaway PostgreSQL (the README's
/// first command previews a schema this way).
pub async fn plan_target(database_url: Option<&str>) -> anyhow::Result<Target> {
    match named_options(database_url)? {
        Some(options) => connect_target(options).await,
        None => throwaway_target().await,
    }
}

fn named_options(database_url: Option<&str>) -> anyhow::Result<Option<PgConnectOptions>> {
    Ok(match database_url {
        Some(url) if !url.trim().is_empty() => Some(parse_url(url, UrlOption::Database)?),
        _ if libpq_env_present() => Some(PgConnectOptions::new()),
        _ => None,
    })
}

async fn connect_target(options: PgConnectOptions) -> anyhow::Result<Target> {
    let description = describe(&options);
    Ok(Target {
        conn: connect_options(options.clone()).await?,
        options,
        description,
        _cluster: None,
        throwaway: false,
    })
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
        Some(url) => connect_target(parse_url(url, UrlOption::Shadow)?).await,
        None => throwaway_target().await,
    }
}

/// The empty scratch database canonicalisation builds in (nothing is ever committed there),
/// opened on first use: a plan with nothing to build never opens it (issue 16, item 17).
/// It is the `--dev-url` database when given, else a database on the target's throwaway
/// cluster when there is one, else a new throwaway cluster.
pub struct Scratch<'a> {
    dev_url: Option<&'a str>,
    target_cluster: Option<&'a Cluster>,
    /// Keeps a cluster started for the scratch database alive while the connection is used.
    opened: Option<(Option<Cluster>, PgConnection)>,
}

impl<'a> Scratch<'a> {
    /// Checks `--dev-url` now (a malformed URL is an error even when nothing is built), and
    /// opens nothing yet.
    pub fn new(
        dev_url: Option<&'a str>,
        target_cluster: Option<&'a Cluster>,
    ) -> anyhow::Result<Self> {
        let dev_url = dev_url.filter(|u| !u.trim().is_empty());
        if let Some(url) = dev_url {
            parse_url(url, UrlOption::Dev)?;
        }
        Ok(Scratch {
            dev_url,
            target_cluster,
            opened: None,
        })
    }

    async fn open(&self) -> anyhow::Result<(Option<Cluster>, PgConnection)> {
        if let Some(url) = self.dev_url {
            let options = parse_url(url, UrlOption::Dev)?;
            let conn = connect_options(options)
                .await
                .context("cannot open the --dev-url / RECONCILE_DEV_URL database")?;
            return Ok((None, conn));
        }
        if let Some(cluster) = self.target_cluster {
            let options: PgConnectOptions =
                cluster.url("postgres").parse().context("throwaway URL")?;
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
            "the desired state is canonicalised on an empty scratch PostgreSQL: install \
             PostgreSQL locally (its initdb, pg_ctl and postgres binaries), or pass --dev-url \
             (or RECONCILE_DEV_URL) with the URL of an empty database on a server of the same \
             major version as the target",
        )?;
        let options: PgConnectOptions = cluster.url("postgres").parse().context("throwaway URL")?;
        let conn = connect_options(options).await?;
        Ok((Some(cluster), conn))
    }
}

impl reconcile::canon::Scratch for Scratch<'_> {
    async fn connection(&mut self) -> Result<&mut PgConnection, reconcile::canon::CanonError> {
        let opened = match self.opened.take() {
            Some(opened) => opened,
            None => self
                .open()
                .await
                .map_err(|e| reconcile::canon::CanonError::NoScratch(e.into()))?,
        };
        Ok(&mut self.opened.insert(opened).1)
    }
}
