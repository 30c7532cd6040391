//! A 64-bit PV guest in libxc's migration stream: what a save turns from
//! machine frames (MFNs) into the guest's pseudo-physical frames (PFNs),
//! and a restore turns back into the new domain's machine frames. Pure:
//! guest memory is reached through closures, so the rules are tested
//! without a hypervisor.

use std::collections::HashMap;

use xen_sys::abi::{self, VcpuGuestContext, pfinfo};

pub const PAGE: usize = 4096;
const PAGE_SHIFT: u32 = 12;
pub const INVALID_MFN: u64 = u64::MAX;
/// Guest width in bytes and page-table levels of the only PV guests we
/// save and restore (x86-64).
pub const GUEST_WIDTH: u8 = 8;
pub const PT_LEVELS: u8 = 4;
/// p2m entries per page.
const FPP: u64 = (PAGE / 8) as u64;
const PTES: usize = PAGE / 8;
const PAGE_PRESENT: u64 = 1;
const PAGE_PSE: u64 = 1 << 7;
/// A PTE's frame number bits (12 to 51).
const PTE_FRAME_MASK: u64 = 0x000f_ffff_ffff_f000;
/// GDT entries a guest may own; the rest of the GDT's frames are Xen's.
const FIRST_RESERVED_GDT_ENTRY: u64 = 14 * PAGE as u64 / 8;
/// The canonical 48-bit part of a virtual address.
const VADDR_MASK: u64 = 0x0000_ffff_ffff_ffff;

/// Why a PV guest's memory image could not be saved or restored.
#[derive(Debug, thiserror::Error)]
pub enum PvImageError {
    /// A guest that is not 64-bit (its width in bits).
    #[error("only 64-bit PV guests can be saved and restored (this one is {0}-bit)")]
    Width(u32),
    /// A frame the guest does not own.
    #[error("{what}: frame {mfn:#x} does not belong to the guest")]
    ForeignFrame {
        /// Where the frame was found.
        what: String,
        /// The machine frame.
        mfn: u64,
    },
    /// A pfn beyond the guest's memory.
    #[error("{what}: pfn {pfn:#x} is beyond the guest's last pfn {max_pfn:#x}")]
    PfnOutOfRange {
        /// Where the pfn was found.
        what: String,
        /// The pfn.
        pfn: u64,
        /// The guest's last pfn.
        max_pfn: u64,
    },
    /// A page whose type is not what its place in the page tables says.
    #[error("{what}: pfn {pfn:#x} has page type {found:#x}, expected {expected:#x}")]
    PageType {
        /// Where the page was found.
        what: String,
        /// The page's pfn.
        pfn: u64,
        /// Its type (`XEN_DOMCTL_PFINFO_*` shifted down by `LTAB_SHIFT`).
        found: u64,
        /// The type its place calls for.
        expected: u64,
    },
    /// A superpage mapping, which the stream cannot carry.
    #[error("L{level}[{index}] maps a superpage, which the stream cannot carry")]
    Superpage {
        /// The page-table level.
        level: u64,
        /// The entry's index in its table.
        index: usize,
    },
    /// The guest's p2m list is unusable (why).
    #[error("the guest's p2m: {0}")]
    P2m(String),
    /// A stream record that is malformed.
    #[error("malformed {what} record: {why}")]
    Record {
        /// The record's kind.
        what: &'static str,
        /// What is wrong with it.
        why: String,
    },
    /// A record the stream must have is missing (its kind).
    #[error("the stream has no {0} record")]
    Missing(&'static str),
    /// Something the guest or stream asks for that this toolstack refuses.
    #[error("{0}")]
    Refused(String),
    /// A hypercall failed.
    #[error("{what}")]
    Xen {
        /// What was being done.
        what: &'static str,
        /// The hypercall's failure.
        #[source]
        source: xen_sys::SysError,
    },
}

/// A stream record that is not what its type promises.
pub(super) fn bad(what: &'static str, why: impl Into<String>) -> PvImageError {
    PvImageError::Record {
        what,
        why: why.into(),
    }
}

/// X86_TSC_INFO of a domain, as libxc writes it for PV and HVM alike.
pub fn tsc_record(
    xen: &xen_sys::Xen,
    dom: xen_sys::abi::DomId,
) -> Result<xl_savefile::LibxcRecord> {
    let t = xen.tsc_info(dom).map_err(hv("gettscinfo"))?;
    Ok(xl_savefile::LibxcRecord::X86TscInfo {
        mode: t.tsc_mode,
        khz: t.gtsc_khz,
        nsec: t.elapsed_nsec,
        incarnation: t.incarnation,
    })
}

/// Apply a stream's X86_TSC_INFO (`mode`, `khz`, `nsec`, `incarnation`).
pub fn apply_tsc(
    xen: &xen_sys::Xen,
    dom: xen_sys::abi::DomId,
    (mode, khz, nsec, incarnation): (u32, u32, u64, u32),
) -> Result<()> {
    let info = xen_sys::abi::TscInfo {
        tsc_mode: mode,
        gtsc_khz: khz,
        incarnation,
        pad: 0,
        elapsed_nsec: nsec,
    };
    xen.set_tsc_info(dom, &info).map_err(hv("settscinfo"))
}

/// `what` failed in a hypercall or mapping.
pub fn hv(what: &'static str) -> impl FnOnce(xen_sys::SysError) -> PvImageError {
    move |source| PvImageError::Xen { what, source }
}

type Result<T> = std::result::Result<T, PvImageError>;

/// The guest's pfn → mfn map, and its inverse for the frames it holds.
#[derive(Debug, Default)]
pub struct P2m {
    map: Vec<u64>,
    rev: HashMap<u64, u64>,
}

impl P2m {
    pub fn new(map: Vec<u64>) -> P2m {
        let rev = map
            .iter()
            .enumerate()
            .filter(|(_, m)| **m != INVALID_MFN)
            .map(|(p, m)| (*m, p as u64))
            .collect();
        P2m { map, rev }
    }

    pub fn max_pfn(&self) -> u64 {
        (self.map.len() as u64).saturating_sub(1)
    }

    pub fn len(&self) -> u64 {
        self.map.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Make room for pfns up to `max_pfn` (new ones unpopulated).
    pub fn grow(&mut self, max_pfn: u64) {
        if max_pfn + 1 > self.len() {
            self.map.resize(max_pfn as usize + 1, INVALID_MFN);
        }
    }

    /// The frame behind `pfn`, if it has one.
    pub fn mfn(&self, pfn: u64) -> Option<u64> {
        self.map
            .get(pfn as usize)
            .copied()
            .filter(|m| *m != INVALID_MFN)
    }

    /// The raw entry (INVALID_MFN for none), for pfns in range.
    pub fn entry(&self, pfn: u64) -> u64 {
        self.map.get(pfn as usize).copied().unwrap_or(INVALID_MFN)
    }

    pub fn set(&mut self, pfn: u64, mfn: u64) {
        self.grow(pfn);
        self.map[pfn as usize] = mfn;
        self.rev.insert(mfn, pfn);
    }

    /// The guest pfn of a frame the guest holds.
    pub fn pfn(&self, mfn: u64) -> Option<u64> {
        self.rev.get(&mfn).copied()
    }

    fn to_pfn(&self, mfn: u64, what: impl FnOnce() -> String) -> Result<u64> {
        self.pfn(mfn)
            .ok_or_else(|| PvImageError::ForeignFrame { what: what(), mfn })
    }

    fn to_mfn(&self, pfn: u64, what: impl Fn() -> String) -> Result<u64> {
        if pfn > self.max_pfn() {
            return Err(PvImageError::PfnOutOfRange {
                what: what(),
                pfn,
                max_pfn: self.max_pfn(),
            });
        }
        self.mfn(pfn)
            .ok_or_else(|| PvImageError::P2m(format!("{}: pfn {pfn:#x} has no frame", what())))
    }

    /// The whole map as the guest keeps it: one little-endian u64 per pfn.
    pub fn guest_bytes(&self) -> Vec<u8> {
        self.map.iter().flat_map(|m| m.to_le_bytes()).collect()
    }
}

fn le64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

fn put64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

fn pte_frame(pte: u64) -> u64 {
    (pte & PTE_FRAME_MASK) >> PAGE_SHIFT
}

fn with_frame(pte: u64, frame: u64) -> u64 {
    (pte & !PTE_FRAME_MASK) | (frame << PAGE_SHIFT)
}

/// The page-table level (1-4) of a getpageframeinfo3 type, if it is one.
pub fn table_level(ty: u64) -> Option<u64> {
    let t = ty & pfinfo::LTABTYPE_MASK;
    (pfinfo::L1TAB..=pfinfo::L4TAB)
        .contains(&t)
        .then_some(t >> pfinfo::LTAB_SHIFT)
}

/// Whether a page of this type carries contents in the stream.
pub fn has_data(ty: u64) -> bool {
    !matches!(
        ty & pfinfo::XTAB,
        pfinfo::XTAB | pfinfo::XALLOC | pfinfo::BROKEN
    )
}

/// The L4 slots that map Xen itself: cleared in the stream, Xen fills
/// them in again on the other side.
fn xen_l4_slots() -> std::ops::RangeInclusive<usize> {
    let slot = |va: u64| ((va >> 39) & 511) as usize;
    slot(abi::HYPERVISOR_VIRT_START)..=slot(abi::HYPERVISOR_VIRT_END)
}

/// A page table as the stream carries it: every present entry names a
/// pfn, Xen's own L4 slots are empty.
pub fn normalise_table(page: &[u8], level: u64, p2m: &P2m) -> Result<Vec<u8>> {
    let mut out = page.to_vec();
    let xen_slots = (level == 4).then(xen_l4_slots);
    for i in 0..PTES {
        let mut pte = le64(page, i * 8);
        if xen_slots.as_ref().is_some_and(|s| s.contains(&i)) {
            pte = 0;
        }
        if pte & PAGE_PRESENT != 0 {
            if level > 1 && pte & PAGE_PSE != 0 {
                return Err(PvImageError::Superpage { level, index: i });
            }
            let pfn = p2m.to_pfn(pte_frame(pte), || format!("L{level}[{i}]"))?;
            pte = with_frame(pte, pfn);
        }
        put64(&mut out, i * 8, pte);
    }
    Ok(out)
}

/// The pfns a saved page table's present entries name.
pub fn table_pfns(page: &[u8]) -> impl Iterator<Item = u64> + '_ {
    (0..PTES)
        .map(move |i| le64(page, i * 8))
        .filter(|pte| pte & PAGE_PRESENT != 0)
        .map(pte_frame)
}

/// A saved page table made the new domain's: pfns back to frames (every
/// pfn it names must have one by now).
pub fn localise_table(page: &mut [u8], level: u64, p2m: &P2m) -> Result<()> {
    for i in 0..PTES {
        let pte = le64(page, i * 8);
        if pte & PAGE_PRESENT != 0 {
            let mfn = p2m.to_mfn(pte_frame(pte), || format!("L{level}[{i}]"))?;
            put64(page, i * 8, with_frame(pte, mfn));
        }
    }
    Ok(())
}

/// GDT frames in use (16 at most).
fn gdt_frames(ctx: &VcpuGuestContext, vcpu: u32) -> Result<usize> {
    if ctx.gdt_ents > FIRST_RESERVED_GDT_ENTRY {
        return Err(PvImageError::Record {
            what: "X86_PV_VCPU_BASIC",
            why: format!(
                "vCPU {vcpu} has {} GDT entries, more than {FIRST_RESERVED_GDT_ENTRY}",
                ctx.gdt_ents
            ),
        });
    }
    Ok(ctx.gdt_ents.div_ceil(512) as usize)
}

/// A vCPU's state as the stream carries it: its frames (the suspend
/// record in vCPU 0's rdx, GDT frames, cr3, the user cr1) as pfns.
pub fn vcpu_to_pfns(ctx: &mut VcpuGuestContext, vcpu: u32, p2m: &P2m) -> Result<()> {
    if vcpu == 0 {
        ctx.user_regs.rdx = p2m.to_pfn(ctx.user_regs.rdx, || "the suspend record".into())?;
    }
    for i in 0..gdt_frames(ctx, vcpu)? {
        ctx.gdt_frames[i] = p2m.to_pfn(ctx.gdt_frames[i], || {
            format!("frame {i} of vCPU {vcpu}'s GDT")
        })?;
    }
    let cr3 = p2m.to_pfn(ctx.ctrlreg[3] >> PAGE_SHIFT, || {
        format!("vCPU {vcpu}'s cr3")
    })?;
    ctx.ctrlreg[3] = cr3 << PAGE_SHIFT;
    if ctx.ctrlreg[1] != 0 {
        let cr1 = p2m.to_pfn(ctx.ctrlreg[1] >> PAGE_SHIFT, || {
            format!("vCPU {vcpu}'s cr1")
        })?;
        ctx.ctrlreg[1] = 1 | (cr1 << PAGE_SHIFT);
    }
    Ok(())
}

/// A saved vCPU's state made the new domain's (the suspend record in
/// vCPU 0's rdx is done by [`fix_start_info`]); the vCPU comes up online.
pub fn vcpu_to_mfns(ctx: &mut VcpuGuestContext, vcpu: u32, p2m: &P2m, types: &[u64]) -> Result<()> {
    ctx.flags |= abi::VGCF_ONLINE;
    let of_type = |pfn: u64, want: u64, what: &dyn Fn() -> String| -> Result<u64> {
        let found = types.get(pfn as usize).copied().unwrap_or(pfinfo::XTAB);
        let kind = if want == pfinfo::NOTAB {
            found
        } else {
            found & pfinfo::LTABTYPE_MASK
        };
        if kind != want {
            return Err(PvImageError::PageType {
                what: what(),
                pfn,
                found: found >> pfinfo::LTAB_SHIFT,
                expected: want >> pfinfo::LTAB_SHIFT,
            });
        }
        p2m.to_mfn(pfn, what)
    };
    for i in 0..gdt_frames(ctx, vcpu)? {
        ctx.gdt_frames[i] = of_type(ctx.gdt_frames[i], pfinfo::NOTAB, &|| {
            format!("frame {i} of vCPU {vcpu}'s GDT")
        })?;
    }
    let cr3 = of_type(ctx.ctrlreg[3] >> PAGE_SHIFT, pfinfo::L4TAB, &|| {
        format!("vCPU {vcpu}'s cr3")
    })?;
    ctx.ctrlreg[3] = cr3 << PAGE_SHIFT;
    if ctx.ctrlreg[1] & 1 != 0 {
        let cr1 = of_type(ctx.ctrlreg[1] >> PAGE_SHIFT, pfinfo::L4TAB, &|| {
            format!("vCPU {vcpu}'s cr1")
        })?;
        ctx.ctrlreg[1] = cr1 << PAGE_SHIFT;
    }
    Ok(())
}

/// What the restored guest's start_info must say of its new domain.
#[derive(Clone, Copy, Debug)]
pub struct NewRings {
    pub store_evtchn: u32,
    pub console_evtchn: u32,
    pub shared_info_frame: u64,
}

/// The frames of the rings a restored guest's start_info names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RingFrames {
    pub store_mfn: u64,
    pub console_mfn: u64,
}

/// Rewrite a restored guest's start_info (saved with pfns): ring frames
/// and event channels, its size, shared_info and flags, as the new domain
/// has them.
pub fn fix_start_info(page: &mut [u8], p2m: &P2m, new: &NewRings) -> Result<RingFrames> {
    use abi::start_info as si;
    let store_mfn = p2m.to_mfn(le64(page, si::STORE_MFN), || "the xenstore ring".into())?;
    let console_mfn = p2m.to_mfn(le64(page, si::CONSOLE_MFN), || "the console ring".into())?;
    put64(page, si::STORE_MFN, store_mfn);
    page[si::STORE_EVTCHN..si::STORE_EVTCHN + 4].copy_from_slice(&new.store_evtchn.to_le_bytes());
    put64(page, si::CONSOLE_MFN, console_mfn);
    page[si::CONSOLE_EVTCHN..si::CONSOLE_EVTCHN + 4]
        .copy_from_slice(&new.console_evtchn.to_le_bytes());
    put64(page, si::NR_PAGES, p2m.len());
    put64(page, si::SHARED_INFO, new.shared_info_frame << PAGE_SHIFT);
    put64(page, si::FLAGS, 0);
    Ok(RingFrames {
        store_mfn,
        console_mfn,
    })
}

/// The new domain's shared_info from the saved one: the vCPUs' info and
/// the arch part, but no pending events (every channel masked: the guest
/// rebinds them as it resumes) and no p2m frame list (rebuilt by the
/// guest).
pub fn restore_shared_info(page: &mut [u8], saved: &[u8]) {
    use abi::shared_info as si;
    let vcpus = si::LEGACY_MAX_VCPUS * si::VCPU_INFO_SIZE;
    page[..vcpus].copy_from_slice(&saved[..vcpus]);
    page[si::ARCH..si::ARCH + si::ARCH_SIZE]
        .copy_from_slice(&saved[si::ARCH..si::ARCH + si::ARCH_SIZE]);
    put64(page, si::PFN_TO_MFN_FRAME_LIST_LIST, 0);
    page[si::EVTCHN_PENDING..si::EVTCHN_MASK].fill(0);
    for v in 0..si::LEGACY_MAX_VCPUS {
        put64(
            page,
            v * si::VCPU_INFO_SIZE + si::VCPU_INFO_EVTCHN_PENDING_SEL,
            0,
        );
    }
    page[si::EVTCHN_MASK..si::EVTCHN_MASK + (si::EVTCHN_MASK - si::EVTCHN_PENDING)].fill(0xff);
}

/// Where the guest keeps its p2m, from its shared_info.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum P2mRoot {
    /// A virtually mapped list at `vaddr`, reached through the page
    /// tables whose root is `cr3`.
    List { cr3: u64, vaddr: u64 },
    /// The three-level frame list tree, its top at `fll_mfn`.
    Tree { fll_mfn: u64 },
}

/// The guest's last pfn and where its p2m is.
pub fn p2m_root(shinfo: &[u8]) -> Result<(u64, P2mRoot)> {
    use abi::shared_info as si;
    let max_pfn = le64(shinfo, si::MAX_PFN)
        .checked_sub(1)
        .ok_or_else(|| PvImageError::P2m("max_pfn is 0".into()))?;
    let cr3 = le64(shinfo, si::P2M_CR3);
    let root = if cr3 != 0 {
        P2mRoot::List {
            cr3,
            vaddr: le64(shinfo, si::P2M_VADDR),
        }
    } else {
        P2mRoot::Tree {
            fll_mfn: le64(shinfo, si::PFN_TO_MFN_FRAME_LIST_LIST),
        }
    };
    Ok((max_pfn, root))
}

/// Reads guest frames (by mfn), one page each, concatenated.
pub type ReadFrames<'a> = dyn FnMut(&[u64]) -> Result<Vec<u8>> + 'a;

fn u64s(b: &[u8]) -> Vec<u64> {
    b.chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect()
}

fn valid_frame(mfn: u64, what: impl FnOnce() -> String) -> Result<u64> {
    if mfn == 0 || mfn == INVALID_MFN || mfn > PTE_FRAME_MASK >> PAGE_SHIFT {
        return Err(PvImageError::P2m(format!("{}: bad frame {mfn:#x}", what())));
    }
    Ok(mfn)
}

/// The frames holding the guest's p2m (pfns 0 to the returned last pfn),
/// found from `root`. Trailing p2m pages that all share one frame (the
/// guest's "nothing here" page) are left out, lowering the last pfn.
pub fn p2m_leaves(
    read: &mut ReadFrames<'_>,
    root: P2mRoot,
    max_pfn: u64,
) -> Result<(Vec<u64>, u64)> {
    match root {
        P2mRoot::List { cr3, vaddr } => p2m_list_leaves(read, cr3, vaddr, max_pfn),
        P2mRoot::Tree { fll_mfn } => p2m_tree_leaves(read, fll_mfn, max_pfn),
    }
}

/// The last index of a run of equal trailing entries' first element, as
/// the count of entries worth keeping before it.
fn distinct_prefix(entries: &[u64]) -> usize {
    let mut start = 0;
    for i in 1..entries.len() {
        if entries[i] != entries[i - 1] {
            start = i;
        }
    }
    start
}

fn p2m_list_leaves(
    read: &mut ReadFrames<'_>,
    cr3: u64,
    vaddr: u64,
    mut max_pfn: u64,
) -> Result<(Vec<u64>, u64)> {
    let mut frames = max_pfn / FPP + 1;
    let mut end = vaddr + frames * PAGE as u64 - 1;
    let canonical = |v: u64| ((v as i64) >> 47) == ((v as i64) >> 63);
    if !canonical(vaddr)
        || !canonical(end)
        || end < vaddr
        || (vaddr <= abi::HYPERVISOR_VIRT_END && end > abi::HYPERVISOR_VIRT_START)
    {
        return Err(PvImageError::P2m(format!(
            "bad virtual address range {vaddr:#x}-{end:#x}"
        )));
    }
    let mut mfns = vec![valid_frame(cr3 >> PAGE_SHIFT, || "p2m_cr3".into())?];
    let mut base = 0u64;
    for level in (1..=4u32).rev() {
        let ptes = u64s(&read(&mfns)?);
        let shift = level * 9 + 3;
        let first = (((vaddr - base) & VADDR_MASK) >> shift) as usize;
        let last = (((end - base) & VADDR_MASK) >> shift) as usize;
        let mut next = Vec::with_capacity(last + 1 - first);
        for (idx, pte) in ptes.iter().enumerate().take(last + 1).skip(first) {
            next.push(valid_frame(pte_frame(*pte), || {
                format!("level {level} entry {idx} of the p2m list's tables")
            })?);
        }
        if next.len() != last + 1 - first {
            return Err(PvImageError::P2m("the p2m list's tables end early".into()));
        }
        if level == 2 {
            let mut keep = distinct_prefix(&next);
            if keep + 1 == next.len() {
                keep += 1;
            }
            let lower = ((keep as u64) << 9) * FPP;
            if lower > 0 && lower - 1 < max_pfn {
                max_pfn = lower - 1;
                frames = max_pfn / FPP + 1;
                end = vaddr + frames * PAGE as u64 - 1;
                next.truncate(keep + 1);
            }
        }
        mfns = next;
        base = vaddr & ((VADDR_MASK >> shift) << shift);
    }
    mfns.truncate(frames as usize);
    Ok((mfns, max_pfn))
}

fn p2m_tree_leaves(
    read: &mut ReadFrames<'_>,
    fll_mfn: u64,
    mut max_pfn: u64,
) -> Result<(Vec<u64>, u64)> {
    let mut fll_entries = (max_pfn / (FPP * FPP) + 1) as usize;
    if fll_entries as u64 > FPP {
        return Err(PvImageError::P2m(format!(
            "max_pfn {max_pfn:#x} too large for the frame list tree"
        )));
    }
    valid_frame(fll_mfn, || "the frame list list".into())?;
    let fll: Vec<u64> = u64s(&read(&[fll_mfn])?)[..fll_entries].to_vec();
    for (i, m) in fll.iter().enumerate() {
        valid_frame(*m, || format!("frame list list entry {i}"))?;
    }
    let lower = (distinct_prefix(&fll) as u64 + 1) * FPP * FPP - 1;
    if lower < max_pfn {
        max_pfn = lower;
        fll_entries = (max_pfn / (FPP * FPP) + 1) as usize;
    }
    let fl_entries = (max_pfn / FPP + 1) as usize;
    let fl = u64s(&read(&fll[..fll_entries])?);
    let leaves: Vec<u64> = fl.get(..fl_entries).map(<[u64]>::to_vec).ok_or_else(|| {
        PvImageError::P2m("the frame list is shorter than the guest's p2m".into())
    })?;
    for (i, m) in leaves.iter().enumerate() {
        valid_frame(*m, || format!("frame list entry {i}"))?;
    }
    Ok((leaves, max_pfn))
}

/// A PV vCPU record's body: the vCPU id, 4 reserved bytes, the blob.
pub fn vcpu_record(vcpu: u32, blob: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(8 + blob.len());
    b.extend_from_slice(&vcpu.to_le_bytes());
    b.extend_from_slice(&[0; 4]);
    b.extend_from_slice(blob);
    b
}

/// X86_PV_P2M_FRAMES's body: pfns 0 to `max_pfn`, held in `frames`.
pub fn p2m_frames_record(max_pfn: u64, frames: &[u64]) -> Result<Vec<u8>> {
    let end = u32::try_from(max_pfn)
        .map_err(|_| PvImageError::P2m(format!("max_pfn {max_pfn:#x} beyond 32 bits")))?;
    let mut b = Vec::with_capacity(8 + frames.len() * 8);
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&end.to_le_bytes());
    for f in frames {
        b.extend_from_slice(&f.to_le_bytes());
    }
    Ok(b)
}

/// X86_PV_P2M_FRAMES read back: (first pfn, last pfn, p2m frame pfns).
pub fn parse_p2m_frames(body: &[u8]) -> Result<(u64, u64, Vec<u64>)> {
    let bad = |why: String| PvImageError::Record {
        what: "X86_PV_P2M_FRAMES",
        why,
    };
    if body.len() < 8 {
        return Err(bad(format!("{} bytes", body.len())));
    }
    let start = u64::from(u32::from_le_bytes(body[..4].try_into().expect("4")));
    let end = u64::from(u32::from_le_bytes(body[4..8].try_into().expect("4")));
    if start > end {
        return Err(bad(format!("first pfn {start:#x} after last {end:#x}")));
    }
    let want = (end / FPP + 1 - start / FPP) as usize;
    let pfns = u64s(&body[8..]);
    if pfns.len() != want || !(body.len() - 8).is_multiple_of(8) {
        return Err(bad(format!(
            "{} frames for pfns {start:#x}-{end:#x}, expected {want}",
            pfns.len()
        )));
    }
    Ok((start, end, pfns))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p2m() -> P2m {
        // pfn i lives in frame 0x1000 + 3 i (not contiguous on purpose).
        P2m::new((0..64).map(|i| 0x1000 + 3 * i).collect())
    }

    fn table(entries: &[(usize, u64)]) -> Vec<u8> {
        let mut page = vec![0u8; PAGE];
        for (i, pte) in entries {
            put64(&mut page, i * 8, *pte);
        }
        page
    }

    #[test]
    fn page_tables_go_to_pfns_and_back() {
        let p = p2m();
        let flags = 0x8000_0000_0000_0067u64; // NX, user, rw, present, ...
        let page = table(&[(0, (0x1000 + 3 * 5) << 12 | flags), (7, 0x1234_5000)]);
        let saved = normalise_table(&page, 1, &p).unwrap();
        assert_eq!(le64(&saved, 0), 5 << 12 | flags);
        // Not present: left as it is.
        assert_eq!(le64(&saved, 7 * 8), 0x1234_5000);
        assert_eq!(table_pfns(&saved).collect::<Vec<_>>(), vec![5]);
        let mut back = saved.clone();
        localise_table(&mut back, 1, &p).unwrap();
        assert_eq!(back, page);
    }

    #[test]
    fn xen_slots_of_an_l4_are_dropped_and_foreign_frames_refused() {
        let p = p2m();
        let mut entries: Vec<(usize, u64)> = xen_l4_slots().map(|i| (i, 0xdead_0067)).collect();
        entries.push((1, (0x1000 + 3) << 12 | 0x67));
        let saved = normalise_table(&table(&entries), 4, &p).unwrap();
        assert!(xen_l4_slots().all(|i| le64(&saved, i * 8) == 0));
        assert_eq!(xen_l4_slots(), 256..=272);
        assert_eq!(le64(&saved, 8), 1 << 12 | 0x67);
        // The same entries in an L3 are the guest's, and not its frames.
        let e = normalise_table(&table(&entries), 3, &p).unwrap_err();
        assert!(e.to_string().contains("does not belong"), "{e}");
        let e = normalise_table(&table(&[(3, (0x1000) << 12 | 0x81)]), 2, &p).unwrap_err();
        assert!(matches!(e, PvImageError::Superpage { level: 2, index: 3 }));
    }

    #[test]
    fn vcpu_frames_go_to_pfns_and_back() {
        let p = p2m();
        let mut ctx = VcpuGuestContext::default();
        ctx.user_regs.rdx = 0x1000 + 3 * 2;
        ctx.gdt_ents = 513;
        ctx.gdt_frames[0] = 0x1000 + 3 * 9;
        ctx.gdt_frames[1] = 0x1000 + 3 * 10;
        ctx.ctrlreg[3] = (0x1000 + 3 * 4) << 12;
        ctx.ctrlreg[1] = (0x1000 + 3 * 6) << 12;
        let orig = ctx;
        vcpu_to_pfns(&mut ctx, 0, &p).unwrap();
        assert_eq!(ctx.user_regs.rdx, 2);
        assert_eq!(&ctx.gdt_frames[..3], &[9, 10, 0]);
        assert_eq!(ctx.ctrlreg[3], 4 << 12);
        assert_eq!(ctx.ctrlreg[1], 6 << 12 | 1);
        let mut types = vec![pfinfo::NOTAB; 64];
        types[4] = pfinfo::L4TAB | pfinfo::LPINTAB;
        types[6] = pfinfo::L4TAB;
        let mut back = ctx;
        back.user_regs.rdx = orig.user_regs.rdx;
        vcpu_to_mfns(&mut back, 0, &p, &types).unwrap();
        assert_eq!(back.flags, abi::VGCF_ONLINE);
        back.flags = 0;
        assert_eq!(back, orig);
        // cr3 must be an L4.
        types[4] = pfinfo::L1TAB;
        let e = vcpu_to_mfns(&mut ctx, 0, &p, &types).unwrap_err();
        assert!(e.to_string().contains("cr3"), "{e}");
    }

    #[test]
    fn start_info_takes_the_new_domains_rings() {
        let mut p = p2m();
        p.grow(99);
        let mut page = vec![0u8; PAGE];
        put64(&mut page, abi::start_info::STORE_MFN, 7);
        put64(&mut page, abi::start_info::CONSOLE_MFN, 8);
        put64(&mut page, abi::start_info::FLAGS, 0x10);
        let rings = fix_start_info(
            &mut page,
            &p,
            &NewRings {
                store_evtchn: 3,
                console_evtchn: 4,
                shared_info_frame: 0xabc,
            },
        )
        .unwrap();
        assert_eq!(
            rings,
            RingFrames {
                store_mfn: 0x1000 + 21,
                console_mfn: 0x1000 + 24
            }
        );
        assert_eq!(le64(&page, abi::start_info::STORE_MFN), 0x1000 + 21);
        assert_eq!(page[abi::start_info::STORE_EVTCHN], 3);
        assert_eq!(page[abi::start_info::CONSOLE_EVTCHN], 4);
        assert_eq!(le64(&page, abi::start_info::NR_PAGES), 100);
        assert_eq!(le64(&page, abi::start_info::SHARED_INFO), 0xabc << 12);
        assert_eq!(le64(&page, abi::start_info::FLAGS), 0);
        put64(&mut page, abi::start_info::STORE_MFN, 80);
        assert!(
            fix_start_info(
                &mut page,
                &p,
                &NewRings {
                    store_evtchn: 0,
                    console_evtchn: 0,
                    shared_info_frame: 0
                }
            )
            .is_err()
        );
    }

    #[test]
    fn restored_shared_info_keeps_vcpus_and_arch_but_no_events() {
        use abi::shared_info as si;
        let saved: Vec<u8> = (0..PAGE).map(|i| (i % 251) as u8 + 1).collect();
        let mut page = vec![0u8; PAGE];
        restore_shared_info(&mut page, &saved);
        assert_eq!(page[..8], saved[..8]);
        assert_eq!(le64(&page, si::VCPU_INFO_EVTCHN_PENDING_SEL), 0);
        assert!(
            page[si::EVTCHN_PENDING..si::EVTCHN_MASK]
                .iter()
                .all(|b| *b == 0)
        );
        assert!(
            page[si::EVTCHN_MASK..si::EVTCHN_MASK + 512]
                .iter()
                .all(|b| *b == 0xff)
        );
        assert_eq!(le64(&page, si::PFN_TO_MFN_FRAME_LIST_LIST), 0);
        assert_eq!(
            page[si::P2M_CR3..si::P2M_CR3 + 8],
            saved[si::P2M_CR3..si::P2M_CR3 + 8]
        );
        // Wallclock fields are Xen's to set.
        assert!(
            page[si::EVTCHN_MASK + 512..si::ARCH]
                .iter()
                .all(|b| *b == 0)
        );
    }

    /// A guest memory of frames `frame -> page`, for walks.
    fn reader(mem: &HashMap<u64, Vec<u8>>) -> impl FnMut(&[u64]) -> Result<Vec<u8>> + '_ {
        move |frames| {
            Ok(frames
                .iter()
                .flat_map(|f| mem.get(f).cloned().unwrap_or_else(|| vec![0; PAGE]))
                .collect())
        }
    }

    #[test]
    fn the_p2m_list_is_found_through_the_page_tables() {
        // p2m at 0xffffc90000000000 (Linux's vmalloc area): L4 slot 402.
        let vaddr = 0xffff_c900_0000_0000u64;
        let mut mem = HashMap::new();
        let pte = |f: u64| f << 12 | 0x67;
        mem.insert(10, table(&[(402, pte(11))]));
        mem.insert(11, table(&[(0, pte(12))]));
        // Two L1 pages, then "missing" entries all sharing frame 99.
        let mut l2: Vec<(usize, u64)> = vec![(0, pte(13))];
        l2.extend((1..512).map(|i| (i, pte(99))));
        mem.insert(12, table(&l2));
        let l1: Vec<(usize, u64)> = (0..512).map(|i| (i, pte(20 + i as u64))).collect();
        mem.insert(13, table(&l1));
        let root = P2mRoot::List {
            cr3: 10 << 12,
            vaddr,
        };
        // The guest claims 4 GiB of pfns; only the first 2 MiB of the list
        // (1 GiB of pfns) is real.
        let (leaves, max_pfn) = p2m_leaves(&mut reader(&mem), root, (1 << 20) - 1).unwrap();
        assert_eq!(max_pfn, 512 * 512 - 1);
        assert_eq!(leaves.len(), 512);
        assert_eq!(&leaves[..3], &[20, 21, 22]);
        // A small guest: exactly its frames.
        let (leaves, max_pfn) = p2m_leaves(&mut reader(&mem), root, 1023).unwrap();
        assert_eq!((leaves, max_pfn), (vec![20, 21], 1023));
    }

    #[test]
    fn the_p2m_tree_is_found_through_its_frame_lists() {
        let mut mem = HashMap::new();
        mem.insert(5, table(&[(0, 6)]));
        mem.insert(6, table(&[(0, 30), (1, 31)]));
        let (leaves, max_pfn) =
            p2m_leaves(&mut reader(&mem), P2mRoot::Tree { fll_mfn: 5 }, 1000).unwrap();
        assert_eq!((leaves, max_pfn), (vec![30, 31], 1000));
        let e = p2m_leaves(&mut reader(&mem), P2mRoot::Tree { fll_mfn: 0 }, 10).unwrap_err();
        assert!(e.to_string().contains("bad frame"), "{e}");
    }

    #[test]
    fn p2m_frames_records_round_trip_and_are_checked() {
        let body = p2m_frames_record(1023, &[7, 8]).unwrap();
        assert_eq!(parse_p2m_frames(&body).unwrap(), (0, 1023, vec![7, 8]));
        assert!(parse_p2m_frames(&body[..16]).is_err());
        assert!(parse_p2m_frames(&[0; 4]).is_err());
    }

    #[test]
    fn page_types_with_and_without_data() {
        assert_eq!(table_level(pfinfo::L4TAB | pfinfo::LPINTAB), Some(4));
        assert_eq!(table_level(pfinfo::L1TAB), Some(1));
        assert_eq!(table_level(pfinfo::NOTAB), None);
        assert_eq!(table_level(pfinfo::XTAB), None);
        assert!(has_data(pfinfo::L2TAB | pfinfo::LPINTAB));
        assert!(has_data(pfinfo::NOTAB));
        assert!(!has_data(pfinfo::XTAB));
        assert!(!has_data(pfinfo::XALLOC));
        assert!(!has_data(pfinfo::BROKEN));
    }
}
