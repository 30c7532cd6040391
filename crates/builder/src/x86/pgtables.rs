//! Page-table contents for the planned mappings (libxenguest's `setup_pgtables_pv`).
//!
//! Each level of each mapping points at the next level's tables of every mapping that
//! overlaps it (the single L4 serves both mappings); L1 entries map the pages of each
//! mapping's area. Entry = mfn << 12 | prot.

use crate::layout::{LEVELS, Mapping, level_bits};

/// `_PAGE_PRESENT | _PAGE_RW | _PAGE_ACCESSED`.
pub const L1_PROT: u64 = 0x23;
/// L1 protection for page-table frames: the guest may not write them directly.
pub const L1_PROT_READ_ONLY: u64 = 0x21;
/// `_PAGE_PRESENT | _PAGE_RW | _PAGE_ACCESSED | _PAGE_DIRTY | _PAGE_USER`.
pub const UPPER_PROT: u64 = 0x67;
/// Entries per table.
const ENTRIES: u64 = 512;

/// The table frames of one mapping, in order from its first table pfn.
pub(crate) struct Tables {
    pub first_pfn: u64,
    pub entries: Vec<u64>,
}

impl Tables {
    pub fn to_bytes(&self) -> Vec<u8> {
        self.entries.iter().flat_map(|e| e.to_le_bytes()).collect()
    }
}

/// Fill the tables of every mapping from the p2m. Errors name an internal inconsistency
/// (a plan whose pfns the p2m does not cover).
pub(crate) fn build(mappings: &[Mapping], p2m: &[u64]) -> Result<Vec<Tables>, String> {
    let mut all: Vec<Tables> = mappings
        .iter()
        .map(|m| Tables {
            first_pfn: m.table_pfns().start,
            entries: vec![0; (m.area.tables * ENTRIES) as usize],
        })
        .collect();
    for l in (0..LEVELS).rev() {
        for (m1, tables) in mappings.iter().zip(all.iter_mut()) {
            fill_level(mappings, m1, l, tables, p2m)?;
        }
    }
    Ok(all)
}

/// Entries of level `l` of mapping `m1`, pointing into every mapping's level below.
fn fill_level(
    mappings: &[Mapping],
    m1: &Mapping,
    l: usize,
    tables: &mut Tables,
    p2m: &[u64],
) -> Result<(), String> {
    let level = m1.levels[l];
    if level.tables == 0 || level.from > level.to {
        return Ok(());
    }
    let base = level
        .pfn
        .checked_sub(tables.first_pfn)
        .ok_or_else(|| format!("level {l} tables lie before the mapping's first table"))?
        * ENTRIES;
    let shift = level_bits(l) - 9;
    for m2 in mappings {
        let target = if l > 0 { m2.levels[l - 1] } else { m2.area };
        if l > 0 && target.tables == 0 {
            continue;
        }
        if target.from >= level.to || target.to <= level.from {
            continue;
        }
        let lo = level.from.max(target.from);
        let hi = level.to.min(target.to);
        let first = (lo - level.from) >> shift;
        let last = (hi - level.from) >> shift;
        let first_pfn = ((lo - target.from) >> shift) + target.pfn;
        for (p, pfn) in (first..=last).zip(first_pfn..) {
            let mfn = *p2m
                .get(pfn as usize)
                .ok_or_else(|| format!("page table entry for pfn {pfn:#x} beyond the p2m"))?;
            let prot = if l == 0 {
                l1_prot(mappings, pfn)
            } else {
                UPPER_PROT
            };
            let slot = tables
                .entries
                .get_mut((base + p) as usize)
                .ok_or_else(|| format!("level {l} entry {p} beyond its tables"))?;
            *slot = (mfn << 12) | prot;
        }
    }
    Ok(())
}

/// L1 protection of `pfn`: read-only when it is a table frame of any mapping (Xen refuses
/// to pin tables that are mapped writable).
fn l1_prot(mappings: &[Mapping], pfn: u64) -> u64 {
    if mappings.iter().any(|m| m.table_pfns().contains(&pfn)) {
        L1_PROT_READ_ONLY
    } else {
        L1_PROT
    }
}
