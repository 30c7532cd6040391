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

/// A fresh random (version 4) uuid that never waits for entropy: 16 bytes
/// of /dev/urandom, as libuuid reads them for libxl. `Uuid::new_v4` asks
/// getrandom(2), which blocks until the kernel's pool is seeded: on a host
/// just booted without a hardware RNG, for minutes, while `xl create` of
/// the domains started at boot waits.
pub fn random_uuid() -> uuid::Uuid {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    match std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes)) {
        Ok(()) => uuid::Builder::from_random_bytes(bytes).into_uuid(),
        // No /dev/urandom (a bare chroot): the kernel's call it is.
        Err(_) => uuid::Uuid::new_v4(),
    }
}
