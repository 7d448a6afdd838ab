//! Reading SQL text the way the server does, for every part of reconcile that takes SQL
//! written by people: migrations, lint, rollback guides, `verify/` assertions, the safety
//! classifier. Statements are found by the PostgreSQL parser (libpg_query) and its scanner
//! ([`split`]), and the names statements use are read from their parse trees ([`names`]) —
//! once, here, so the parts agree on where a statement is and what it names.

pub mod names;
pub mod split;

pub use names::Name;
pub use split::{Script, Statement, SyntaxError, Token, TokenKind};
