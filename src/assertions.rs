//! `verify/` assertions: read-only queries that return no rows when an invariant holds
//! (issue 5; being built).
