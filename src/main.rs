//! The `reconcile` command line: parses arguments, sets up logging and colour, connects, and
//! owns the exit code. Library errors arrive typed; only here do they become messages.

mod cli;

/// mimalloc instead of glibc's malloc: a plan allocates millions of small strings and maps
/// (the models, the YAML's spans, the catalog rows) on several threads at once, and spent a
/// sixth of its time in malloc and free. Without transparent huge pages (`no_thp`), which
/// raised the peak memory of a 1,000-table plan by a third. Measured at 10,000 tables: a
/// third less CPU, a fifth less wall time, no more memory (docs/benchmarks.md, tenth
/// measurements).
///
/// The `system-allocator` feature keeps glibc's, for heap profilers that watch malloc
/// (heaptrack): `cargo build --release --features system-allocator`.
#[cfg(not(feature = "system-allocator"))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use cli::Exit;

fn main() -> ExitCode {
    one_malloc_arena();
    #[cfg(not(feature = "system-allocator"))]
    return_freed_memory_at_once();
    let (args, provenance) = match cli::config::parse(std::env::args_os().collect()) {
        Ok(parsed) => parsed,
        Err(cli::config::Failure::Usage(e)) => return cli::usage(&e).into(),
        Err(cli::config::Failure::Config(e)) => {
            cli::out::alert!("error: {e}");
            return Exit::Error.into();
        }
    };
    cli::init_tracing(&args.global);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            cli::out::alert!("error: cannot start the async runtime: {e}");
            return Exit::Error.into();
        }
    };
    match runtime.block_on(cli::run(args, provenance)) {
        Ok(exit) => exit.into(),
        Err(e) => {
            cli::out::alert!("{}", cli::render_error(&e));
            Exit::Error.into()
        }
    }
}

/// Rust's allocations go to mimalloc (above); the C libraries' (pg_query, which parses on
/// several threads at once) still go to glibc's malloc, which gives each thread that
/// allocates an arena of its own and never reuses memory freed in one for another. One arena
/// keeps what they free reusable.
fn one_malloc_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: called first thing in main, before any other thread exists; M_ARENA_MAX only
    // limits how many arenas malloc creates.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// mimalloc gives freed pages back to the system a second after they empty (its
/// `purge_delay`, 1,000 ms in v3); a plan frees the parsed YAML, the catalog rows and the
/// scratch read-backs in bursts and allocates again within that time, so each burst stayed
/// resident on top of the next. At once: peak RSS of a tables-only plan 42 → 40 MiB at 1,000 tables, 222 → 215 MiB at
/// 10,000, with the same CPU time (docs/benchmarks.md, twelfth measurements).
#[cfg(not(feature = "system-allocator"))]
fn return_freed_memory_at_once() {
    // The setting is read at each purge, so setting it now covers the whole run.
    // SAFETY: mi_option_set only stores the value in mimalloc's option table.
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, 0) }
}

/// `mi_option_purge_delay` in mimalloc.h (v3's enum; libmimalloc-sys names no constant for
/// it).
#[cfg(not(feature = "system-allocator"))]
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

#[cfg(all(test, not(feature = "system-allocator")))]
mod tests {
    /// The number set in `return_freed_memory_at_once` is mimalloc's purge delay, whose
    /// default is 1,000 ms in v3 (its neighbours' are 1 and 0): an upgrade of mimalloc that
    /// renumbered its options would otherwise change some other setting, silently.
    #[test]
    fn the_option_set_is_mimallocs_purge_delay() {
        // SAFETY: mi_option_get only reads mimalloc's option table.
        let default = unsafe { libmimalloc_sys::mi_option_get(super::PURGE_DELAY) };
        assert_eq!(default, 1000);
    }
}
