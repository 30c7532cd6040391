#![warn(missing_docs)]
//! The xl.cfg language and the typed domain configuration built from it.
//!
//! Data path: text → [`syntax`] (pest tokens + xl's LALR automaton) →
//! [`value::Config`] (settings with xl's typed lookups) → [`parse`]
//! (xl 4.17's `parse_config_data`) → [`domain::DomainConfig`] → [`json`]
//! (libxl's JSON). Device specs have their own grammars: [`disk`], [`nic`],
//! [`pci`]. No Xen, no I/O: callers hand in text and host facts.

// pest's derive without its "std" feature names `alloc::` paths.
extern crate alloc;

pub mod cpuid;
mod cpuid_names;
pub mod disk;
pub mod domain;
pub mod from_json;
pub mod json;
pub mod nic;
pub mod parse;
pub mod pci;
pub mod report;
pub mod syntax;
pub mod value;
pub mod vdev;
pub mod vnuma;

pub use domain::DomainConfig;
pub use parse::{Exit, Globals, Host, parse_config_data};
pub use report::Report;
