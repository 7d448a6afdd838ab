//! The one place where different spellings of the same thing become one.
//!
//! `int`, `int4` and `integer` are one type; `VARCHAR(255)` is `character varying(255)`. Types
//! are brought to the text the server's `format_type()` prints, without asking the server, so
//! that a hand-written desired state compares equal to the catalog. User-written expressions
//! are checked here to be exactly one expression (with PostgreSQL's own parser) before any of
//! them is spliced into SQL; their canonical text comes from the server ([`crate::canon`]).

pub mod equivalence;
mod expr;
mod memo;
mod types;

pub use expr::{ExprError, validate_condition, validate_expression};
pub use types::{BUILTIN_TYPES, TypeError, TypeSpec, normalise_type, serial_kind, user_type_text};
