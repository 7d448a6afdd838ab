//! The `reconcile` command line: parses arguments, sets up logging and colour, connects, and
//! owns the exit code. Library errors arrive typed; only here do they become messages.

mod cli;

use std::process::ExitCode;

use cli::Exit;

fn main() -> ExitCode {
    one_malloc_arena();
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

/// glibc gives each thread that allocates its own arena, and memory freed in one is never
/// reused by another. `plan` parses the YAML on one thread while the catalog is read on
/// others: with an arena per thread, the parsed files' hundreds of megabytes (at 10,000
/// tables) stay resident beside everything allocated afterwards. One arena measured 430 MiB
/// peak instead of 660 MiB there, at the same speed (docs/benchmarks.md).
fn one_malloc_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: called first thing in main, before any other thread exists; M_ARENA_MAX only
    // limits how many arenas malloc creates.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}
