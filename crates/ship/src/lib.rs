//! `ship`: plans, pushes and reports Nix-built OCI image releases. Each module has one job;
//! the decisions (config, plan, tags) are pure and the I/O lives at the edges.

pub mod config;
pub mod plan;
pub mod release;
pub mod report;
pub mod tags;
