//! A private, throwaway PostgreSQL cluster.
//!
//! # Why this exists
//!
//! * When the user gives no database URL, the product plans against an
//!   *empty* database: it starts a throwaway PostgreSQL, applies the desired
//!   schema there and diffs it, so that everything is interpreted by a real
//!   server instead of by guesswork.
//! * Canonicalisation ("shadow") databases need a real server too: SQL text is
//!   loaded into a scratch database and read back from the catalogs.
//! * Integration tests get one cluster per test process (see
//!   `tests/common/mod.rs`) and create one database per test inside it.
//!
//! # What it does
//!
//! [`Cluster::start`] runs `initdb` into a fresh temporary directory and
//! starts `postgres` on a random free TCP port on `127.0.0.1` (trust
//! authentication, superuser `postgres`, no password; unix socket inside the
//! temporary directory). Durability is switched off (`fsync=off`, ...)
//! because the data is thrown away.
//!
//! When running as root (`initdb` refuses to run as root), the server
//! programs are run as the `postgres` OS user through `runuser`.
//!
//! # Cleanup
//!
//! The server is stopped and the directory removed when the [`Cluster`] is
//! dropped (or [`Cluster::stop`] is called). Destructors do not always run,
//! though: tests keep the cluster in a `static`, and processes die from
//! Ctrl-C, panics with `panic = "abort"` or `kill -9`. For those cases each
//! cluster has a *reaper*: a tiny `sh` child process, in its own process
//! group and ignoring terminal signals, whose stdin is a pipe whose only
//! writer is the owning process. When the owning process dies, for whatever
//! reason, the kernel closes the pipe; the reaper reads end-of-file and runs
//! `pg_ctl stop -m immediate` and `rm -rf` on the directory. A normal drop does
//! the cleanup itself, then tells the reaper it is done and waits for it.
//!
//! # Binaries
//!
//! The server binaries are looked up, in order: `$RECONCILE_PG_BINDIR`,
//! `pg_config --bindir`, the highest `/usr/lib/postgresql/*/bin`, and `initdb`
//! on `PATH` (see [`find_bindir`]).

pub mod warm;

use std::ffi::{CString, OsStr};
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Output, Stdio};
use std::time::Duration;

/// Environment variable naming the directory holding `initdb`, `pg_ctl` and
/// `postgres`; it takes precedence over every other way of finding them.
pub const BINDIR_ENV: &str = "RECONCILE_PG_BINDIR";

/// Database superuser created by `initdb` (and used in [`Cluster::url`]).
const SUPERUSER: &str = "postgres";
/// OS user the server runs as when we are root.
const OS_USER: &str = "postgres";
/// How many ports to try when the chosen port is taken by someone else
/// between picking it and the server binding it.
const START_ATTEMPTS: usize = 5;
/// `pg_ctl -t`: upper bound, in seconds, for starting or stopping the server.
const PG_CTL_TIMEOUT_SECS: &str = "60";
/// Lines of the server log quoted in errors.
const LOG_TAIL_LINES: usize = 30;
/// Unix socket paths are limited to ~107 bytes; longer directories get TCP only.
const MAX_SOCKET_DIR_LEN: usize = 90;
/// Environment variables that could redirect `pg_ctl`/`initdb` elsewhere.
const SCRUBBED_ENV: &[&str] = &[
    "PGDATA",
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGUSER",
    "PGDATABASE",
    "PGOPTIONS",
    "PGSERVICE",
];

/// Settings appended to `postgresql.conf` (then [`NO_DURABILITY`]).
const SETTINGS: &str = "\
# added by reconcile (throwaway cluster)
listen_addresses = '127.0.0.1'
max_connections = 200
";

/// Durability off, for servers whose data nobody keeps: a crash may corrupt them, and a
/// throwaway cluster is deleted anyway (the warm scratch server is rebuilt).
const NO_DURABILITY: &str = "\
fsync = off
synchronous_commit = off
full_page_writes = off
logging_collector = off
";

/// The reaper script. Positional parameters: `$1` runuser path (empty when
/// not running as root), `$2` OS user, `$3` pg_ctl, `$4` data directory,
/// `$5` directory to remove.
///
/// It ignores the signals a terminal or a process supervisor sends alongside
/// the owner's death, waits for end-of-file on stdin (the owner is gone) or
/// for the line `done` (the owner cleaned up itself), then stops the server
/// and removes the directory.
const REAPER_SCRIPT: &str = r#"trap '' HUP INT QUIT TERM PIPE
line=
IFS= read -r line
[ "$line" = done ] && exit 0
if [ -e "$4/postmaster.pid" ]; then
  if [ -n "$1" ]; then
    "$1" -u "$2" -- "$3" stop -D "$4" -m immediate -w -t 60
  else
    "$3" stop -D "$4" -m immediate -w -t 60
  fi
fi >/dev/null 2>&1
[ -n "$5" ] && rm -rf -- "$5"
exit 0
"#;

/// Errors from finding the PostgreSQL binaries or starting a cluster.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ThrowawayError {
    /// No usable `initdb`/`pg_ctl`/`postgres` anywhere.
    #[error(
        "could not find the PostgreSQL server binaries (initdb, pg_ctl, postgres); looked in: \
         {searched}. Install postgresql (apt-get install -y postgresql) or set \
         {BINDIR_ENV} to the directory containing initdb"
    )]
    BinariesNotFound {
        /// Human-readable list of the places that were tried.
        searched: String,
    },

    /// `$RECONCILE_PG_BINDIR` is set but does not hold the binaries.
    #[error(
        "{BINDIR_ENV}={} does not contain initdb, pg_ctl and postgres",
        dir.display()
    )]
    BadBindirEnv {
        /// The value of the variable.
        dir: PathBuf,
    },

    /// Running as root, but there is no `postgres` OS user to run the server as.
    #[error(
        "running as root, and initdb refuses to run as root, but there is no `{OS_USER}` OS user \
         to run PostgreSQL as; install postgresql (apt-get install -y postgresql) or create the \
         user (useradd --system {OS_USER})"
    )]
    NoPostgresUser,

    /// Running as root, but `runuser` (util-linux) is not installed.
    #[error(
        "running as root, so PostgreSQL must be run as the `{OS_USER}` OS user, but `runuser` \
         was not found; install util-linux"
    )]
    NoRunuser,

    /// An I/O operation failed.
    #[error("{action}: {source}")]
    Io {
        /// What we were doing.
        action: String,
        /// The underlying error.
        source: io::Error,
    },

    /// `initdb` exited unsuccessfully.
    #[error("initdb failed ({status}):\n{output}{hint}")]
    Initdb {
        /// Exit status of initdb.
        status: ExitStatus,
        /// Its stderr and stdout.
        output: String,
        /// Extra hint (may be empty).
        hint: String,
    },

    /// The server did not start or does not accept connections.
    #[error(
        "PostgreSQL server did not start: {reason}\n--- server log (last lines) ---\n{log_tail}"
    )]
    ServerStart {
        /// What went wrong.
        reason: String,
        /// The end of the server log.
        log_tail: String,
    },
}

impl ThrowawayError {
    fn io(action: impl Into<String>, source: io::Error) -> Self {
        ThrowawayError::Io {
            action: action.into(),
            source,
        }
    }
}

/// A running throwaway PostgreSQL cluster, stopped and deleted on drop.
///
/// Dropping it blocks briefly (`pg_ctl stop -m immediate` plus removing the
/// directory, typically well under a second).
///
/// It is `Send + Sync`, so it can live in a `static OnceLock<Cluster>`; the
/// reaper cleans up at process exit even though statics are never dropped.
#[derive(Debug)]
pub struct Cluster {
    port: u16,
    bindir: PathBuf,
    /// Private temporary directory: `data/`, `server.log`, unix socket.
    dir: PathBuf,
    data_dir: PathBuf,
    /// `Some` when we are root and the server programs run through runuser.
    runuser: Option<PathBuf>,
    reaper: Option<Reaper>,
    cleaned_up: bool,
}

#[derive(Debug)]
struct Reaper {
    child: Child,
    /// The only writer of the reaper's stdin; closing it (by dropping it, or
    /// by our process dying) wakes the reaper.
    stdin: Option<ChildStdin>,
}

impl Cluster {
    /// Creates and starts a new cluster.
    ///
    /// This **blocks** for about one to two seconds (mostly `initdb`). It is
    /// synchronous so that plain tests can call it; async code should call it
    /// through `tokio::task::spawn_blocking(Cluster::start)`.
    pub fn start() -> Result<Cluster, ThrowawayError> {
        let bindir = find_bindir()?;
        let run_as = if is_root() {
            Some(root_run_as()?)
        } else {
            None
        };

        let dir = tempfile::Builder::new()
            .prefix("reconcile-pg-")
            .tempdir()
            .map_err(|e| ThrowawayError::io("creating a temporary directory", e))?
            .keep();
        // From here on, `cluster` owns the directory: any early return drops
        // it, which stops whatever was started and removes the directory.
        let mut cluster = Cluster {
            port: 0,
            data_dir: dir.join("data"),
            bindir,
            dir,
            runuser: run_as.as_ref().map(|r| r.runuser.clone()),
            reaper: None,
            cleaned_up: false,
        };
        if let Some(run_as) = &run_as {
            std::os::unix::fs::chown(&cluster.dir, Some(run_as.uid), Some(run_as.gid)).map_err(
                |e| {
                    ThrowawayError::io(
                        format!("giving {} to the {OS_USER} OS user", cluster.dir.display()),
                        e,
                    )
                },
            )?;
        }
        cluster.reaper = Some(cluster.spawn_reaper()?);
        cluster.initdb()?;
        cluster.configure()?;
        cluster.start_server()?;
        tracing::debug!(
            port = cluster.port,
            dir = %cluster.dir.display(),
            "throwaway PostgreSQL cluster started"
        );
        Ok(cluster)
    }

    /// Connection URL for `database` on this cluster:
    /// `postgres://postgres@127.0.0.1:PORT/DATABASE` (trust auth, no password).
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{SUPERUSER}@127.0.0.1:{}/{}",
            self.port,
            percent_encode(database)
        )
    }

    /// TCP port the server listens on (on 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Directory of the PostgreSQL binaries in use (also has `psql`, if the
    /// client is installed).
    pub fn bindir(&self) -> &Path {
        &self.bindir
    }

    /// The cluster's private temporary directory (holding the data directory
    /// `data/`, the server log `server.log` and the unix socket). It is
    /// removed when the cluster stops.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The data directory (`PGDATA`), inside [`Cluster::dir`].
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Stops the server and removes its directory (same as dropping it).
    /// Blocks until done; problems are logged, not returned.
    pub fn stop(mut self) {
        self.cleanup();
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("server.log")
    }

    /// A command running `program` from our bindir, as the postgres OS user
    /// when we are root.
    fn pg_command(&self, program: &str) -> Command {
        pg_command(&self.bindir, self.runuser.as_deref(), &self.dir, program)
    }

    fn spawn_reaper(&self) -> Result<Reaper, ThrowawayError> {
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c")
            .arg(REAPER_SCRIPT)
            .arg("reconcile-pg-reaper")
            .arg(self.runuser.as_deref().unwrap_or(Path::new("")))
            .arg(OS_USER)
            .arg(self.bindir.join("pg_ctl"))
            .arg(&self.data_dir)
            .arg(&self.dir)
            .stdin(Stdio::piped())
            // Never hold the owner's stdout/stderr open (someone may be
            // waiting for end-of-file on them).
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .current_dir("/")
            // Own process group: Ctrl-C (SIGINT to the foreground process
            // group) and process-group kills do not reach the reaper.
            .process_group(0);
        let mut child = cmd
            .spawn()
            .map_err(|e| ThrowawayError::io("spawning the cleanup process (/bin/sh)", e))?;
        let stdin = child.stdin.take();
        Ok(Reaper { child, stdin })
    }

    fn initdb(&self) -> Result<(), ThrowawayError> {
        let mut cmd = self.pg_command("initdb");
        initdb_args(&mut cmd, &self.data_dir);
        let output = run(&mut cmd, "initdb")?;
        if output.status.success() {
            return Ok(());
        }
        let hint = if self.runuser.is_some() {
            format!(
                "\n(hint: initdb runs as the {OS_USER} OS user, which must be able to reach {}; \
                 set TMPDIR to a directory it can access)",
                self.dir.display()
            )
        } else {
            String::new()
        };
        Err(ThrowawayError::Initdb {
            status: output.status,
            output: combined_output(&output),
            hint,
        })
    }

    fn configure(&self) -> Result<(), ThrowawayError> {
        let mut settings = format!("{SETTINGS}{NO_DURABILITY}");
        let socket_dir = self.dir.to_string_lossy();
        if socket_dir.len() <= MAX_SOCKET_DIR_LEN && !socket_dir.contains(['"', '\'', '\n']) {
            settings.push_str(&format!("unix_socket_directories = '\"{socket_dir}\"'\n"));
        } else {
            // Too long for a unix socket path (or unquotable): TCP only.
            settings.push_str("unix_socket_directories = ''\n");
        }
        let conf = self.data_dir.join("postgresql.conf");
        OpenOptions::new()
            .append(true)
            .open(&conf)
            .and_then(|mut f| f.write_all(settings.as_bytes()))
            .map_err(|e| ThrowawayError::io(format!("writing {}", conf.display()), e))
    }

    fn start_server(&mut self) -> Result<(), ThrowawayError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let port = pick_free_port()
                .map_err(|e| ThrowawayError::io("finding a free TCP port on 127.0.0.1", e))?;
            let mut cmd = self.pg_command("pg_ctl");
            cmd.arg("start")
                .args(["-w", "-t", PG_CTL_TIMEOUT_SECS, "-D"])
                .arg(&self.data_dir)
                .arg("-l")
                .arg(self.log_path())
                .arg("-o")
                .arg(format!("-p {port}"));
            let output = run(&mut cmd, "pg_ctl")?;
            if output.status.success() {
                self.port = port;
                break;
            }
            // It may still be starting (pg_ctl timed out): make sure it is not.
            self.stop_server();
            let log = self.log_tail();
            if log.contains("already in use") && attempt < START_ATTEMPTS {
                tracing::debug!(port, "port taken; retrying with another one");
                continue;
            }
            return Err(ThrowawayError::ServerStart {
                reason: format!(
                    "pg_ctl start failed ({}): {}",
                    output.status,
                    combined_output(&output).trim()
                ),
                log_tail: log,
            });
        }
        // pg_ctl -w returned once the server said it is ready; double-check
        // that the TCP socket is there.
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        if let Err(e) = TcpStream::connect_timeout(&addr, Duration::from_secs(10)) {
            return Err(ThrowawayError::ServerStart {
                reason: format!(
                    "server started but does not accept TCP connections on {addr}: {e}"
                ),
                log_tail: self.log_tail(),
            });
        }
        Ok(())
    }

    /// `pg_ctl stop -m immediate`, if a server may be running. Returns
    /// whether the server is (now) stopped.
    fn stop_server(&self) -> bool {
        if !self.data_dir.join("postmaster.pid").exists() {
            return true;
        }
        let mut cmd = self.pg_command("pg_ctl");
        cmd.args([
            "stop",
            "-m",
            "immediate",
            "-w",
            "-t",
            PG_CTL_TIMEOUT_SECS,
            "-D",
        ])
        .arg(&self.data_dir);
        match run(&mut cmd, "pg_ctl") {
            Ok(output) if output.status.success() => true,
            Ok(output) => {
                let stopped = !self.data_dir.join("postmaster.pid").exists();
                if !stopped {
                    tracing::warn!(
                        dir = %self.dir.display(),
                        "pg_ctl stop failed: {}",
                        combined_output(&output).trim()
                    );
                }
                stopped
            }
            Err(e) => {
                tracing::warn!(dir = %self.dir.display(), "could not stop throwaway PostgreSQL: {e}");
                false
            }
        }
    }

    fn log_tail(&self) -> String {
        match fs::read(self.log_path()) {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                let lines: Vec<&str> = text.lines().collect();
                let start = lines.len().saturating_sub(LOG_TAIL_LINES);
                lines[start..].join("\n")
            }
            Err(e) => format!("(could not read {}: {e})", self.log_path().display()),
        }
    }

    /// Stops the server, removes the directory and dismisses the reaper.
    /// Idempotent.
    fn cleanup(&mut self) {
        if self.cleaned_up {
            return;
        }
        self.cleaned_up = true;
        let stopped = self.stop_server();
        let removed = stopped
            && match fs::remove_dir_all(&self.dir) {
                Ok(()) => true,
                Err(e) if e.kind() == io::ErrorKind::NotFound => true,
                Err(e) => {
                    tracing::warn!(dir = %self.dir.display(), "could not remove directory: {e}");
                    false
                }
            };
        if let Some(mut reaper) = self.reaper.take() {
            if removed && let Some(stdin) = reaper.stdin.as_mut() {
                // Nothing left to do for the reaper. If this write fails,
                // the reaper just does a (harmless) second cleanup.
                let _ = stdin.write_all(b"done\n");
            }
            // Closing the pipe wakes the reaper up.
            drop(reaper.stdin.take());
            if let Err(e) = reaper.child.wait() {
                tracing::warn!("could not wait for the throwaway PostgreSQL reaper: {e}");
            }
        }
        tracing::debug!(dir = %self.dir.display(), "throwaway PostgreSQL cluster stopped");
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.cleanup();
    }
}

/// A command running `program` from `bindir` in `cwd` (a directory the postgres OS user can
/// enter, whatever our own working directory is), through `runuser` when we are root.
fn pg_command(bindir: &Path, runuser: Option<&Path>, cwd: &Path, program: &str) -> Command {
    let program = bindir.join(program);
    let mut cmd = match runuser {
        Some(runuser) => {
            let mut cmd = Command::new(runuser);
            cmd.args(["-u", OS_USER, "--"]).arg(program);
            cmd
        }
        None => Command::new(program),
    };
    cmd.current_dir(cwd).stdin(Stdio::null());
    for var in SCRUBBED_ENV {
        cmd.env_remove(var);
    }
    cmd
}

/// `initdb`'s arguments: superuser [`SUPERUSER`] with trust authentication, UTF-8, the C
/// locale (the same sort order and canonical forms whatever the machine's locale).
fn initdb_args(cmd: &mut Command, data_dir: &Path) {
    cmd.arg("-D")
        .arg(data_dir)
        .args([
            "-U",
            SUPERUSER,
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ])
        .env("LC_ALL", "C");
}

/// Finds the directory holding `initdb`, `pg_ctl` and `postgres`:
/// `$RECONCILE_PG_BINDIR` if set, else `pg_config --bindir`, else the highest
/// `/usr/lib/postgresql/*/bin`, else the directory of `initdb` on `PATH`.
pub fn find_bindir() -> Result<PathBuf, ThrowawayError> {
    if let Some(dir) = std::env::var_os(BINDIR_ENV).filter(|v| !v.is_empty()) {
        let dir = PathBuf::from(dir);
        return if has_server_binaries(&dir) {
            Ok(dir)
        } else {
            Err(ThrowawayError::BadBindirEnv { dir })
        };
    }
    let mut searched = vec![format!("${BINDIR_ENV} (unset)")];

    if let Some(dir) = pg_config_bindir() {
        if has_server_binaries(&dir) {
            return Ok(dir);
        }
        searched.push(format!("pg_config --bindir ({})", dir.display()));
    } else {
        searched.push("pg_config --bindir (no pg_config)".to_string());
    }

    if let Some(dir) = highest_debian_bindir() {
        return Ok(dir);
    }
    searched.push("/usr/lib/postgresql/*/bin".to_string());

    if let Some(initdb) = find_on_path("initdb") {
        let real = fs::canonicalize(&initdb).unwrap_or(initdb);
        if let Some(dir) = real.parent()
            && has_server_binaries(dir)
        {
            return Ok(dir.to_path_buf());
        }
    }
    searched.push("initdb on PATH".to_string());

    Err(ThrowawayError::BinariesNotFound {
        searched: searched.join(", "),
    })
}

fn has_server_binaries(dir: &Path) -> bool {
    ["initdb", "pg_ctl", "postgres"]
        .iter()
        .all(|name| is_executable(&dir.join(name)))
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn pg_config_bindir() -> Option<PathBuf> {
    let pg_config = find_on_path("pg_config")?;
    let output = Command::new(pg_config)
        .arg("--bindir")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    let dir = text.trim();
    (!dir.is_empty()).then(|| PathBuf::from(dir))
}

/// Highest `/usr/lib/postgresql/<version>/bin` with the server binaries.
fn highest_debian_bindir() -> Option<PathBuf> {
    let entries = fs::read_dir("/usr/lib/postgresql").ok()?;
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let version: Vec<u32> = name
                .split('.')
                .map(str::parse)
                .collect::<Result<_, _>>()
                .ok()?;
            let bin = entry.path().join("bin");
            has_server_binaries(&bin).then_some((version, bin))
        })
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, bin)| bin)
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

struct RunAs {
    runuser: PathBuf,
    uid: u32,
    gid: u32,
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn root_run_as() -> Result<RunAs, ThrowawayError> {
    let (uid, gid) = lookup_user(OS_USER)
        .map_err(|e| ThrowawayError::io(format!("looking up the {OS_USER} OS user"), e))?
        .ok_or(ThrowawayError::NoPostgresUser)?;
    let runuser = find_on_path("runuser")
        .or_else(|| {
            ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"]
                .iter()
                .map(PathBuf::from)
                .find(|p| is_executable(p))
        })
        .ok_or(ThrowawayError::NoRunuser)?;
    Ok(RunAs { runuser, uid, gid })
}

/// `(uid, gid)` of an OS user, `None` if there is no such user.
fn lookup_user(name: &str) -> io::Result<Option<(u32, u32)>> {
    let cname = CString::new(name).map_err(io::Error::other)?;
    let mut buf: Vec<libc::c_char> = vec![0; 4096];
    loop {
        // SAFETY: all-zero bytes are a valid `passwd` (null pointers, zero ids).
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: every pointer is valid for the duration of the call and
        // `buf.len()` is the real size of `buf`; getpwnam_r is thread-safe.
        let rc = unsafe {
            libc::getpwnam_r(
                cname.as_ptr(),
                &mut pwd,
                buf.as_mut_ptr(),
                buf.len(),
                &mut result,
            )
        };
        if rc == libc::ERANGE && buf.len() < (1 << 20) {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        if result.is_null() {
            return Ok(None);
        }
        return Ok(Some((pwd.pw_uid, pwd.pw_gid)));
    }
}

/// A port that was free a moment ago (the kernel's choice for port 0).
fn pick_free_port() -> io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

fn run(cmd: &mut Command, what: &str) -> Result<Output, ThrowawayError> {
    cmd.output().map_err(|e| {
        let program: &OsStr = cmd.get_program();
        ThrowawayError::io(format!("running {what} ({})", program.to_string_lossy()), e)
    })
}

fn combined_output(output: &Output) -> String {
    let mut text = String::from_utf8_lossy(&output.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !stdout.trim().is_empty() {
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&stdout);
    }
    text
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for byte in s.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_encoding_keeps_plain_names() {
        assert_eq!(percent_encode("t_1_ab"), "t_1_ab");
        assert_eq!(percent_encode("a b/ü"), "a%20b%2F%C3%BC");
    }

    #[test]
    fn finds_binaries() {
        let dir = find_bindir().unwrap();
        assert!(has_server_binaries(&dir), "{}", dir.display());
    }

    #[test]
    fn postgres_user_lookup() {
        assert_eq!(lookup_user("no-such-user-hopefully").unwrap(), None);
        assert_eq!(lookup_user("root").unwrap(), Some((0, 0)));
    }
}
