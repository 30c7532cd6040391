//! A [`PvTarget`] in memory, for tests and the simulator.
//!
//! MFNs are fake but distinct from pfns (mfn = pfn + [`MemTarget::MFN_BASE`]), pages are
//! stored sparsely, and every call is recorded. It checks what Xen would refuse where that
//! is cheap: writes to frames the domain does not own, and pinning an L4 whose tables are
//! mapped writable or point at foreign frames.

use std::collections::{BTreeMap, BTreeSet};

use crate::target::{FillFrames, GrantSeed, GuestFrames, PvTarget, PvVcpuContext, TargetError};
use crate::{PAGE_SHIFT, PAGE_SIZE};

const PAGE: usize = PAGE_SIZE as usize;
const PRESENT: u64 = 1 << 0;
const RW: u64 = 1 << 1;
const PSE: u64 = 1 << 7;
/// Bits 12..51 of an entry: the frame.
const ENTRY_FRAME_MASK: u64 = 0x000f_ffff_ffff_f000;
/// Bytes of a legacy vcpu_info slot in shared_info.
const VCPU_INFO_SIZE: usize = 64;
/// vcpu_info slots in shared_info (`XEN_LEGACY_MAX_VCPUS`).
const LEGACY_MAX_VCPUS: usize = 32;

/// One call the builder made, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetCall {
    /// `populate(nr_pages)`.
    Populate(u64),
    /// `write_frames` starting at this MFN, over this many frames.
    WriteFrames {
        /// First MFN written.
        first_mfn: u64,
        /// Frames written.
        frames: usize,
    },
    /// `shared_info_mfn()`.
    SharedInfoMfn,
    /// `hypercall_page(mfn)`.
    HypercallPage(u64),
    /// `pin_l4(mfn)`.
    PinL4(u64),
    /// `init_shared_info()`.
    InitSharedInfo,
    /// `set_vcpu_context(..)`.
    SetVcpuContext,
    /// `seed_grants(..)`.
    SeedGrants,
}

/// Where a virtual address leads in a page-table walk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Translation {
    /// The mapped frame.
    pub mfn: u64,
    /// The L1 entry that maps it (frame | flags).
    pub l1_entry: u64,
}

/// An in-memory domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemTarget {
    nr_pages: Option<u64>,
    fill: u8,
    pages: BTreeMap<u64, Box<[u8]>>,
    /// Every call, in order.
    pub calls: Vec<TargetCall>,
    /// MFN given to `hypercall_page`.
    pub hypercall_mfn: Option<u64>,
    /// MFN pinned as L4.
    pub pinned_l4: Option<u64>,
    /// The vCPU 0 context set.
    pub vcpu: Option<PvVcpuContext>,
    /// Grant entries seeded.
    pub grants: Vec<GrantSeed>,
}

impl Default for MemTarget {
    fn default() -> Self {
        Self::new()
    }
}

impl MemTarget {
    /// Offset between a pfn and its MFN.
    pub const MFN_BASE: u64 = 0x10_0000;
    /// MFN of the shared_info page (outside the guest's RAM, as on Xen).
    pub const SHARED_INFO_MFN: u64 = 0x8_0000;

    /// An empty domain; `populate` gives it RAM.
    pub fn new() -> Self {
        MemTarget {
            nr_pages: None,
            fill: 0,
            pages: BTreeMap::new(),
            calls: Vec::new(),
            hypercall_mfn: None,
            pinned_l4: None,
            vcpu: None,
            grants: Vec::new(),
        }
    }

    /// A domain whose fresh RAM reads as `fill` rather than zero, to check that the
    /// builder clears every page it is responsible for.
    pub fn with_fill(fill: u8) -> Self {
        MemTarget {
            fill,
            ..Self::new()
        }
    }

    /// The MFN backing `pfn`.
    pub fn mfn_of(pfn: u64) -> u64 {
        pfn + Self::MFN_BASE
    }

    /// The pfn an MFN of the guest's RAM backs, if it is one.
    pub fn pfn_of(&self, mfn: u64) -> Option<u64> {
        let pfn = mfn.checked_sub(Self::MFN_BASE)?;
        (pfn < self.nr_pages?).then_some(pfn)
    }

    /// Whether `mfn` is a frame of the domain (RAM or shared_info).
    fn owns(&self, mfn: u64) -> bool {
        mfn == Self::SHARED_INFO_MFN || self.pfn_of(mfn).is_some()
    }

    /// A frame's contents (`None` if never written).
    pub fn page(&self, mfn: u64) -> Option<&[u8]> {
        self.pages.get(&mfn).map(|p| &p[..])
    }

    /// `len` bytes of frame `mfn` from `offset` (the fill byte where never written).
    pub fn read(&self, mfn: u64, offset: usize, len: usize) -> Vec<u8> {
        let mut out = vec![self.fill; len];
        if let Some(page) = self.pages.get(&mfn) {
            let end = (offset + len).min(PAGE);
            if offset < end {
                out[..end - offset].copy_from_slice(&page[offset..end]);
            }
        }
        out
    }

    /// The u64 at `offset` of frame `mfn`.
    pub fn read_u64(&self, mfn: u64, offset: usize) -> u64 {
        let b = self.read(mfn, offset, 8);
        u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
    }

    /// Page-table entry `index` of the table in frame `mfn`.
    pub fn entry(&self, mfn: u64, index: u64) -> u64 {
        self.read_u64(mfn, (index as usize % 512) * 8)
    }

    /// Walk the 4-level tables rooted at `l4_mfn` for `vaddr`; `None` if any level is
    /// not present.
    pub fn walk(&self, l4_mfn: u64, vaddr: u64) -> Option<Translation> {
        let mut table = l4_mfn;
        for level in (1..4).rev() {
            let index = (vaddr >> (PAGE_SHIFT + 9 * level)) & 511;
            let e = self.entry(table, index);
            if e & PRESENT == 0 {
                return None;
            }
            table = (e & ENTRY_FRAME_MASK) >> PAGE_SHIFT;
        }
        let l1_entry = self.entry(table, (vaddr >> PAGE_SHIFT) & 511);
        (l1_entry & PRESENT != 0).then_some(Translation {
            mfn: (l1_entry & ENTRY_FRAME_MASK) >> PAGE_SHIFT,
            l1_entry,
        })
    }

    fn page_mut(&mut self, mfn: u64) -> &mut [u8] {
        let fill = self.fill;
        self.pages
            .entry(mfn)
            .or_insert_with(|| vec![fill; PAGE].into_boxed_slice())
    }

    /// The table frames reachable from `l4_mfn` (L4, L3s, L2s, L1s), refusing entries to
    /// frames the domain does not own and superpages (the builder never makes them).
    fn table_frames(&self, l4_mfn: u64) -> Result<(BTreeSet<u64>, Vec<u64>), TargetError> {
        let mut tables = BTreeSet::from([l4_mfn]);
        let mut current = vec![l4_mfn];
        for level in (2..=4).rev() {
            let mut next = Vec::new();
            for &mfn in &current {
                for e in self.present_entries(mfn) {
                    let child = self.entry_frame(e, level)?;
                    if e & PSE != 0 && level < 4 {
                        return Err(TargetError::Message(format!(
                            "L{level} table {mfn:#x} holds a superpage entry {e:#x}"
                        )));
                    }
                    if tables.insert(child) {
                        next.push(child);
                    }
                }
            }
            current = next;
        }
        Ok((tables, current))
    }

    fn present_entries(&self, mfn: u64) -> Vec<u64> {
        (0..512)
            .map(|i| self.entry(mfn, i))
            .filter(|e| e & PRESENT != 0)
            .collect()
    }

    fn entry_frame(&self, e: u64, level: u32) -> Result<u64, TargetError> {
        let frame = (e & ENTRY_FRAME_MASK) >> PAGE_SHIFT;
        if !self.owns(frame) {
            return Err(TargetError::Message(format!(
                "L{level} entry {e:#x} points at frame {frame:#x}, not the domain's"
            )));
        }
        Ok(frame)
    }
}

impl GuestFrames for MemTarget {
    /// Hands each frame to `fill` as a piece of its own, so that the builder's handling of
    /// pieces is exercised (the Xen target hands whole mapped batches).
    fn write_frames_with(
        &mut self,
        mfns: &[u64],
        fill: &mut FillFrames<'_>,
    ) -> Result<(), TargetError> {
        self.calls.push(TargetCall::WriteFrames {
            first_mfn: mfns.first().copied().unwrap_or(0),
            frames: mfns.len(),
        });
        if let Some(&bad) = mfns.iter().find(|&&m| self.pfn_of(m).is_none()) {
            return Err(TargetError::Message(format!(
                "frame {bad:#x} is not populated"
            )));
        }
        for (i, &mfn) in mfns.iter().enumerate() {
            fill(i * PAGE, self.page_mut(mfn))?;
        }
        Ok(())
    }
}

impl PvTarget for MemTarget {
    fn populate(&mut self, nr_pages: u64) -> Result<Vec<u64>, TargetError> {
        self.calls.push(TargetCall::Populate(nr_pages));
        if self.nr_pages.is_some() {
            return Err(TargetError::Message("populated twice".to_string()));
        }
        self.nr_pages = Some(nr_pages);
        Ok((0..nr_pages).map(Self::mfn_of).collect())
    }

    fn shared_info_mfn(&mut self) -> Result<u64, TargetError> {
        self.calls.push(TargetCall::SharedInfoMfn);
        Ok(Self::SHARED_INFO_MFN)
    }

    fn hypercall_page(&mut self, mfn: u64) -> Result<(), TargetError> {
        self.calls.push(TargetCall::HypercallPage(mfn));
        if self.pfn_of(mfn).is_none() {
            return Err(TargetError::Message(format!(
                "hypercall page {mfn:#x} is not the domain's"
            )));
        }
        self.hypercall_mfn = Some(mfn);
        Ok(())
    }

    fn pin_l4(&mut self, mfn: u64) -> Result<(), TargetError> {
        self.calls.push(TargetCall::PinL4(mfn));
        if self.pfn_of(mfn).is_none() {
            return Err(TargetError::Message(format!(
                "L4 {mfn:#x} is not the domain's"
            )));
        }
        let (tables, l1s) = self.table_frames(mfn)?;
        for l1 in l1s {
            for e in self.present_entries(l1) {
                let frame = self.entry_frame(e, 1)?;
                if e & RW != 0 && tables.contains(&frame) {
                    return Err(TargetError::Message(format!(
                        "L1 table {l1:#x} maps page-table frame {frame:#x} writable"
                    )));
                }
            }
        }
        self.pinned_l4 = Some(mfn);
        Ok(())
    }

    fn init_shared_info(&mut self) -> Result<(), TargetError> {
        self.calls.push(TargetCall::InitSharedInfo);
        let page = self.page_mut(Self::SHARED_INFO_MFN);
        page.fill(0);
        for slot in 0..LEGACY_MAX_VCPUS {
            page[slot * VCPU_INFO_SIZE + 1] = 1; // evtchn_upcall_mask
        }
        Ok(())
    }

    fn set_vcpu_context(&mut self, ctx: &PvVcpuContext) -> Result<(), TargetError> {
        self.calls.push(TargetCall::SetVcpuContext);
        self.vcpu = Some(*ctx);
        Ok(())
    }

    fn seed_grants(&mut self, grants: &[GrantSeed]) -> Result<(), TargetError> {
        self.calls.push(TargetCall::SeedGrants);
        self.grants = grants.to_vec();
        Ok(())
    }
}
