//! reconcile: a declarative schema-drift reconciler for PostgreSQL.
//!
//! The pipeline (see DESIGN.md): YAML and the live catalog both produce a [`model::Schema`];
//! normalisation makes the two comparable; later stages diff, plan, render and apply.

pub mod apply;
pub mod assertions;
pub mod canon;
pub mod classify;
pub mod ddl;
pub mod diff;
pub mod fleet;
pub mod ident;
pub mod introspect;
pub mod kinds;
pub mod lint;
pub mod load;
pub mod migrate;
pub mod model;
pub mod normalise;
pub mod pipeline;
pub mod plan;
pub mod pull;
pub mod render;
pub mod rollback;
pub mod shadow;
pub mod sql;
pub mod throwaway;
