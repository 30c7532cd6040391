//! ACPI tables for a PVH guest, with the content libxl gives one.
//!
//! libxl builds them with libacpi's `acpi_build_tables` and no optional
//! devices (no IOAPIC, HPET, PM timer, buttons, VGA, 8042 or CMOS RTC), and
//! hands them to the guest as three "ACPI modules", each with its own e820
//! entry, in this order:
//!
//! 0. the RSDP (64 bytes), at [`RSDP_LOW_GPA`] or just after the tables;
//! 1. the `acpi_info` page read by the DSDT, at [`ACPI_INFO_GPA`];
//! 2. the tables, whole pages from [`ACPI_TABLES_GPA`], at most 16.
//!
//! The tables are laid out in libacpi's order with libxl's alignments (FACS on
//! 64 bytes, the rest on 16, room for an IOAPIC left after the MADT), so their
//! addresses follow libxl's for a DSDT of the same length.

use acpi_tables::aml::{
    self, Add, And, Arg, BufferData, DeRefOf, Else, Equal, Field, FieldAccessType, FieldEntry,
    FieldLockRule, FieldUpdateRule, If, Index, LessThan, Local, Method, MethodCall, Name, NotEqual,
    Notify, OpRegion, OpRegionSpace, Path, Return, Scope, ShiftRight, Store, Subtract, ToBuffer,
};
use acpi_tables::facs::FACS;
use acpi_tables::fadt::{FADTBuilder, Flags};
use acpi_tables::gas::{AccessSize, AddressSpace, GAS};
use acpi_tables::madt::{EnabledStatus, ProcessorLocalApic};
use acpi_tables::{Aml, AmlSink};

/// Where the `acpi_info` page goes; the DSDT reads it at this fixed address.
pub const ACPI_INFO_GPA: u64 = 0xfc00_0000;
/// Where the tables start: the page after `acpi_info`, so e820 stays unfragmented.
pub const ACPI_TABLES_GPA: u64 = 0xfc00_1000;
/// The RSDP's address for guests that find it only by the BIOS-area scan.
pub const RSDP_LOW_GPA: u64 = 0xf_ffc0;
/// libxl's limit for PVH guests (`HVM_MAX_VCPUS`); the DSDT declares this many processors.
pub const MAX_VCPUS: u32 = 128;

const PAGE_SIZE: u64 = 0x1000;
/// libxl reserves this many pages for the tables.
const TABLE_PAGES: u64 = 16;
const TABLES_LIMIT: u64 = TABLE_PAGES * PAGE_SIZE;
const RSDP_MODULE_LEN: usize = 64;

// Every table lies below 4 GiB, so the 32-bit pointer fields can hold its address.
const _: () = assert!(ACPI_TABLES_GPA + TABLES_LIMIT <= u32::MAX as u64);

// Identity libacpi writes in every table header.
const OEM_ID: [u8; 6] = *b"Xen\0\0\0";
const OEM_TABLE_ID: [u8; 8] = *b"HVM\0\0\0\0\0";
const OEM_REVISION: u32 = 0;
const CREATOR_ID: [u8; 4] = *b"HVML";
const CREATOR_REVISION: u32 = 0;

const HEADER_LEN: usize = 36;
const CHECKSUM_OFFSET: usize = 9;

/// libacpi's FADT for the XSDT is ACPI 5's (up to `sleep_status`); the one
/// for the RSDT stops at `flags`, for ACPI 1.0 guests.
const FADT_REVISION: u8 = 5;
const FADT_LEN: usize = 268;
const FADT_V1_REVISION: u8 = 1;
const FADT_V1_LEN: usize = 116;
const _: () = assert!(FADT_LEN <= size_of::<FADTBuilder>());

// Xen's emulated ACPI register blocks and the legacy reset port.
const SCI_IRQ: u16 = 9;
const PM1A_EVT_BLK: u16 = 0xb000;
const PM1A_CNT_BLK: u16 = 0xb004;
const PM_TMR_BLK: u16 = 0xb008;
const GPE0_BLK: u16 = 0xafe0;
const GPE0_BLK_LEN: u8 = 4;
const PM1_EVT_BITS: u8 = 32;
const PM1_CNT_BITS: u8 = 16;
const PM_TMR_BITS: u8 = 32;
/// Above 100 and 1000 µs: no C2 or C3.
const C_STATE_LATENCY_NONE: u16 = 0x0fff;
const RESET_PORT: u64 = 0xcf9;
const RESET_VALUE: u8 = 6;
const IAPC_NO_VGA: u16 = 1 << 2;
const IAPC_NO_CMOS_RTC: u16 = 1 << 5;

const MADT_REVISION: u8 = 2;
const LAPIC_BASE: u32 = 0xfee0_0000;
const MADT_PCAT_COMPAT: u32 = 1;
const MADT_FIXED_LEN: usize = HEADER_LEN + 8;
const LAPIC_ENTRY_LEN: usize = 8;
/// libacpi sizes the MADT's allocation for 16 interrupt source overrides
/// (10 bytes each) and an IOAPIC (12) even when it writes neither.
const MADT_UNUSED_RESERVE: usize = 16 * 10 + 12;

const DSDT_REVISION: u8 = 5;
const XSDT_REVISION: u8 = 1;
const RSDT_REVISION: u8 = 1;
const RSDP_REVISION: u8 = 2;
const RSDP_LEN: usize = 36;
const RSDP_V1_LEN: usize = 20;

/// Offsets in `acpi_info`, which must match the DSDT's `BIOS` field.
const INFO_LEN: u32 = 40;
const INFO_NR_CPUS: usize = 2;
const INFO_MADT_CSUM_ADDR: usize = 12;
const INFO_MADT_LAPIC0_ADDR: usize = 16;

/// The first Xen release taken to ship libxl's PVH DSDT without the CPU
/// hotplug objects (`PRST`, `PRSC`, `\_GPE._E02`). Upstream dropped them
/// (no device model backs the 0xaf00 port in a PVH guest) in a stable fix
/// first released in 4.19.4, 4.20.2 and 4.21.0; 4.17 and 4.18 never got it.
/// A `(major, minor)` cannot tell point releases apart, so the cut follows
/// the Debian builds the lab has: bookworm's 4.17.7 keeps the objects,
/// trixie's 4.20.4 lacks them. Hence 4.18 and 4.19 keep them (right for
/// 4.18 and 4.19.0–4.19.3) and every 4.20 lacks them (right from 4.20.2).
pub const DSDT_WITHOUT_CPU_HOTPLUG_FROM: (u32, u32) = (4, 20);

// Xen's CPU hotplug interface: online-vCPU bitmap port and GPE0 bit.
const CPU_MAP_PORT: u16 = 0xaf00;
const CPU_MAP_LEN: u8 = (MAX_VCPUS / 8) as u8;
const CPU_HOTPLUG_GPE: &str = "_E02";
const PROCESSOR_PBLK: u32 = 0xb010;
const PROCESSOR_PBLK_LEN: u8 = 6;
/// `_EJ0` waits this long (ms), as libacpi's does.
const EJECT_SLEEP_MS: u16 = 200;

/// What decides the guest's tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AcpiRequest {
    /// vCPUs the domain can ever have (`maxvcpus`); one MADT entry each.
    pub max_vcpus: u32,
    /// vCPUs online at boot (`vcpus`), the first ones.
    pub online_vcpus: u32,
    /// xl's `apic` (on by default); libacpi drops the MADT when it is off
    /// and the guest has a single vCPU.
    pub apic: bool,
    /// Put the RSDP at [`RSDP_LOW_GPA`]; libxl does so for Linux kernels
    /// without `XENFEAT_linux_rsdp_unrestricted`, else right after the tables.
    pub rsdp_below_1mib: bool,
    /// Xen's (major, minor): picks libxl's DSDT, with CPU hotplug objects
    /// below [`DSDT_WITHOUT_CPU_HOTPLUG_FROM`], without them from it on.
    /// Nothing else depends on it.
    pub xen_version: (u32, u32),
}

/// Bytes to copy to guest-physical `gpa`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcpiModule {
    /// Guest-physical address of the first byte.
    pub gpa: u64,
    /// The module's contents.
    pub bytes: Vec<u8>,
}

/// The three ACPI modules; [`PvhAcpi::modules`] gives libxl's order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PvhAcpi {
    /// The RSDP, which the guest finds through `hvm_start_info.rsdp_paddr`.
    pub rsdp: AcpiModule,
    /// The `acpi_info` page at [`ACPI_INFO_GPA`], read by the DSDT.
    pub info: AcpiModule,
    /// FACS, DSDT, FADTs, MADT (if any), XSDT and RSDT, from [`ACPI_TABLES_GPA`].
    pub tables: AcpiModule,
}

impl PvhAcpi {
    /// Module 0 = RSDP, 1 = `acpi_info`, 2 = tables, as libxl numbers them.
    pub fn modules(&self) -> [&AcpiModule; 3] {
        [&self.rsdp, &self.info, &self.tables]
    }
}

/// Why a request gets no tables: the vCPU counts libacpi cannot describe.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AcpiError {
    /// No vCPU online at boot.
    #[error("a PVH guest needs at least one online vCPU")]
    NoVcpus,
    /// More vCPUs than the MADT can list.
    #[error("{max_vcpus} vCPUs: PVH ACPI tables describe at most {limit}")]
    TooManyVcpus {
        /// The requested maximum (`maxvcpus`).
        max_vcpus: u32,
        /// The most the tables describe.
        limit: u32,
    },
    /// More vCPUs online than the maximum.
    #[error("{online} online vCPUs exceed the maximum of {max_vcpus}")]
    OnlineAboveMax {
        /// vCPUs online at boot (`vcpus`).
        online: u32,
        /// The maximum (`maxvcpus`).
        max_vcpus: u32,
    },
    /// The tables do not fit the space reserved for them.
    #[error("ACPI tables need {needed} bytes, more than the {limit} reserved for them")]
    TablesTooLarge {
        /// Bytes the tables take.
        needed: u64,
        /// Bytes reserved.
        limit: u64,
    },
}

/// Builds the RSDP, `acpi_info` and tables libxl would give this PVH guest.
pub fn pvh_acpi(req: &AcpiRequest) -> Result<PvhAcpi, AcpiError> {
    let vcpus = Vcpus::checked(req)?;
    let dsdt = dsdt(DsdtKind::for_xen(req.xen_version));
    let madt = vcpus.wants_madt().then(|| madt(&vcpus));
    let at = Placement::plan(dsdt.len(), madt.as_ref().map(Vec::len))?;
    let tables = tables_module(&at, dsdt, madt);
    let rsdp_gpa = if req.rsdp_below_1mib {
        RSDP_LOW_GPA
    } else {
        tables.gpa + tables.bytes.len() as u64
    };
    Ok(PvhAcpi {
        rsdp: AcpiModule {
            gpa: rsdp_gpa,
            bytes: rsdp(at.xsdt, at.rsdt),
        },
        info: AcpiModule {
            gpa: ACPI_INFO_GPA,
            bytes: acpi_info(at.madt, &vcpus),
        },
        tables,
    })
}

/// The checked vCPU counts, small enough for the MADT's one-byte ids.
struct Vcpus {
    count: u8,
    online: u8,
    apic: bool,
}

impl Vcpus {
    fn checked(req: &AcpiRequest) -> Result<Self, AcpiError> {
        let (max_vcpus, online) = (req.max_vcpus, req.online_vcpus);
        let count = u8::try_from(max_vcpus)
            .ok()
            .filter(|&n| u32::from(n) <= MAX_VCPUS)
            .ok_or(AcpiError::TooManyVcpus {
                max_vcpus,
                limit: MAX_VCPUS,
            })?;
        if online == 0 {
            return Err(AcpiError::NoVcpus);
        }
        let online = u8::try_from(online)
            .ok()
            .filter(|&n| n <= count)
            .ok_or(AcpiError::OnlineAboveMax { online, max_vcpus })?;
        Ok(Self {
            count,
            online,
            apic: req.apic,
        })
    }

    fn wants_madt(&self) -> bool {
        self.count > 1 || self.apic
    }

    fn status(&self, cpu: u8) -> EnabledStatus {
        if cpu < self.online {
            EnabledStatus::Enabled
        } else {
            EnabledStatus::Disabled
        }
    }
}

/// Guest-physical address of each table, allocated as libxl's `mem_alloc`
/// does: a bump pointer, at least 16-byte aligned.
struct Placement {
    facs: u64,
    dsdt: u64,
    fadt_v1: u64,
    fadt: u64,
    madt: Option<u64>,
    xsdt: u64,
    rsdt: u64,
    end: u64,
}

impl Placement {
    fn plan(dsdt_len: usize, madt_len: Option<usize>) -> Result<Self, AcpiError> {
        let mut next = ACPI_TABLES_GPA;
        let mut alloc = |len: usize, align: u64| {
            let start = next.next_multiple_of(align.max(16));
            next = start + len as u64;
            start
        };
        let facs = alloc(size_of::<FACS>(), 64);
        let dsdt = alloc(dsdt_len, 16);
        let fadt_v1 = alloc(FADT_V1_LEN, 16);
        let fadt = alloc(FADT_LEN, 16);
        let madt = madt_len.map(|len| alloc(len + MADT_UNUSED_RESERVE, 16));
        // libacpi's XSDT/RSDT structs already count one entry, then it adds one per secondary table.
        let secondary = usize::from(madt.is_some());
        let xsdt = alloc(HEADER_LEN + 8 + 8 * secondary, 16);
        let rsdt = alloc(HEADER_LEN + 4 + 4 * secondary, 16);
        let needed = next - ACPI_TABLES_GPA;
        if needed > TABLES_LIMIT {
            return Err(AcpiError::TablesTooLarge {
                needed,
                limit: TABLES_LIMIT,
            });
        }
        Ok(Self {
            facs,
            dsdt,
            fadt_v1,
            fadt,
            madt,
            xsdt,
            rsdt,
            end: next,
        })
    }
}

/// The table pages: every table at its planned address, padded to whole
/// pages. The MADT is libacpi's only secondary table here.
fn tables_module(at: &Placement, dsdt: Vec<u8>, madt: Option<Vec<u8>>) -> AcpiModule {
    let secondary: Vec<u64> = at.madt.into_iter().collect();
    let len = (at.end - ACPI_TABLES_GPA).next_multiple_of(PAGE_SIZE);
    let mut pages = vec![0; len as usize];
    let mut place =
        |gpa: u64, table: &[u8]| put(&mut pages, (gpa - ACPI_TABLES_GPA) as usize, table);
    place(at.facs, &facs());
    place(at.dsdt, &dsdt);
    place(at.fadt_v1, &fadt(FadtKind::V1, at));
    place(at.fadt, &fadt(FadtKind::V5, at));
    if let Some((gpa, madt)) = at.madt.zip(madt) {
        place(gpa, &madt);
    }
    place(at.xsdt, &xsdt(at.fadt, &secondary));
    place(at.rsdt, &rsdt(at.fadt_v1, &secondary));
    AcpiModule {
        gpa: ACPI_TABLES_GPA,
        bytes: pages,
    }
}

/// The page the DSDT's `BIOS` region maps: what it needs to find the MADT.
fn acpi_info(madt: Option<u64>, vcpus: &Vcpus) -> Vec<u8> {
    let mut page = vec![0; PAGE_SIZE as usize];
    // libacpi fills these in while building the MADT, so they stay zero without one.
    if let Some(madt) = madt {
        put(
            &mut page,
            INFO_NR_CPUS,
            &u16::from(vcpus.count).to_le_bytes(),
        );
        let csum = gpa32(madt + CHECKSUM_OFFSET as u64);
        put(&mut page, INFO_MADT_CSUM_ADDR, &csum.to_le_bytes());
        let lapic0 = gpa32(madt + MADT_FIXED_LEN as u64);
        put(&mut page, INFO_MADT_LAPIC0_ADDR, &lapic0.to_le_bytes());
    }
    page
}

/// RSDP v2 with both checksums, padded to the 64 bytes libxl reserves.
fn rsdp(xsdt: u64, rsdt: u64) -> Vec<u8> {
    let mut r = Vec::with_capacity(RSDP_MODULE_LEN);
    r.extend_from_slice(b"RSD PTR ");
    r.push(0);
    r.extend_from_slice(&OEM_ID);
    r.push(RSDP_REVISION);
    r.extend_from_slice(&gpa32(rsdt).to_le_bytes());
    r.extend_from_slice(&(RSDP_LEN as u32).to_le_bytes());
    r.extend_from_slice(&xsdt.to_le_bytes());
    r.extend_from_slice(&[0; 4]);
    r[8] = checksum(&r[..RSDP_V1_LEN]);
    r[32] = checksum(&r[..RSDP_LEN]);
    r.resize(RSDP_MODULE_LEN, 0);
    r
}

fn xsdt(fadt: u64, secondary: &[u64]) -> Vec<u8> {
    let mut t = sdt_header(*b"XSDT", XSDT_REVISION);
    for entry in std::iter::once(&fadt).chain(secondary) {
        t.extend_from_slice(&entry.to_le_bytes());
    }
    finish_sdt(t)
}

fn rsdt(fadt_v1: u64, secondary: &[u64]) -> Vec<u8> {
    let mut t = sdt_header(*b"RSDT", RSDT_REVISION);
    for &entry in std::iter::once(&fadt_v1).chain(secondary) {
        t.extend_from_slice(&gpa32(entry).to_le_bytes());
    }
    finish_sdt(t)
}

fn facs() -> Vec<u8> {
    encode(&FACS::new())
}

/// One Local APIC entry per vCPU (APIC id 2i, as libxl numbers them),
/// without IOAPIC or interrupt overrides.
fn madt(vcpus: &Vcpus) -> Vec<u8> {
    let mut t = sdt_header(*b"APIC", MADT_REVISION);
    t.extend_from_slice(&LAPIC_BASE.to_le_bytes());
    t.extend_from_slice(&MADT_PCAT_COMPAT.to_le_bytes());
    for cpu in 0..vcpus.count {
        // cpu < 128, so 2 * cpu fits the one-byte APIC id.
        ProcessorLocalApic::new(cpu, 2 * cpu, vcpus.status(cpu)).to_aml_bytes(&mut t);
    }
    finish_sdt(t)
}

/// libacpi's two FADTs: the full one for the XSDT, and a 1.0 one for the
/// RSDT copied before the PVH edits (so it keeps the PM timer and lacks the
/// button and boot-architecture flags).
#[derive(Clone, Copy, PartialEq, Eq)]
enum FadtKind {
    V1,
    V5,
}

fn fadt(kind: FadtKind, at: &Placement) -> Vec<u8> {
    let mut f = FADTBuilder::new(OEM_ID, OEM_TABLE_ID, OEM_REVISION)
        .flag(Flags::ProcC1)
        .flag(Flags::Wbinvd)
        .flag(Flags::FixRtc)
        .flag(Flags::TmrValExt)
        .flag(Flags::UsePlatformClock);
    f.creator_id = CREATOR_ID;
    f.creator_revision = CREATOR_REVISION.to_le_bytes();
    f.fadt_minor_version = 0;
    f.firmware_ctrl = gpa32(at.facs).into();
    f.dsdt = gpa32(at.dsdt).into();
    f.sci_int = SCI_IRQ.into();
    f.pm1a_evt_blk = u32::from(PM1A_EVT_BLK).into();
    f.pm1a_cnt_blk = u32::from(PM1A_CNT_BLK).into();
    f.gpe0_blk = u32::from(GPE0_BLK).into();
    f.pm1_evt_len = PM1_EVT_BITS / 8;
    f.pm1_cnt_len = PM1_CNT_BITS / 8;
    f.gpe0_blk_len = GPE0_BLK_LEN;
    f.p_lvl2_lat = C_STATE_LATENCY_NONE.into();
    f.p_lvl3_lat = C_STATE_LATENCY_NONE.into();
    f.reset_reg = io_register(8, RESET_PORT);
    f.reset_value = RESET_VALUE;
    f.x_pm1a_evt_blk = io_register(PM1_EVT_BITS, PM1A_EVT_BLK.into());
    f.x_pm1a_cnt_blk = io_register(PM1_CNT_BITS, PM1A_CNT_BLK.into());
    let (revision, len) = match kind {
        FadtKind::V1 => {
            f.pm_tmr_blk = u32::from(PM_TMR_BLK).into();
            f.pm_tmr_len = PM_TMR_BITS / 8;
            (FADT_V1_REVISION, FADT_V1_LEN)
        }
        FadtKind::V5 => {
            f = f.flag(Flags::PwrButton).flag(Flags::SlpButton);
            f.iapc_boot_arch = (IAPC_NO_VGA | IAPC_NO_CMOS_RTC).into();
            f.x_firmware_ctrl = at.facs.into();
            f.x_dsdt = at.dsdt.into();
            (FADT_REVISION, FADT_LEN)
        }
    };
    f.major_version = revision;
    // acpi_tables lays out ACPI 6's FADT; libacpi's is its prefix.
    let mut t = encode(&f.finalize());
    t.truncate(len);
    finish_sdt(t)
}

fn io_register(bits: u8, port: u64) -> GAS {
    GAS::new(AddressSpace::SystemIo, bits, 0, AccessSize::Undefined, port)
}

/// The two `dsdt_pvh` libxl has shipped; see [`DSDT_WITHOUT_CPU_HOTPLUG_FROM`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DsdtKind {
    /// With `PRST`, `PRSC` and `\_GPE._E02` (27803 bytes): Debian's 4.17.
    WithCpuHotplug,
    /// Without them (17945 bytes): Debian's 4.20.
    WithoutCpuHotplug,
}

impl DsdtKind {
    fn for_xen(version: (u32, u32)) -> Self {
        if version >= DSDT_WITHOUT_CPU_HOTPLUG_FROM {
            Self::WithoutCpuHotplug
        } else {
            Self::WithCpuHotplug
        }
    }

    /// The iasl of Debian's build of that release (20200925, 20250404).
    fn compiler_revision(self) -> u32 {
        match self {
            Self::WithCpuHotplug => 0x2020_0925,
            Self::WithoutCpuHotplug => 0x2025_0404,
        }
    }
}

/// The DSDT of libacpi's `dsdt_pvh`: the `acpi_info` fields, a processor
/// object per possible vCPU with `_MAT`/`_STA` read from the MADT, and, in
/// the older kind, the CPU hotplug GPE handler that syncs the MADT with
/// Xen's online-vCPU map. Names are as short as the ASL compiler makes them,
/// which gives the AML Debian's builds ship (iasl 20200925 for 4.17,
/// 20250404 for 4.20), byte for byte apart from the creator fields and
/// checksum, so later tables land where libxl puts them.
fn dsdt(kind: DsdtKind) -> Vec<u8> {
    let hotplug = kind == DsdtKind::WithCpuHotplug;
    let mut t = sdt_header(*b"DSDT", DSDT_REVISION);
    // libacpi copies the compiled DSDT as it is: its creator is the ASL
    // compiler of the build, not libacpi.
    put(&mut t, 28, b"INTL");
    put(&mut t, 32, &kind.compiler_revision().to_le_bytes());
    t.extend_from_slice(&acpi_info_scope());
    t.extend_from_slice(&processor_scope(hotplug));
    if hotplug {
        t.extend_from_slice(&gpe_scope());
    }
    finish_sdt(t)
}

/// `\_SB.BIOS`: the fields of `acpi_info`.
fn acpi_info_scope() -> Vec<u8> {
    use FieldEntry::{Named, Reserved};
    let base = gpa32(ACPI_INFO_GPA);
    let region = OpRegion::new("BIOS".into(), OpRegionSpace::SystemMemory, &base, &INFO_LEN);
    let fields = vec![
        Named(*b"UAR1", 1),
        Named(*b"UAR2", 1),
        Named(*b"LTP1", 1),
        Named(*b"HPET", 1),
        Reserved(12),
        Named(*b"NCPU", 16),
        Named(*b"PMIN", 32),
        Named(*b"PLEN", 32),
        Named(*b"MSUA", 32),
        Named(*b"MAPA", 32),
        Named(*b"VGIA", 32),
        Named(*b"LMIN", 32),
        Named(*b"HMIN", 32),
        Named(*b"LLEN", 32),
        Named(*b"HLEN", 32),
    ];
    let field = byte_field("BIOS", fields);
    encode(&Scope::new("_SB_".into(), vec![&region, &field]))
}

/// `\_SB`: the MADT checksum byte, `PMAT`, the processors, and with
/// `hotplug` Xen's online-vCPU map (`PRST`) and `PRSC`.
fn processor_scope(hotplug: bool) -> Vec<u8> {
    let msua = Path::new("MSUA");
    let msum = OpRegion::new("MSUM".into(), OpRegionSpace::SystemMemory, &msua, &1u8);
    let msu = byte_field("MSUM", vec![FieldEntry::Named(*b"MSU_", 8)]);
    let pmat = Encoded(pmat_method());
    let processors: Vec<Encoded> = (0..MAX_VCPUS as u8)
        .map(|cpu| Encoded(processor(cpu)))
        .collect();
    let cpu_hotplug = hotplug.then(|| Encoded(cpu_hotplug_objects()));
    let mut children: Vec<&dyn Aml> = vec![&msum, &msu, &pmat];
    children.extend(processors.iter().map(|p| p as &dyn Aml));
    children.extend(cpu_hotplug.as_ref().map(|h| h as &dyn Aml));
    encode(&Scope::new("_SB_".into(), children))
}

/// `PRST`, Xen's online-vCPU map (one bit per vCPU at an I/O port), and
/// `PRSC`, which the GPE handler calls to apply it.
fn cpu_hotplug_objects() -> Vec<u8> {
    let prst = OpRegion::new(
        "PRST".into(),
        OpRegionSpace::SystemIO,
        &CPU_MAP_PORT,
        &CPU_MAP_LEN,
    );
    let prs = byte_field(
        "PRST",
        vec![FieldEntry::Named(*b"PRS_", MAX_VCPUS as usize)],
    );
    let mut out = encode(&prst);
    prs.to_aml_bytes(&mut out);
    out.extend_from_slice(&prsc_method());
    out
}

/// `PMAT(cpu, entry)`: the MADT entry for vCPUs below `NCPU`, else a
/// disabled one.
fn pmat_method() -> Vec<u8> {
    let ncpu = Path::new("NCPU");
    let below = LessThan::new(&Arg(0), &ncpu);
    let entry = ToBuffer::new(&aml::ZERO, &Arg(1));
    let ret_entry = Return::new(&entry);
    let when_present = If::new(&below, vec![&ret_entry]);
    let disabled = BufferData::new(vec![0, LAPIC_ENTRY_LEN as u8, 0xff, 0xff, 0, 0, 0, 0]);
    let ret_disabled = Return::new(&disabled);
    encode(&Method::new(
        "PMAT".into(),
        2,
        false,
        vec![&when_present, &ret_disabled],
    ))
}

/// `PRnn`: its MADT entry (`MAT`) and enabled bit (`FLG`), `_MAT`, `_STA`
/// and `_EJ0`.
fn processor(cpu: u8) -> Vec<u8> {
    let id = u32::from(cpu);
    let hid = Name::new("_HID".into(), &"ACPI0007");
    let uid = Name::new("_UID".into(), &id);
    let mapa = Path::new("MAPA");
    let entry_offset = id * LAPIC_ENTRY_LEN as u32;
    let entry_gpa = Add::new(&aml::ZERO, &mapa, &entry_offset);
    let entry_len = LAPIC_ENTRY_LEN as u8;
    let matr = OpRegion::new(
        "MATR".into(),
        OpRegionSpace::SystemMemory,
        &entry_gpa,
        &entry_len,
    );
    let mat = byte_field("MATR", vec![FieldEntry::Named(*b"MAT_", 64)]);
    let flg = byte_field(
        "MATR",
        vec![FieldEntry::Reserved(32), FieldEntry::Named(*b"FLG_", 1)],
    );
    let mat_method = Encoded(mat_method(cpu));
    let sta = Encoded(sta_method(cpu));
    let sleep = Sleep(EJECT_SLEEP_MS);
    let ej0 = Method::new("_EJ0".into(), 1, false, vec![&sleep]);
    encode(&Processor {
        path: processor_name(cpu).as_str().into(),
        id: cpu,
        children: vec![&hid, &uid, &matr, &mat, &flg, &mat_method, &sta, &ej0],
    })
}

fn mat_method(cpu: u8) -> Vec<u8> {
    let id = u32::from(cpu);
    let mat = Path::new("MAT_");
    let whole = ToBuffer::new(&aml::ZERO, &mat);
    let checked = MethodCall::new("PMAT".into(), vec![&id, &mat]);
    let value: &dyn Aml = if cpu == 0 { &whole } else { &checked };
    encode(&Method::new(
        "_MAT".into(),
        0,
        false,
        vec![&Return::new(value)],
    ))
}

/// Present while the MADT entry is enabled; vCPU 0 is never above `NCPU`.
fn sta_method(cpu: u8) -> Vec<u8> {
    let id = u32::from(cpu);
    let flg = Path::new("FLG_");
    let ret_present = Return::new(&0x0fu8);
    let when_enabled = If::new(&flg, vec![&ret_present]);
    let ncpu = Path::new("NCPU");
    let below = LessThan::new(&id, &ncpu);
    let when_below = If::new(&below, vec![&when_enabled]);
    let check: &dyn Aml = if cpu == 0 { &when_enabled } else { &when_below };
    let ret_absent = Return::new(&aml::ZERO);
    encode(&Method::new(
        "_STA".into(),
        0,
        false,
        vec![check, &ret_absent],
    ))
}

/// `PRSC`: for each vCPU whose bit in Xen's map differs from its MADT
/// entry, flip the entry, fix the MADT checksum and notify the OS.
fn prsc_method() -> Vec<u8> {
    let prs = Path::new("PRS_");
    let map = ToBuffer::new(&aml::ZERO, &prs);
    let load_map = Store::new(&Local(0), &map);
    let checks: Vec<Encoded> = (0..MAX_VCPUS as u8)
        .map(|cpu| Encoded(prsc_step(cpu)))
        .collect();
    let ret = Return::new(&aml::ONE);
    let mut body: Vec<&dyn Aml> = vec![&load_map];
    body.extend(checks.iter().map(|c| c as &dyn Aml));
    body.push(&ret);
    encode(&Method::new("PRSC".into(), 0, false, body))
}

/// One vCPU of `PRSC`: its bit of the map into Local2, then the update.
fn prsc_step(cpu: u8) -> Vec<u8> {
    let byte_index = u32::from(cpu / 8);
    let byte = Index::new(&aml::ZERO, &Local(0), &byte_index);
    let byte_value = DeRefOf::new(&byte);
    let next_byte = Store::new(&Local(1), &byte_value);
    let next_bit = ShiftRight::new(&Local(1), &Local(1), &aml::ONE);
    let advance: &dyn Aml = if cpu.is_multiple_of(8) {
        &next_byte
    } else {
        &next_bit
    };
    let take_bit = And::new(&Local(2), &Local(1), &aml::ONE);

    let name = processor_name(cpu);
    let flg = SiblingName {
        object: &name,
        name: "FLG_",
    };
    let processor = Path::new(&name);
    let msu = Path::new("MSU_");
    let differs = NotEqual::new(&Local(2), &flg);
    let update_flag = Store::new(&flg, &Local(2));
    let online = Equal::new(&Local(2), &aml::ONE);
    let device_check = Notify::new(&processor, &1u8);
    let csum_down = Subtract::new(&msu, &msu, &aml::ONE);
    let eject_request = Notify::new(&processor, &3u8);
    let csum_up = Add::new(&msu, &msu, &aml::ONE);
    let plugged = If::new(&online, vec![&device_check, &csum_down]);
    let unplugged = Else::new(vec![&eject_request, &csum_up]);
    let sync = If::new(&differs, vec![&update_flag, &plugged, &unplugged]);
    let mut out = encode(advance);
    take_bit.to_aml_bytes(&mut out);
    sync.to_aml_bytes(&mut out);
    out
}

/// `\_GPE._E02`: Xen raises GPE0 bit 2 when a vCPU is plugged or unplugged.
fn gpe_scope() -> Vec<u8> {
    let prsc = MethodCall::new("\\_SB_.PRSC".into(), vec![]);
    let handler = Method::new(CPU_HOTPLUG_GPE.into(), 0, false, vec![&prsc]);
    encode(&Scope::new("_GPE".into(), vec![&handler]))
}

fn processor_name(cpu: u8) -> String {
    format!("PR{cpu:02X}")
}

fn byte_field(region: &str, fields: Vec<FieldEntry>) -> Field {
    Field::new(
        region.into(),
        FieldAccessType::Byte,
        FieldLockRule::NoLock,
        FieldUpdateRule::Preserve,
        fields,
    )
}

/// AML already serialised, so generated lists need no borrowed object tree.
struct Encoded(Vec<u8>);

impl Aml for Encoded {
    fn to_aml_bytes(&self, sink: &mut dyn AmlSink) {
        sink.vec(&self.0);
    }
}

const EXT_OP_PREFIX: u8 = 0x5b;
const PROCESSOR_OP: u8 = 0x83;
const SLEEP_OP: u8 = 0x22;

/// The ACPI 1.0 `Processor` object libacpi declares vCPUs with; acpi_tables
/// has no builder for this (deprecated) opcode.
struct Processor<'a> {
    path: Path,
    id: u8,
    children: Vec<&'a dyn Aml>,
}

impl Aml for Processor<'_> {
    fn to_aml_bytes(&self, sink: &mut dyn AmlSink) {
        let mut body = Vec::new();
        self.path.to_aml_bytes(&mut body);
        body.push(self.id);
        body.extend_from_slice(&PROCESSOR_PBLK.to_le_bytes());
        body.push(PROCESSOR_PBLK_LEN);
        for child in &self.children {
            child.to_aml_bytes(&mut body);
        }
        sink.byte(EXT_OP_PREFIX);
        sink.byte(PROCESSOR_OP);
        sink.vec(&pkg_length(body.len()));
        sink.vec(&body);
    }
}

const PARENT_PREFIX: u8 = b'^';
const DUAL_NAME_PREFIX: u8 = 0x2e;

/// `^OBJ_.NAME`: a name inside a sibling of the current method, as the ASL
/// compiler shortens `\_SB.PRnn.FLG` within `\_SB.PRSC` (acpi_tables' paths
/// are absolute or relative only).
struct SiblingName<'a> {
    object: &'a str,
    name: &'static str,
}

impl Aml for SiblingName<'_> {
    fn to_aml_bytes(&self, sink: &mut dyn AmlSink) {
        sink.byte(PARENT_PREFIX);
        sink.byte(DUAL_NAME_PREFIX);
        sink.vec(self.object.as_bytes());
        sink.vec(self.name.as_bytes());
    }
}

/// `Sleep(ms)`, which acpi_tables lacks.
struct Sleep(u16);

impl Aml for Sleep {
    fn to_aml_bytes(&self, sink: &mut dyn AmlSink) {
        sink.byte(EXT_OP_PREFIX);
        sink.byte(SLEEP_OP);
        self.0.to_aml_bytes(sink);
    }
}

/// AML PkgLength of a body, counting the encoding's own bytes: one byte up
/// to 63, else a lead byte (count of following bytes, low nibble) and up to
/// three more. Processor bodies are a few hundred bytes, far below the
/// 2^28 limit of the format.
fn pkg_length(body_len: usize) -> Vec<u8> {
    if body_len + 1 < 0x40 {
        return vec![(body_len + 1) as u8];
    }
    let follow = (1..3)
        .find(|&n| body_len + 1 + n < 1 << (4 + 8 * n))
        .unwrap_or(3);
    let total = body_len + 1 + follow;
    let mut out = vec![((follow as u8) << 6) | (total & 0xf) as u8];
    out.extend((0..follow).map(|i| (total >> (4 + 8 * i)) as u8));
    out
}

/// A table header with libacpi's identity; length and checksum are left to
/// [`finish_sdt`].
fn sdt_header(signature: [u8; 4], revision: u8) -> Vec<u8> {
    let mut t = Vec::with_capacity(HEADER_LEN);
    t.extend_from_slice(&signature);
    t.extend_from_slice(&[0; 4]);
    t.push(revision);
    t.push(0);
    t.extend_from_slice(&OEM_ID);
    t.extend_from_slice(&OEM_TABLE_ID);
    t.extend_from_slice(&OEM_REVISION.to_le_bytes());
    t.extend_from_slice(&CREATOR_ID);
    t.extend_from_slice(&CREATOR_REVISION.to_le_bytes());
    t
}

/// Sets the header's length to the table's and makes the bytes sum to zero.
fn finish_sdt(mut t: Vec<u8>) -> Vec<u8> {
    // Tables are bounded by the 16 pages checked in `Placement::plan`.
    let len = t.len() as u32;
    put(&mut t, 4, &len.to_le_bytes());
    t[CHECKSUM_OFFSET] = 0;
    t[CHECKSUM_OFFSET] = checksum(&t);
    t
}

fn checksum(bytes: &[u8]) -> u8 {
    0u8.wrapping_sub(bytes.iter().fold(0u8, |sum, &b| sum.wrapping_add(b)))
}

fn put(buf: &mut [u8], offset: usize, bytes: &[u8]) {
    buf[offset..offset + bytes.len()].copy_from_slice(bytes);
}

/// A table address for a 32-bit pointer field (all lie below 4 GiB).
fn gpa32(gpa: u64) -> u32 {
    gpa as u32
}

fn encode(object: &dyn Aml) -> Vec<u8> {
    let mut bytes = Vec::new();
    object.to_aml_bytes(&mut bytes);
    bytes
}

#[cfg(test)]
mod tests {
    //! The output read back as a guest would: by address from the RSDP, with
    //! offsets from the ACPI specification rather than from the builder.

    use super::*;

    /// A request as xl 4.17 makes it, whose DSDT has the CPU hotplug objects.
    fn request(max_vcpus: u32, online_vcpus: u32) -> AcpiRequest {
        request_for((4, 17), max_vcpus, online_vcpus)
    }

    fn request_for(xen_version: (u32, u32), max_vcpus: u32, online_vcpus: u32) -> AcpiRequest {
        AcpiRequest {
            max_vcpus,
            online_vcpus,
            apic: true,
            rsdp_below_1mib: false,
            xen_version,
        }
    }

    /// libxenlight's `dsdt_pvh` from Debian bookworm's libxenmisc4.17
    /// (4.17.7+13-g2445b30a44-0+deb12u1, iasl 20200925).
    const XEN_4_17_DSDT: &[u8] = include_bytes!("../../testdata/dsdt_pvh-xen-4.17.aml");
    /// libxenlight's `dsdt_pvh` from Debian trixie's libxenmisc4.20
    /// (4.20.4+63-g7abfd2bce2-0+deb13u1, iasl 20250404).
    const XEN_4_20_DSDT: &[u8] = include_bytes!("../../testdata/dsdt_pvh-xen-4.20.aml");

    fn build(req: AcpiRequest) -> Guest {
        Guest(pvh_acpi(&req).expect("valid request"))
    }

    /// Guest-physical memory holding the three modules.
    struct Guest(PvhAcpi);

    impl Guest {
        fn bytes(&self, gpa: u64, len: usize) -> &[u8] {
            let module = self
                .0
                .modules()
                .into_iter()
                .find(|m| (m.gpa..m.gpa + m.bytes.len() as u64).contains(&gpa))
                .unwrap_or_else(|| panic!("{gpa:#x} is in no ACPI module"));
            let start = (gpa - module.gpa) as usize;
            &module.bytes[start..start + len]
        }

        fn u8(&self, gpa: u64) -> u8 {
            self.bytes(gpa, 1)[0]
        }

        fn u16(&self, gpa: u64) -> u16 {
            u16::from_le_bytes(self.bytes(gpa, 2).try_into().unwrap())
        }

        fn u32(&self, gpa: u64) -> u32 {
            u32::from_le_bytes(self.bytes(gpa, 4).try_into().unwrap())
        }

        fn u64(&self, gpa: u64) -> u64 {
            u64::from_le_bytes(self.bytes(gpa, 8).try_into().unwrap())
        }

        fn rsdp(&self) -> &[u8] {
            self.bytes(self.0.rsdp.gpa, 36)
        }

        fn xsdt_gpa(&self) -> u64 {
            self.u64(self.0.rsdp.gpa + 24)
        }

        fn rsdt_gpa(&self) -> u64 {
            self.u32(self.0.rsdp.gpa + 16).into()
        }

        /// The table at `gpa`, checked for its signature and a zero sum.
        fn table(&self, gpa: u64, signature: &[u8; 4]) -> &[u8] {
            let len = self.u32(gpa + 4) as usize;
            let table = self.bytes(gpa, len);
            assert_eq!(&table[..4], signature, "table at {gpa:#x}");
            assert_eq!(
                sum(table),
                0,
                "{} checksum",
                String::from_utf8_lossy(signature)
            );
            table
        }

        fn xsdt_entries(&self) -> Vec<u64> {
            let xsdt = self.table(self.xsdt_gpa(), b"XSDT");
            xsdt[36..]
                .chunks(8)
                .map(|e| u64::from_le_bytes(e.try_into().unwrap()))
                .collect()
        }

        fn rsdt_entries(&self) -> Vec<u64> {
            let rsdt = self.table(self.rsdt_gpa(), b"RSDT");
            rsdt[36..]
                .chunks(4)
                .map(|e| u32::from_le_bytes(e.try_into().unwrap()).into())
                .collect()
        }

        fn fadt_gpa(&self) -> u64 {
            self.xsdt_entries()[0]
        }

        fn madt_gpa(&self) -> u64 {
            self.xsdt_entries()[1]
        }

        fn dsdt(&self) -> &[u8] {
            self.table(self.u64(self.fadt_gpa() + 140), b"DSDT")
        }

        /// (processor uid, APIC id, flags) of each MADT Local APIC entry.
        fn lapics(&self) -> Vec<(u8, u8, u32)> {
            let madt = self.table(self.madt_gpa(), b"APIC");
            madt[44..]
                .chunks(8)
                .map(|e| {
                    assert_eq!(e[..2], [0, 8], "Local APIC entry type and length");
                    (e[2], e[3], u32::from_le_bytes(e[4..].try_into().unwrap()))
                })
                .collect()
        }
    }

    fn sum(bytes: &[u8]) -> u8 {
        bytes.iter().fold(0u8, |s, &b| s.wrapping_add(b))
    }

    #[test]
    fn rsdp_has_both_checksums_and_libacpi_identity() {
        let guest = build(request(4, 4));
        let rsdp = guest.rsdp();
        assert_eq!(&rsdp[..8], b"RSD PTR ");
        assert_eq!(sum(&rsdp[..20]), 0, "ACPI 1.0 checksum");
        assert_eq!(sum(rsdp), 0, "extended checksum");
        assert_eq!(&rsdp[9..15], b"Xen\0\0\0");
        assert_eq!(rsdp[15], 2, "revision");
        assert_eq!(
            u32::from_le_bytes(rsdp[20..24].try_into().unwrap()),
            36,
            "length"
        );
        assert_eq!(guest.0.rsdp.bytes.len(), 64);
    }

    #[test]
    fn every_table_sums_to_zero_and_carries_libacpi_ids() {
        let guest = build(request(8, 3));
        let fadt_v1 = guest.rsdt_entries()[0];
        let tables = [
            (guest.xsdt_gpa(), b"XSDT"),
            (guest.rsdt_gpa(), b"RSDT"),
            (guest.fadt_gpa(), b"FACP"),
            (fadt_v1, b"FACP"),
            (guest.madt_gpa(), b"APIC"),
            (guest.u64(guest.fadt_gpa() + 140), b"DSDT"),
        ];
        for (gpa, signature) in tables {
            let table = guest.table(gpa, signature);
            assert_eq!(&table[10..16], b"Xen\0\0\0", "{gpa:#x} OEM id");
            assert_eq!(&table[16..24], b"HVM\0\0\0\0\0", "{gpa:#x} OEM table id");
            // The DSDT is the ASL compiler's; libacpi writes the others.
            let creator: &[u8] = if signature == b"DSDT" {
                b"INTL"
            } else {
                b"HVML"
            };
            assert_eq!(&table[28..32], creator, "{gpa:#x} creator id");
        }
    }

    #[test]
    fn rsdp_leads_to_fadts_madt_dsdt_and_facs() {
        let guest = build(request(4, 4));
        let madt = guest.madt_gpa();
        assert_eq!(guest.xsdt_entries().len(), 2);
        assert_eq!(guest.rsdt_entries(), [guest.rsdt_entries()[0], madt]);

        let fadt = guest.table(guest.fadt_gpa(), b"FACP");
        assert_eq!((fadt[8], fadt.len()), (5, 268), "XSDT's FADT: revision 5");
        let fadt_v1_gpa = guest.rsdt_entries()[0];
        let fadt_v1 = guest.table(fadt_v1_gpa, b"FACP");
        assert_eq!(
            (fadt_v1[8], fadt_v1.len()),
            (1, 116),
            "RSDT's FADT: revision 1"
        );

        let (fadt_gpa, dsdt, facs) = (
            guest.fadt_gpa(),
            guest.dsdt(),
            guest.u64(guest.fadt_gpa() + 132),
        );
        for gpa in [fadt_gpa, fadt_v1_gpa] {
            assert_eq!(u64::from(guest.u32(gpa + 36)), facs, "32-bit FACS pointer");
            assert_eq!(
                u64::from(guest.u32(gpa + 40)),
                guest.u64(fadt_gpa + 140),
                "32-bit DSDT pointer"
            );
        }
        assert_eq!((dsdt[8], guest.bytes(facs, 4)), (5, &b"FACS"[..]));
        assert_eq!(guest.u32(facs + 4), 64, "FACS length");
        assert_eq!(guest.u8(facs + 32), 1, "FACS version");
    }

    #[test]
    fn fadt_is_libacpi_pvh_one() {
        let guest = build(request(2, 2));
        let fadt = guest.fadt_gpa();
        let flags = guest.u32(fadt + 112);
        let libacpi_flags = (1 << 0) | (1 << 2) | (1 << 6) | (1 << 8) | (1 << 15);
        let buttons = (1 << 4) | (1 << 5);
        assert_eq!(
            flags,
            libacpi_flags | buttons,
            "no HW_REDUCED_ACPI, fixed buttons absent"
        );
        assert_eq!(
            guest.u16(fadt + 109),
            (1 << 2) | (1 << 5),
            "NO_VGA | NO_CMOS_RTC"
        );
        assert_eq!(guest.u16(fadt + 46), 9, "SCI");
        assert_eq!(guest.u32(fadt + 56), 0xb000, "PM1a event block");
        assert_eq!(guest.u32(fadt + 64), 0xb004, "PM1a control block");
        assert_eq!(
            (guest.u32(fadt + 76), guest.u8(fadt + 91)),
            (0, 0),
            "no PM timer"
        );
        assert_eq!(guest.bytes(fadt + 208, 12), [0; 12], "no X_PM_TMR_BLK");
        assert_eq!(guest.u32(fadt + 80), 0xafe0, "GPE0 block");
        assert_eq!(
            [
                guest.u8(fadt + 88),
                guest.u8(fadt + 89),
                guest.u8(fadt + 92)
            ],
            [4, 2, 4]
        );
        assert_eq!(
            [guest.u16(fadt + 96), guest.u16(fadt + 98)],
            [0x0fff, 0x0fff],
            "no C2/C3"
        );
        assert_eq!(
            guest.bytes(fadt + 116, 4),
            [1, 8, 0, 0],
            "reset register: 8-bit I/O"
        );
        assert_eq!((guest.u64(fadt + 120), guest.u8(fadt + 128)), (0xcf9, 6));
        assert_eq!(
            guest.u8(fadt + 131),
            0,
            "no minor version (reserved in revision 5)"
        );
        assert_eq!(guest.bytes(fadt + 148, 4), [1, 32, 0, 0], "X_PM1a_EVT_BLK");
        assert_eq!(guest.u64(fadt + 152), 0xb000);
        assert_eq!(guest.bytes(fadt + 172, 4), [1, 16, 0, 0], "X_PM1a_CNT_BLK");
        assert_eq!(guest.u64(fadt + 176), 0xb004);

        let v1 = guest.rsdt_entries()[0];
        assert_eq!(
            guest.u32(v1 + 112),
            libacpi_flags,
            "copied before the buttons are added"
        );
        assert_eq!(guest.u16(v1 + 109), 0, "no boot-architecture flags");
        assert_eq!(
            (guest.u32(v1 + 76), guest.u8(v1 + 91)),
            (0xb008, 4),
            "PM timer kept"
        );
        assert_eq!(guest.bytes(v1, 116)[36..76], guest.bytes(fadt, 116)[36..76]);
    }

    /// libxl marks only the online vCPUs enabled: 4.19 and the maintained 4.17 and 4.18
    /// releases (the lab's 4.17.7 guest sees 4 Local APICs, 2 enabled, for vcpus=2,
    /// maxvcpus=4).
    #[test]
    fn madt_has_even_apic_ids_and_enables_the_online_vcpus() {
        let guest = build(request(6, 2));
        let madt = guest.madt_gpa();
        assert_eq!(guest.u8(madt + 8), 2, "revision");
        assert_eq!(guest.u32(madt + 36), 0xfee0_0000, "Local APIC address");
        assert_eq!(guest.u32(madt + 40), 1, "PCAT_COMPAT");
        let expected: Vec<_> = (0..6).map(|i| (i, 2 * i, u32::from(i < 2))).collect();
        assert_eq!(guest.lapics(), expected);
    }

    #[test]
    fn acpi_info_points_dsdt_at_the_madt() {
        let guest = build(request(5, 5));
        let info = &guest.0.info;
        assert_eq!((info.gpa, info.bytes.len()), (ACPI_INFO_GPA, 4096));
        let madt = guest.madt_gpa();
        assert_eq!(guest.u8(ACPI_INFO_GPA), 0, "no COM1, COM2, LPT1 or HPET");
        assert_eq!(guest.u16(ACPI_INFO_GPA + 2), 5, "nr_cpus");
        let csum = guest.u32(ACPI_INFO_GPA + 12);
        assert_eq!(u64::from(csum), madt + 9, "MADT checksum address");
        let lapic0 = u64::from(guest.u32(ACPI_INFO_GPA + 16));
        assert_eq!(lapic0, madt + 44, "first Local APIC entry");
        assert_eq!(guest.bytes(lapic0, 4), [0, 8, 0, 0]);
        assert_eq!(guest.bytes(ACPI_INFO_GPA + 4, 8), [0; 8], "no PCI hole");
        assert_eq!(
            guest.bytes(ACPI_INFO_GPA + 20, 20),
            [0; 20],
            "no VM generation id, no high PCI hole"
        );
        assert!(info.bytes[40..].iter().all(|&b| b == 0));
    }

    #[test]
    fn rsdp_sits_below_1mib_or_right_after_the_tables() {
        let mut req = request(4, 4);
        let after = pvh_acpi(&req).unwrap();
        req.rsdp_below_1mib = true;
        let low = pvh_acpi(&req).unwrap();
        let tables_end = after.tables.gpa + after.tables.bytes.len() as u64;
        assert_eq!(after.rsdp.gpa, tables_end);
        assert_eq!(tables_end % 4096, 0);
        assert_eq!(low.rsdp.gpa, RSDP_LOW_GPA);
        assert_eq!(
            low.rsdp.gpa + 64,
            0x10_0000,
            "the last 64 bytes of the BIOS area"
        );
        assert_eq!(
            (low.rsdp.bytes, low.info, low.tables),
            (after.rsdp.bytes, after.info, after.tables)
        );
    }

    #[test]
    fn modules_come_in_libxl_order() {
        let acpi = pvh_acpi(&request(2, 1)).unwrap();
        let [rsdp, info, tables] = acpi.modules();
        assert_eq!([rsdp, info, tables], [&acpi.rsdp, &acpi.info, &acpi.tables]);
        assert_eq!((info.gpa, tables.gpa), (0xfc00_0000, 0xfc00_1000));
    }

    #[test]
    fn tables_are_placed_as_libxl_allocates_them() {
        let guest = build(request(3, 3));
        let align16 = |gpa: u64| gpa.next_multiple_of(16);
        let facs = guest.u64(guest.fadt_gpa() + 132);
        let dsdt = guest.u64(guest.fadt_gpa() + 140);
        let fadt_v1 = guest.rsdt_entries()[0];
        let madt_len = 44 + 8 * 3;
        let madt_reserved = madt_len + 16 * 10 + 12;
        assert_eq!(facs, ACPI_TABLES_GPA);
        assert_eq!(dsdt, facs + 64);
        assert_eq!(fadt_v1, align16(dsdt + guest.dsdt().len() as u64));
        assert_eq!(guest.fadt_gpa(), align16(fadt_v1 + 116));
        assert_eq!(guest.madt_gpa(), align16(guest.fadt_gpa() + 268));
        assert_eq!(guest.xsdt_gpa(), align16(guest.madt_gpa() + madt_reserved));
        assert_eq!(guest.rsdt_gpa(), align16(guest.xsdt_gpa() + 52));
        let tables = &guest.0.tables;
        assert_eq!(
            tables.bytes.len() as u64,
            (guest.rsdt_gpa() + 44 - ACPI_TABLES_GPA).next_multiple_of(4096)
        );
    }

    #[test]
    fn dsdt_has_the_length_of_libacpi_dsdt_pvh() {
        // Equal lengths put every later table where libxl puts it.
        assert_eq!(build(request(1, 1)).dsdt().len(), 27803);
        assert_eq!(build(request_for((4, 20), 1, 1)).dsdt().len(), 17945);
    }

    #[test]
    fn dsdt_is_debian_xen_4_17_dsdt_pvh_below_4_20() {
        assert_eq!(&XEN_4_17_DSDT[..4], b"DSDT");
        for xen in [(4, 17), (4, 18), (4, 19)] {
            let guest = build(request_for(xen, 4, 2));
            assert!(
                guest.dsdt() == XEN_4_17_DSDT,
                "Xen {xen:?}: DSDT differs from 4.17's dsdt_pvh"
            );
        }
    }

    #[test]
    fn dsdt_is_debian_xen_4_20_dsdt_pvh_from_4_20() {
        assert_eq!(&XEN_4_20_DSDT[..4], b"DSDT");
        for xen in [(4, 20), (4, 21), (5, 0)] {
            let guest = build(request_for(xen, 4, 2));
            assert!(
                guest.dsdt() == XEN_4_20_DSDT,
                "Xen {xen:?}: DSDT differs from 4.20's dsdt_pvh"
            );
        }
    }

    /// The real xl 4.20.4 gives the lab's PVH guest (maxvcpus=4) its XSDT
    /// at 0xfc0058f0 and the RSDP at 0xfc006000; xl 4.17.7 the RSDP at
    /// 0xfc008000, with the XSDT where libxl's allocator then puts it.
    #[test]
    fn tables_take_five_pages_from_4_20_and_seven_before() {
        for (xen, xsdt, rsdp, pages) in [
            ((4, 20), 0xfc00_58f0, 0xfc00_6000, 5),
            ((4, 17), 0xfc00_7f70, 0xfc00_8000, 7),
        ] {
            let guest = build(request_for(xen, 4, 4));
            assert_eq!(guest.xsdt_gpa(), xsdt, "Xen {xen:?} XSDT");
            assert_eq!(guest.0.rsdp.gpa, rsdp, "Xen {xen:?} RSDP");
            assert_eq!(guest.0.tables.bytes.len(), pages * 4096, "Xen {xen:?}");
        }
    }

    #[test]
    fn dsdt_lacks_cpu_hotplug_objects_from_4_20() {
        let guest = build(request_for((4, 20), 2, 2));
        let objects = aml_walk::objects(&guest.dsdt()[36..]);
        for gone in [
            "\\_SB_.PRST",
            "\\_SB_.PRS_",
            "\\_SB_.PRSC",
            "\\_GPE",
            "\\_GPE._E02",
        ] {
            assert!(objects.iter().all(|o| o.path != gone), "{gone} present");
        }
        for kept in ["\\_SB_.PMAT", "\\_SB_.MSU_", "\\_SB_.PR7F._EJ0"] {
            find(&objects, kept);
        }
    }

    /// Only the DSDT depends on the Xen version: the MADT enables the online
    /// vCPUs in both.
    #[test]
    fn xen_version_changes_only_the_dsdt() {
        let old = build(request_for((4, 17), 4, 2));
        let new = build(request_for((4, 20), 4, 2));
        assert_eq!(old.lapics(), new.lapics());
        assert_eq!(old.lapics(), [(0, 0, 1), (1, 2, 1), (2, 4, 0), (3, 6, 0)]);
        let fadt = |g: &Guest| without_pointers(g.table(g.fadt_gpa(), b"FACP"));
        assert_eq!(fadt(&old), fadt(&new));
    }

    /// A FADT with its FACS and DSDT pointers and checksum zeroed.
    fn without_pointers(fadt: &[u8]) -> Vec<u8> {
        let mut t = fadt.to_vec();
        t[9] = 0;
        t[36..44].fill(0);
        t[132..148].fill(0);
        t
    }

    #[test]
    fn a_single_vcpu_without_apic_gets_no_madt() {
        let mut req = request(1, 1);
        req.apic = false;
        let guest = build(req);
        assert_eq!(guest.xsdt_entries(), [guest.fadt_gpa()]);
        assert_eq!(guest.rsdt_entries().len(), 1);
        assert_eq!(
            guest.bytes(ACPI_INFO_GPA, 40),
            [0; 40],
            "libacpi fills nr_cpus with the MADT"
        );

        req.apic = true;
        assert_eq!(build(req).lapics(), [(0, 0, 1)]);
        req.max_vcpus = 2;
        req.apic = false;
        assert_eq!(
            build(req).lapics().len(),
            2,
            "several vCPUs always get a MADT"
        );
    }

    #[test]
    fn hvm_max_vcpus_fit_in_sixteen_pages() {
        let guest = build(request(MAX_VCPUS, MAX_VCPUS));
        assert!(guest.0.tables.bytes.len() <= 16 * 4096);
        let lapics = guest.lapics();
        assert_eq!(lapics.len(), 128);
        assert_eq!(lapics.last(), Some(&(127, 254, 1)));
        assert_eq!(guest.u16(ACPI_INFO_GPA + 2), 128);
    }

    #[test]
    fn vcpu_counts_out_of_range_are_rejected() {
        let err = |max, online| pvh_acpi(&request(max, online)).unwrap_err();
        let too_many = |max_vcpus| AcpiError::TooManyVcpus {
            max_vcpus,
            limit: 128,
        };
        assert_eq!(err(129, 1), too_many(129));
        assert_eq!(err(u32::MAX, 1), too_many(u32::MAX));
        assert_eq!(err(4, 0), AcpiError::NoVcpus);
        assert_eq!(err(0, 0), AcpiError::NoVcpus);
        assert_eq!(
            err(2, 3),
            AcpiError::OnlineAboveMax {
                online: 3,
                max_vcpus: 2
            }
        );
    }

    #[test]
    fn dsdt_bios_fields_match_acpi_info_offsets() {
        let guest = build(request(2, 2));
        let objects = aml_walk::objects(&guest.dsdt()[36..]);
        let region = find(&objects, "\\_SB_.BIOS");
        assert_eq!(
            region.kind,
            aml_walk::Kind::Region {
                space: 0,
                offset: aml_walk::Term::Int(0xfc00_0000),
                len: aml_walk::Term::Int(40)
            }
        );
        let bit = |name: &str| aml_walk::field_bit(&objects, "\\_SB_.BIOS", name);
        assert_eq!(bit("NCPU"), (2 * 8, 16));
        assert_eq!(bit("MSUA"), (12 * 8, 32));
        assert_eq!(bit("MAPA"), (16 * 8, 32));
        assert_eq!(bit("VGIA"), (20 * 8, 32));
        assert_eq!(bit("HLEN"), (36 * 8, 32));
    }

    #[test]
    fn dsdt_declares_a_processor_per_possible_vcpu() {
        let guest = build(request(2, 2));
        let objects = aml_walk::objects(&guest.dsdt()[36..]);
        let processors: Vec<_> = objects
            .iter()
            .filter_map(|o| match o.kind {
                aml_walk::Kind::Processor { id, pblk, pblk_len } => {
                    Some((o.path.clone(), id, pblk, pblk_len))
                }
                _ => None,
            })
            .collect();
        let expected: Vec<_> = (0..128u8)
            .map(|i| (format!("\\_SB_.PR{i:02X}"), i, 0xb010, 6))
            .collect();
        assert_eq!(processors, expected);
        for cpu in [0u8, 1, 127] {
            let pr = format!("\\_SB_.PR{cpu:02X}");
            let matr = find(&objects, &format!("{pr}.MATR"));
            let entry = aml_walk::Term::Add(
                Box::new(aml_walk::Term::Name("MAPA".into())),
                Box::new(aml_walk::Term::Int(8 * u64::from(cpu))),
            );
            assert_eq!(
                matr.kind,
                aml_walk::Kind::Region {
                    space: 0,
                    offset: entry,
                    len: aml_walk::Term::Int(8)
                }
            );
            assert_eq!(
                aml_walk::field_bit(&objects, &format!("{pr}.MATR"), "FLG_"),
                (32, 1),
                "Local APIC enabled bit"
            );
            for (method, args) in [("_MAT", 0), ("_STA", 0), ("_EJ0", 1)] {
                assert_eq!(
                    find(&objects, &format!("{pr}.{method}")).kind,
                    aml_walk::Kind::Method { args }
                );
            }
        }
        let prst = find(&objects, "\\_SB_.PRST");
        assert_eq!(
            prst.kind,
            aml_walk::Kind::Region {
                space: 1,
                offset: aml_walk::Term::Int(0xaf00),
                len: aml_walk::Term::Int(16)
            }
        );
        assert_eq!(
            find(&objects, "\\_GPE._E02").kind,
            aml_walk::Kind::Method { args: 0 }
        );
        assert_eq!(
            find(&objects, "\\_SB_.PMAT").kind,
            aml_walk::Kind::Method { args: 2 }
        );
    }

    fn find<'a>(objects: &'a [aml_walk::Object], path: &str) -> &'a aml_walk::Object {
        objects
            .iter()
            .find(|o| o.path == path)
            .unwrap_or_else(|| panic!("no {path} in the DSDT"))
    }

    /// A reader for the AML constructs found outside method bodies (scopes,
    /// processors, regions, fields, names), written from the ACPI spec's
    /// grammar; method bodies are skipped.
    mod aml_walk {
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Term {
            Int(u64),
            Name(String),
            Add(Box<Term>, Box<Term>),
        }

        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Kind {
            Scope,
            Processor {
                id: u8,
                pblk: u32,
                pblk_len: u8,
            },
            Method {
                args: u8,
            },
            Region {
                space: u8,
                offset: Term,
                len: Term,
            },
            /// A named field unit: its region, first bit and width.
            FieldUnit {
                region: String,
                bit: u64,
                bits: u64,
            },
            Name,
        }

        #[derive(Debug)]
        pub struct Object {
            pub path: String,
            pub kind: Kind,
        }

        pub fn objects(aml: &[u8]) -> Vec<Object> {
            let mut out = Vec::new();
            Walker { aml, pos: 0 }.term_list(aml.len(), "\\", &mut out);
            out
        }

        pub fn field_bit(objects: &[Object], region: &str, name: &str) -> (u64, u64) {
            let (scope, _) = region.rsplit_once('.').unwrap();
            let path = format!("{scope}.{name}");
            objects
                .iter()
                .find_map(|o| match &o.kind {
                    Kind::FieldUnit {
                        region: r,
                        bit,
                        bits,
                    } if o.path == path && region.ends_with(r.as_str()) => Some((*bit, *bits)),
                    _ => None,
                })
                .unwrap_or_else(|| panic!("no field {path} of {region}"))
        }

        struct Walker<'a> {
            aml: &'a [u8],
            pos: usize,
        }

        impl Walker<'_> {
            fn byte(&mut self) -> u8 {
                self.pos += 1;
                self.aml[self.pos - 1]
            }

            fn le(&mut self, n: usize) -> u64 {
                (0..n).map(|i| u64::from(self.byte()) << (8 * i)).sum()
            }

            /// A PkgLength: lead byte with the count of following bytes.
            fn pkg_value(&mut self) -> u64 {
                let lead = self.byte();
                match usize::from(lead >> 6) {
                    0 => u64::from(lead & 0x3f),
                    n => u64::from(lead & 0x0f) | (self.le(n) << 4),
                }
            }

            /// Where a package ends: its length counts from the PkgLength itself.
            fn pkg_end(&mut self) -> usize {
                let start = self.pos;
                start + self.pkg_value() as usize
            }

            fn name_seg(&mut self) -> String {
                let seg = &self.aml[self.pos..self.pos + 4];
                self.pos += 4;
                String::from_utf8(seg.to_vec()).unwrap()
            }

            fn name_string(&mut self) -> String {
                let mut name = String::new();
                while matches!(self.aml[self.pos], b'\\' | b'^') {
                    name.push(char::from(self.byte()));
                }
                let segs = match self.aml[self.pos] {
                    0x2e => {
                        self.pos += 1;
                        2
                    }
                    0x2f => {
                        self.pos += 1;
                        usize::from(self.byte())
                    }
                    0x00 => {
                        self.pos += 1;
                        0
                    }
                    _ => 1,
                };
                let parts: Vec<String> = (0..segs).map(|_| self.name_seg()).collect();
                name + &parts.join(".")
            }

            fn term(&mut self) -> Term {
                match self.aml[self.pos] {
                    0x00 => {
                        self.pos += 1;
                        Term::Int(0)
                    }
                    0x01 => {
                        self.pos += 1;
                        Term::Int(1)
                    }
                    0x0a => {
                        self.pos += 1;
                        Term::Int(self.le(1))
                    }
                    0x0b => {
                        self.pos += 1;
                        Term::Int(self.le(2))
                    }
                    0x0c => {
                        self.pos += 1;
                        Term::Int(self.le(4))
                    }
                    0x72 => {
                        self.pos += 1;
                        let (a, b) = (self.term(), self.term());
                        assert_eq!(self.byte(), 0, "Add without a target");
                        Term::Add(Box::new(a), Box::new(b))
                    }
                    _ => Term::Name(self.name_string()),
                }
            }

            fn term_list(&mut self, end: usize, scope: &str, out: &mut Vec<Object>) {
                while self.pos < end {
                    self.object(scope, out);
                }
                assert_eq!(self.pos, end, "object overruns its package in {scope}");
            }

            fn object(&mut self, scope: &str, out: &mut Vec<Object>) {
                let path = |name: String| match name.strip_prefix('\\') {
                    Some(abs) => format!("\\{abs}"),
                    None if scope == "\\" => format!("\\{name}"),
                    None => format!("{scope}.{name}"),
                };
                match (self.byte(), self.aml.get(self.pos).copied()) {
                    (0x10, _) => {
                        let end = self.pkg_end();
                        let name = path(self.name_string());
                        out.push(Object {
                            path: name.clone(),
                            kind: Kind::Scope,
                        });
                        self.term_list(end, &name, out);
                    }
                    (0x14, _) => {
                        let end = self.pkg_end();
                        let name = path(self.name_string());
                        let args = self.byte() & 7;
                        out.push(Object {
                            path: name,
                            kind: Kind::Method { args },
                        });
                        self.pos = end;
                    }
                    (0x08, _) => {
                        let name = path(self.name_string());
                        match self.byte() {
                            0x0d => while self.byte() != 0 {},
                            _ => {
                                self.pos -= 1;
                                self.term();
                            }
                        }
                        out.push(Object {
                            path: name,
                            kind: Kind::Name,
                        });
                    }
                    (0x5b, Some(0x83)) => {
                        self.pos += 1;
                        let end = self.pkg_end();
                        let name = path(self.name_string());
                        let (id, pblk, pblk_len) = (self.byte(), self.le(4) as u32, self.byte());
                        out.push(Object {
                            path: name.clone(),
                            kind: Kind::Processor { id, pblk, pblk_len },
                        });
                        self.term_list(end, &name, out);
                    }
                    (0x5b, Some(0x80)) => {
                        self.pos += 1;
                        let name = path(self.name_string());
                        let space = self.byte();
                        let (offset, len) = (self.term(), self.term());
                        out.push(Object {
                            path: name,
                            kind: Kind::Region { space, offset, len },
                        });
                    }
                    (0x5b, Some(0x81)) => {
                        self.pos += 1;
                        let end = self.pkg_end();
                        let region = self.name_string();
                        self.byte(); // access type, lock and update rules
                        let mut bit = 0;
                        while self.pos < end {
                            let reserved = self.aml[self.pos] == 0;
                            let name = if reserved {
                                self.pos += 1;
                                None
                            } else {
                                Some(self.name_seg())
                            };
                            let bits = self.pkg_value();
                            if let Some(name) = name {
                                out.push(Object {
                                    path: path(name),
                                    kind: Kind::FieldUnit {
                                        region: region.clone(),
                                        bit,
                                        bits,
                                    },
                                });
                            }
                            bit += bits;
                        }
                    }
                    (op, next) => panic!(
                        "unexpected AML {op:#x} {next:?} at {} in {scope}",
                        self.pos - 1
                    ),
                }
            }
        }
    }
}
