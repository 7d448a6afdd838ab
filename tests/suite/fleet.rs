//! `reconcile fleet verify | apply | targets` and `reconcile report merge` against real
//! PostgreSQL (issue 18).
//!
//! * a fleet audit classifies every target — in sync, pending, drifted, unreachable (a closed
//!   port), silent (a port that never answers), refused credentials, no CONNECT privilege,
//!   locked by a running apply, a variable that is not set — and groups identical drift;
//!   one bad target never holds up the rest, and the exit code is the worst target's;
//! * the desired state is canonicalised once: targets in sync never touch the scratch server;
//! * tenant schemas are compared with the desired state's template schema;
//! * `--shard I/N` slices are disjoint and cover the fleet, and `report merge` of the shards'
//!   reports is the unsharded report (durations aside);
//! * `fleet apply` runs canaries first, stops as `--max-failures` says, records every target in
//!   its own history, and a rerun converges;
//! * passwords never reach the report, stdout or stderr, also at `-vv`.
//!
//! Every run gets `--dev-url` (an empty database of the harness) and an environment without
//! `DATABASE_URL`, `PG*` and `RECONCILE_DEV_URL`.

use crate::common;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{TestDb, assert_exit, text};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_reconcile");
const TIMEOUT: Duration = Duration::from_secs(300);

const DESIRED: &str = "
tables:
  leads:
    columns:
      id: { type: bigint, primary_key: true }
      email: { type: text, not_null: true }
      timezone: text
";

/// A database in sync with [`DESIRED`].
const IN_SYNC: &str =
    "CREATE TABLE leads (id bigint PRIMARY KEY, email text NOT NULL, timezone text);";
/// One additive step behind.
const BEHIND: &str = "CREATE TABLE leads (id bigint PRIMARY KEY, email text NOT NULL);";
/// A column reconcile never drops (a finding).
const EXTRA: &str = "CREATE TABLE leads (id bigint PRIMARY KEY, email text NOT NULL, \
                     timezone text, legacy integer);";

struct Fleet {
    dir: tempfile::TempDir,
    dev: TestDb,
    env: Vec<(String, String)>,
}

impl Fleet {
    fn new(desired: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("schema")).expect("mkdir");
        std::fs::write(dir.path().join("schema/app.yaml"), desired).expect("write");
        Fleet {
            dir,
            dev: common::fresh_db(),
            env: Vec::new(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes the targets file: (name, variable, URL or None for an unset variable, tags).
    fn targets(&mut self, targets: &[(&str, Option<&str>, &[&str])]) {
        let mut file = String::new();
        for (name, url, tags) in targets {
            let var = format!("FLEET_TEST_{}", name.to_uppercase().replace('-', "_"));
            let tags: Vec<String> = tags.iter().map(|t| format!("{t:?}")).collect();
            file.push_str(&format!(
                "[[target]]\nname = {name:?}\nurl_env = {var:?}\ntags = [{}]\n\n",
                tags.join(", ")
            ));
            if let Some(url) = url {
                self.env.push((var, (*url).to_owned()));
            }
        }
        std::fs::write(self.path("targets.toml"), file).expect("write targets");
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(BIN);
        command
            .current_dir(self.dir.path())
            .args(["--dev-url", &self.dev.url])
            .args(args)
            .env_remove("DATABASE_URL")
            .env_remove("RECONCILE_DEV_URL")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        for var in [
            "PGHOST",
            "PGPORT",
            "PGDATABASE",
            "PGUSER",
            "PGPASSWORD",
            "PGSERVICE",
        ] {
            command.env_remove(var);
        }
        for (k, v) in &self.env {
            command.env(k, v);
        }
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        assert_cmd::Command::from_std(self.command(args))
            .timeout(TIMEOUT)
            .output()
            .expect("run reconcile")
    }

    /// Runs a fleet command with `--format json` and returns the exit code and the report.
    fn report(&self, args: &[&str]) -> (Option<i32>, Value) {
        let mut all = args.to_vec();
        all.extend(["--format", "json"]);
        let output = self.run(&all);
        let report = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
            panic!(
                "not a JSON report ({e})\nstdout:\n{}\nstderr:\n{}",
                text(&output.stdout),
                text(&output.stderr)
            )
        });
        (output.status.code(), report)
    }
}

fn db_with(sql: &str) -> TestDb {
    let db = common::fresh_db();
    db.psql(sql).expect("setup");
    db
}

/// The entry of target `name`.
fn entry<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["targets"]
        .as_array()
        .expect("targets")
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("no entry {name} in {report:#}"))
}

fn status(report: &Value, name: &str) -> String {
    entry(report, name)["status"]
        .as_str()
        .expect("status")
        .to_owned()
}

fn error_kind(report: &Value, name: &str) -> String {
    entry(report, name)["error"]["kind"]
        .as_str()
        .unwrap_or_else(|| panic!("{name} has no error: {report:#}"))
        .to_owned()
}

/// A URL to a port nothing listens on.
fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    format!("postgres://app:S3cretClosed@127.0.0.1:{port}/db")
}

#[test]
fn an_audit_classifies_every_target_and_groups_identical_drift() {
    let in_sync = db_with(IN_SYNC);
    let behind_1 = db_with(BEHIND);
    let behind_2 = db_with(BEHIND);
    let extra = db_with(EXTRA);
    let mut fleet = Fleet::new(DESIRED);
    fleet.targets(&[
        ("in-sync", Some(&in_sync.url), &["eu"]),
        ("behind-1", Some(&behind_1.url), &["eu"]),
        ("behind-2", Some(&behind_2.url), &["us"]),
        ("extra", Some(&extra.url), &["us"]),
        ("down", Some(&closed_port_url()), &["us"]),
        ("unset", None, &[]),
    ]);
    let (code, report) = fleet.report(&["fleet", "verify", "--targets", "targets.toml", "-j", "3"]);
    assert_eq!(
        code,
        Some(1),
        "an unreachable target makes the fleet exit 1: {report:#}"
    );
    assert_eq!(report["version"], 1);
    assert_eq!(status(&report, "in-sync"), "in_sync");
    assert_eq!(status(&report, "behind-1"), "pending");
    assert_eq!(entry(&report, "behind-1")["exit_code"], 2);
    assert_eq!(status(&report, "extra"), "drift");
    assert_eq!(entry(&report, "extra")["exit_code"], 3);
    assert_eq!(error_kind(&report, "down"), "unreachable");
    assert_eq!(error_kind(&report, "unset"), "config");
    assert!(
        entry(&report, "unset")["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("FLEET_TEST_UNSET") && m.contains("targets.toml:")),
        "{report:#}"
    );
    let fingerprint = entry(&report, "behind-1")["fingerprint"].as_str();
    assert!(fingerprint.is_some_and(|f| f.starts_with("sha256:")));
    // The two targets behind by the same column are one group.
    let groups = report["summary"]["groups"].as_array().expect("groups");
    let behind = groups
        .iter()
        .find(|g| g["label"] == "missing column public.leads.timezone")
        .unwrap_or_else(|| panic!("no group for the missing column: {groups:#?}"));
    assert_eq!(behind["count"], 2);
    assert_eq!(
        behind["targets"],
        serde_json::json!(["behind-1", "behind-2"])
    );

    // Text: one summary line; without the broken targets the worst is drift (3).
    let output = fleet.run(&[
        "fleet",
        "verify",
        "--targets",
        "targets.toml",
        "--tag",
        "eu",
    ]);
    assert_exit(&output, 2);
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("1 in sync · 1 missing column public.leads.timezone"),
        "{stdout}"
    );
    let output = fleet.run(&[
        "fleet",
        "verify",
        "--targets",
        "targets.toml",
        "--select",
        "in-sync",
        "--select",
        "extra",
    ]);
    assert_exit(&output, 3);
    let output = fleet.run(&[
        "fleet",
        "verify",
        "--targets",
        "targets.toml",
        "--select",
        "extra",
        "--fail-on",
        "none",
    ]);
    assert_exit(&output, 0);
    // Markdown, to a file.
    let output = fleet.run(&[
        "fleet",
        "verify",
        "--targets",
        "targets.toml",
        "--tag",
        "us",
        "--out",
        "fleet.md",
    ]);
    assert_exit(&output, 1);
    let markdown = std::fs::read_to_string(fleet.path("fleet.md")).expect("report written");
    assert!(
        markdown.contains("| 1 | error | unreachable | down |"),
        "{markdown}"
    );
    // A selection that matches nothing is an error, not an empty green audit.
    let output = fleet.run(&[
        "fleet",
        "verify",
        "--targets",
        "targets.toml",
        "--tag",
        "asia",
    ]);
    assert_exit(&output, 1);
    assert!(
        text(&output.stderr).contains("--tag asia"),
        "{}",
        text(&output.stderr)
    );
}

/// The desired state is canonicalised once; per target, the scratch server builds only what
/// differs there: in-sync targets and targets whose drift needs no build never touch it.
#[test]
fn targets_in_sync_never_touch_the_scratch_server() {
    let dbs: Vec<TestDb> = (0..4).map(|_| db_with(IN_SYNC)).collect();
    let behind = db_with(BEHIND);
    let mut fleet = Fleet::new(DESIRED);
    let mut list: Vec<(String, String)> = dbs
        .iter()
        .enumerate()
        .map(|(i, db)| (format!("sync-{i}"), db.url.clone()))
        .collect();
    list.push(("behind".to_owned(), behind.url.clone()));
    let targets: Vec<(&str, Option<&str>, &[&str])> = list
        .iter()
        .map(|(n, u)| (n.as_str(), Some(u.as_str()), &[][..]))
        .collect();
    fleet.targets(&targets);
    let output = fleet.run(&["fleet", "verify", "--targets", "targets.toml", "-v"]);
    assert_exit(&output, 2);
    let stderr = text(&output.stderr);
    for i in 0..4 {
        assert!(
            stderr.contains(&format!(
                "sync-{i}: 0 step(s), 0 finding(s); scratch server untouched"
            )),
            "{stderr}"
        );
    }
    assert!(
        stderr.contains("behind: 1 step(s), 0 finding(s); scratch server used"),
        "{stderr}"
    );
    assert!(
        stderr.contains("audited 5 target(s)") && stderr.contains("1 needed the scratch server"),
        "{stderr}"
    );
}

/// A silent server (a port that accepts and never answers), a role without CONNECT, wrong
/// credentials and a database an apply is changing are each an error for that target only.
#[test]
fn one_bad_target_never_holds_up_the_rest() {
    let good = db_with(IN_SYNC);
    let locked = db_with(IN_SYNC);
    let forbidden = db_with(IN_SYNC);
    let role = format!("{}_nc", forbidden.name);
    forbidden
        .psql(&format!(
            "CREATE ROLE {role} LOGIN; REVOKE CONNECT ON DATABASE \"{0}\" FROM PUBLIC;",
            forbidden.name
        ))
        .expect("role");
    let forbidden_url = with_user(&forbidden.url, &role, None);
    // Accepts TCP connections (the kernel's backlog) and never speaks.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let silent_url = format!(
        "postgres://x@127.0.0.1:{}/db",
        silent.local_addr().expect("addr").port()
    );
    let holder = hold_apply_lock(&locked);

    let mut fleet = Fleet::new(DESIRED);
    fleet.targets(&[
        ("good", Some(&good.url), &[]),
        ("locked", Some(&locked.url), &[]),
        ("forbidden", Some(&forbidden_url), &[]),
        ("silent", Some(&silent_url), &[]),
    ]);
    let (code, report) = fleet.report(&[
        "fleet",
        "verify",
        "--targets",
        "targets.toml",
        "--connect-timeout",
        "2s",
        "-j",
        "4",
    ]);
    assert_eq!(code, Some(1), "{report:#}");
    assert_eq!(status(&report, "good"), "in_sync");
    assert_eq!(error_kind(&report, "locked"), "locked");
    assert_eq!(error_kind(&report, "forbidden"), "privileges");
    assert_eq!(error_kind(&report, "silent"), "unreachable");
    drop(holder);
    let _ = forbidden.psql(&format!("DROP ROLE IF EXISTS {role}"));
}

/// The apply lock of `db`, held (as `apply` holds it) until dropped.
fn hold_apply_lock(db: &TestDb) -> KillOnDrop {
    let holder = std::process::Command::new(common::psql_bin())
        .args(["-X", "-q", "-d", &db.url, "-c"])
        .arg(
            "SELECT pg_advisory_lock(1919247215, hashtext(current_database())); \
             SELECT pg_sleep(600);",
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("psql");
    let holder = KillOnDrop(holder);
    wait_for(
        db,
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted
            AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    );
    holder
}

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Polls `query` (a count) until it is not 0 (bounded: a hang guard, not a timing assert).
fn wait_for(db: &TestDb, query: &str) {
    for _ in 0..600 {
        if db.psql(query).is_ok_and(|out| out.trim() != "0") {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("gave up waiting for: {query}");
}

/// `url` with its user (and password) replaced.
fn with_user(url: &str, user: &str, password: Option<&str>) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let host = rest.split_once('@').map_or(rest, |(_, host)| host);
    match password {
        Some(p) => format!("{scheme}://{user}:{p}@{host}"),
        None => format!("{scheme}://{user}@{host}"),
    }
}

const PASSWORD: &str = "Fl33tS3cretPassw0rd";
const WRONG_PASSWORD: &str = "Fl33tWr0ngPassw0rd";

/// Neither the report (in every format), stdout nor stderr (at -vv) ever holds a password:
/// with a right one, a wrong one, and an unreachable server's.
#[test]
fn passwords_never_reach_reports_or_logs() {
    let db = db_with(BEHIND);
    let role = format!("{}_pw", db.name);
    db.psql(&format!(
        "CREATE ROLE {role} LOGIN PASSWORD '{PASSWORD}'; ALTER TABLE leads OWNER TO {role};"
    ))
    .expect("role");
    if common::cluster().is_some() {
        // The harness's cluster trusts everyone: make this role need its password.
        let hba = db.psql("SHOW hba_file").expect("hba").trim().to_owned();
        let rules = std::fs::read_to_string(&hba).expect("read pg_hba.conf");
        let rule = format!("host all {role} all scram-sha-256\n");
        if !rules.contains(&rule) {
            std::fs::write(&hba, format!("{rule}{rules}")).expect("write pg_hba.conf");
        }
        db.psql("SELECT pg_reload_conf()").expect("reload");
    }
    let right = with_user(&db.url, &role, Some(PASSWORD));
    let wrong = with_user(&db.url, &role, Some(WRONG_PASSWORD));
    let down = closed_port_url().replace("S3cretClosed", PASSWORD);
    let mut fleet = Fleet::new(DESIRED);
    fleet.targets(&[
        ("right", Some(&right), &[]),
        ("wrong", Some(&wrong), &[]),
        ("down", Some(&down), &[]),
        (
            "bad-url",
            Some(&format!("postgres://u:{PASSWORD}@h:99999/db")),
            &[],
        ),
    ]);
    let mut outputs = Vec::new();
    for format in ["json", "text", "markdown"] {
        outputs.push(fleet.run(&[
            "fleet",
            "verify",
            "--targets",
            "targets.toml",
            "--format",
            format,
            "-vv",
        ]));
    }
    let (_, report) = fleet.report(&["fleet", "verify", "--targets", "targets.toml"]);
    assert_eq!(status(&report, "right"), "pending", "{report:#}");
    if common::cluster().is_some() {
        assert_eq!(error_kind(&report, "wrong"), "auth", "{report:#}");
    }
    assert_eq!(error_kind(&report, "down"), "unreachable");
    assert_eq!(error_kind(&report, "bad-url"), "config");
    outputs.push(fleet.run(&["fleet", "apply", "--targets", "targets.toml", "-vv"]));
    for output in &outputs {
        for secret in [PASSWORD, WRONG_PASSWORD] {
            assert!(
                !text(&output.stdout).contains(secret) && !text(&output.stderr).contains(secret),
                "a password leaked:\nstdout:\n{}\nstderr:\n{}",
                text(&output.stdout),
                text(&output.stderr)
            );
        }
    }
    let _ = db.psql(&format!(
        "REASSIGN OWNED BY {role} TO CURRENT_USER; DROP OWNED BY {role}; DROP ROLE {role};"
    ));
}

/// The template schema's name is replaced by each tenant's — in names and in the server's
/// texts (a serial's `nextval('tenant_a.…')`, a foreign key, a check).
#[test]
fn tenant_schemas_are_compared_with_the_template() {
    let db = common::fresh_db();
    for tenant in ["tenant_a", "tenant_b", "tenant_c"] {
        db.psql(&format!(
            "CREATE SCHEMA {tenant};
             CREATE TABLE {tenant}.companies (id bigserial PRIMARY KEY, name text NOT NULL);
             CREATE TABLE {tenant}.leads (
                 id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                 company_id bigint NOT NULL REFERENCES {tenant}.companies,
                 email text NOT NULL CHECK (email <> ''),
                 timezone text DEFAULT 'UTC');
             CREATE INDEX ON {tenant}.leads (company_id);"
        ))
        .expect("tenant");
    }
    db.psql("ALTER TABLE tenant_b.leads DROP COLUMN timezone; CREATE SCHEMA other;")
        .expect("drift");
    let mut fleet = Fleet::new(
        "schema: tpl
tables:
  companies:
    columns:
      id: { type: bigserial, primary_key: true }
      name: { type: text, not_null: true }
  leads:
    columns:
      id: { type: bigint, identity: always, primary_key: true }
      company_id: { type: bigint, not_null: true, references: companies }
      email: { type: text, not_null: true, check: \"email <> ''\" }
      timezone: { type: text, default: \"'UTC'\" }
    indexes:
      - { columns: [company_id] }
",
    );
    fleet.env.push(("DATABASE_URL".to_owned(), db.url.clone()));
    let (code, report) = fleet.report(&["fleet", "verify", "--tenant-schemas", "tenant_*"]);
    assert_eq!(code, Some(2), "{report:#}");
    assert_eq!(report["template"], "tpl");
    assert_eq!(status(&report, "tenant_a"), "in_sync", "{report:#}");
    assert_eq!(status(&report, "tenant_c"), "in_sync", "{report:#}");
    assert_eq!(status(&report, "tenant_b"), "pending");
    let sql = entry(&report, "tenant_b")["steps"][0]["sql"]
        .as_str()
        .expect("a step")
        .to_owned();
    assert!(sql.contains("tenant_b.leads"), "{sql}");
    assert!(
        report["summary"]["groups"]
            .as_array()
            .expect("groups")
            .iter()
            .any(|g| g["label"] == "missing column tpl.leads.timezone" && g["count"] == 1)
    );
    // Applying to the tenants converges them.
    let output = fleet.run(&["fleet", "apply", "--tenant-schemas", "tenant_*"]);
    assert_exit(&output, 0);
    let (code, report) = fleet.report(&["fleet", "verify", "--tenant-schemas", "tenant_*"]);
    assert_eq!(code, Some(0), "{report:#}");
    // `*` matches the shared schema and apply's history schema too: they are not tenants.
    let output = fleet.run(&[
        "fleet",
        "verify",
        "--tenant-schemas",
        "*",
        "--format",
        "json",
    ]);
    let report: Value = serde_json::from_slice(&output.stdout).expect("a JSON report");
    let names: Vec<&str> = report["targets"]
        .as_array()
        .expect("targets")
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert_eq!(
        names,
        ["other", "tenant_a", "tenant_b", "tenant_c"],
        "{report:#}"
    );
    assert!(
        text(&output.stderr).contains("not tenants, left out: public, reconcile"),
        "{}",
        text(&output.stderr)
    );
    let output = fleet.run(&["fleet", "verify", "--tenant-schemas", "publi[c]"]);
    assert_exit(&output, 1);
    assert!(text(&output.stderr).contains("matches no tenant, only shared schemas"));
    // A template that is not declared, and no pattern match, are errors.
    let output = fleet.run(&[
        "fleet",
        "verify",
        "--tenant-schemas",
        "tenant_*",
        "--template-schema",
        "nope",
    ]);
    assert_exit(&output, 1);
    assert!(text(&output.stderr).contains("--template-schema nope"));
    let output = fleet.run(&["fleet", "verify", "--tenant-schemas", "zzz_*"]);
    assert_exit(&output, 1);
    // A typo says what there is.
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("nothing on the server matches zzz_*"),
        "{stderr}"
    );
    assert!(stderr.contains("tenant_a, tenant_b"), "{stderr}");
    // A URL variable that is set but empty (a CI secret that is not) is named as such.
    fleet.env = vec![("DATABASE_URL".to_owned(), String::new())];
    let output = fleet.run(&["fleet", "verify", "--tenant-schemas", "tenant_*"]);
    assert_exit(&output, 1);
    assert!(text(&output.stderr).contains("set but empty"));
}

/// Ten shards are disjoint and cover the fleet; their reports merged are the unsharded
/// report, durations aside.
#[test]
fn shards_are_disjoint_cover_and_merge_to_the_unsharded_report() {
    let dbs: Vec<TestDb> = (0..12)
        .map(|i| db_with(if i % 3 == 0 { BEHIND } else { IN_SYNC }))
        .collect();
    let mut fleet = Fleet::new(DESIRED);
    let names: Vec<String> = (0..dbs.len()).map(|i| format!("db-{i:02}")).collect();
    let mut targets: Vec<(&str, Option<&str>, &[&str])> = names
        .iter()
        .zip(&dbs)
        .map(|(n, db)| (n.as_str(), Some(db.url.as_str()), &[][..]))
        .collect();
    let down = closed_port_url();
    targets.push(("down", Some(&down), &[]));
    fleet.targets(&targets);
    let (code, whole) = fleet.report(&["fleet", "verify", "--targets", "targets.toml"]);
    assert_eq!(code, Some(1));
    let mut files = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for i in 1..=10 {
        let file = format!("shard-{i}.json");
        let shard = format!("{i}/10");
        let output = fleet.run(&[
            "fleet",
            "verify",
            "--targets",
            "targets.toml",
            "--shard",
            &shard,
            "--out",
            &file,
        ]);
        assert!(
            matches!(output.status.code(), Some(0..=3)),
            "{}",
            text(&output.stderr)
        );
        let report: Value =
            serde_json::from_str(&std::fs::read_to_string(fleet.path(&file)).expect("read"))
                .expect("json");
        for e in report["targets"].as_array().expect("targets") {
            let name = e["name"].as_str().expect("name").to_owned();
            assert!(seen.insert(name.clone()), "{name} in two shards");
        }
        // `fleet targets` lists the same slice.
        let listed = fleet.run(&[
            "fleet",
            "targets",
            "--targets",
            "targets.toml",
            "--shard",
            &shard,
        ]);
        assert_exit(&listed, 0);
        assert_eq!(
            text(&listed.stdout).lines().count(),
            report["targets"].as_array().expect("targets").len()
        );
        files.push(file);
    }
    assert_eq!(seen.len(), 13, "the shards cover every target");
    let mut args = vec!["report", "merge"];
    args.extend(files.iter().map(String::as_str));
    let (code, merged) = fleet.report(&args);
    assert_eq!(
        code,
        Some(1),
        "the merged report exits like the whole fleet"
    );
    assert_eq!(without_durations(merged), without_durations(whole));
    // Merging a shard twice, or a file that is not a report, is refused.
    let output = fleet.run(&["report", "merge", "shard-1.json", "shard-1.json"]);
    assert_exit(&output, 1);
    std::fs::write(fleet.path("schema.json"), "{\"tables\": {}}").expect("write");
    let output = fleet.run(&["report", "merge", "schema.json"]);
    assert_exit(&output, 1);
    assert!(text(&output.stderr).contains("not a fleet report"));
}

fn without_durations(mut report: Value) -> Value {
    for e in report["targets"].as_array_mut().expect("targets") {
        e["duration_ms"] = Value::Null;
    }
    report
}

/// A targets file's mistakes name the file and line; a URL written in the file is refused
/// without being echoed.
#[test]
fn targets_file_errors_name_the_file_and_line() {
    let fleet = Fleet::new(DESIRED);
    std::fs::write(
        fleet.path("targets.toml"),
        "[[target]]\nname = \"a\"\nurl_env = \"A\"\n\n[[target]]\nname = \"b\"\nurl = \"postgres://u:Pw0rdInFile@h/db\"\n",
    )
    .expect("write");
    let output = fleet.run(&["fleet", "verify", "--targets", "targets.toml"]);
    assert_exit(&output, 1);
    let stderr = text(&output.stderr);
    assert!(stderr.contains("targets.toml:7"), "{stderr}");
    assert!(stderr.contains("url_env"), "{stderr}");
    assert!(!stderr.contains("Pw0rdInFile"), "{stderr}");
    let output = fleet.run(&["fleet", "verify"]);
    assert_exit(&output, 1);
    assert!(text(&output.stderr).contains("--targets FILE"));
    let output = fleet.run(&["fleet", "verify", "--targets", "missing.toml"]);
    assert_exit(&output, 1);
    assert!(text(&output.stderr).contains("missing.toml"));
    let output = fleet.run(&[
        "fleet",
        "verify",
        "--targets",
        "targets.toml",
        "--shard",
        "0/3",
    ]);
    assert_exit(&output, 1);
}

/// Canaries run first and one at a time; a failing canary stops the fleet; `--max-failures`
/// stops starting targets; every target's run is in its own history; a rerun converges.
#[test]
fn fleet_apply_runs_canaries_first_and_converges_on_rerun() {
    let desired = "
tables:
  leads:
    columns:
      id: { type: bigint, primary_key: true }
      email: { type: text, not_null: true }
      timezone: text
      qty: integer
    checks:
      leads_qty_check: qty >= 0
";
    let setup = "CREATE TABLE leads (id bigint PRIMARY KEY, email text NOT NULL, qty integer);
                 INSERT INTO leads VALUES (1, 'a', 1);";
    // The check does not hold for a negative row: that target's apply fails.
    let failing = db_with(&format!("{setup} INSERT INTO leads VALUES (2, 'b', -1);"));
    let healthy: Vec<TestDb> = (0..4).map(|_| db_with(setup)).collect();
    let mut fleet = Fleet::new(desired);
    let mut list = vec![("a-failing".to_owned(), failing.url.clone())];
    list.extend(
        healthy
            .iter()
            .enumerate()
            .map(|(i, db)| (format!("b-healthy-{i}"), db.url.clone())),
    );
    let targets: Vec<(&str, Option<&str>, &[&str])> = list
        .iter()
        .map(|(n, u)| (n.as_str(), Some(u.as_str()), &[][..]))
        .collect();
    fleet.targets(&targets);

    // The failing target is the first of two canaries (name order): nothing else is
    // touched, and the other canary is reported as not run (it was left out of the report).
    let (code, report) = fleet.report(&[
        "fleet",
        "apply",
        "--targets",
        "targets.toml",
        "--canary",
        "2",
    ]);
    assert_eq!(code, Some(1), "{report:#}");
    assert_eq!(error_kind(&report, "a-failing"), "failed");
    assert!(entry(&report, "a-failing")["run"].is_i64());
    for i in 0..4 {
        assert_eq!(status(&report, &format!("b-healthy-{i}")), "not_run");
    }
    assert_eq!(
        healthy[0].psql("SELECT count(*) FROM pg_namespace WHERE nspname = 'reconcile'"),
        Ok("0\n".to_owned()),
        "a target after a failed canary was touched"
    );
    let failed_runs = failing
        .psql("SELECT outcome FROM reconcile.runs ORDER BY id")
        .expect("history");
    assert_eq!(failed_runs.trim(), "failed");

    // --max-failures 1 with one job: the failure stops the fleet before all are started.
    let (code, report) = fleet.report(&[
        "fleet",
        "apply",
        "--targets",
        "targets.toml",
        "--max-failures",
        "1",
        "-j",
        "1",
    ]);
    assert_eq!(code, Some(1), "{report:#}");
    let statuses: Vec<String> = (0..4)
        .map(|i| status(&report, &format!("b-healthy-{i}")))
        .collect();
    assert!(statuses.iter().any(|s| s == "not_run"), "{statuses:?}");

    // Without limits the healthy targets are applied; a rerun after fixing the bad row
    // converges everything, and each target's history says what happened.
    let (code, report) = fleet.report(&["fleet", "apply", "--targets", "targets.toml"]);
    assert_eq!(code, Some(1), "{report:#}");
    for i in 0..4 {
        let s = status(&report, &format!("b-healthy-{i}"));
        assert!(s == "applied" || s == "in_sync", "{s}");
    }
    failing
        .psql("DELETE FROM leads WHERE qty < 0")
        .expect("fix");
    let (code, report) = fleet.report(&["fleet", "apply", "--targets", "targets.toml"]);
    assert_eq!(code, Some(0), "{report:#}");
    let (code, report) = fleet.report(&["fleet", "verify", "--targets", "targets.toml"]);
    assert_eq!(code, Some(0), "{report:#}");
    let history = healthy[0]
        .psql("SELECT outcome FROM reconcile.runs ORDER BY id")
        .expect("history");
    assert!(history.contains("applied"), "{history}");
    assert!(history.trim_end().ends_with("no-op"), "{history}");
}

/// Objects of every kind in a tenant schema `t`, with references to the shared `public`.
fn tenant_sql(t: &str) -> String {
    format!(
        "CREATE SCHEMA {t};
         COMMENT ON SCHEMA {t} IS 'tenant {t}';
         CREATE TYPE {t}.stage AS ENUM ('new', 'won');
         CREATE DOMAIN {t}.email AS text CHECK (VALUE LIKE '%@%');
         CREATE TYPE {t}.money_pair AS (amount numeric, currency text);
         CREATE SEQUENCE {t}.invoice_no;
         CREATE TABLE {t}.companies (id bigserial PRIMARY KEY,
             plan_id int REFERENCES public.plans, tier public.tier);
         CREATE TABLE {t}.leads (
             id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
             company_id bigint NOT NULL REFERENCES {t}.companies,
             email {t}.email, stage {t}.stage DEFAULT 'new',
             tenant text DEFAULT public.current_tenant());
         CREATE INDEX ON {t}.leads (company_id);
         COMMENT ON COLUMN {t}.leads.email IS 'primary contact';
         ALTER TABLE {t}.leads ENABLE ROW LEVEL SECURITY;
         CREATE POLICY by_tenant ON {t}.leads USING (tenant = public.current_tenant());
         GRANT USAGE ON SCHEMA {t} TO fleet_split_reader;
         GRANT SELECT ON {t}.leads TO fleet_split_reader;
         ALTER DEFAULT PRIVILEGES IN SCHEMA {t} GRANT SELECT ON TABLES TO fleet_split_reader;
         CREATE FUNCTION {t}.touch() RETURNS trigger LANGUAGE plpgsql
             AS $$ BEGIN RETURN NEW; END $$;
         CREATE TRIGGER touch BEFORE UPDATE ON {t}.leads
             FOR EACH ROW EXECUTE FUNCTION {t}.touch();
         CREATE FUNCTION {t}.lead_count() RETURNS bigint LANGUAGE sql STABLE
             AS $$ SELECT count(*) FROM {t}.leads $$;
         CREATE VIEW {t}.lead_plans AS
             SELECT l.id, p.name FROM {t}.leads l
             JOIN {t}.companies c ON c.id = l.company_id JOIN public.plans p ON p.id = c.plan_id;
         CREATE TABLE {t}.events (at date NOT NULL, what text) PARTITION BY RANGE (at);
         CREATE TABLE {t}.events_2026 PARTITION OF {t}.events
             FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
         CREATE TABLE {t}.archived (note text) INHERITS ({t}.companies);
         ALTER TABLE {t}.archived ADD PRIMARY KEY (id);"
    )
}

/// One catalog read of many tenants, split per tenant, gives each tenant exactly what a read
/// of that tenant (with the shared schema) alone gives — with drift in some tenants, shared
/// objects in `public`, grants, default privileges, policies, comments, triggers, functions,
/// views, partitions, an inheritance child, and references from one tenant to another (which
/// a tenant's own read settles as outside its scope: a view reading another tenant's table is
/// skipped, a partition of another tenant's table is an orphan, a foreign key to another
/// tenant's skipped table is kept).
#[tokio::test]
async fn one_read_split_per_tenant_equals_each_tenants_own_read() {
    use reconcile::introspect::{self, Scope};
    let db = common::fresh_db();
    let mut sql = "DO $$ BEGIN CREATE ROLE fleet_split_reader;
                   EXCEPTION WHEN duplicate_object THEN NULL; END $$;
                   CREATE TABLE public.plans (id int PRIMARY KEY, name text);
                   COMMENT ON TABLE public.plans IS 'shared by every tenant';
                   GRANT SELECT ON public.plans TO fleet_split_reader;
                   CREATE TYPE public.tier AS ENUM ('free', 'pro');
                   CREATE FUNCTION public.current_tenant() RETURNS text LANGUAGE sql STABLE
                       AS $$ SELECT current_setting('app.tenant', true) $$;"
        .to_owned();
    for t in ["tenant_a", "tenant_b", "tenant_c"] {
        sql.push_str(&tenant_sql(t));
    }
    sql.push_str(
        "ALTER TABLE tenant_b.leads DROP COLUMN stage;
         ALTER TABLE tenant_c.leads ADD COLUMN legacy integer;
         CREATE VIEW tenant_c.peek AS SELECT id FROM tenant_a.leads;
         COMMENT ON VIEW tenant_c.peek IS 'reads another tenant';
         CREATE TABLE tenant_b.events_of_a PARTITION OF tenant_a.events
             FOR VALUES FROM ('2027-01-01') TO ('2028-01-01');
         ALTER TABLE tenant_c.companies ADD CONSTRAINT archived_in_a
             FOREIGN KEY (id) REFERENCES tenant_a.archived;
         CREATE SCHEMA other; CREATE TABLE other.unrelated (id int);",
    );
    db.psql(&sql).expect("tenants");

    let mut conn = db.connect().await;
    let tenants: Vec<String> = ["tenant_a", "tenant_b", "tenant_c", "tenant_gone"]
        .map(str::to_owned)
        .to_vec();
    let mut shares = introspect::split::tenants(&mut conn, &["public".to_owned()], &tenants, &[])
        .await
        .expect("one read");
    assert_eq!(shares.len(), tenants.len());
    for tenant in &tenants {
        let mut alone = introspect::schema(
            &mut conn,
            &Scope::named(["public".to_owned(), tenant.clone()], &[]),
        )
        .await
        .expect("a tenant's own read");
        let mut share = shares.remove(tenant).expect("a share per tenant");
        // What a share documents as different: the other tenants are not listed as
        // undeclared, and the query count is the whole read's.
        alone.undeclared_schemas.clear();
        alone.catalog_queries = 0;
        share.catalog_queries = 0;
        crate::introspect::assert_same_read(
            &share,
            &alone,
            &format!("{tenant}: the share differs from its own read"),
        );
        // Roles are the cluster's: tests running beside this one create theirs between the
        // two reads, so only this test's own role is compared.
        for read in [&share, &alone] {
            assert!(
                read.roles.contains("fleet_split_reader"),
                "{:?}",
                read.roles
            );
            assert_eq!(read.environment.roles.as_ref(), Some(&read.roles));
        }
    }
    // Not vacuous: the reads hold what the setup made, and the cross-tenant cases.
    let c = introspect::schema(
        &mut conn,
        &Scope::named(["public".to_owned(), "tenant_c".to_owned()], &[]),
    )
    .await
    .expect("read");
    let skipped: Vec<String> = c.skipped.iter().map(|s| s.object.to_string()).collect();
    assert!(
        skipped.contains(&"view tenant_c.peek".to_owned()),
        "{skipped:?}"
    );
    assert!(
        c.schema
            .views
            .keys()
            .any(|v| v.to_string() == "tenant_c.lead_plans")
    );
    assert!(
        c.schema
            .tables
            .keys()
            .any(|t| t.to_string() == "public.plans")
    );
    assert!(
        !c.schema
            .tables
            .keys()
            .any(|t| t.schema.as_str() == "tenant_a")
    );
    assert!(!c.schema.policies.is_empty() && !c.schema.triggers.is_empty());
    assert!(!c.schema.grants.is_empty() && !c.schema.comments.is_empty());
    assert!(!c.schema.default_privileges.is_empty() && !c.schema.functions.is_empty());
    let b = introspect::schema(
        &mut conn,
        &Scope::named(["public".to_owned(), "tenant_b".to_owned()], &[]),
    )
    .await
    .expect("read");
    assert!(
        b.skipped
            .iter()
            .any(|s| s.object.to_string() == "table tenant_b.events_of_a"),
        "{:?}",
        b.skipped
    );
}

/// A database whose apply lock is held is reported as locked for every tenant, from the one
/// read of their batch.
#[test]
fn a_held_lock_reports_every_tenant_locked() {
    let db = common::fresh_db();
    for tenant in ["tenant_a", "tenant_b"] {
        db.psql(&format!(
            "CREATE SCHEMA {tenant}; CREATE TABLE {tenant}.leads (id bigint PRIMARY KEY);"
        ))
        .expect("tenant");
    }
    let holder = hold_apply_lock(&db);
    let mut fleet = Fleet::new(
        "schema: tpl\ntables:\n  leads:\n    columns:\n      id: { type: bigint, primary_key: true }\n",
    );
    fleet.env.push(("DATABASE_URL".to_owned(), db.url.clone()));
    let (code, report) = fleet.report(&["fleet", "verify", "--tenant-schemas", "tenant_*"]);
    assert_eq!(code, Some(1), "{report:#}");
    assert_eq!(error_kind(&report, "tenant_a"), "locked", "{report:#}");
    assert_eq!(error_kind(&report, "tenant_b"), "locked", "{report:#}");
    // Released (the server ends the holder's session: a killed psql's backend would sleep on):
    // the tenants are audited again.
    drop(holder);
    db.psql(
        "SELECT pg_terminate_backend(pid) FROM pg_locks
          WHERE locktype = 'advisory' AND pid <> pg_backend_pid()
            AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .expect("terminate");
    wait_for(
        &db,
        "SELECT 1 - least(count(*), 1) FROM pg_locks WHERE locktype = 'advisory'
            AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    );
    let (code, report) = fleet.report(&["fleet", "verify", "--tenant-schemas", "tenant_*"]);
    assert_eq!(code, Some(0), "{report:#}");
}
