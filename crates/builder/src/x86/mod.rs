//! x86 guests.

mod pgtables;
pub mod pv;
pub mod start_info;

#[cfg(test)]
mod real_xl_tests;
#[cfg(test)]
mod tests;
