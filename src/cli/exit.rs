//! The exit codes scripts depend on (README, "Exit codes"), as one enum: every command says
//! which outcome it means, and the number behind it is written here and nowhere else.

/// How a command ended. The codes are stable: CI jobs branch on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0 — in sync, applied, nothing to report.
    InSync,
    /// 1 — an error: bad input or usage, connection, a failed step or migration, an
    /// assertion that could not run.
    Error,
    /// 2 — additive changes pending (`migrate status`: a migration would run).
    Pending,
    /// 3 — destructive or non-additive drift (`migrate status`: a changed or missing file;
    /// `lint`: an error-level finding — "something here needs a human").
    Drift,
    /// 4 — a `verify/` assertion returned rows (`verify`, `shadow`).
    AssertionFailed,
    /// 5 — `shadow`: a migration failed in the rehearsal (or the runner refused the files).
    /// Distinct from 1 so CI can tell "this pull request's migrations are broken" from "the
    /// rehearsal could not be carried out".
    MigrationFailed,
    /// 130 — interrupted by SIGINT (128 + the signal number, as shells report it).
    Interrupted,
    /// 143 — terminated by SIGTERM.
    Terminated,
}

impl Exit {
    /// The process exit status.
    pub const fn code(self) -> u8 {
        match self {
            Exit::InSync => 0,
            Exit::Error => 1,
            Exit::Pending => 2,
            Exit::Drift => 3,
            Exit::AssertionFailed => 4,
            Exit::MigrationFailed => 5,
            Exit::Interrupted => 130,
            Exit::Terminated => 143,
        }
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        std::process::ExitCode::from(exit.code())
    }
}

#[cfg(test)]
mod tests {
    use super::Exit;

    /// The README's table, number by number: changing one breaks every script that reads it.
    #[test]
    fn codes_are_the_documented_ones() {
        let table = [
            (Exit::InSync, 0),
            (Exit::Error, 1),
            (Exit::Pending, 2),
            (Exit::Drift, 3),
            (Exit::AssertionFailed, 4),
            (Exit::MigrationFailed, 5),
            (Exit::Interrupted, 130),
            (Exit::Terminated, 143),
        ];
        for (exit, code) in table {
            assert_eq!(exit.code(), code, "{exit:?}");
        }
    }
}
