//! A scratch PostgreSQL kept warm between runs, stopped after it has been idle.
//!
//! # Why this exists
//!
//! Every `plan` that has something to canonicalise needs an empty scratch server. Starting a
//! private cluster per run ([`super::Cluster`]) costs `initdb` plus a start — about 1.2 s, more
//! than reading a 1,000-table catalog. What users run is that default path (no `--dev-url`),
//! so it has to be cheap: the data directory is kept in the user's cache directory (the
//! `initdb` is paid once), and the server is left running after a run and reused by the next
//! one, until nobody has used it for [`IDLE_ENV`] seconds (default [`DEFAULT_IDLE`]).
//!
//! # How it stays safe
//!
//! * **Concurrent runs** share the server, never a database: each run takes a database of its
//!   own from a small pool (`reconcile_scratch_N`, guarded by a session advisory lock; see the
//!   CLI's `connect.rs`). Starting is serialised by an exclusive `flock` on `pgNN.lock`.
//! * **Idle stop**: every run holds a shared `flock` on `pgNN.use` while it uses the server, and
//!   writes the time into `pgNN.stamp` when it starts and ends. A small `sh` watchdog, started
//!   with the server, polls; once the stamp is older than the idle time it takes `pgNN.use`
//!   exclusively without waiting (so no run is using the server) and stops the server. A run
//!   that arrives meanwhile waits for that lock, finds the server stopped, and starts it again.
//! * **`kill -9`** of a run releases its locks (the kernel closes its files) and its
//!   connections (the server rolls back their transactions and drops their advisory locks).
//!   The watchdog holds an exclusive lock on `pgNN.watch` for as long as it lives — through its
//!   stdin, which is that file — so a run that finds the lock free knows no watchdog is left
//!   and starts one. A server whose start fails (say, a data directory damaged by a crash:
//!   durability is off) is rebuilt from scratch once.
//! * **Nobody else can connect**: the server listens on a unix socket only, in a directory
//!   only its OS user can enter (trust authentication would otherwise let any local user in
//!   as superuser).
//!
//! Set [`IDLE_ENV`] to `0` to start a private cluster per run instead (the old behaviour).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{
    OS_USER, PG_CTL_TIMEOUT_SECS, RunAs, SUPERUSER, ThrowawayError, combined_output, find_bindir,
    find_on_path, has_server_binaries, is_root, root_run_as, run,
};

/// Seconds a warm scratch server may stay unused before it is stopped; `0` turns the warm
/// server off (a private cluster per run).
pub const IDLE_ENV: &str = "RECONCILE_SCRATCH_IDLE";
/// Where the warm servers live (default: the user's cache directory, `~/.cache/reconcile`).
pub const DIR_ENV: &str = "RECONCILE_SCRATCH_DIR";
/// Default idle time before the warm server is stopped.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(300);
/// The socket's port number: only a name here (`.s.PGSQL.5432`), the server has no TCP.
const PORT: u16 = 5432;
/// Unix socket paths are limited to ~107 bytes.
const MAX_SOCKET_PATH_LEN: usize = 100;

/// Settings appended to the warm server's `postgresql.conf` (then durability off: only
/// rolled-back transactions ever run there, and a data directory damaged by a crash is
/// rebuilt).
const SETTINGS: &str = "\
# added by reconcile (warm scratch server)
listen_addresses = ''
unix_socket_permissions = 0700
max_connections = 100
";

/// The watchdog. Positional parameters: `$1` flock, `$2` use-lock file, `$3` stamp file,
/// `$4` idle seconds, `$5` poll seconds, `$6` runuser (empty when not root), `$7` OS user,
/// `$8` pg_ctl, `$9` data directory. Its stdin is the locked `pgNN.watch` file.
const WATCHDOG_SCRIPT: &str = r#"trap '' HUP INT QUIT TERM PIPE
exec 9<>"$2"
while :; do
  sleep "$5"
  [ -e "$9/postmaster.pid" ] || exit 0
  now=$(date +%s)
  last=$(cat "$3" 2>/dev/null)
  case "$last" in ''|*[!0-9]*) last=0 ;; esac
  [ $((now - last)) -lt "$4" ] && continue
  if "$1" -n -x 9; then
    if [ -n "$6" ]; then
      "$6" -u "$7" -- "$8" stop -D "$9" -m fast -w -t 60
    else
      "$8" stop -D "$9" -m fast -w -t 60
    fi >/dev/null 2>&1
    exit 0
  fi
done
"#;

/// The idle time from [`IDLE_ENV`]: `None` when the warm server is turned off.
pub fn idle_time() -> Option<Duration> {
    match std::env::var(IDLE_ENV) {
        Ok(text) if !text.trim().is_empty() => match text.trim().parse::<u64>() {
            Ok(0) => None,
            Ok(seconds) => Some(Duration::from_secs(seconds)),
            Err(_) => {
                tracing::warn!("{IDLE_ENV}={text} is not a number of seconds; using the default");
                Some(DEFAULT_IDLE)
            }
        },
        _ => Some(DEFAULT_IDLE),
    }
}

/// A run's use of the warm server: while it lives, the server is not stopped. Dropping it
/// records the time of last use.
#[derive(Debug)]
pub struct Lease {
    socket_dir: PathBuf,
    major: u32,
    bindir: PathBuf,
    stamp: PathBuf,
    started: bool,
    /// Shared lock on `pgNN.use`, held until drop.
    _in_use: File,
}

impl Lease {
    /// The directory of the server's unix socket (a host for libpq and sqlx).
    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    /// The socket's port number (part of its file name).
    pub fn port(&self) -> u16 {
        PORT
    }

    /// The database superuser (trust authentication over the socket).
    pub fn user(&self) -> &'static str {
        SUPERUSER
    }

    /// The server's major version.
    pub fn major(&self) -> u32 {
        self.major
    }

    /// Directory of the server binaries in use.
    pub fn bindir(&self) -> &Path {
        &self.bindir
    }

    /// Whether this run started the server (it was not running).
    pub fn started(&self) -> bool {
        self.started
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        stamp(&self.stamp);
    }
}

/// Leases the warm scratch server for `major` (a matching installed version is preferred;
/// see [`bindir_for`]), starting it if it is not running. Blocks: call it through
/// `spawn_blocking` from async code.
pub fn lease(prefer_major: Option<u32>, idle: Duration) -> Result<Lease, ThrowawayError> {
    let (bindir, major) = bindir_for(prefer_major)?;
    let flock = find_on_path("flock").ok_or_else(|| {
        ThrowawayError::io(
            "finding flock (util-linux), which stops the warm scratch server when idle",
            io::Error::from(io::ErrorKind::NotFound),
        )
    })?;
    let run_as = if is_root() {
        Some(root_run_as()?)
    } else {
        None
    };
    let home = home(run_as.is_some())?;
    let name = format!("pg{major}");
    let dir = home.join(&name);
    let socket = dir.join(format!(".s.PGSQL.{PORT}"));
    if socket.as_os_str().len() > MAX_SOCKET_PATH_LEN {
        return Err(ThrowawayError::io(
            format!("using {} for the warm scratch server", dir.display()),
            io::Error::other("the path is too long for a unix socket"),
        ));
    }
    let starting = lock_file(&home.join(format!("{name}.lock")))?;
    starting
        .lock()
        .map_err(|e| ThrowawayError::io("waiting for the warm scratch server's start lock", e))?;
    let in_use = lock_file(&home.join(format!("{name}.use")))?;
    in_use
        .lock_shared()
        .map_err(|e| ThrowawayError::io("taking the warm scratch server's use lock", e))?;
    let stamp_path = home.join(format!("{name}.stamp"));
    stamp(&stamp_path);
    let server = Server {
        bindir: bindir.clone(),
        runuser: run_as.as_ref().map(|r| r.runuser.clone()),
        dir: dir.clone(),
    };
    let started = if UnixStream::connect(&socket).is_ok() {
        false
    } else {
        server.start(run_as.as_ref())?;
        true
    };
    let watch = lock_file(&home.join(format!("{name}.watch")))?;
    if watch.try_lock().is_ok() {
        // No watchdog holds it: start one, handing it the locked file as its stdin.
        let poll = (idle / 4).clamp(Duration::from_secs(1), Duration::from_secs(15));
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c")
            .arg(WATCHDOG_SCRIPT)
            .arg("reconcile-scratch-watchdog")
            .arg(&flock)
            .arg(home.join(format!("{name}.use")))
            .arg(&stamp_path)
            .arg(idle.as_secs().max(1).to_string())
            .arg(poll.as_secs().to_string())
            .arg(server.runuser.as_deref().unwrap_or(Path::new("")))
            .arg(OS_USER)
            .arg(bindir.join("pg_ctl"))
            .arg(dir.join("data"))
            .stdin(Stdio::from(watch))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .current_dir("/")
            .process_group(0);
        let mut child = cmd.spawn().map_err(|e| {
            ThrowawayError::io("starting the warm scratch server's watchdog (/bin/sh)", e)
        })?;
        // Never waited for: it outlives this process (init reaps it). Reap it if it ends
        // first, so no zombie is left behind.
        std::thread::spawn(move || child.wait());
    }
    drop(starting);
    tracing::debug!(
        dir = %dir.display(),
        started,
        "leased the warm scratch PostgreSQL {major}"
    );
    Ok(Lease {
        socket_dir: dir,
        major,
        bindir,
        stamp: stamp_path,
        started,
        _in_use: in_use,
    })
}

/// The server binaries to use and their major version: `$RECONCILE_PG_BINDIR` if set; else,
/// when `prefer_major` is installed as `/usr/lib/postgresql/<major>/bin`, that one (canonical
/// forms can differ between major versions); else [`find_bindir`]'s choice.
pub fn bindir_for(prefer_major: Option<u32>) -> Result<(PathBuf, u32), ThrowawayError> {
    if std::env::var_os(super::BINDIR_ENV).is_none_or(|v| v.is_empty())
        && let Some(major) = prefer_major
    {
        let dir = PathBuf::from(format!("/usr/lib/postgresql/{major}/bin"));
        if has_server_binaries(&dir) {
            return Ok((dir, major));
        }
    }
    let dir = find_bindir()?;
    let major = major_of(&dir)?;
    Ok((dir, major))
}

/// The major version of the server binaries in `bindir` (`pg_ctl --version`).
pub fn major_of(bindir: &Path) -> Result<u32, ThrowawayError> {
    let output = run(
        Command::new(bindir.join("pg_ctl"))
            .arg("--version")
            .stdin(Stdio::null()),
        "pg_ctl --version",
    )?;
    let text = String::from_utf8_lossy(&output.stdout);
    // "pg_ctl (PostgreSQL) 15.8 (Debian 15.8-1)"
    text.split_whitespace()
        .nth(2)
        .and_then(|v| v.split(['.', 'b', 'r']).next())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| {
            ThrowawayError::io(
                format!("reading the version of {}", bindir.display()),
                io::Error::other(format!("unexpected output: {}", text.trim())),
            )
        })
}

/// The directory the warm servers live in, created if missing and checked to be ours.
///
/// As root the server runs as the `postgres` OS user, which must be able to reach its data
/// directory: a cache directory under a home it cannot enter (`/root`, mode 0700) is not
/// usable, and `/var/tmp/reconcile-<uid>` is used instead.
fn home(as_postgres_user: bool) -> Result<PathBuf, ThrowawayError> {
    let home = match std::env::var_os(DIR_ENV).filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => {
            let cache = std::env::var_os("XDG_CACHE_HOME")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .or_else(|| {
                    std::env::var_os("HOME")
                        .filter(|v| !v.is_empty())
                        .map(|h| PathBuf::from(h).join(".cache"))
                })
                .map(|c| c.join("reconcile"));
            match cache {
                Some(dir) if !as_postgres_user || others_can_reach(&dir) => dir,
                _ => {
                    // SAFETY: geteuid has no preconditions and cannot fail.
                    let uid = unsafe { libc::geteuid() };
                    let base = if Path::new("/var/tmp").is_dir() {
                        PathBuf::from("/var/tmp")
                    } else {
                        std::env::temp_dir()
                    };
                    base.join(format!("reconcile-{uid}"))
                }
            }
        }
    };
    let refuse = |why: &str| {
        ThrowawayError::io(
            format!("using {} for the warm scratch server", home.display()),
            io::Error::other(why.to_owned()),
        )
    };
    let created = !home.exists();
    fs::create_dir_all(&home)
        .map_err(|e| ThrowawayError::io(format!("creating {}", home.display()), e))?;
    if created {
        // Only the server's OS user needs to pass through (to its own, private folder).
        let mode = if as_postgres_user { 0o711 } else { 0o700 };
        fs::set_permissions(&home, fs::Permissions::from_mode(mode))
            .map_err(|e| ThrowawayError::io(format!("securing {}", home.display()), e))?;
    }
    let meta = fs::symlink_metadata(&home)
        .map_err(|e| ThrowawayError::io(format!("reading {}", home.display()), e))?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
    if !meta.is_dir() || meta.uid() != uid {
        return Err(refuse("it is not a directory owned by the current user"));
    }
    // A folder others may write in could have its lock files or server folder replaced.
    if meta.permissions().mode() & 0o022 != 0 {
        return Err(refuse("other users can write in it"));
    }
    if as_postgres_user && !others_can_reach(&home) {
        return Err(refuse("the postgres OS user cannot enter it"));
    }
    Ok(home)
}

/// Whether every existing ancestor of `dir` can be entered by other users.
fn others_can_reach(dir: &Path) -> bool {
    dir.ancestors()
        .filter_map(|a| fs::metadata(a).ok())
        .all(|m| m.permissions().mode() & 0o001 != 0)
}

fn lock_file(path: &Path) -> Result<File, ThrowawayError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| ThrowawayError::io(format!("opening {}", path.display()), e))
}

/// Writes the current time (seconds since the epoch) into the stamp file. Best effort: a
/// missing stamp only makes the watchdog stop the server sooner.
fn stamp(path: &Path) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    if let Err(e) = fs::write(path, format!("{now}\n")) {
        tracing::debug!("could not write {}: {e}", path.display());
    }
}

/// The persistent server directory: `data/`, `server.log`, the socket.
struct Server {
    bindir: PathBuf,
    runuser: Option<PathBuf>,
    dir: PathBuf,
}

impl Server {
    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("server.log")
    }

    /// Starts the server, creating the data directory first if there is none; a server that
    /// does not start from an existing directory is rebuilt once.
    fn start(&self, run_as: Option<&RunAs>) -> Result<(), ThrowawayError> {
        let existing = self.data_dir().join("PG_VERSION").is_file();
        if existing {
            match self.pg_ctl_start() {
                Ok(()) => return Ok(()),
                Err(e) => tracing::warn!(
                    "the warm scratch PostgreSQL in {} did not start; rebuilding it: {e}",
                    self.dir.display()
                ),
            }
        }
        self.create(run_as)?;
        self.pg_ctl_start()
    }

    fn create(&self, run_as: Option<&RunAs>) -> Result<(), ThrowawayError> {
        match fs::remove_dir_all(&self.dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(ThrowawayError::io(
                    format!("removing {}", self.dir.display()),
                    e,
                ));
            }
        }
        fs::create_dir(&self.dir)
            .map_err(|e| ThrowawayError::io(format!("creating {}", self.dir.display()), e))?;
        fs::set_permissions(&self.dir, fs::Permissions::from_mode(0o700))
            .map_err(|e| ThrowawayError::io(format!("securing {}", self.dir.display()), e))?;
        if let Some(run_as) = run_as {
            std::os::unix::fs::chown(&self.dir, Some(run_as.uid), Some(run_as.gid)).map_err(
                |e| {
                    ThrowawayError::io(
                        format!("giving {} to the {OS_USER} OS user", self.dir.display()),
                        e,
                    )
                },
            )?;
        }
        let mut cmd = self.command("initdb");
        super::initdb_args(&mut cmd, &self.data_dir());
        let output = run(&mut cmd, "initdb")?;
        if !output.status.success() {
            return Err(ThrowawayError::Initdb {
                status: output.status,
                output: combined_output(&output),
                hint: String::new(),
            });
        }
        let socket_dir = self.dir.to_string_lossy();
        if socket_dir.contains(['"', '\'', '\n']) {
            return Err(ThrowawayError::io(
                format!("using {socket_dir} for a socket"),
                io::Error::other("the path has quotes in it"),
            ));
        }
        let settings = format!(
            "{SETTINGS}{}unix_socket_directories = '\"{socket_dir}\"'\n",
            super::NO_DURABILITY
        );
        let conf = self.data_dir().join("postgresql.conf");
        OpenOptions::new()
            .append(true)
            .open(&conf)
            .and_then(|mut f| f.write_all(settings.as_bytes()))
            .map_err(|e| ThrowawayError::io(format!("writing {}", conf.display()), e))
    }

    fn pg_ctl_start(&self) -> Result<(), ThrowawayError> {
        let mut cmd = self.command("pg_ctl");
        cmd.arg("start")
            .args(["-w", "-t", PG_CTL_TIMEOUT_SECS, "-D"])
            .arg(self.data_dir())
            .arg("-l")
            .arg(self.log_path())
            .arg("-o")
            .arg(format!("-p {PORT}"))
            // Its own process group: a Ctrl-C meant for this run must not stop the server
            // the next runs will use.
            .process_group(0);
        let output = run(&mut cmd, "pg_ctl")?;
        if output.status.success() {
            return Ok(());
        }
        Err(ThrowawayError::ServerStart {
            reason: format!(
                "pg_ctl start failed ({}): {}",
                output.status,
                combined_output(&output).trim()
            ),
            log_tail: self.log_tail(),
        })
    }

    fn log_tail(&self) -> String {
        let mut text = String::new();
        match File::open(self.log_path()).and_then(|mut f| f.read_to_string(&mut text)) {
            Ok(_) => {
                let lines: Vec<&str> = text.lines().collect();
                lines[lines.len().saturating_sub(super::LOG_TAIL_LINES)..].join("\n")
            }
            Err(e) => format!("(could not read {}: {e})", self.log_path().display()),
        }
    }

    fn command(&self, program: &str) -> Command {
        super::pg_command(&self.bindir, self.runuser.as_deref(), &self.dir, program)
    }
}
