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

impl Exit {
    /// The exit code of a fleet (`fleet verify`, `fleet apply`, `report merge`): the worst of
    /// its targets' codes, in this order, worst first — 1 (a target could not be audited or
    /// applied: the fleet's state is not known), 4, 5, 3 (drift), 2 (pending), 0 (in sync).
    pub fn fleet_worst(a: u8, b: u8) -> u8 {
        fn rank(code: u8) -> u8 {
            match code {
                0 => 0,
                2 => 1,
                3 => 2,
                5 => 3,
                4 => 4,
                _ => 5,
            }
        }
        if rank(b) > rank(a) { b } else { a }
    }

    /// The exit of a code this enum gives (a fleet report's); anything else is an error.
    pub fn from_code(code: u8) -> Exit {
        [
            Exit::InSync,
            Exit::Pending,
            Exit::Drift,
            Exit::AssertionFailed,
            Exit::MigrationFailed,
            Exit::Interrupted,
            Exit::Terminated,
        ]
        .into_iter()
        .find(|e| e.code() == code)
        .unwrap_or(Exit::Error)
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
            assert_eq!(Exit::from_code(code), exit);
        }
    }

    /// The README's fleet order: error, then drift, then pending, then in sync.
    #[test]
    fn a_fleet_exits_with_its_worst_target() {
        let worst = |codes: &[u8]| codes.iter().copied().fold(0, Exit::fleet_worst);
        assert_eq!(worst(&[]), 0);
        assert_eq!(worst(&[0, 2, 0]), 2);
        assert_eq!(worst(&[2, 3, 0]), 3);
        assert_eq!(worst(&[3, 1, 2]), 1);
        assert_eq!(worst(&[1, 3]), 1);
    }
}
