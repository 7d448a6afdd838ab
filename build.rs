//! Puts the git commit into `--version` (`0.1.0 (abc1234)`), so a CI log says exactly which
//! build ran; "unknown" outside a git checkout (a packaged source tree).

use std::process::Command;

fn main() {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    let commit = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=RECONCILE_GIT_COMMIT={commit}");
    // Rebuild when HEAD moves (a commit, a checkout); paths as git resolves them, which also
    // works in worktrees.
    for path in ["HEAD", "logs/HEAD"] {
        if let Some(p) = git(&["rev-parse", "--git-path", path]) {
            println!("cargo:rerun-if-changed={p}");
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}
