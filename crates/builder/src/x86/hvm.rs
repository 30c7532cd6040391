//! PVH and HVM guests: an HVM container whose memory is guest-physical from the start.
//!
//! Both are laid out as libxenguest's `meminit_hvm`, `alloc_magic_pages_hvm` and
//! `bootlate_hvm` lay them out: RAM below the MMIO hole and above 4 GiB, eight special
//! pages below 0xff000 (xenstore and console rings, ioreq pages, the identity page table),
//! the image at its physical address, modules after it, then the `hvm_start_info` block
//! whose address the first vCPU finds in `%ebx`. A PVH guest is its kernel, entered at its
//! PHYS32_ENTRY note with the ACPI tables the toolstack made; an HVM guest runs hvmloader,
//! which finds the BIOS image as the module named "firmware" and its settings in
//! `hvm_info_table` and xenstore, while QEMU emulates the PC around it.
//!
//! [`plan_hvm`] is pure; [`apply_hvm`] writes a plan through [`HvmTarget`].

use std::fmt;
use std::ops::Range;

use crate::image::Kernel;
use crate::target::{
    GNTTAB_RESERVED_CONSOLE, GNTTAB_RESERVED_XENSTORE, GrantSeed, GuestFrames, TargetError,
};
use crate::x86::pv::{BuildError, Step, write_kernel_image};
use crate::{PAGE_SHIFT, PAGE_SIZE};

/// Guest frames of the special pages: the eight below `X86_HVM_END_SPECIAL_REGION`.
pub const SPECIAL_PFN_BASE: u64 = 0xff000 - NR_SPECIAL_PAGES;
/// `X86_HVM_NR_SPECIAL_PAGES`.
pub const NR_SPECIAL_PAGES: u64 = 8;
/// The special pages, by index from [`SPECIAL_PFN_BASE`].
pub mod special {
    /// Paging (mem_paging) ring.
    pub const PAGING: u64 = 0;
    /// vm_event (monitor) ring.
    pub const ACCESS: u64 = 1;
    /// Memory sharing ring.
    pub const SHARING: u64 = 2;
    /// Buffered ioreq page of the default ioreq server.
    pub const BUFIOREQ: u64 = 3;
    /// xenstore ring.
    pub const XENSTORE: u64 = 4;
    /// Synchronous ioreq page of the default ioreq server.
    pub const IOREQ: u64 = 5;
    /// Identity-mapping page directory, for running with paging off under EPT.
    pub const IDENT_PT: u64 = 6;
    /// Console ring.
    pub const CONSOLE: u64 = 7;
}
/// `NR_IOREQ_SERVER_PAGES`: frames for QEMU's ioreq servers, just below the special pages.
pub const NR_IOREQ_SERVER_PAGES: u64 = 8;
/// The first of them.
pub const IOREQ_SERVER_PFN: u64 = SPECIAL_PFN_BASE - NR_IOREQ_SERVER_PAGES;
/// `HVM_BELOW_4G_MMIO_LENGTH`: the PCI hole of an HVM guest by default.
pub const HVM_MMIO_SIZE: u64 = (1 << 32) - 0xf000_0000;
/// `ACPI_INFO_PHYSICAL_ADDRESS`: the lowest fixed address of a PVH guest's MMIO hole
/// (below the LAPIC and the special pages).
pub const PVH_MMIO_START: u64 = 0xfc00_0000;
/// `LIBXL_VGA_HOLE_SIZE`: pfns 0xa0..0xc0 stay unpopulated for QEMU's VGA.
const VGA_HOLE: Range<u64> = 0xa0..0xc0;
/// `HVM_INFO_PFN` and `HVM_INFO_OFFSET`.
pub const HVM_INFO_PFN: u64 = 0x9f;
const HVM_INFO_OFFSET: usize = 0x800;
/// `HVM_MAX_VCPUS`: what `hvm_info_table` and the MADT can describe.
pub const HVM_MAX_VCPUS: u32 = 128;
/// `GUEST_LOW_MEM_START_DEFAULT`: an HVM guest's e820 RAM starts at 1 MiB (hvmloader and
/// the BIOS own what is below).
const HVM_LOW_RAM_START: u64 = 0x10_0000;
/// 4 GiB.
const GIB4: u64 = 1 << 32;
/// Superpage orders libxenguest tries: 1 GiB, then 2 MiB, then 4 KiB pages.
const ORDER_1G: u32 = 18;
const ORDER_2M: u32 = 9;
/// At most this many pages per 2 MiB step (8 MiB), as libxenguest.
const MAX_2M_STEP: u64 = 4 << ORDER_2M;
/// Frames per populate or write call.
const CHUNK: u64 = 1024;

/// `hvm_start_info`: its size, the two module slots with their command lines, and the
/// memory map entry size.
const START_INFO_SIZE: u64 = 56;
const MODLIST_ENTRY_SIZE: u64 = 32;
const MAX_MODULES: usize = 2;
const MODULE_CMDLINE_SIZE: u64 = 1024;
const MEMMAP_ENTRY_SIZE: u64 = 24;
/// `XEN_HVM_START_MAGIC_VALUE`.
const START_MAGIC: u32 = 0x336e_c578;
/// Largest kernel command line (`MAX_GUEST_CMDLINE`), NUL included.
const MAX_CMDLINE: usize = 1024;

/// HVM params (`public/hvm/params.h`).
pub mod param {
    /// `HVM_PARAM_STORE_PFN`.
    pub const STORE_PFN: u32 = 1;
    /// `HVM_PARAM_STORE_EVTCHN`.
    pub const STORE_EVTCHN: u32 = 2;
    /// `HVM_PARAM_IOREQ_PFN`.
    pub const IOREQ_PFN: u32 = 5;
    /// `HVM_PARAM_BUFIOREQ_PFN`.
    pub const BUFIOREQ_PFN: u32 = 6;
    /// `HVM_PARAM_IDENT_PT`.
    pub const IDENT_PT: u32 = 12;
    /// `HVM_PARAM_CONSOLE_PFN`.
    pub const CONSOLE_PFN: u32 = 17;
    /// `HVM_PARAM_CONSOLE_EVTCHN`.
    pub const CONSOLE_EVTCHN: u32 = 18;
    /// `HVM_PARAM_PAGING_RING_PFN`.
    pub const PAGING_RING_PFN: u32 = 27;
    /// `HVM_PARAM_MONITOR_RING_PFN`.
    pub const MONITOR_RING_PFN: u32 = 28;
    /// `HVM_PARAM_SHARING_RING_PFN`.
    pub const SHARING_RING_PFN: u32 = 29;
    /// `HVM_PARAM_IOREQ_SERVER_PFN`.
    pub const IOREQ_SERVER_PFN: u32 = 32;
    /// `HVM_PARAM_NR_IOREQ_SERVER_PAGES`.
    pub const NR_IOREQ_SERVER_PAGES: u32 = 33;
    /// `HVM_PARAM_CALLBACK_IRQ`: non-zero once the guest's PV drivers
    /// asked for event channel upcalls.
    pub const CALLBACK_IRQ: u32 = 0;
    /// `HVM_PARAM_PAE_ENABLED`: obsolete, dropped from old streams.
    pub const PAE_ENABLED: u32 = 4;
    /// `HVM_PARAM_VIRIDIAN`.
    pub const VIRIDIAN: u32 = 9;
    /// `HVM_PARAM_ACPI_S_STATE`: the ACPI sleep state the guest is in.
    pub const ACPI_S_STATE: u32 = 14;
    /// `HVM_PARAM_ACPI_IOPORTS_LOCATION`.
    pub const ACPI_IOPORTS_LOCATION: u32 = 19;
    /// `HVM_PARAM_VM_GENERATION_ID_ADDR`.
    pub const VM_GENERATION_ID_ADDR: u32 = 34;
    /// `HVM_PARAM_X87_FIP_WIDTH`.
    pub const X87_FIP_WIDTH: u32 = 36;
    /// `HVM_PARAM_VM86_TSS_SIZED`.
    pub const VM86_TSS_SIZED: u32 = 37;
    /// `HVM_PARAM_MCA_CAP`.
    pub const MCA_CAP: u32 = 38;
}

/// e820 types.
pub mod e820 {
    /// Usable RAM.
    pub const RAM: u32 = 1;
    /// Reserved.
    pub const RESERVED: u32 = 2;
    /// ACPI tables (reclaimable).
    pub const ACPI: u32 = 3;
    /// ACPI NVS.
    pub const NVS: u32 = 4;
}

/// Which guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HvmGuest {
    /// A PVH kernel, no device model.
    Pvh,
    /// hvmloader and a BIOS, with QEMU.
    Hvm,
}

/// One e820 entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct E820 {
    /// First byte.
    pub addr: u64,
    /// Bytes.
    pub size: u64,
    /// [`e820`] type.
    pub kind: u32,
}

/// Bytes the toolstack places at a fixed guest-physical address (the ACPI modules).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FixedBlob {
    /// Guest-physical address of the first byte.
    pub gpa: u64,
    /// The contents; the pages they cover are populated and zero-filled around them.
    pub bytes: Vec<u8>,
}

/// A module loaded after the image (the BIOS for HVM, the ramdisk for PVH).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModuleRequest {
    /// Bytes.
    pub len: u64,
    /// Its command line in the module list ("firmware" names hvmloader's BIOS).
    pub cmdline: Option<String>,
}

/// What the toolstack asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HvmRequest {
    /// PVH or HVM.
    pub guest: HvmGuest,
    /// `max_memkb`: RAM plus video memory.
    pub max_memkb: u64,
    /// `target_memkb`: less than `max_memkb` makes a populate-on-demand guest.
    pub target_memkb: u64,
    /// Video memory QEMU allocates itself (HVM).
    pub video_memkb: u64,
    /// Size of the PCI hole below 4 GiB (HVM; PVH's is fixed).
    pub mmio_size: u64,
    /// vCPUs the guest may have, and those online at boot.
    pub max_vcpus: u32,
    /// Online at boot (the first ones).
    pub online_vcpus: u32,
    /// `apic_mode` of `hvm_info_table` (HVM).
    pub apic: bool,
    /// Kernel command line (PVH).
    pub cmdline: Option<String>,
    /// Modules after the image.
    pub modules: Vec<ModuleRequest>,
    /// ACPI modules in libxl's order: RSDP, info page, tables (PVH).
    pub acpi: Vec<FixedBlob>,
    /// Event channels of the rings.
    pub store_evtchn: u32,
    /// Console event channel.
    pub console_evtchn: u32,
    /// Backend domains of the rings.
    pub xenstore_domid: u16,
    /// Console backend.
    pub console_domid: u16,
    /// The guest's own domid.
    pub domid: u16,
    /// The running Xen release (major, minor).
    pub xen_version: (u32, u32),
}

/// A run of guest frames holding one thing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HvmSegment {
    /// libxenguest's name for it.
    pub name: &'static str,
    /// First frame.
    pub pfn: u64,
    /// Frames.
    pub pages: u64,
    /// Bytes of content (the rest of the frames is zeroed).
    pub len: u64,
}

impl HvmSegment {
    /// Guest-physical address of the first byte.
    pub fn gpa(&self) -> u64 {
        self.pfn << PAGE_SHIFT
    }

    fn pfns(&self) -> Range<u64> {
        self.pfn..self.pfn + self.pages
    }
}

/// The layout, settled before anything is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HvmPlan {
    /// PVH or HVM.
    pub guest: HvmGuest,
    /// RAM below the hole ends here (bytes).
    pub lowmem_end: u64,
    /// RAM above 4 GiB ends here (0: none).
    pub highmem_end: u64,
    /// Start of the MMIO hole.
    pub mmio_start: u64,
    /// Frames of RAM (`max_memkb` − video).
    pub nr_pages: u64,
    /// Frames the guest starts with; fewer than `nr_pages` means populate-on-demand.
    pub target_pages: u64,
    /// Frames left out below 1 MiB for QEMU's VGA (HVM).
    pub vga_hole_pages: u64,
    /// The RAM ranges, in frames.
    pub ram: Vec<Range<u64>>,
    /// The e820 map, in libxl's order.
    pub e820: Vec<E820>,
    /// The image at its physical address.
    pub kernel: HvmSegment,
    /// Where the image starts (lowest segment paddr).
    pub kernel_paddr: u64,
    /// Entry point: PHYS32_ENTRY or hvmloader's `e_entry`.
    pub entry: u64,
    /// Modules after the image, in request order.
    pub modules: Vec<HvmSegment>,
    /// ACPI modules (PVH).
    pub acpi: Vec<FixedBlob>,
    /// The start-info block.
    pub start_info: HvmSegment,
    /// Its contents.
    pub start_info_bytes: Vec<u8>,
    /// `hvm_info_table`'s page (HVM).
    pub hvm_info_page: Option<Vec<u8>>,
    /// HVM params set during the build, in order (the event channels come last).
    pub params: Vec<(u32, u64)>,
    /// Online vCPUs at boot.
    pub online_vcpus: u32,
    /// All vCPUs.
    pub max_vcpus: u32,
    /// Grant entries for the console and xenstore daemons.
    pub grants: Vec<GrantSeed>,
    /// Xen 4.21+ has the console ring's `connection` byte.
    pub console_connection_byte: bool,
}

impl HvmPlan {
    /// The xenstore ring's frame (`store/ring-ref`).
    pub fn store_pfn(&self) -> u64 {
        SPECIAL_PFN_BASE + special::XENSTORE
    }

    /// The console ring's frame (`console/ring-ref`).
    pub fn console_pfn(&self) -> u64 {
        SPECIAL_PFN_BASE + special::CONSOLE
    }

    /// Populate-on-demand: Xen backs the guest's RAM lazily from `target_pages`.
    pub fn pod(&self) -> bool {
        self.target_pages < self.nr_pages
    }

    /// Guest-physical address of the start-info block (`%ebx` at entry).
    pub fn start_info_gpa(&self) -> u64 {
        self.start_info.gpa()
    }
}

impl fmt::Display for HvmPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:?}: {} pages ({} at start), lowmem_end {:#x}, highmem_end {:#x}, mmio_start {:#x}",
            self.guest,
            self.nr_pages,
            self.target_pages,
            self.lowmem_end,
            self.highmem_end,
            self.mmio_start
        )?;
        for s in std::iter::once(&self.kernel)
            .chain(&self.modules)
            .chain(std::iter::once(&self.start_info))
        {
            writeln!(
                f,
                "  {:<24}: pfn {:#x} + {:#x} pages ({} bytes)",
                s.name, s.pfn, s.pages, s.len
            )?;
        }
        for a in &self.acpi {
            writeln!(f, "  ACPI module at {:#x}: {} bytes", a.gpa, a.bytes.len())?;
        }
        for e in &self.e820 {
            writeln!(
                f,
                "  e820 {:#x}-{:#x} type {}",
                e.addr,
                e.addr + e.size,
                e.kind
            )?;
        }
        write!(
            f,
            "  entry {:#x}, start info at {:#x}",
            self.entry,
            self.start_info_gpa()
        )
    }
}

/// Lay out a PVH or HVM guest.
pub fn plan_hvm(kernel: &Kernel, req: &HvmRequest) -> Result<HvmPlan, BuildError> {
    check_request(req)?;
    let memory = memory_layout(req)?;
    let e820 = memory_map(req, &memory);
    let mut cursor = kernel.paddr_start() >> PAGE_SHIFT;
    let kernel_seg = segment(
        "kernel",
        &mut cursor,
        kernel.paddr_end() - kernel.paddr_start(),
    );
    let modules: Vec<HvmSegment> = req
        .modules
        .iter()
        .enumerate()
        .map(|(i, m)| segment(module_name(req.guest, i), &mut cursor, m.len))
        .collect();
    let start_info_len = start_info_len(req, e820.len());
    let start_info = segment("HVM start info", &mut cursor, start_info_len);
    let plan_without_bytes = HvmPlan {
        guest: req.guest,
        lowmem_end: memory.lowmem_end,
        highmem_end: memory.highmem_end,
        mmio_start: memory.mmio_start,
        nr_pages: memory.nr_pages,
        target_pages: memory.target_pages,
        vga_hole_pages: memory.vga_hole_pages,
        ram: memory.ram.clone(),
        e820,
        kernel: kernel_seg,
        kernel_paddr: kernel.paddr_start(),
        entry: kernel.entry(),
        modules,
        acpi: req.acpi.clone(),
        start_info,
        start_info_bytes: Vec::new(),
        hvm_info_page: None,
        params: Vec::new(),
        online_vcpus: req.online_vcpus,
        max_vcpus: req.max_vcpus,
        grants: Vec::new(),
        console_connection_byte: req.xen_version >= (4, 21),
    };
    let mut plan = plan_without_bytes;
    check_fits(&plan)?;
    plan.start_info_bytes = start_info_bytes(req, &plan);
    plan.hvm_info_page = (req.guest == HvmGuest::Hvm).then(|| hvm_info_page(req, &plan));
    plan.params = params(req);
    plan.grants = grant_seeds(req, &plan);
    Ok(plan)
}

fn module_name(guest: HvmGuest, index: usize) -> &'static str {
    match (guest, index) {
        (HvmGuest::Hvm, _) => "System Firmware module",
        (HvmGuest::Pvh, 0) => "module0",
        (HvmGuest::Pvh, _) => "module1",
    }
}

fn check_request(req: &HvmRequest) -> Result<(), BuildError> {
    if req.max_vcpus == 0 || req.max_vcpus > HVM_MAX_VCPUS {
        return Err(BuildError::Invalid(format!(
            "{} vCPUs: PVH and HVM guests have 1 to {HVM_MAX_VCPUS}",
            req.max_vcpus
        )));
    }
    if req.online_vcpus == 0 || req.online_vcpus > req.max_vcpus {
        return Err(BuildError::Invalid(format!(
            "{} vCPUs online of {}",
            req.online_vcpus, req.max_vcpus
        )));
    }
    if req.modules.len() > MAX_MODULES {
        return Err(BuildError::Invalid(format!(
            "{} modules: at most {MAX_MODULES} fit in the start info",
            req.modules.len()
        )));
    }
    for m in &req.modules {
        if m.cmdline
            .as_ref()
            .is_some_and(|c| c.len() as u64 >= MODULE_CMDLINE_SIZE)
        {
            return Err(BuildError::Invalid(format!(
                "a module command line is longer than {} bytes",
                MODULE_CMDLINE_SIZE - 1
            )));
        }
    }
    if req.cmdline.as_ref().is_some_and(|c| c.len() >= MAX_CMDLINE) {
        return Err(BuildError::Invalid(format!(
            "the kernel command line is longer than {} bytes",
            MAX_CMDLINE - 1
        )));
    }
    if req.video_memkb >= req.max_memkb || req.video_memkb >= req.target_memkb {
        return Err(BuildError::Invalid(format!(
            "video memory ({} KiB) leaves no RAM of memory={} KiB",
            req.video_memkb, req.target_memkb
        )));
    }
    if req.guest == HvmGuest::Hvm && (req.mmio_size == 0 || req.mmio_size >= GIB4 - (1 << 28)) {
        return Err(BuildError::Invalid(format!(
            "an MMIO hole of {:#x} bytes is out of range",
            req.mmio_size
        )));
    }
    Ok(())
}

struct MemoryLayout {
    lowmem_end: u64,
    highmem_end: u64,
    mmio_start: u64,
    nr_pages: u64,
    target_pages: u64,
    vga_hole_pages: u64,
    ram: Vec<Range<u64>>,
}

/// libxl__build_hvm's sizes: RAM is memory minus video memory, split around the hole.
fn memory_layout(req: &HvmRequest) -> Result<MemoryLayout, BuildError> {
    let mem_size = (req.max_memkb - req.video_memkb) << 10;
    let target_pages = (req.target_memkb - req.video_memkb) >> 2;
    let mmio_size = match req.guest {
        HvmGuest::Pvh => GIB4 - PVH_MMIO_START,
        HvmGuest::Hvm => req.mmio_size,
    };
    let mmio_start = GIB4 - mmio_size;
    let (lowmem_end, highmem_end) = if mem_size > mmio_start {
        (mmio_start, GIB4 + (mem_size - mmio_start))
    } else {
        (mem_size, 0)
    };
    let mut ram = Vec::with_capacity(2);
    ram.push(0..lowmem_end >> PAGE_SHIFT);
    if highmem_end > 0 {
        ram.push(GIB4 >> PAGE_SHIFT..highmem_end >> PAGE_SHIFT);
    }
    let vga_hole_pages = match req.guest {
        HvmGuest::Hvm => VGA_HOLE.end - VGA_HOLE.start,
        HvmGuest::Pvh => 0,
    };
    if lowmem_end >> PAGE_SHIFT < VGA_HOLE.end + 1 {
        return Err(BuildError::Invalid(format!(
            "{} KiB of RAM is too little to boot",
            mem_size >> 10
        )));
    }
    Ok(MemoryLayout {
        lowmem_end,
        highmem_end,
        mmio_start,
        nr_pages: mem_size >> PAGE_SHIFT,
        target_pages,
        vga_hole_pages,
        ram,
    })
}

/// libxl's `domain_construct_memmap`, in its order: low RAM, (PVH) the special pages,
/// each ACPI module, high RAM. Xen 4.21+ marks the ACPI modules NVS.
fn memory_map(req: &HvmRequest, m: &MemoryLayout) -> Vec<E820> {
    let low_start = match req.guest {
        HvmGuest::Hvm => HVM_LOW_RAM_START,
        HvmGuest::Pvh => 0,
    };
    let mut map = vec![E820 {
        addr: low_start,
        size: m.lowmem_end - low_start,
        kind: e820::RAM,
    }];
    if req.guest == HvmGuest::Pvh {
        map.push(E820 {
            addr: SPECIAL_PFN_BASE << PAGE_SHIFT,
            size: NR_SPECIAL_PAGES << PAGE_SHIFT,
            kind: e820::RESERVED,
        });
    }
    let acpi_kind = if req.xen_version >= (4, 21) {
        e820::NVS
    } else {
        e820::ACPI
    };
    for a in &req.acpi {
        let offset = a.gpa & (PAGE_SIZE - 1);
        map.push(E820 {
            addr: a.gpa - offset,
            size: a.bytes.len() as u64 + offset,
            kind: acpi_kind,
        });
    }
    if m.highmem_end > 0 {
        map.push(E820 {
            addr: GIB4,
            size: m.highmem_end - GIB4,
            kind: e820::RAM,
        });
    }
    map
}

/// `xc_dom_alloc_segment`: the next whole pages from `cursor`.
fn segment(name: &'static str, cursor: &mut u64, len: u64) -> HvmSegment {
    let pages = len.div_ceil(PAGE_SIZE);
    let seg = HvmSegment {
        name,
        pfn: *cursor,
        pages,
        len,
    };
    *cursor += pages;
    seg
}

/// The start-info block: the structure, the PVH command line (rounded up to 8 bytes),
/// two module entries with their command lines, the memory map.
fn start_info_len(req: &HvmRequest, e820_entries: usize) -> u64 {
    START_INFO_SIZE
        + cmdline_size(req)
        + MAX_MODULES as u64 * (MODLIST_ENTRY_SIZE + MODULE_CMDLINE_SIZE)
        + e820_entries as u64 * MEMMAP_ENTRY_SIZE
}

fn cmdline_size(req: &HvmRequest) -> u64 {
    match (&req.cmdline, req.guest) {
        (Some(c), HvmGuest::Pvh) => (c.len() as u64 + 1).next_multiple_of(8),
        _ => 0,
    }
}

/// Everything must sit in RAM below the hole, clear of the special and ioreq pages.
fn check_fits(plan: &HvmPlan) -> Result<(), BuildError> {
    let low_end = plan.lowmem_end >> PAGE_SHIFT;
    let end = plan.start_info.pfn + plan.start_info.pages;
    if end > low_end || end > IOREQ_SERVER_PFN {
        let need_mib = (end << PAGE_SHIFT).div_ceil(1 << 20);
        return Err(BuildError::DoesNotFit {
            need_pages: end,
            have_pages: low_end,
            need_mib,
            have_mib: plan.lowmem_end >> 20,
        });
    }
    if plan.guest == HvmGuest::Hvm && plan.kernel.pfn <= HVM_INFO_PFN {
        return Err(BuildError::Invalid(format!(
            "the firmware loads at {:#x}, over the HVM info page",
            plan.kernel_paddr
        )));
    }
    Ok(())
}

fn put_u32(b: &mut [u8], at: u64, v: u32) {
    let at = at as usize;
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn put_u64(b: &mut [u8], at: u64, v: u64) {
    let at = at as usize;
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

/// `bootlate_hvm`'s start-info block, with guest-physical addresses.
fn start_info_bytes(req: &HvmRequest, plan: &HvmPlan) -> Vec<u8> {
    let base = plan.start_info.gpa();
    let mut b = vec![0u8; plan.start_info.len as usize];
    let cmdline_at = START_INFO_SIZE;
    let modlist_at = cmdline_at + cmdline_size(req);
    let mod_cmdlines_at = modlist_at + MAX_MODULES as u64 * MODLIST_ENTRY_SIZE;
    let memmap_at = mod_cmdlines_at + MAX_MODULES as u64 * MODULE_CMDLINE_SIZE;
    put_u32(&mut b, 0, START_MAGIC);
    put_u32(&mut b, 4, 1);
    if let (Some(c), HvmGuest::Pvh) = (&req.cmdline, req.guest) {
        let at = cmdline_at as usize;
        b[at..at + c.len()].copy_from_slice(c.as_bytes());
        put_u64(&mut b, 24, base + cmdline_at);
    }
    if req.guest == HvmGuest::Pvh
        && let Some(rsdp) = req.acpi.first()
    {
        put_u64(&mut b, 32, rsdp.gpa);
    }
    let mut nr_modules = 0u64;
    for (seg, m) in plan.modules.iter().zip(&req.modules) {
        if m.len == 0 {
            continue;
        }
        let entry = modlist_at + nr_modules * MODLIST_ENTRY_SIZE;
        put_u64(&mut b, entry, seg.gpa());
        put_u64(&mut b, entry + 8, m.len);
        if let Some(c) = &m.cmdline {
            let at = mod_cmdlines_at + nr_modules * MODULE_CMDLINE_SIZE;
            b[at as usize..at as usize + c.len()].copy_from_slice(c.as_bytes());
            put_u64(&mut b, entry + 16, base + at);
        }
        nr_modules += 1;
    }
    put_u32(&mut b, 12, nr_modules as u32);
    if nr_modules > 0 {
        put_u64(&mut b, 16, base + modlist_at);
    }
    put_u64(&mut b, 40, base + memmap_at);
    put_u32(&mut b, 48, plan.e820.len() as u32);
    for (i, e) in plan.e820.iter().enumerate() {
        let at = memmap_at + i as u64 * MEMMAP_ENTRY_SIZE;
        put_u64(&mut b, at, e.addr);
        put_u64(&mut b, at + 8, e.size);
        put_u32(&mut b, at + 16, e.kind);
    }
    b
}

/// The page holding `hvm_info_table` as hvmloader reads it: libxenguest's defaults, then
/// libxl's apic mode, vCPU count and online map, and the checksum over the table.
fn hvm_info_page(req: &HvmRequest, plan: &HvmPlan) -> Vec<u8> {
    const LEN: usize = 48;
    let mut page = vec![0u8; PAGE_SIZE as usize];
    let t = &mut page[HVM_INFO_OFFSET..HVM_INFO_OFFSET + LEN];
    t[0..8].copy_from_slice(b"HVM INFO");
    put_u32(t, 8, LEN as u32);
    t[13] = u8::from(req.apic);
    put_u32(t, 16, req.max_vcpus);
    put_u32(t, 20, (plan.lowmem_end >> PAGE_SHIFT) as u32);
    put_u32(t, 24, IOREQ_SERVER_PFN as u32);
    put_u32(t, 28, (plan.highmem_end >> PAGE_SHIFT) as u32);
    for cpu in 0..req.online_vcpus as usize {
        t[32 + cpu / 8] |= 1 << (cpu % 8);
    }
    let sum = t.iter().fold(0u8, |s, &b| s.wrapping_add(b));
    t[12] = sum.wrapping_neg();
    page
}

fn special_pfn(index: u64) -> u64 {
    SPECIAL_PFN_BASE + index
}

/// `alloc_magic_pages_hvm`'s params, then `bootlate_hvm`'s event channels.
fn params(req: &HvmRequest) -> Vec<(u32, u64)> {
    let mut p = vec![
        (param::STORE_PFN, special_pfn(special::XENSTORE)),
        (param::BUFIOREQ_PFN, special_pfn(special::BUFIOREQ)),
        (param::IOREQ_PFN, special_pfn(special::IOREQ)),
        (param::CONSOLE_PFN, special_pfn(special::CONSOLE)),
        (param::PAGING_RING_PFN, special_pfn(special::PAGING)),
        (param::MONITOR_RING_PFN, special_pfn(special::ACCESS)),
        (param::SHARING_RING_PFN, special_pfn(special::SHARING)),
    ];
    if req.guest == HvmGuest::Hvm {
        p.push((param::IOREQ_SERVER_PFN, IOREQ_SERVER_PFN));
        p.push((param::NR_IOREQ_SERVER_PAGES, NR_IOREQ_SERVER_PAGES));
    }
    p.push((
        param::IDENT_PT,
        special_pfn(special::IDENT_PT) << PAGE_SHIFT,
    ));
    p.push((param::CONSOLE_EVTCHN, u64::from(req.console_evtchn)));
    p.push((param::STORE_EVTCHN, u64::from(req.store_evtchn)));
    p
}

fn grant_seeds(req: &HvmRequest, plan: &HvmPlan) -> Vec<GrantSeed> {
    [
        GrantSeed {
            gref: GNTTAB_RESERVED_CONSOLE,
            domid: req.console_domid,
            frame: plan.console_pfn(),
        },
        GrantSeed {
            gref: GNTTAB_RESERVED_XENSTORE,
            domid: req.xenstore_domid,
            frame: plan.store_pfn(),
        },
    ]
    .into_iter()
    .filter(|g| g.domid != req.domid)
    .collect()
}

/// The identity-map page directory: 1024 4 MiB entries, present, writable, user,
/// accessed, dirty, large.
fn ident_pt_page() -> Vec<u8> {
    const FLAGS: u32 = 0xe7;
    (0..1024u32)
        .flat_map(|i| ((i << 22) | FLAGS).to_le_bytes())
        .collect()
}

/// Where Xen keeps a domain's HVM state: save records.
pub mod record {
    /// Descriptor: typecode u16, instance u16, length u32.
    pub const DESCRIPTOR: usize = 8;
    /// `HVM_SAVE_CODE(END)`.
    pub const END: u16 = 0;
    /// `HVM_SAVE_CODE(HEADER)`.
    pub const HEADER: u16 = 1;
    /// `HVM_SAVE_CODE(CPU)`.
    pub const CPU: u16 = 2;
    /// `HVM_SAVE_CODE(MTRR)`.
    pub const MTRR: u16 = 14;
    /// `HVM_SAVE_LENGTH(CPU)`: `struct hvm_hw_cpu`.
    pub const CPU_LEN: usize = 1032;
    /// `HVM_SAVE_LENGTH(MTRR)`: `struct hvm_hw_mtrr`.
    pub const MTRR_LEN: usize = 240;
    /// `struct hvm_hw_cpu` offsets (identical on 4.17-4.22).
    pub mod cpu {
        /// rbx.
        pub const RBX: usize = 520;
        /// rip.
        pub const RIP: usize = 640;
        /// cr0.
        pub const CR0: usize = 656;
        /// dr6.
        pub const DR6: usize = 720;
        /// dr7.
        pub const DR7: usize = 728;
        /// cs, ds, es, ss limits (u32).
        pub const LIMITS: [usize; 4] = [768, 772, 776, 788];
        /// tr_limit.
        pub const TR_LIMIT: usize = 792;
        /// cs, ds, es, ss, tr bases (u64).
        pub const BASES: [usize; 5] = [808, 816, 824, 848, 856];
        /// cs, ds, es, ss access rights (u32).
        pub const ARBYTES: [usize; 4] = [888, 892, 896, 908];
        /// tr_arbytes.
        pub const TR_ARBYTES: usize = 912;
    }
    /// `msr_mtrr_def_type` in `struct hvm_hw_mtrr`.
    pub const MTRR_DEF_TYPE: usize = 232;
}

/// One save record's place in a stream.
fn find_record(stream: &[u8], code: u16, instance: u16) -> Option<&[u8]> {
    let mut at = 0usize;
    while at + record::DESCRIPTOR <= stream.len() {
        let typecode = u16::from_le_bytes([stream[at], stream[at + 1]]);
        let inst = u16::from_le_bytes([stream[at + 2], stream[at + 3]]);
        let len = u32::from_le_bytes(stream[at + 4..at + 8].try_into().ok()?) as usize;
        let body = at + record::DESCRIPTOR;
        let end = body.checked_add(len)?;
        if end > stream.len() {
            return None;
        }
        if typecode == code && inst == instance {
            return Some(&stream[at..end]);
        }
        if typecode == record::END {
            return None;
        }
        at = end;
    }
    None
}

fn descriptor(code: u16, instance: u16, len: usize) -> [u8; 8] {
    let mut d = [0u8; 8];
    d[0..2].copy_from_slice(&code.to_le_bytes());
    d[2..4].copy_from_slice(&instance.to_le_bytes());
    d[4..8].copy_from_slice(&(len as u32).to_le_bytes());
    d
}

/// `vcpu_hvm`'s boot processor record stream: Xen's own header (it carries CPUID and TSC
/// facts a toolstack cannot make up), a CPU record in flat 32-bit protected mode at
/// `entry` with `%ebx` = `ebx`, and the end record.
pub fn boot_cpu_records(full: &[u8], entry: u64, ebx: u64) -> Result<Vec<u8>, BuildError> {
    let header = find_record(full, record::HEADER, 0)
        .ok_or_else(|| BuildError::Invalid("Xen's HVM context has no header record".to_string()))?;
    let mut cpu = vec![0u8; record::CPU_LEN];
    for at in record::cpu::LIMITS {
        put_u32(&mut cpu, at as u64, u32::MAX);
    }
    put_u32(&mut cpu, record::cpu::TR_LIMIT as u64, 0x67);
    for at in record::cpu::BASES {
        put_u64(&mut cpu, at as u64, 0);
    }
    let [cs, ds, es, ss] = record::cpu::ARBYTES;
    put_u32(&mut cpu, cs as u64, 0xc9b);
    for at in [ds, es, ss] {
        put_u32(&mut cpu, at as u64, 0xc93);
    }
    put_u32(&mut cpu, record::cpu::TR_ARBYTES as u64, 0x8b);
    // CR0.PE | CR0.ET: protected mode, paging off.
    put_u64(&mut cpu, record::cpu::CR0 as u64, 0x11);
    put_u64(&mut cpu, record::cpu::RIP as u64, entry);
    put_u64(
        &mut cpu,
        record::cpu::DR6 as u64,
        crate::target::DR6_DEFAULT,
    );
    put_u64(
        &mut cpu,
        record::cpu::DR7 as u64,
        crate::target::DR7_DEFAULT,
    );
    put_u64(&mut cpu, record::cpu::RBX as u64, ebx);
    let mut out = header.to_vec();
    out.extend(descriptor(record::CPU, 0, record::CPU_LEN));
    out.extend(cpu);
    out.extend(descriptor(record::END, 0, 0));
    Ok(out)
}

/// For a PVH guest (no firmware to program MTRRs), vCPU `vcpu`'s MTRR record from Xen's
/// context with write-back as the enabled default type.
pub fn mtrr_records(full: &[u8], vcpu: u16) -> Result<Vec<u8>, BuildError> {
    let missing = |what: &str| BuildError::Invalid(format!("Xen's HVM context has no {what}"));
    let header = find_record(full, record::HEADER, 0).ok_or_else(|| missing("header record"))?;
    let mtrr = find_record(full, record::MTRR, vcpu)
        .ok_or_else(|| missing(&format!("MTRR record for vCPU {vcpu}")))?;
    let mut body = mtrr[record::DESCRIPTOR..].to_vec();
    if body.len() < record::MTRR_DEF_TYPE + 8 {
        return Err(missing("complete MTRR record"));
    }
    // MTRR_TYPE_WRBACK with the MTRR enable bit (11).
    put_u64(&mut body, record::MTRR_DEF_TYPE as u64, 6 | (1 << 11));
    let mut out = header.to_vec();
    out.extend(descriptor(record::MTRR, vcpu, body.len()));
    out.extend(body);
    out.extend(descriptor(record::END, 0, 0));
    Ok(out)
}

/// The domain a PVH or HVM guest is built into. Frames are guest frame numbers.
pub trait HvmTarget: GuestFrames {
    /// Claim `pages` for the domain (0 cancels the claim).
    fn claim(&mut self, pages: u64) -> Result<(), TargetError>;
    /// Set the populate-on-demand target.
    fn set_pod_target(&mut self, pages: u64) -> Result<(), TargetError>;
    /// Back the extents starting at `gfns`, each of `2^order` frames; with `pod` they are
    /// populate-on-demand. Returns how many extents were backed (fewer when Xen had no
    /// contiguous memory of that order left).
    fn populate(&mut self, order: u32, gfns: &[u64], pod: bool) -> Result<usize, TargetError>;
    /// Give the guest its e820 map.
    fn set_memory_map(&mut self, map: &[E820]) -> Result<(), TargetError>;
    /// Set an HVM param.
    fn set_param(&mut self, index: u32, value: u64) -> Result<(), TargetError>;
    /// The domain's whole HVM save-record stream.
    fn hvm_context(&mut self) -> Result<Vec<u8>, TargetError>;
    /// Load save records into the domain.
    fn set_hvm_context(&mut self, records: &[u8]) -> Result<(), TargetError>;
    /// Write these grant-table entries.
    fn seed_grants(&mut self, grants: &[GrantSeed]) -> Result<(), TargetError>;
}

/// What [`apply_hvm`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HvmBuilt {
    /// The xenstore ring's frame.
    pub store_pfn: u64,
    /// The console ring's frame.
    pub console_pfn: u64,
}

/// Build the guest `plan` describes: memory, the image and modules, the ACPI modules, the
/// special pages and params, the start info, vCPU state, grant entries.
pub fn apply_hvm(
    plan: &HvmPlan,
    kernel: &Kernel,
    modules: &[&[u8]],
    t: &mut dyn HvmTarget,
) -> Result<HvmBuilt, BuildError> {
    if modules.len() != plan.modules.len() {
        return Err(BuildError::Invalid(format!(
            "{} modules given for a plan of {}",
            modules.len(),
            plan.modules.len()
        )));
    }
    populate_memory(plan, t)?;
    t.set_memory_map(&plan.e820)
        .during("setting the memory map")?;
    // The image at its physical address, read straight into the guest's frames.
    let frames: Vec<u64> = plan.kernel.pfns().collect();
    write_kernel_image(kernel, plan.kernel_paddr, &frames, t, "writing the image")?;
    for (seg, bytes) in plan.modules.iter().zip(modules) {
        if bytes.len() as u64 != seg.len {
            return Err(BuildError::Invalid(format!(
                "module of {} bytes given for a {}-byte slot",
                bytes.len(),
                seg.len
            )));
        }
        write_segment(t, seg, bytes)?;
    }
    load_acpi(plan, t)?;
    special_pages(plan, t)?;
    write_segment(t, &plan.start_info, &plan.start_info_bytes)?;
    if let Some(page) = &plan.hvm_info_page {
        t.write_frames(&[HVM_INFO_PFN], page)
            .during("writing hvm_info_table")?;
    }
    for &(index, value) in &plan.params {
        t.set_param(index, value).during("setting HVM params")?;
    }
    boot_vcpus(plan, t)?;
    t.seed_grants(&plan.grants)
        .during("seeding the grant table")?;
    Ok(HvmBuilt {
        store_pfn: plan.store_pfn(),
        console_pfn: plan.console_pfn(),
    })
}

/// `meminit_hvm`: claim, (PoD target), populate every RAM range — skipping the VGA hole of
/// an HVM guest — then cancel the claim whatever happened.
fn populate_memory(plan: &HvmPlan, t: &mut dyn HvmTarget) -> Result<(), BuildError> {
    let start_pages = plan.target_pages - plan.vga_hole_pages;
    t.claim(start_pages).during("claiming the guest's memory")?;
    let populated = populate_ranges(plan, t, start_pages);
    let cancelled = t.claim(0);
    populated?;
    cancelled.during("cancelling the memory claim")
}

fn populate_ranges(
    plan: &HvmPlan,
    t: &mut dyn HvmTarget,
    start_pages: u64,
) -> Result<(), BuildError> {
    let pod = plan.pod();
    if pod {
        t.set_pod_target(start_pages)
            .during("setting the PoD target")?;
    }
    let hole = plan.mmio_start >> PAGE_SHIFT..GIB4 >> PAGE_SHIFT;
    for range in &plan.ram {
        let mut from = range.start;
        if range.start == 0 && plan.vga_hole_pages > 0 {
            populate_run(t, 0..VGA_HOLE.start, 0, pod)?;
            from = VGA_HOLE.end;
        }
        populate_superpages(t, from..range.end, &hole, pod)?;
    }
    Ok(())
}

/// libxenguest's step rule: a whole aligned 1 GiB extent clear of the MMIO hole, else up
/// to 8 MiB of aligned 2 MiB extents, else 4 KiB pages — with what a larger order could
/// not get retried at the next smaller one.
fn populate_superpages(
    t: &mut dyn HvmTarget,
    range: Range<u64>,
    hole: &Range<u64>,
    pod: bool,
) -> Result<(), BuildError> {
    const GIB: u64 = 1 << ORDER_1G;
    const MIB2: u64 = 1 << ORDER_2M;
    let mut cur = range.start;
    while cur < range.end {
        let mut count = (range.end - cur).min(GIB);
        if !cur.is_multiple_of(GIB) && count > GIB - cur % GIB {
            count = GIB - cur % GIB;
        }
        if (count | cur).is_multiple_of(GIB) && !(cur < hole.end && cur + GIB > hole.start) {
            let done = populate_extents(t, ORDER_1G, &[cur], pod)?;
            cur += done * GIB;
            count -= done * GIB;
        }
        if count == 0 {
            continue;
        }
        count = count.min(MAX_2M_STEP);
        if !cur.is_multiple_of(MIB2) && count > MIB2 - cur % MIB2 {
            count = MIB2 - cur % MIB2;
        } else if !count.is_multiple_of(MIB2) && count > MIB2 {
            count &= !(MIB2 - 1);
        }
        if (count | cur).is_multiple_of(MIB2) {
            let gfns: Vec<u64> = (0..count / MIB2).map(|i| cur + i * MIB2).collect();
            let done = populate_extents(t, ORDER_2M, &gfns, pod)?;
            cur += done * MIB2;
            count -= done * MIB2;
        }
        if count > 0 {
            populate_run(t, cur..cur + count, 0, pod)?;
            cur += count;
        }
    }
    Ok(())
}

fn populate_extents(
    t: &mut dyn HvmTarget,
    order: u32,
    gfns: &[u64],
    pod: bool,
) -> Result<u64, BuildError> {
    let done = t
        .populate(order, gfns, pod)
        .during("populating the guest's memory")?;
    Ok(done.min(gfns.len()) as u64)
}

/// Every frame of `run` as order-0 extents, all of which must be backed.
fn populate_run(
    t: &mut dyn HvmTarget,
    run: Range<u64>,
    order: u32,
    pod: bool,
) -> Result<(), BuildError> {
    let mut cur = run.start;
    while cur < run.end {
        let n = (run.end - cur).min(CHUNK);
        let gfns: Vec<u64> = (cur..cur + n).collect();
        let done = populate_extents(t, order, &gfns, pod)?;
        if done != n {
            return Err(BuildError::Target {
                step: "populating the guest's memory",
                source: TargetError::Message(format!(
                    "Xen backed {done} of {n} frames from {cur:#x}: out of memory"
                )),
            });
        }
        cur += n;
    }
    Ok(())
}

fn write_segment(t: &mut dyn HvmTarget, seg: &HvmSegment, bytes: &[u8]) -> Result<(), BuildError> {
    let pfns: Vec<u64> = seg.pfns().collect();
    for (i, frames) in pfns.chunks(CHUNK as usize).enumerate() {
        let from = (i * CHUNK as usize * PAGE_SIZE as usize).min(bytes.len());
        let to = (from + frames.len() * PAGE_SIZE as usize).min(bytes.len());
        t.write_frames(frames, &bytes[from..to]).during(seg.name)?;
    }
    Ok(())
}

/// `xc_dom_load_acpi`: each ACPI module's pages are outside RAM (in the hole, or the RSDP
/// page below 1 MiB which is RAM already); back those that are not RAM, then copy.
fn load_acpi(plan: &HvmPlan, t: &mut dyn HvmTarget) -> Result<(), BuildError> {
    for blob in &plan.acpi {
        let first = blob.gpa >> PAGE_SHIFT;
        let last = (blob.gpa + blob.bytes.len().max(1) as u64 - 1) >> PAGE_SHIFT;
        let fresh: Vec<u64> = (first..=last)
            .filter(|pfn| !plan.ram.iter().any(|r| r.contains(pfn)))
            .collect();
        if !fresh.is_empty() {
            let done = populate_extents(t, 0, &fresh, false)?;
            if done != fresh.len() as u64 {
                return Err(BuildError::Target {
                    step: "populating the ACPI pages",
                    source: TargetError::Message("out of memory".to_string()),
                });
            }
        }
        // The pages are fresh: zeroes around the module.
        let mut bytes = vec![0u8; (blob.gpa & (PAGE_SIZE - 1)) as usize];
        bytes.extend_from_slice(&blob.bytes);
        let frames: Vec<u64> = (first..=last).collect();
        t.write_frames(&frames, &bytes)
            .during("writing the ACPI tables")?;
    }
    Ok(())
}

/// The special pages (and an HVM guest's ioreq server pages) backed and zeroed, the
/// identity page table written, the console's `connection` byte set on 4.21+.
fn special_pages(plan: &HvmPlan, t: &mut dyn HvmTarget) -> Result<(), BuildError> {
    let specials: Vec<u64> = (0..NR_SPECIAL_PAGES).map(special_pfn).collect();
    populate_exact(t, &specials)?;
    t.write_frames(&specials, &[])
        .during("clearing the special pages")?;
    if plan.guest == HvmGuest::Hvm {
        let ioreq: Vec<u64> = (0..NR_IOREQ_SERVER_PAGES)
            .map(|i| IOREQ_SERVER_PFN + i)
            .collect();
        populate_exact(t, &ioreq)?;
        t.write_frames(&ioreq, &[])
            .during("clearing the ioreq server pages")?;
    }
    t.write_frames(&[special_pfn(special::IDENT_PT)], &ident_pt_page())
        .during("writing the identity page table")?;
    if plan.console_connection_byte {
        // xencons_interface.connection: disconnected until xenconsoled attaches.
        let mut page = vec![0u8; 3089];
        page[3088] = 1;
        t.write_frames(&[plan.console_pfn()], &page)
            .during("initialising the console ring")?;
    }
    Ok(())
}

fn populate_exact(t: &mut dyn HvmTarget, gfns: &[u64]) -> Result<(), BuildError> {
    let done = populate_extents(t, 0, gfns, false)?;
    if done != gfns.len() as u64 {
        return Err(BuildError::Target {
            step: "populating the special pages",
            source: TargetError::Message("out of memory".to_string()),
        });
    }
    Ok(())
}

/// `vcpu_hvm`: PVH vCPUs get write-back MTRRs (nothing else programs them); the boot
/// processor's context goes last, since loading a context puts every vCPU down.
fn boot_vcpus(plan: &HvmPlan, t: &mut dyn HvmTarget) -> Result<(), BuildError> {
    let full = t.hvm_context().during("reading the HVM context")?;
    if plan.guest == HvmGuest::Pvh {
        for vcpu in 0..plan.max_vcpus {
            let records = mtrr_records(&full, vcpu as u16)?;
            t.set_hvm_context(&records)
                .during("setting the vCPUs' MTRRs")?;
        }
    }
    let records = boot_cpu_records(&full, plan.entry, plan.start_info_gpa())?;
    t.set_hvm_context(&records)
        .during("setting vCPU 0's context")
}
