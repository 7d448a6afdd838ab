//! Where the command line's words go, and what `-q` / `-v` and a closed pipe do to them.
//!
//! Standard output carries the report (plan, verify, history, ...). Standard error carries
//! notes, progress and warnings — silenced by `-q` — and errors, which are always printed.
//! Neither stream closing is a failure: `reconcile history | head` or `reconcile apply 2>&1
//! | head -2` only stop the printing, the way Unix tools behave. The command carries on
//! (an apply finishes its steps and records its outcome) and exits with its own code, with
//! no "Broken pipe" message and no panic — `eprintln!` and `println!` panic when their
//! stream is gone, so the CLI uses the macros and the writer here instead.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

static QUIET: AtomicBool = AtomicBool::new(false);
static VERBOSE: AtomicU8 = AtomicU8::new(0);

/// Records `-q` and `-v` for the rest of the run.
pub fn configure(quiet: bool, verbose: u8) {
    QUIET.store(quiet, Ordering::Relaxed);
    VERBOSE.store(verbose, Ordering::Relaxed);
}

/// `-q`: only errors on standard error.
pub fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// How many `-v` were given (0 with `-q`).
pub fn verbose() -> u8 {
    VERBOSE.load(Ordering::Relaxed)
}

/// Writes one line to standard error, ignoring a closed stream.
pub fn stderr_line(args: std::fmt::Arguments<'_>) {
    let mut err = io::stderr().lock();
    let _ = err.write_fmt(args);
    let _ = err.write_all(b"\n");
}

/// A note, a progress line or a warning on standard error; nothing with `-q`.
macro_rules! note {
    ($($arg:tt)*) => {
        if !$crate::cli::out::quiet() {
            $crate::cli::out::stderr_line(format_args!($($arg)*))
        }
    };
}

/// An error line on standard error, printed also with `-q`.
macro_rules! alert {
    ($($arg:tt)*) => {
        $crate::cli::out::stderr_line(format_args!($($arg)*))
    };
}

pub(crate) use {alert, note};

/// Standard output for a report: buffered, and once the reader has gone (EPIPE) every later
/// write is dropped instead of failing, so rendering finishes and the command keeps its exit
/// code. Other write errors (a full disk behind a redirect) are still errors.
pub fn stdout() -> io::BufWriter<Stdout> {
    io::BufWriter::new(Stdout { closed: false })
}

pub struct Stdout {
    closed: bool,
}

impl Stdout {
    fn absorb(&mut self, result: io::Result<()>) -> io::Result<()> {
        match result {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            other => other,
        }
    }
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !self.closed {
            let result = io::stdout().lock().write_all(buf);
            self.absorb(result)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        let result = io::stdout().lock().flush();
        self.absorb(result)
    }
}
