//! x86_64 PV guests: the boot layout libxenguest builds (`xc_dom_build_image` with the
//! x86_64 hooks of `xg_dom_x86.c`) and its application through a [`PvTarget`].
//!
//! Layout, in allocation order (pfn = (vaddr − virt_base) / 4096 inside the initial
//! mapping):
//! 1. padding from `virt_base` to `virt_kstart`, then the kernel;
//! 2. the ramdisk, when the kernel has no MOD_START_PFN note (mapped, `mod_start` = vaddr);
//! 3. the p2m list, when the kernel gives no usable INIT_P2M;
//! 4. start_info, xenstore ring, console ring (from Xen 4.21 the console ring starts
//!    marked disconnected);
//! 5. the page tables of the initial mapping (L4, L3s, L2s, L1s), sized so that the mapping
//!    covers everything up to a 4 MiB boundary past the tables, the boot stack and 512 KiB;
//! 6. the boot stack, then padding up to the end of the initial mapping;
//! 7. the ramdisk when MOD_START_PFN is set (unmapped, `mod_start` = pfn);
//! 8. the p2m list at INIT_P2M, followed by its own page tables.

use std::borrow::Cow;
use std::fmt;

use crate::image::Kernel;
use crate::layout::{Allocator, LayoutError, LayoutEvent, Mapping, Segment, count_pgtables};
use crate::target::{
    DR6_DEFAULT, DR7_DEFAULT, FLAT_KERNEL_CS, FLAT_KERNEL_DS, FLAT_KERNEL_SS,
    GNTTAB_RESERVED_CONSOLE, GNTTAB_RESERVED_XENSTORE, GrantSeed, GuestFrames, PvTarget,
    PvVcpuContext, RFLAGS_IF, TargetError, VGCF_IN_KERNEL, VGCF_ONLINE,
};
use crate::x86::pgtables;
pub use crate::x86::start_info::StartInfo;
use crate::x86::start_info::{MAGIC_X86_64, SIF_MOD_START_PFN, truncate_cmdline};
use crate::{PAGE_SHIFT, PAGE_SIZE};

/// Pages written per [`GuestFrames::write_frames`] or [`GuestFrames::write_frames_with`] call
/// (4 MiB), so a backend maps guest memory in bounded batches.
const WRITE_CHUNK_PAGES: u64 = 1024;
/// Slack libxenguest keeps mapped past the boot stack (512 KiB).
const PGTABLE_SLACK_PAGES: u64 = (512 * 1024) / PAGE_SIZE;
/// The initial mapping ends on a 4 MiB boundary.
const INITIAL_MAPPING_ALIGN_MASK: u64 = (4 << 20) - 1;
/// The table count settles in two or three rounds; this bounds pathological inputs.
const MAX_PGTABLE_ROUNDS: usize = 64;
/// Bytes per p2m entry of a 64-bit guest.
const P2M_ENTRY_SIZE: u64 = 8;
/// The first release whose builder marks the console ring disconnected.
const CONSOLE_CONNECTION_FROM: (u32, u32) = (4, 21);
/// Offset of `connection` in `xencons_interface`.
const CONSOLE_CONNECTION_OFFSET: usize = 3088;
/// `XENCONSOLE_DISCONNECTED`: xenconsoled has not attached yet.
const XENCONSOLE_DISCONNECTED: u8 = 1;

/// What the toolstack asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PvRequest {
    /// Target memory in pages (libxl: whole MiB of `target_memkb`).
    pub nr_pages: u64,
    /// Size in bytes of the ramdisk *as loaded* (the length of [`crate::load_ramdisk`]'s
    /// result for this `xen_version`, which differs from the file for a gzip ramdisk on
    /// Xen 4.17–4.19); 0 for none.
    pub ramdisk_len: u64,
    /// Kernel command line.
    pub cmdline: String,
    /// Event channel (in the guest) bound to xenstored.
    pub store_evtchn: u32,
    /// Event channel (in the guest) bound to xenconsoled.
    pub console_evtchn: u32,
    /// Domain running xenstored.
    pub xenstore_domid: u16,
    /// Domain running xenconsoled.
    pub console_domid: u16,
    /// The guest's own domid.
    pub domid: u16,
    /// (major, minor) of the running hypervisor: libxenguest's behaviour follows its
    /// release (see [`crate::load_ramdisk`]; the console ring's `connection` byte from
    /// 4.21). Older releases are built as 4.17 builds them.
    pub xen_version: (u32, u32),
}

/// Why a PV guest cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The kernel is not a 64-bit PV kernel.
    #[error(
        "the kernel is a 32-bit (x86_32) PV kernel; only 64-bit (x86_64) PV kernels are \
         supported"
    )]
    NotX86_64,
    /// The layout needs more pages than the domain has.
    #[error("kernel+ramdisk need {need_mib} MiB, the domain has {have_mib} MiB: raise memory")]
    DoesNotFit {
        /// Pages the layout needs.
        need_pages: u64,
        /// Pages of the domain.
        have_pages: u64,
        /// `need_pages` in MiB, rounded up.
        need_mib: u64,
        /// `have_pages` in MiB.
        have_mib: u64,
    },
    /// The layout is impossible (addresses overflow, mappings collide).
    #[error("cannot lay out the guest: {0}")]
    Layout(#[from] LayoutError),
    /// Inputs contradict each other or the plan.
    #[error("{0}")]
    Invalid(String),
    /// The kernel's loadable bytes could not be read (its file shrank or failed).
    #[error("cannot read the kernel: {0}")]
    KernelRead(std::io::Error),
    /// The target failed at `step`.
    #[error("{step}")]
    Target {
        /// What the builder was doing.
        step: &'static str,
        /// The target's error.
        #[source]
        source: TargetError,
    },
}

/// Attach the builder step to a target error.
pub(crate) trait Step<T> {
    fn during(self, step: &'static str) -> Result<T, BuildError>;
}

impl<T> Step<T> for Result<T, TargetError> {
    fn during(self, step: &'static str) -> Result<T, BuildError> {
        self.map_err(|source| BuildError::Target { step, source })
    }
}

/// Where the ramdisk goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RamdiskPlacement {
    /// Its pages ("module0").
    pub segment: Segment,
    /// Its length in bytes.
    pub len: u64,
    /// Whether it lies inside the initial mapping.
    pub mapped: bool,
}

/// The complete boot layout of a PV guest; everything [`apply_pv`] writes follows from it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PvPlan {
    /// Pages of the domain.
    pub nr_pages: u64,
    /// Virtual address of pfn 0.
    pub virt_base: u64,
    /// Kernel entry point.
    pub entry: u64,
    /// Virtual address of the hypercall page, if the kernel has one.
    pub hypercall_page: Option<u64>,
    /// The kernel image (paddr range of its ELF segments).
    pub kernel: Segment,
    /// ELF paddr loaded at the first byte of `kernel`.
    pub kernel_paddr: u64,
    /// The ramdisk, if any.
    pub ramdisk: Option<RamdiskPlacement>,
    /// The p2m list segment (including its own page tables when mapped at INIT_P2M).
    pub p2m: Segment,
    /// Virtual address of the p2m list as the guest sees it (`mfn_list`).
    pub p2m_vaddr: u64,
    /// Whether the p2m list is mapped at INIT_P2M (with its own tables).
    pub p2m_at_init_p2m: bool,
    /// pfn of start_info.
    pub start_info_pfn: u64,
    /// pfn of the xenstore ring.
    pub xenstore_pfn: u64,
    /// pfn of the console ring.
    pub console_pfn: u64,
    /// pfn of the boot stack.
    pub bootstack_pfn: u64,
    /// The initial page tables (L4 first).
    pub pgtables: Segment,
    /// The initial mapping, then (if any) the p2m list's.
    pub mappings: Vec<Mapping>,
    /// End of the initial mapping (exclusive).
    pub virt_pgtab_end: u64,
    /// First pfn past everything allocated.
    pub end_pfn: u64,
    /// start_info flags (0 or `SIF_MOD_START_PFN`).
    pub flags: u32,
    /// start_info `mod_start`.
    pub mod_start: u64,
    /// start_info `mod_len`.
    pub mod_len: u64,
    /// Command line as stored (truncated to 1023 bytes).
    pub cmdline: Vec<u8>,
    /// Copied from the request.
    pub store_evtchn: u32,
    /// Copied from the request.
    pub console_evtchn: u32,
    /// Copied from the request.
    pub xenstore_domid: u16,
    /// Copied from the request.
    pub console_domid: u16,
    /// Copied from the request.
    pub domid: u16,
    /// Copied from the request.
    pub xen_version: (u32, u32),
    /// Every allocation step, for [`PvPlan::describe`].
    pub events: Vec<LayoutEvent>,
}

impl PvPlan {
    /// libxenguest-style debug lines, one per allocation step (compare with
    /// `xl -vvv create`'s `domainbuilder: detail:` lines; segment ends are printed as
    /// Xen 4.19+, 4.18.3+ and 4.17.5+ do, unrounded).
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for event in &self.events {
            out.push_str(&event.to_string());
            out.push('\n');
        }
        out
    }

    /// Virtual address of `pfn` inside the initial mapping.
    pub fn vaddr_of(&self, pfn: u64) -> u64 {
        self.virt_base.wrapping_add(pfn << PAGE_SHIFT)
    }

    /// pfn of the L4 table.
    pub fn l4_pfn(&self) -> u64 {
        self.pgtables.pfn
    }

    /// Frames of the initial page tables (`nr_pt_frames`).
    pub fn nr_pt_frames(&self) -> u64 {
        self.pgtables.pages
    }
}

impl fmt::Display for PvPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

/// What was built: the frames the toolstack publishes (xenstore, console) and the state
/// written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PvBuilt {
    /// pfn of the xenstore ring.
    pub store_pfn: u64,
    /// Its MFN (`store/ring-ref` for PV).
    pub store_mfn: u64,
    /// pfn of the console ring.
    pub console_pfn: u64,
    /// Its MFN (`console/ring-ref` for PV).
    pub console_mfn: u64,
    /// pfn of start_info.
    pub start_info_pfn: u64,
    /// pfn of the L4 table.
    pub l4_pfn: u64,
    /// MFN of the L4 table (pinned).
    pub l4_mfn: u64,
    /// MFN of shared_info.
    pub shared_info_mfn: u64,
    /// MFN given to the hypercall-page setup, if any.
    pub hypercall_mfn: Option<u64>,
    /// start_info as written.
    pub start_info: StartInfo,
    /// vCPU 0's context as set.
    pub vcpu: PvVcpuContext,
    /// Grant entries seeded.
    pub grants: Vec<GrantSeed>,
}

/// Compute the layout of a 64-bit PV guest exactly as libxenguest would.
pub fn plan_pv(kernel: &Kernel, req: &PvRequest) -> Result<PvPlan, BuildError> {
    check_guest_type(kernel)?;
    check_request(req)?;
    let virt_base = kernel.virt_base();
    let mut alloc = Allocator::new(virt_base);
    let kernel_seg = alloc.segment("kernel", kernel.virt_kstart(), kernel_span(kernel))?;
    let has_ramdisk = req.ramdisk_len > 0;
    let mut ramdisk = None;
    if has_ramdisk && !kernel.unmapped_initrd() {
        ramdisk = Some(place_ramdisk(&mut alloc, req.ramdisk_len, true)?);
    }
    let p2m_bytes = p2m_list_bytes(req.nr_pages)?;
    let p2m_place = match usable_init_p2m(kernel) {
        None => P2mPlace::InitialMapping(alloc.segment("phys2mach", 0, p2m_bytes)?),
        Some(base) => P2mPlace::InitP2m(base),
    };
    let start_info_pfn = alloc.page("start info")?;
    let xenstore_pfn = alloc.page("xenstore")?;
    let console_pfn = alloc.page("console")?;
    let (initial, pgtables, virt_pgtab_end) = alloc_initial_pgtables(&mut alloc, virt_base)?;
    let bootstack_pfn = alloc.page("boot stack")?;
    alloc
        .events
        .push(LayoutEvent::VirtAllocEnd(alloc.virt_alloc_end));
    alloc.events.push(LayoutEvent::VirtPgtabEnd(virt_pgtab_end));
    alloc.pad_to(virt_pgtab_end)?;
    if has_ramdisk && kernel.unmapped_initrd() {
        ramdisk = Some(place_ramdisk(&mut alloc, req.ramdisk_len, false)?);
    }
    let mut mappings = vec![initial];
    let p2m_at_init_p2m = matches!(p2m_place, P2mPlace::InitP2m(_));
    let (p2m, p2m_vaddr) = match p2m_place {
        P2mPlace::InitialMapping(seg) => {
            let vaddr = seg.vstart;
            (seg, vaddr)
        }
        P2mPlace::InitP2m(base) => alloc_p2m_mapping(&mut alloc, &mut mappings, base, p2m_bytes)?,
    };
    check_fits(alloc.pfn_alloc_end, req.nr_pages)?;
    let hypercall_page = check_hypercall_page(kernel, virt_pgtab_end)?;
    let (flags, mod_start, mod_len) = module_fields(ramdisk.as_ref());
    Ok(PvPlan {
        nr_pages: req.nr_pages,
        virt_base,
        entry: kernel.entry(),
        hypercall_page,
        kernel: kernel_seg,
        kernel_paddr: kernel.paddr_start(),
        ramdisk,
        p2m_at_init_p2m,
        p2m,
        p2m_vaddr,
        start_info_pfn,
        xenstore_pfn,
        console_pfn,
        bootstack_pfn,
        pgtables,
        mappings,
        virt_pgtab_end,
        end_pfn: alloc.pfn_alloc_end,
        flags,
        mod_start,
        mod_len,
        cmdline: truncate_cmdline(req.cmdline.as_bytes()).to_vec(),
        store_evtchn: req.store_evtchn,
        console_evtchn: req.console_evtchn,
        xenstore_domid: req.xenstore_domid,
        console_domid: req.console_domid,
        domid: req.domid,
        xen_version: req.xen_version,
        events: alloc.events,
    })
}

fn check_guest_type(kernel: &Kernel) -> Result<(), BuildError> {
    if !kernel.is_64bit() {
        return Err(BuildError::NotX86_64);
    }
    Ok(())
}

fn check_request(req: &PvRequest) -> Result<(), BuildError> {
    if req.nr_pages == 0 {
        return Err(BuildError::Invalid(
            "the domain has no memory (0 pages)".to_string(),
        ));
    }
    Ok(())
}

/// Bytes of the kernel image in memory (virt_kend − virt_kstart).
fn kernel_span(kernel: &Kernel) -> u64 {
    kernel.paddr_end() - kernel.paddr_start()
}

/// Where the p2m list goes.
enum P2mPlace {
    /// Inside the initial mapping, already allocated.
    InitialMapping(Segment),
    /// At this INIT_P2M address, after everything else, with its own page tables.
    InitP2m(u64),
}

/// INIT_P2M when libxenguest honours it: below VIRT_BASE and page aligned.
fn usable_init_p2m(kernel: &Kernel) -> Option<u64> {
    kernel
        .init_p2m()
        .filter(|&base| base < kernel.virt_base() && base.is_multiple_of(PAGE_SIZE))
}

/// The p2m list: one u64 per page, rounded up to whole pages.
fn p2m_list_bytes(nr_pages: u64) -> Result<u64, BuildError> {
    nr_pages
        .checked_mul(P2M_ENTRY_SIZE)
        .and_then(|b| b.checked_next_multiple_of(PAGE_SIZE))
        .ok_or_else(|| BuildError::Invalid(format!("{nr_pages} pages is not a memory size")))
}

fn place_ramdisk(
    alloc: &mut Allocator,
    len: u64,
    mapped: bool,
) -> Result<RamdiskPlacement, BuildError> {
    let segment = alloc.segment("module0", 0, len)?;
    Ok(RamdiskPlacement {
        segment,
        len,
        mapped,
    })
}

/// start_info's module fields: a mapped ramdisk is given by address and exact length; an
/// unmapped one by pfn and page-rounded length (libxenguest up to 4.22 rounds it).
fn module_fields(ramdisk: Option<&RamdiskPlacement>) -> (u32, u64, u64) {
    match ramdisk {
        None => (0, 0, 0),
        Some(r) if r.mapped => (0, r.segment.vstart, r.len),
        Some(r) => (
            SIF_MOD_START_PFN,
            r.segment.pfn,
            r.segment.pages * PAGE_SIZE,
        ),
    }
}

/// `alloc_pgtables_pv`: grow the initial mapping until it covers its own tables, the boot
/// stack and 512 KiB of slack, ending on a 4 MiB boundary; then allocate the tables.
fn alloc_initial_pgtables(
    alloc: &mut Allocator,
    virt_base: u64,
) -> Result<(Mapping, Segment, u64), BuildError> {
    let extra = 1 + PGTABLE_SLACK_PAGES; // the boot stack, then slack
    let mut pages = extra;
    for _ in 0..MAX_PGTABLE_ROUNDS {
        let try_virt_end = virt_after(alloc.virt_alloc_end, pages)? | INITIAL_MAPPING_ALIGN_MASK;
        let mut map = count_pgtables(
            &[],
            virt_base,
            try_virt_end,
            alloc.pfn_alloc_end,
            &mut alloc.events,
        )?;
        pages = map.area.tables + extra;
        if u128::from(virt_after(alloc.virt_alloc_end, pages)?) <= u128::from(try_virt_end) + 1 {
            let virt_pgtab_end = try_virt_end.checked_add(1).ok_or_else(|| {
                LayoutError("the initial mapping reaches the top of the address space".into())
            })?;
            map.area.pfn = 0;
            let seg = alloc.segment("page tables", 0, map.area.tables * PAGE_SIZE)?;
            return Ok((map, seg, virt_pgtab_end));
        }
    }
    Err(LayoutError("the page-table count does not settle".to_string()).into())
}

fn virt_after(vaddr: u64, pages: u64) -> Result<u64, LayoutError> {
    pages
        .checked_mul(PAGE_SIZE)
        .and_then(|b| vaddr.checked_add(b))
        .ok_or_else(|| LayoutError("the initial mapping runs past the address space".into()))
}

/// `alloc_p2m_list_x86_64` with INIT_P2M: the list at `base`, its own page tables right
/// after it in pfn space.
fn alloc_p2m_mapping(
    alloc: &mut Allocator,
    mappings: &mut Vec<Mapping>,
    base: u64,
    p2m_bytes: u64,
) -> Result<(Segment, u64), BuildError> {
    let to = base
        .checked_add(p2m_bytes - 1)
        .ok_or_else(|| LayoutError("the p2m list runs past the address space".into()))?;
    let mut map = count_pgtables(mappings, base, to, alloc.pfn_alloc_end, &mut alloc.events)?;
    map.area.pfn = alloc.pfn_alloc_end;
    map.shift_tables(p2m_bytes >> PAGE_SHIFT);
    let total = map
        .area
        .tables
        .checked_mul(PAGE_SIZE)
        .and_then(|t| t.checked_add(p2m_bytes))
        .ok_or_else(|| LayoutError("the p2m list is larger than any memory".into()))?;
    mappings.push(map);
    let seg = alloc.segment("phys2mach", 0, total)?;
    Ok((seg, base))
}

fn check_fits(need_pages: u64, have_pages: u64) -> Result<(), BuildError> {
    const PAGES_PER_MIB: u64 = (1 << 20) / PAGE_SIZE;
    if need_pages > have_pages {
        return Err(BuildError::DoesNotFit {
            need_pages,
            have_pages,
            need_mib: need_pages.div_ceil(PAGES_PER_MIB),
            have_mib: have_pages / PAGES_PER_MIB,
        });
    }
    Ok(())
}

/// The hypercall page must be a page the initial mapping covers.
fn check_hypercall_page(kernel: &Kernel, virt_pgtab_end: u64) -> Result<Option<u64>, BuildError> {
    let Some(page) = kernel.hypercall_page() else {
        return Ok(None);
    };
    if page < kernel.virt_base() || page >= virt_pgtab_end {
        return Err(BuildError::Invalid(format!(
            "the HYPERCALL_PAGE note ({page:#x}) points outside the kernel's initial mapping \
             ({:#x}-{virt_pgtab_end:#x})",
            kernel.virt_base()
        )));
    }
    Ok(Some(page))
}

/// Write the planned guest into `t`: populate, load, build tables and start_info, pin,
/// set vCPU 0 and seed the grant table. `ramdisk` is the ramdisk as loaded
/// ([`crate::load_ramdisk`]'s result), the bytes whose length the plan was made for.
pub fn apply_pv(
    plan: &PvPlan,
    kernel: &Kernel,
    ramdisk: &[u8],
    t: &mut dyn PvTarget,
) -> Result<PvBuilt, BuildError> {
    check_ramdisk_len(plan, ramdisk)?;
    apply_pv_deferred(plan, kernel, || Ok(Cow::Borrowed(ramdisk)), t)
}

/// [`apply_pv`], the ramdisk's bytes asked of `ramdisk` only once the kernel is in guest
/// memory, so that they can be unpacked meanwhile (the plan needs only their length:
/// [`crate::loaded_ramdisk_len`]). Its error is returned as it is.
pub fn apply_pv_deferred<'r>(
    plan: &PvPlan,
    kernel: &Kernel,
    ramdisk: impl FnOnce() -> Result<Cow<'r, [u8]>, BuildError>,
    t: &mut dyn PvTarget,
) -> Result<PvBuilt, BuildError> {
    check_plan_kernel(plan, kernel)?;
    let p2m = populate(plan, t)?;
    let seg = &plan.kernel;
    let frames = &p2m[seg.pfn as usize..(seg.pfn + seg.pages) as usize];
    write_kernel_image(kernel, plan.kernel_paddr, frames, t, "writing the kernel")?;
    let ramdisk = ramdisk()?;
    check_ramdisk_len(plan, &ramdisk)?;
    load_ramdisk(plan, &ramdisk, &p2m, t)?;
    clear_magic_pages(plan, &p2m, t)?;
    write_page_tables(plan, &p2m, t)?;
    write_p2m_list(plan, &p2m, t)?;
    let shared_info_mfn = t
        .shared_info_mfn()
        .during("reading the shared_info frame")?;
    let start_info = start_info(plan, &p2m, shared_info_mfn);
    write_pages(t, &p2m, plan.start_info_pfn, 1, &start_info.to_bytes())
        .during("writing start_info")?;
    let hypercall_mfn = setup_hypercall_page(plan, &p2m, t)?;
    let l4_mfn = p2m[plan.l4_pfn() as usize];
    t.pin_l4(l4_mfn).during("pinning the L4 page table")?;
    t.init_shared_info().during("initialising shared_info")?;
    let vcpu = vcpu_context(plan, l4_mfn);
    t.set_vcpu_context(&vcpu)
        .during("setting vCPU 0's context")?;
    let grants = grant_seeds(plan, &start_info);
    t.seed_grants(&grants).during("seeding the grant table")?;
    Ok(PvBuilt {
        store_pfn: plan.xenstore_pfn,
        store_mfn: start_info.store_mfn,
        console_pfn: plan.console_pfn,
        console_mfn: start_info.console_mfn,
        start_info_pfn: plan.start_info_pfn,
        l4_pfn: plan.l4_pfn(),
        l4_mfn,
        shared_info_mfn,
        hypercall_mfn,
        start_info,
        vcpu,
        grants,
    })
}

/// The plan must have been made for this kernel, and lie inside the domain.
fn check_plan_kernel(plan: &PvPlan, kernel: &Kernel) -> Result<(), BuildError> {
    check_plan_bounds(plan)?;
    if plan.kernel_paddr != kernel.paddr_start()
        || plan.kernel.vend.checked_sub(plan.kernel.vstart) != Some(kernel_span(kernel))
    {
        return Err(BuildError::Invalid(
            "the plan was made for another kernel".to_string(),
        ));
    }
    Ok(())
}

/// The plan must have been made for a ramdisk of this length.
fn check_ramdisk_len(plan: &PvPlan, ramdisk: &[u8]) -> Result<(), BuildError> {
    let planned = plan.ramdisk.as_ref().map_or(0, |r| r.len);
    if planned != ramdisk.len() as u64 {
        return Err(BuildError::Invalid(format!(
            "the ramdisk is {} bytes but the plan was made for {planned} (both must be the \
             loaded ramdisk)",
            ramdisk.len()
        )));
    }
    Ok(())
}

/// Every pfn the plan names must be one [`populate`] provides (plans are public data).
fn check_plan_bounds(plan: &PvPlan) -> Result<(), BuildError> {
    let n = plan.nr_pages;
    let seg_ok = |s: &Segment| s.pfn.checked_add(s.pages).is_some_and(|end| end <= n);
    let mut ok = plan.end_pfn <= n
        && seg_ok(&plan.kernel)
        && seg_ok(&plan.pgtables)
        && seg_ok(&plan.p2m)
        && plan.ramdisk.as_ref().is_none_or(|r| seg_ok(&r.segment))
        && [
            plan.start_info_pfn,
            plan.xenstore_pfn,
            plan.console_pfn,
            plan.bootstack_pfn,
        ]
        .iter()
        .all(|&pfn| pfn < n)
        && plan
            .mappings
            .first()
            .is_some_and(|m| m.table_pfns().start == plan.pgtables.pfn)
        && plan
            .mappings
            .iter()
            .all(|m| m.table_pfns().end <= n && m.area.tables <= n)
        && p2m_list_bytes(n)? / PAGE_SIZE <= plan.p2m.pages;
    if let Some(vaddr) = plan.hypercall_page {
        ok &= vaddr
            .checked_sub(plan.virt_base)
            .is_some_and(|off| (off >> PAGE_SHIFT) < n);
    }
    if !ok {
        return Err(BuildError::Invalid(
            "the plan names pages outside the domain".to_string(),
        ));
    }
    Ok(())
}

fn populate(plan: &PvPlan, t: &mut dyn PvTarget) -> Result<Vec<u64>, BuildError> {
    let p2m = t
        .populate(plan.nr_pages)
        .during("populating the guest's memory")?;
    if p2m.len() as u64 != plan.nr_pages {
        return Err(BuildError::Invalid(format!(
            "the target populated {} pages, {} were asked for",
            p2m.len(),
            plan.nr_pages
        )));
    }
    Ok(p2m)
}

/// Copy `bytes` into the pages `first_pfn..first_pfn+pages` (zero-filling the rest), in
/// batches of [`WRITE_CHUNK_PAGES`].
fn write_pages(
    t: &mut dyn PvTarget,
    p2m: &[u64],
    first_pfn: u64,
    pages: u64,
    bytes: &[u8],
) -> Result<(), TargetError> {
    let mut done = 0;
    while done < pages {
        let n = WRITE_CHUNK_PAGES.min(pages - done);
        let start = ((done * PAGE_SIZE) as usize).min(bytes.len());
        let end = (((done + n) * PAGE_SIZE) as usize).min(bytes.len());
        let pfn = (first_pfn + done) as usize;
        t.write_frames(&p2m[pfn..pfn + n as usize], &bytes[start..end])?;
        done += n;
    }
    Ok(())
}

/// The kernel image written in place into `frames` (the frames of its segment, in order),
/// a chunk of frames at a time: each chunk's part of every ELF segment is read straight
/// into the guest's frames (at paddr − pstart, later program headers overwriting earlier
/// ones as libelf copies them), bss and gaps zeroed. PV and HVM builds share it.
pub(crate) fn write_kernel_image(
    kernel: &Kernel,
    pstart: u64,
    frames: &[u64],
    t: &mut dyn GuestFrames,
    step: &'static str,
) -> Result<(), BuildError> {
    let mut read_error = None;
    for (i, chunk) in frames.chunks(WRITE_CHUNK_PAGES as usize).enumerate() {
        let chunk_start = i as u64 * WRITE_CHUNK_PAGES * PAGE_SIZE;
        let written = t.write_frames_with(chunk, &mut |offset, piece| {
            fill_kernel_image(kernel, pstart, piece, chunk_start + offset as u64).map_err(|e| {
                read_error = Some(e);
                TargetError::Message("the kernel could not be read".to_string())
            })
        });
        if let Some(e) = read_error.take() {
            return Err(BuildError::KernelRead(e));
        }
        written.during(step)?;
    }
    Ok(())
}

/// The kernel image's bytes `image_start..image_start + buf.len()` (offsets from the
/// lowest segment paddr `pstart`) into `buf`.
fn fill_kernel_image(
    kernel: &Kernel,
    pstart: u64,
    buf: &mut [u8],
    image_start: u64,
) -> std::io::Result<()> {
    let image_end = image_start + buf.len() as u64;
    let at = |addr: u64| (addr - image_start) as usize;
    // The parts of `buf` each segment covers, as image offsets.
    let parts: Vec<_> = kernel
        .segments()
        .filter_map(|s| {
            let dest = s.paddr - pstart;
            let lo = dest.max(image_start);
            let hi = (dest + s.memsz).min(image_end);
            (lo < hi).then_some((s, lo, hi))
        })
        .collect();
    // Zero only what no segment covers: guest memory is written once where segments
    // do not overlap.
    let mut covered: Vec<(u64, u64)> = parts.iter().map(|&(_, lo, hi)| (lo, hi)).collect();
    covered.sort_unstable();
    let mut next = image_start;
    for (lo, hi) in covered {
        if lo > next {
            buf[at(next)..at(lo)].fill(0);
        }
        next = next.max(hi);
    }
    if next < image_end {
        buf[at(next)..].fill(0);
    }
    for (s, lo, hi) in parts {
        let dest = s.paddr - pstart;
        let split = (dest + s.filesz).clamp(lo, hi);
        if split > lo {
            kernel.read_elf_at(&mut buf[at(lo)..at(split)], s.file_offset + (lo - dest))?;
        }
        buf[at(split)..at(hi)].fill(0);
    }
    Ok(())
}

fn load_ramdisk(
    plan: &PvPlan,
    ramdisk: &[u8],
    p2m: &[u64],
    t: &mut dyn PvTarget,
) -> Result<(), BuildError> {
    let Some(r) = &plan.ramdisk else {
        return Ok(());
    };
    write_pages(t, p2m, r.segment.pfn, r.segment.pages, ramdisk).during("writing the ramdisk")
}

/// xenstore and console rings start zeroed, and so does the boot stack; from 4.21 the
/// console ring says that no backend is attached yet.
fn clear_magic_pages(plan: &PvPlan, p2m: &[u64], t: &mut dyn PvTarget) -> Result<(), BuildError> {
    let console = console_page(plan.xen_version);
    for (pfn, bytes) in [
        (plan.xenstore_pfn, &[][..]),
        (plan.console_pfn, &console[..]),
        (plan.bootstack_pfn, &[][..]),
    ] {
        write_pages(t, p2m, pfn, 1, bytes)
            .during("clearing the xenstore, console and stack pages")?;
    }
    Ok(())
}

/// The initial console ring: all zero, then (4.21+) `connection` = disconnected.
fn console_page(xen_version: (u32, u32)) -> Vec<u8> {
    if xen_version < CONSOLE_CONNECTION_FROM {
        return Vec::new();
    }
    let mut page = vec![0; CONSOLE_CONNECTION_OFFSET + 1];
    page[CONSOLE_CONNECTION_OFFSET] = XENCONSOLE_DISCONNECTED;
    page
}

fn write_page_tables(plan: &PvPlan, p2m: &[u64], t: &mut dyn PvTarget) -> Result<(), BuildError> {
    let tables = pgtables::build(&plan.mappings, p2m).map_err(BuildError::Invalid)?;
    for (mapping, table) in plan.mappings.iter().zip(&tables) {
        write_pages(
            t,
            p2m,
            table.first_pfn,
            mapping.area.tables,
            &table.to_bytes(),
        )
        .during("writing the page tables")?;
    }
    Ok(())
}

/// The guest's p2m list: the MFN of every pfn, as u64, written in place.
fn write_p2m_list(plan: &PvPlan, p2m: &[u64], t: &mut dyn PvTarget) -> Result<(), BuildError> {
    let list_pages = p2m_list_bytes(plan.nr_pages)? / PAGE_SIZE;
    let entry_size = P2M_ENTRY_SIZE as usize;
    let entries_per_page = PAGE_SIZE as usize / entry_size;
    let mut done = 0;
    while done < list_pages {
        let n = WRITE_CHUNK_PAGES.min(list_pages - done);
        let first = done as usize * entries_per_page;
        let pfn = (plan.p2m.pfn + done) as usize;
        t.write_frames_with(&p2m[pfn..pfn + n as usize], &mut |offset, piece| {
            let from = first + offset / entry_size;
            let entries = p2m.get(from..).unwrap_or_default();
            let mut slots = piece.chunks_exact_mut(entry_size);
            for (mfn, slot) in entries.iter().zip(&mut slots) {
                slot.copy_from_slice(&mfn.to_le_bytes());
            }
            // Past the last pfn, the rest of the last page.
            slots.for_each(|slot| slot.fill(0));
            Ok(())
        })
        .during("writing the p2m list")?;
        done += n;
    }
    Ok(())
}

fn start_info(plan: &PvPlan, p2m: &[u64], shared_info_mfn: u64) -> StartInfo {
    let (first_p2m_pfn, nr_p2m_frames) = if plan.p2m_at_init_p2m {
        (plan.p2m.pfn, plan.p2m.pages)
    } else {
        (0, 0)
    };
    StartInfo {
        magic: MAGIC_X86_64.to_string(),
        nr_pages: plan.nr_pages,
        shared_info: shared_info_mfn << PAGE_SHIFT,
        flags: plan.flags,
        store_mfn: p2m[plan.xenstore_pfn as usize],
        store_evtchn: plan.store_evtchn,
        console_mfn: p2m[plan.console_pfn as usize],
        console_evtchn: plan.console_evtchn,
        pt_base: plan.pgtables.vstart,
        nr_pt_frames: plan.nr_pt_frames(),
        mfn_list: plan.p2m_vaddr,
        mod_start: plan.mod_start,
        mod_len: plan.mod_len,
        cmd_line: plan.cmdline.clone(),
        first_p2m_pfn,
        nr_p2m_frames,
    }
}

fn setup_hypercall_page(
    plan: &PvPlan,
    p2m: &[u64],
    t: &mut dyn PvTarget,
) -> Result<Option<u64>, BuildError> {
    let Some(vaddr) = plan.hypercall_page else {
        return Ok(None);
    };
    let mfn = p2m[((vaddr - plan.virt_base) >> PAGE_SHIFT) as usize];
    t.hypercall_page(mfn)
        .during("setting up the hypercall page")?;
    Ok(Some(mfn))
}

/// `vcpu_x86_64`: entry in kernel mode on the boot stack, rsi = start_info, cr3 = L4.
fn vcpu_context(plan: &PvPlan, l4_mfn: u64) -> PvVcpuContext {
    let rsp = plan.vaddr_of(plan.bootstack_pfn + 1);
    PvVcpuContext {
        flags: VGCF_IN_KERNEL | VGCF_ONLINE,
        rip: plan.entry,
        rsp,
        rsi: plan.vaddr_of(plan.start_info_pfn),
        rflags: RFLAGS_IF,
        cs: FLAT_KERNEL_CS,
        ss: FLAT_KERNEL_SS,
        ds: FLAT_KERNEL_DS,
        es: FLAT_KERNEL_DS,
        fs: FLAT_KERNEL_DS,
        gs: FLAT_KERNEL_DS,
        kernel_ss: u64::from(FLAT_KERNEL_SS),
        // libxenguest copies `esp`, which in the 64-bit layout aliases all of rsp.
        kernel_sp: rsp,
        cr3: l4_mfn << PAGE_SHIFT,
        debugreg6: DR6_DEFAULT,
        debugreg7: DR7_DEFAULT,
    }
}

/// Grant refs 0 (console) and 1 (xenstore) for the backends, unless the guest is its
/// own backend.
fn grant_seeds(plan: &PvPlan, si: &StartInfo) -> Vec<GrantSeed> {
    [
        GrantSeed {
            gref: GNTTAB_RESERVED_CONSOLE,
            domid: plan.console_domid,
            frame: si.console_mfn,
        },
        GrantSeed {
            gref: GNTTAB_RESERVED_XENSTORE,
            domid: plan.xenstore_domid,
            frame: si.store_mfn,
        },
    ]
    .into_iter()
    .filter(|g| g.domid != plan.domid)
    .collect()
}
