//! Fleets: the same drift pipeline over many databases (or many tenant schemas of one).
//!
//! Teams that run one database per customer or region, or one schema per tenant, need one
//! answer for all of them: which are in sync, which drifted and how, which could not be
//! audited. Building the desired state on the scratch server is the expensive part of a plan
//! and is the same for every target, so it is done once; each target then costs a catalog
//! read, an alignment, a diff and a plan. This module holds what is not the CLI's business:
//! where the targets come from ([`targets`]), which slice of them a machine takes
//! ([`shard`]), renaming a template schema per tenant ([`tenant`]), and the one report with
//! its summaries and merge ([`report`]).

pub mod report;
pub mod shard;
pub mod targets;
pub mod tenant;
