//! The project layer (issue 17): `reconcile.toml` with environments, `reconcile init`,
//! `reconcile config`, the GitHub job summary, completions, the manual and `--version` — each
//! run as the binary a user runs, against the test server. `examples/project` is the project
//! `init` writes; it is exercised end to end here (plan, apply, migrate, verify, drift).

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use assert_cmd::Command;
use common::{assert_exit, text};

const TIMEOUT: Duration = Duration::from_secs(180);

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/project")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create a folder");
    for entry in std::fs::read_dir(from).expect("read a folder") {
        let entry = entry.expect("a folder entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("a file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy a file");
        }
    }
}

/// `reconcile ARGS` in `cwd`, with no database named by the environment but `vars`.
fn reconcile(cwd: &Path, args: &[&str], vars: &[(&str, &str)]) -> Output {
    let mut command = Command::cargo_bin("reconcile").expect("the reconcile binary");
    command
        .current_dir(cwd)
        .args(["--color", "never"])
        .args(args);
    for var in [
        "DATABASE_URL",
        "RECONCILE_DEV_URL",
        "PGHOST",
        "PGDATABASE",
        "PGPORT",
        "PGUSER",
        "PGSERVICE",
        "GITHUB_STEP_SUMMARY",
        "STAGING_DATABASE_URL",
        "PROD_DATABASE_URL",
    ] {
        command.env_remove(var);
    }
    for (k, v) in vars {
        command.env(k, v);
    }
    command.timeout(TIMEOUT).output().expect("run reconcile")
}

fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", text(&output.stdout)))
}

fn finding_objects(output: &Output) -> Vec<String> {
    json(output)["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["object"].as_str().expect("an object").to_owned())
        .collect()
}

#[test]
fn the_example_project_plans_applies_migrates_and_audits_with_no_option_repeated() {
    let project = tempfile::tempdir().expect("a temporary folder");
    copy_dir(&example(), project.path());
    let db = common::fresh_db();
    let dev = common::fresh_db();
    let staging = [("STAGING_DATABASE_URL", db.url.as_str())];
    let dev_url = ["--dev-url", dev.url.as_str()];
    // From a folder below the project: the configuration is found upward and its paths are
    // relative to it.
    let below = project.path().join("schema");

    let plan = reconcile(
        &below,
        &[&["plan", "--env", "staging"][..], &dev_url].concat(),
        &staging,
    );
    assert_exit(&plan, 2);
    assert!(text(&plan.stdout).contains("view public.published_posts"));

    let apply = reconcile(
        &below,
        &[&["apply", "--env", "staging"][..], &dev_url].concat(),
        &staging,
    );
    assert_exit(&apply, 0);
    let migrate = reconcile(&below, &["migrate", "apply", "--env", "staging"], &staging);
    assert_exit(&migrate, 0);
    assert!(
        text(&migrate.stdout).contains("001") || text(&migrate.stderr).contains("001"),
        "the example migration ran:\n{}{}",
        text(&migrate.stdout),
        text(&migrate.stderr)
    );

    // In sync, and the project's own assertion (verify/posts_have_authors.sql) ran.
    let verify = reconcile(
        project.path(),
        &[
            &["verify", "--env", "staging", "--format", "json"][..],
            &dev_url,
        ]
        .concat(),
        &staging,
    );
    assert_exit(&verify, 0);
    assert!(text(&verify.stdout).contains("posts_have_authors"));

    // Drift: a table matching ignore_objects is not reported, another one is.
    db.psql("CREATE TABLE tmp_import (id int); CREATE TABLE leftover (id int);")
        .expect("drift");
    let verify = reconcile(
        project.path(),
        &[
            &["verify", "--env", "staging", "--format", "json"][..],
            &dev_url,
        ]
        .concat(),
        &staging,
    );
    let objects = finding_objects(&verify);
    assert!(
        objects.iter().any(|o| o.contains("public.leftover")),
        "{objects:?}"
    );
    assert!(
        !objects.iter().any(|o| o.contains("tmp_import")),
        "{objects:?}"
    );
    // An extra table is a destructive difference: the file's fail_on = "destructive" fails
    // the audit; the command line overrides the file.
    assert_exit(&verify, 3);
    let lenient = reconcile(
        project.path(),
        &[
            &["verify", "--env", "staging", "--fail-on", "none"][..],
            &dev_url,
        ]
        .concat(),
        &staging,
    );
    assert_exit(&lenient, 0);
}

#[test]
fn a_missing_secret_is_named_and_a_url_never_printed() {
    let project = tempfile::tempdir().expect("a temporary folder");
    copy_dir(&example(), project.path());
    let missing = reconcile(project.path(), &["plan", "--env", "prod"], &[]);
    assert_exit(&missing, 1);
    let stderr = text(&missing.stderr);
    assert!(
        stderr.contains("PROD_DATABASE_URL") && stderr.contains("reconcile.toml:"),
        "{stderr}"
    );

    let secret = "s3cr3t-pa55word";
    let url = format!("postgres://app:{secret}@127.0.0.1:1/app");
    let config = reconcile(
        project.path(),
        &["config", "--env", "prod"],
        &[("PROD_DATABASE_URL", &url)],
    );
    assert_exit(&config, 0);
    let out = text(&config.stdout);
    assert!(out.contains("$PROD_DATABASE_URL (set)"), "{out}");
    assert!(
        out.contains("fail_on") && out.contains("[env.prod]"),
        "{out}"
    );
    assert!(!out.contains(secret) && !text(&config.stderr).contains(secret));

    // An unreachable target: the error names neither the password nor the URL.
    let plan = reconcile(
        project.path(),
        &["plan", "--env", "prod"],
        &[("PROD_DATABASE_URL", &url)],
    );
    assert_exit(&plan, 1);
    assert!(
        !text(&plan.stderr).contains(secret),
        "{}",
        text(&plan.stderr)
    );

    let unknown = reconcile(project.path(), &["plan", "--env", "production"], &[]);
    assert_exit(&unknown, 1);
    assert!(text(&unknown.stderr).contains("defines: prod, staging"));
}

#[test]
fn configuration_errors_name_the_file_and_line() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let cases = [
        (
            "schema_dir = \"s\"\nretrys = 3\n",
            "reconcile.toml:2: unknown setting `retrys`: did you mean `retries`?",
        ),
        (
            "fail_on = \"some\"\n",
            "reconcile.toml:1: fail_on = \"some\": expected",
        ),
        (
            "[env.prod]\nlock_timeout = \"3 parsecs\"\n",
            "reconcile.toml:2: unknown unit `parsecs`",
        ),
        ("schema_dir = \"s\n", "reconcile.toml:1:"),
        ("[env.a.env.b]\nretries = 1\n", "cannot hold environments"),
        (
            "ignore_objects = [\"public.[x\"]\n",
            "reconcile.toml:1: ignore_objects",
        ),
    ];
    for (file, expected) in cases {
        std::fs::write(dir.path().join("reconcile.toml"), file).expect("write the file");
        let out = reconcile(dir.path(), &["lint"], &[]);
        assert_exit(&out, 1);
        assert!(
            text(&out.stderr).contains(expected),
            "for {file:?} expected {expected:?} in:\n{}",
            text(&out.stderr)
        );
    }
    // --config names a file elsewhere; a missing one says so.
    let out = reconcile(dir.path(), &["--config", "nowhere.toml", "config"], &[]);
    assert_exit(&out, 1);
    assert!(text(&out.stderr).contains("nowhere.toml: cannot read"));
}

#[test]
fn init_writes_a_working_project_and_never_overwrites() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let project = dir.path().join("app");
    let init = reconcile(dir.path(), &["init", "app"], &[]);
    assert_exit(&init, 0);
    for file in [
        "reconcile.toml",
        "schema/app.yaml",
        "schema/views.sql",
        "migrations/001_backfill_author_names.sql",
        "migrations/README.md",
        "verify/tables_have_primary_keys.sql",
        "verify/posts_have_authors.sql",
        ".github/workflows/reconcile-plan.yml",
        ".github/workflows/reconcile-apply.yml",
        ".github/workflows/reconcile-drift.yml",
    ] {
        assert!(project.join(file).is_file(), "init wrote {file}");
    }
    assert_eq!(
        std::fs::read_to_string(project.join("reconcile.toml")).expect("read"),
        std::fs::read_to_string(example().join("reconcile.toml")).expect("read")
    );

    // A second init changes nothing and lists what is in the way.
    std::fs::write(project.join("schema/app.yaml"), "# mine\n").expect("edit");
    let again = reconcile(dir.path(), &["init", "app"], &[]);
    assert_exit(&again, 1);
    assert!(text(&again.stderr).contains("schema/app.yaml"));
    assert_eq!(
        std::fs::read_to_string(project.join("schema/app.yaml")).expect("read"),
        "# mine\n"
    );

    // From a live database: the desired state is pulled; the plan against it is empty.
    let db = common::fresh_db();
    let dev = common::fresh_db();
    db.psql("CREATE TABLE customers (id bigint PRIMARY KEY, name text NOT NULL);")
        .expect("setup");
    let pulled = dir.path().join("pulled");
    let init = reconcile(
        dir.path(),
        &["init", "pulled", "--from-url", db.url.as_str()],
        &[],
    );
    assert_exit(&init, 0);
    let schema = std::fs::read_to_string(pulled.join("schema/public.yaml")).expect("pulled");
    assert!(schema.contains("customers"), "{schema}");
    assert!(!pulled.join("schema/app.yaml").exists());
    let plan = reconcile(
        &pulled,
        &[
            "plan",
            "--database-url",
            db.url.as_str(),
            "--dev-url",
            dev.url.as_str(),
        ],
        &[],
    );
    assert_exit(&plan, 0);
}

#[test]
fn plan_verify_and_apply_append_markdown_to_the_github_job_summary() {
    let project = tempfile::tempdir().expect("a temporary folder");
    copy_dir(&example(), project.path());
    let summary = project.path().join("summary.md");
    let db = common::fresh_db();
    let dev = common::fresh_db();
    let vars = [
        ("STAGING_DATABASE_URL", db.url.as_str()),
        ("GITHUB_STEP_SUMMARY", summary.to_str().expect("UTF-8")),
    ];
    let dev_url = ["--dev-url", dev.url.as_str()];
    let plan = reconcile(
        project.path(),
        &[
            &["plan", "--env", "staging", "--format", "sql"][..],
            &dev_url,
        ]
        .concat(),
        &vars,
    );
    assert_exit(&plan, 2);
    let apply = reconcile(
        project.path(),
        &[&["apply", "--env", "staging"][..], &dev_url].concat(),
        &vars,
    );
    assert_exit(&apply, 0);
    let written = std::fs::read_to_string(&summary).expect("a job summary");
    assert!(
        written.contains("### reconcile plan: 6 steps to run"),
        "{written}"
    );
    assert!(written.contains("### reconcile apply"), "{written}");
    assert!(
        written.contains("**apply: applied** 6 step(s)"),
        "{written}"
    );
}

#[test]
fn completions_manual_and_version() {
    let here = std::env::temp_dir();
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = reconcile(&here, &["completions", shell], &[]);
        assert_exit(&out, 0);
        let script = text(&out.stdout);
        assert!(
            script.contains("reconcile") && script.contains("verify"),
            "{shell}"
        );
    }
    let man = reconcile(&here, &["man"], &[]);
    assert_exit(&man, 0);
    let page = text(&man.stdout);
    assert!(
        page.lines().any(|l| l.starts_with(".TH reconcile 1 ")),
        "no .TH header:\n{page}"
    );
    for section in [".SH NAME", ".SH SYNOPSIS", ".SH SUBCOMMANDS"] {
        assert!(page.contains(section), "no {section} in the manual");
    }
    // Every command is listed, with the summary its `--help` gives.
    assert!(page.contains("reconcile\\-plan(1)"), "{page}");
    assert!(page.contains("reconcile\\-verify(1)"), "{page}");
    let version = reconcile(&here, &["--version"], &[]);
    assert_exit(&version, 0);
    let version = text(&version.stdout);
    // `reconcile 0.1.0 (<commit>)`: the commit, or "unknown" outside a checkout.
    assert!(
        version.starts_with(&format!("reconcile {} (", env!("CARGO_PKG_VERSION"))),
        "{version}"
    );
}

#[test]
fn github_annotations_sit_on_the_declaring_yaml_and_sql_lines() {
    let project = tempfile::tempdir().expect("a temporary folder");
    copy_dir(&example(), project.path());
    let db = common::fresh_db();
    let dev = common::fresh_db();
    db.psql("CREATE TABLE leftover (id int);").expect("drift");
    let plan = reconcile(
        project.path(),
        &[
            "plan",
            "--format",
            "github",
            "--database-url",
            db.url.as_str(),
            "--dev-url",
            dev.url.as_str(),
        ],
        &[],
    );
    assert_exit(&plan, 3);
    let out = text(&plan.stdout);
    insta::assert_snapshot!("github_annotations", out);
    assert!(
        out.lines().any(|l| l.starts_with(
            "::notice file=schema/app.yaml,line=4,title=reconcile%3A step 1 (table public.authors)"
        )),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("::notice file=schema/views.sql,line=2,")),
        "{out}"
    );
    // Not declared anywhere: annotated without a place.
    assert!(
        out.lines()
            .any(|l| l.starts_with("::error title=D100 ") && l.contains("table public.leftover")),
        "{out}"
    );
}

#[test]
fn the_plan_as_a_graphviz_picture_and_a_mermaid_graph() {
    let project = tempfile::tempdir().expect("a temporary folder");
    copy_dir(&example(), project.path());
    let db = common::fresh_db();
    let dev = common::fresh_db();
    let url = [
        "--database-url",
        db.url.as_str(),
        "--dev-url",
        dev.url.as_str(),
    ];
    let dot = reconcile(
        project.path(),
        &[&["plan", "--format", "dot"][..], &url].concat(),
        &[],
    );
    assert_exit(&dot, 2);
    insta::assert_snapshot!("plan_dot", text(&dot.stdout));
    let markdown = reconcile(
        project.path(),
        &[&["plan", "--out", "plan.md"][..], &url].concat(),
        &[],
    );
    assert_exit(&markdown, 2);
    let written = std::fs::read_to_string(project.path().join("plan.md")).expect("plan.md");
    let graph = written
        .split("```mermaid\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a mermaid block");
    insta::assert_snapshot!("plan_mermaid", graph);
}

/// Every error the official SARIF 2.1.0 schema finds in `log`.
fn sarif_errors(log: &serde_json::Value) -> Vec<String> {
    // The official schema, but for one pattern: run.language's has a stray `]` that
    // ECMA-262 reads as a literal and Rust's regex refuses; escaped, it means the same.
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sarif-schema-2.1.0.json"),
    )
    .expect("the SARIF schema")
    .replace(
        r#""^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$""#,
        r#""^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}\\]?$""#,
    );
    let schema: serde_json::Value = serde_json::from_str(&text).expect("the SARIF schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("a valid schema");
    validator
        .iter_errors(log)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

fn rule_ids(log: &serde_json::Value) -> Vec<String> {
    log["runs"][0]["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["ruleId"].as_str().expect("a rule id").to_owned())
        .collect()
}

#[test]
fn sarif_of_lint_and_verify_is_valid_sarif_2_1_0() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    std::fs::create_dir(dir.path().join("migrations")).expect("migrations/");
    std::fs::write(
        dir.path().join("migrations/001_drop.sql"),
        "-- a risky one\nDROP TABLE users;\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("migrations/002_broken.sql"),
        "CREATE TABLE (;\n",
    )
    .expect("write");
    let lint = reconcile(dir.path(), &["lint", "--format", "sarif"], &[]);
    assert_exit(&lint, 1);
    insta::assert_snapshot!("lint_sarif", text(&lint.stdout));
    let log: serde_json::Value = serde_json::from_slice(&lint.stdout).expect("JSON");
    assert_eq!(sarif_errors(&log), Vec::<String>::new());
    let ids = rule_ids(&log);
    assert!(ids.contains(&"syntax-error".to_owned()), "{ids:?}");
    assert!(ids.iter().any(|id| id.starts_with('D')), "{ids:?}");
    // The validator is not a rubber stamp: a result without a message is refused.
    let mut broken = log.clone();
    broken["runs"][0]["results"][0]
        .as_object_mut()
        .expect("a result")
        .remove("message");
    assert!(!sarif_errors(&broken).is_empty());

    let project = tempfile::tempdir().expect("a temporary folder");
    copy_dir(&example(), project.path());
    let db = common::fresh_db();
    let dev = common::fresh_db();
    let url = [
        "--database-url",
        db.url.as_str(),
        "--dev-url",
        dev.url.as_str(),
    ];
    assert_exit(
        &reconcile(project.path(), &[&["apply"][..], &url].concat(), &[]),
        0,
    );
    db.psql("ALTER TABLE authors ADD COLUMN nickname text; CREATE TABLE leftover (id int);")
        .expect("drift");
    let verify = reconcile(
        project.path(),
        &[&["verify", "--format", "sarif"][..], &url].concat(),
        &[],
    );
    assert_exit(&verify, 3);
    let log: serde_json::Value = serde_json::from_slice(&verify.stdout).expect("JSON");
    assert_eq!(sarif_errors(&log), Vec::<String>::new());
    let results = log["runs"][0]["results"].as_array().expect("results");
    let at = |object: &str| {
        results
            .iter()
            .find(|r| {
                r["message"]["text"]
                    .as_str()
                    .expect("text")
                    .contains(object)
            })
            .map(|r| &r["locations"][0]["physicalLocation"])
            .unwrap_or_else(|| panic!("no result about {object}: {log:#}"))
            .clone()
    };
    // An extra column sits on its table's declaration; an undeclared table on the first file.
    let column = at("public.authors.nickname");
    assert_eq!(column["artifactLocation"]["uri"], "schema/app.yaml");
    // Line 4: the `authors:` key, under the modeline and the file's comment.
    assert_eq!(column["region"]["startLine"], 4);
    let table = at("table public.leftover");
    assert_eq!(table["artifactLocation"]["uri"], "schema/app.yaml");
    assert_eq!(table["region"]["startLine"], 1);
}
