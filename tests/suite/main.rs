//! The integration tests, as one test binary: one module per area, one PostgreSQL cluster
//! for the whole run (the harness in `tests/common` starts it on first use) and one link of
//! the crate, instead of a binary — and a cluster — per file.
//!
//! Tests over `../shared/corpus` are in the `corpus` target (`tests/corpus`), which fails
//! without the corpus under `CI=true`. Snapshots are in `tests/suite/snapshots`, named
//! `suite__<module>__<name>.snap`.
//!
//! Run one area with `cargo test --test suite lint::` (test names start with the module).

#[path = "../common/mod.rs"]
mod common;

mod apply;
mod assertions;
mod bad_yaml;
mod cli;
mod editor_schema;
mod equivalence;
mod exit_codes;
mod fleet;
mod functions;
mod held_back;
mod introspect;
mod lint;
mod materialized_views;
mod migrate;
mod ordering;
mod output;
mod owners;
mod partitions;
mod plan_output;
mod policies;
mod privileges;
mod project;
mod pull;
mod rejected;
mod rollback;
mod roundtrip;
mod roundtrip_property;
mod safety;
mod scratch;
mod shadow;
mod targets;
mod throwaway;
mod tls;
mod triggers;
mod verify;
mod warm;
