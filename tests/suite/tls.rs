//! TLS against a real `ssl=on` PostgreSQL (issue 16, item 19).
//!
//! Each test starts a throwaway cluster of its own, makes its certificates with `rcgen`, turns
//! `ssl` on, and runs `reconcile pull` (which only reads) with the libpq-style URL parameters:
//!
//! * a server certificate signed by a test CA: `require`, `verify-ca` and `verify-full` with
//!   `sslrootcert` connect (also through `PGSSLMODE` / `PGSSLROOTCERT`); `verify-full` without
//!   the root, or to a host the certificate does not name, fails and says what to do;
//! * a self-signed server certificate given as its own root, as many self-hosted servers have:
//!   accepted when it is not marked as a CA; refused when it is (`CaUsedAsEndEntity`, what
//!   `openssl req -x509` makes by default — libpq accepts it, rustls does not), with the
//!   message explaining how to remake it.

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use reconcile::throwaway::Cluster;
use sqlx::Connection;

const BIN: &str = env!("CARGO_BIN_EXE_reconcile");
const TIMEOUT: Duration = Duration::from_secs(120);

/// A cluster with `ssl = on`, serving `cert` and `key`, and a folder for the client's files.
struct TlsServer {
    cluster: Cluster,
    files: tempfile::TempDir,
}

impl TlsServer {
    async fn start(cert_pem: &str, key_pem: &str) -> TlsServer {
        let cluster = tokio::task::spawn_blocking(Cluster::start)
            .await
            .expect("start task")
            .expect("a throwaway PostgreSQL");
        let data = cluster.data_dir();
        let owner = std::fs::metadata(data).expect("data directory");
        for (name, text) in [("server.crt", cert_pem), ("server.key", key_pem)] {
            let path = data.join(name);
            std::fs::write(&path, text).expect("write a server file");
            use std::os::unix::fs::{MetadataExt, PermissionsExt};
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
            std::os::unix::fs::chown(&path, Some(owner.uid()), Some(owner.gid())).expect("chown");
        }
        let mut conn = sqlx::PgConnection::connect(&cluster.url("postgres"))
            .await
            .expect("connect without TLS");
        sqlx::raw_sql("ALTER SYSTEM SET ssl = on")
            .execute(&mut conn)
            .await
            .expect("ssl = on");
        sqlx::raw_sql("SELECT pg_reload_conf()")
            .execute(&mut conn)
            .await
            .expect("reload");
        // The setting is read by new sessions after the reload has been processed.
        let mut on = false;
        for _ in 0..50 {
            let mut check = sqlx::PgConnection::connect(&cluster.url("postgres"))
                .await
                .expect("connect");
            let ssl: String = sqlx::query_scalar("SHOW ssl")
                .fetch_one(&mut check)
                .await
                .expect("SHOW ssl");
            if ssl == "on" {
                on = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(on, "the server did not turn ssl on");
        TlsServer {
            cluster,
            files: tempfile::tempdir().expect("a folder for the client's files"),
        }
    }

    /// Writes a file the client reads (a root certificate), returning its path.
    fn client_file(&self, name: &str, text: &str) -> String {
        let path = self.files.path().join(name);
        std::fs::write(&path, text).expect("write a client file");
        path.to_string_lossy().into_owned()
    }

    fn url(&self, host: &str, query: &str) -> String {
        format!(
            "postgres://postgres@{host}:{}/postgres{query}",
            self.cluster.port()
        )
    }
}

/// `reconcile pull` from `url`, with `env` and nothing else from the environment.
fn pull(url: &str, env: &[(&str, &str)]) -> Output {
    let out = tempfile::tempdir().expect("an output folder");
    let mut command = Command::new(BIN);
    command
        .args(["pull", "--color", "never", "--database-url", url, "--out"])
        .arg(out.path())
        .stdin(Stdio::null());
    for var in [
        "DATABASE_URL",
        "PGHOST",
        "PGPORT",
        "PGUSER",
        "PGDATABASE",
        "PGSERVICE",
        "PGSSLMODE",
        "PGSSLROOTCERT",
        "PGSSLCERT",
        "PGSSLKEY",
    ] {
        command.env_remove(var);
    }
    for (k, v) in env {
        command.env(k, v);
    }
    assert_cmd::Command::from_std(command)
        .timeout(TIMEOUT)
        .output()
        .expect("run reconcile")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_connects(output: &Output, case: &str) {
    assert_eq!(
        output.status.code(),
        Some(0),
        "{case}: expected to connect\nstderr:\n{}",
        text(&output.stderr)
    );
    assert!(
        text(&output.stderr).contains("pulled 0 tables"),
        "{case}: {}",
        text(&output.stderr)
    );
}

fn assert_refused(output: &Output, case: &str, needles: &[&str]) {
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{case}: {stderr}");
    for needle in needles {
        assert!(
            stderr.contains(needle),
            "{case}: the message lacks {needle:?}:\n{stderr}"
        );
    }
}

fn ca() -> (rcgen::Certificate, rcgen::Issuer<'static, KeyPair>) {
    let key = KeyPair::generate().expect("CA key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params
        .distinguished_name
        .push(DnType::CommonName, "reconcile test CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key).expect("CA certificate");
    (cert, rcgen::Issuer::new(params, key))
}

/// A certificate for `localhost` (and no IP address), self-signed when `issuer` is `None`.
fn server_cert(issuer: Option<&rcgen::Issuer<'static, KeyPair>>, is_ca: IsCa) -> (String, String) {
    let key = KeyPair::generate().expect("server key");
    let mut params = CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    params.is_ca = is_ca;
    let cert = match issuer {
        Some(issuer) => params.signed_by(&key, issuer),
        None => params.self_signed(&key),
    }
    .expect("server certificate");
    (cert.pem(), key.serialize_pem())
}

/// A server certificate signed by a private CA: each sslmode as libpq defines it.
#[tokio::test]
async fn certificates_signed_by_a_ca() {
    let (ca_cert, issuer) = ca();
    let (cert, key) = server_cert(Some(&issuer), IsCa::NoCa);
    let server = TlsServer::start(&cert, &key).await;
    let root = server.client_file("root.crt", &ca_cert.pem());

    assert_connects(
        &pull(&server.url("127.0.0.1", "?sslmode=require"), &[]),
        "require",
    );
    assert_connects(
        &pull(
            &server.url(
                "127.0.0.1",
                &format!("?sslmode=verify-ca&sslrootcert={root}"),
            ),
            &[],
        ),
        "verify-ca (the host is not checked)",
    );
    assert_connects(
        &pull(
            &server.url(
                "localhost",
                &format!("?sslmode=verify-full&sslrootcert={root}"),
            ),
            &[],
        ),
        "verify-full",
    );
    assert_connects(
        &pull(
            &server.url("localhost", ""),
            &[("PGSSLMODE", "verify-full"), ("PGSSLROOTCERT", &root)],
        ),
        "verify-full from PGSSLMODE and PGSSLROOTCERT",
    );

    // Regression (issue 16 item 19): "UnknownIssuer" alone did not say what to do.
    assert_refused(
        &pull(&server.url("localhost", "?sslmode=verify-full"), &[]),
        "verify-full without the root",
        &["UnknownIssuer", "sslrootcert=", "PGSSLROOTCERT"],
    );
    assert_refused(
        &pull(
            &server.url(
                "127.0.0.1",
                &format!("?sslmode=verify-full&sslrootcert={root}"),
            ),
            &[],
        ),
        "verify-full to a host the certificate does not name",
        &["not valid for name", "verify-ca"],
    );
}

/// A self-signed server certificate that is not a CA, given as its own root: accepted, as
/// libpq accepts it.
#[tokio::test]
async fn a_self_signed_certificate_as_its_own_root() {
    let (cert, key) = server_cert(None, IsCa::ExplicitNoCa);
    let server = TlsServer::start(&cert, &key).await;
    let root = server.client_file("server.crt", &cert);
    assert_connects(
        &pull(
            &server.url(
                "localhost",
                &format!("?sslmode=verify-full&sslrootcert={root}"),
            ),
            &[],
        ),
        "verify-full, self-signed (CA:FALSE)",
    );
}

/// Regression (issue 16 item 19): a self-signed CA certificate used as the server's own
/// (`openssl req -x509` without extensions) was refused with "CaUsedAsEndEntity" and nothing
/// else. rustls does not accept it (libpq does); the message now says why and how to fix it.
#[tokio::test]
async fn a_self_signed_ca_certificate_as_the_servers_own_is_explained() {
    let (cert, key) = server_cert(None, IsCa::Ca(BasicConstraints::Unconstrained));
    let server = TlsServer::start(&cert, &key).await;
    let root = server.client_file("server.crt", &cert);
    assert_refused(
        &pull(
            &server.url(
                "localhost",
                &format!("?sslmode=verify-full&sslrootcert={root}"),
            ),
            &[],
        ),
        "verify-full, self-signed CA certificate",
        &[
            "CaUsedAsEndEntity",
            "basicConstraints=critical,CA:FALSE",
            "sslmode=require",
        ],
    );
    // Encryption without verification still works with that certificate.
    assert_connects(
        &pull(&server.url("localhost", "?sslmode=require"), &[]),
        "require, self-signed CA certificate",
    );
}
