//! `ship`: plans, pushes and reports Nix-built OCI image releases. Each module has one job;
//! the decisions (config, plan, tags) are pure and the I/O lives at the edges.

pub mod archive;
pub mod builders;
pub mod cache;
pub mod config;
pub mod exec;
pub mod human;
pub mod init;
pub mod nix;
pub mod oci;
pub mod plan;
pub mod platform;
pub mod redact;
pub mod registry;
pub mod release;
pub mod report;
pub mod tags;
