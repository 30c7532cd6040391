//! Linear allocation of guest pseudo-physical memory, and the page-table mappings that
//! cover it, following libxenguest's rules (`xc_dom_alloc_segment`, `count_pgtables`).
//!
//! Two cursors advance together: the pfn cursor and the virtual cursor, which starts at
//! `virt_base`, so every allocated page has pfn = (vaddr − virt_base) / 4096 until a
//! segment is placed outside the initial mapping. Capacity is not checked while
//! allocating: the caller compares the final end with the domain's size, which is
//! equivalent to libxenguest's per-step checks and lets the error say how much is needed.

use std::fmt;
use std::ops::Range;

use crate::{PAGE_SHIFT, PAGE_SIZE};

/// Page-table levels of x86_64 (L1..L4).
pub const LEVELS: usize = 4;
/// Bits of virtual address translated per level.
const LEVEL_SHIFT: u32 = 9;
/// Virtual address bits of x86_64 (48).
pub const VADDR_MASK: u64 = (1 << 48) - 1;
/// At most two mappings: the initial one and the p2m list's.
const MAX_MAPPINGS: usize = 2;

/// A layout inconsistency (libxenguest would fail the same way).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LayoutError(pub String);

/// A run of pages allocated for one purpose.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Name as libxenguest prints it ("kernel", "module0", "phys2mach", ...).
    pub name: &'static str,
    /// Virtual address of the first byte.
    pub vstart: u64,
    /// Virtual end: `vstart` + requested size (not rounded to pages).
    pub vend: u64,
    /// First pfn.
    pub pfn: u64,
    /// Number of pages.
    pub pages: u64,
}

impl Segment {
    /// The pfns of the segment.
    pub fn pfns(&self) -> Range<u64> {
        self.pfn..self.pfn + self.pages
    }
}

/// One step of the layout, rendered like libxenguest's `domainbuilder: detail:` lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LayoutEvent {
    /// `xc_dom_alloc_segment`.
    Segment(Segment),
    /// `xc_dom_alloc_page`.
    Page {
        /// "start info", "xenstore", "console", "boot stack".
        name: &'static str,
        /// Virtual address of the page.
        vaddr: u64,
        /// Its pfn.
        pfn: u64,
    },
    /// One level of a `count_pgtables` pass (every iteration is logged).
    Tables {
        /// Address mask covered by one table of this level.
        mask: u64,
        /// log2 of the bytes one table covers.
        bits: u32,
        /// First covered address.
        from: u64,
        /// Last covered address.
        to: u64,
        /// Tables needed.
        tables: u64,
    },
    /// The virtual cursor after the boot stack.
    VirtAllocEnd(u64),
    /// End of the initial mapping.
    VirtPgtabEnd(u64),
}

impl fmt::Display for LayoutEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LayoutEvent::Segment(s) => write!(
                f,
                "{:<20}:   {:<12} : {:#x} -> {:#x}  (pfn {:#x} + {:#x} pages)",
                "xc_dom_alloc_segment", s.name, s.vstart, s.vend, s.pfn, s.pages
            ),
            LayoutEvent::Page { name, vaddr, pfn } => write!(
                f,
                "{:<20}:   {:<12} : {vaddr:#x} (pfn {pfn:#x})",
                "xc_dom_alloc_page", name
            ),
            LayoutEvent::Tables {
                mask,
                bits,
                from,
                to,
                tables,
            } => write!(
                f,
                "count_pgtables: 0x{mask:016x}/{bits}: 0x{from:016x} -> 0x{to:016x}, \
                 {tables} table(s)"
            ),
            LayoutEvent::VirtAllocEnd(v) => {
                write!(f, "{:<20}: virt_alloc_end : {v:#x}", "xc_dom_build_image")
            }
            LayoutEvent::VirtPgtabEnd(v) => {
                write!(f, "{:<20}: virt_pgtab_end : {v:#x}", "xc_dom_build_image")
            }
        }
    }
}

/// The two cursors and the log of what was placed.
#[derive(Clone, Debug)]
pub(crate) struct Allocator {
    pub virt_alloc_end: u64,
    pub pfn_alloc_end: u64,
    pub events: Vec<LayoutEvent>,
}

fn overflow(what: &str) -> LayoutError {
    LayoutError(format!("{what} is larger than any memory"))
}

impl Allocator {
    pub fn new(virt_base: u64) -> Self {
        Allocator {
            virt_alloc_end: virt_base,
            pfn_alloc_end: 0,
            events: Vec::new(),
        }
    }

    /// Advance both cursors by `pages`. The virtual cursor wraps like libxenguest's: only
    /// segments outside the initial mapping (a big unmapped ramdisk) can take it past the
    /// top, and their virtual addresses are never used. The initial mapping checks its
    /// own range.
    fn advance(&mut self, pages: u64, what: &str) -> Result<(), LayoutError> {
        let bytes = pages.checked_mul(PAGE_SIZE).ok_or_else(|| overflow(what))?;
        self.virt_alloc_end = self.virt_alloc_end.wrapping_add(bytes);
        self.pfn_alloc_end = self
            .pfn_alloc_end
            .checked_add(pages)
            .ok_or_else(|| overflow(what))?;
        Ok(())
    }

    /// Allocate (unused) pages up to the virtual address `boundary`.
    pub fn pad_to(&mut self, boundary: u64) -> Result<(), LayoutError> {
        if !boundary.is_multiple_of(PAGE_SIZE) {
            return Err(LayoutError(format!(
                "segment boundary {boundary:#x} is not page aligned"
            )));
        }
        if boundary < self.virt_alloc_end {
            return Err(LayoutError(format!(
                "segment boundary {boundary:#x} lies below the allocation cursor {:#x}",
                self.virt_alloc_end
            )));
        }
        self.advance((boundary - self.virt_alloc_end) >> PAGE_SHIFT, "padding")
    }

    /// Allocate `size` bytes (rounded up to pages) at the cursor, after padding to `start`
    /// when it is non-zero.
    pub fn segment(
        &mut self,
        name: &'static str,
        start: u64,
        size: u64,
    ) -> Result<Segment, LayoutError> {
        if start != 0 {
            self.pad_to(start)?;
        }
        let pages = size.div_ceil(PAGE_SIZE);
        let seg = Segment {
            name,
            vstart: self.virt_alloc_end,
            vend: self.virt_alloc_end.wrapping_add(size),
            pfn: self.pfn_alloc_end,
            pages,
        };
        self.advance(pages, name)?;
        self.events.push(LayoutEvent::Segment(seg.clone()));
        Ok(seg)
    }

    /// Allocate one page; returns its pfn.
    pub fn page(&mut self, name: &'static str) -> Result<u64, LayoutError> {
        let (vaddr, pfn) = (self.virt_alloc_end, self.pfn_alloc_end);
        self.advance(1, name)?;
        self.events.push(LayoutEvent::Page { name, vaddr, pfn });
        Ok(pfn)
    }
}

/// The part of one page-table level a mapping needs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Level {
    /// First virtual address (48-bit) covered.
    pub from: u64,
    /// Last virtual address covered.
    pub to: u64,
    /// pfn of the first table (or, for the area, of the first mapped page).
    pub pfn: u64,
    /// Number of tables (for the area: all tables of the mapping).
    pub tables: u64,
}

/// A virtual range mapped by page tables built for it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mapping {
    /// The mapped range; `area.pfn` is the pfn mapped at `area.from`, `area.tables` the
    /// total number of table frames.
    pub area: Level,
    /// Levels 0 (L1) to 3 (L4); each level's tables are contiguous.
    pub levels: [Level; LEVELS],
}

impl Mapping {
    /// The table frames of this mapping: top level first, then each level down.
    pub fn table_pfns(&self) -> Range<u64> {
        let first = self.levels[LEVELS - 1].pfn;
        first..first + self.area.tables
    }

    /// Move every table to `delta` pages later (the p2m list precedes its tables).
    pub(crate) fn shift_tables(&mut self, delta: u64) {
        for level in &mut self.levels {
            level.pfn += delta;
        }
    }
}

/// Bits of virtual address one table at level `l` (0 = L1) covers.
pub(crate) fn level_bits(l: usize) -> u32 {
    PAGE_SHIFT + (l as u32 + 1) * LEVEL_SHIFT
}

/// libxenguest's `count_pgtables`: the tables needed to map `[from, to]` (inclusive), with
/// table frames to be allocated at `pfn_alloc_end`, sharing upper-level tables with the
/// `existing` mappings where their ranges overlap. Only the first mapping has an L4.
pub(crate) fn count_pgtables(
    existing: &[Mapping],
    from: u64,
    to: u64,
    pfn_alloc_end: u64,
    events: &mut Vec<LayoutEvent>,
) -> Result<Mapping, LayoutError> {
    if existing.len() >= MAX_MAPPINGS {
        return Err(LayoutError("too many page-table mappings".to_string()));
    }
    if existing
        .iter()
        .any(|m| from < m.area.to && to > m.area.from)
    {
        return Err(LayoutError(format!(
            "the mapping {from:#x}-{to:#x} overlaps the kernel's initial mapping"
        )));
    }
    let mut map = Mapping::default();
    map.area.from = from & VADDR_MASK;
    map.area.to = to & VADDR_MASK;
    for l in (0..LEVELS).rev() {
        map.levels[l].pfn = pfn_alloc_end + map.area.tables;
        if l == LEVELS - 1 {
            if existing.is_empty() {
                map.levels[l] = Level {
                    from: 0,
                    to: VADDR_MASK,
                    pfn: map.levels[l].pfn,
                    tables: 1,
                };
                map.area.tables += 1;
            }
            continue;
        }
        let bits = level_bits(l);
        let mask = (1u64 << bits) - 1;
        let level = &mut map.levels[l];
        level.from = map.area.from & !mask;
        level.to = map.area.to | mask;
        trim_shared_tables(level, existing.iter().map(|m| m.levels[l]))?;
        if level.from < level.to {
            level.tables = ((level.to - level.from) >> bits) + 1;
        }
        events.push(LayoutEvent::Tables {
            mask,
            bits,
            from: level.from,
            to: level.to,
            tables: level.tables,
        });
        map.area.tables += level.tables;
    }
    Ok(map)
}

/// Drop from `level` the ranges whose tables another mapping already has.
fn trim_shared_tables(
    level: &mut Level,
    others: impl Iterator<Item = Level>,
) -> Result<(), LayoutError> {
    for other in others {
        if other.from == other.to {
            continue;
        }
        if level.from >= other.from && level.to <= other.to {
            level.from = 0;
            level.to = 0;
            return Ok(());
        }
        if level.from < other.from && level.to > other.to {
            return Err(LayoutError(format!(
                "page tables for {:#x}-{:#x} would straddle those of another mapping",
                level.from, level.to
            )));
        }
        if level.from >= other.from && level.from <= other.to {
            level.from = other.to + 1;
        }
        if level.to >= other.from && level.to <= other.to {
            level.to = other
                .from
                .checked_sub(1)
                .ok_or_else(|| LayoutError("page-table ranges collide at 0".to_string()))?;
        }
    }
    Ok(())
}
