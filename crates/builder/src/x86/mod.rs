//! x86 guests.

pub mod acpi;
pub mod hvm;
mod pgtables;
pub mod pv;
pub mod start_info;

#[cfg(test)]
mod hvm_tests;
#[cfg(test)]
mod real_xl_tests;
#[cfg(test)]
mod tests;
