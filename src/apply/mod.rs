//! The only module that changes a database: executes a plan's steps safely.
//!
//! [`lock`] makes runs mutually exclusive per database, [`execute`] runs batches under
//! lock/statement timeouts with retries, [`history`] records every run and step in the target
//! database, and [`planfile`] loads reviewed plans and refuses them when the database moved.
//! The `reconcile apply` command (src/cli/apply.rs) strings these together with introspection,
//! planning and the verification afterwards.

pub mod execute;
pub mod history;
pub mod lock;
pub mod planfile;

pub use execute::{ExecOptions, Progress, Silent, Timeouts};
pub use history::History;

/// The SQLSTATE of a database error, if `e` is one.
pub fn sqlstate(e: &sqlx::Error) -> Option<&str> {
    match e {
        sqlx::Error::Database(db) => db.code().map(|c| match c {
            std::borrow::Cow::Borrowed(s) => s,
            // Codes are five ASCII characters known at compile time in practice; fall back
            // to matching the two we act on.
            std::borrow::Cow::Owned(s) => match s.as_str() {
                "55P03" => "55P03",
                "40P01" => "40P01",
                _ => "other",
            },
        }),
        _ => None,
    }
}
