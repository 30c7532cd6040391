//! PVH and HVM layouts against the real xl 4.17's builds in the lab (its `-vvv` log and
//! `xen-hvmctx` of the same configs), and the plan applied to an in-memory domain.

use std::collections::{BTreeMap, BTreeSet};

use super::hvm::*;
use crate::image::{LoadAs, parse_image};
use crate::target::{FillFrames, GrantSeed, GuestFrames, TargetError};
use crate::testutil::{Desc, ElfBuilder, Load};

const PAGE: usize = 4096;

/// A 32-bit image at 1 MiB of `len` bytes (hvmloader's or the lab's PVH guest's shape).
fn image32(len: u64, pvh_entry: Option<u64>) -> Vec<u8> {
    let mut elf = ElfBuilder::linux();
    elf.class64 = false;
    elf.machine = 3;
    elf.entry = 0x10_0000;
    elf.loads = vec![Load {
        paddr: 0x10_0000,
        vaddr: 0x10_0000,
        data: (0..len).map(|i| (i % 253) as u8 + 1).collect(),
        memsz: len,
        flags: 7,
    }];
    elf.notes = match pvh_entry {
        Some(e) => vec![("Xen", 18, Desc::Num32(e as u32))],
        None => Vec::new(),
    };
    elf.build()
}

/// The lab's HVM config as the real xl built it: memory=128, vga="none" (no video
/// memory), hvmloader of 0x33f40 bytes, SeaBIOS's 256 KiB bios-256k.bin.
fn hvm_request() -> HvmRequest {
    HvmRequest {
        guest: HvmGuest::Hvm,
        max_memkb: 128 << 10,
        target_memkb: 128 << 10,
        video_memkb: 0,
        mmio_size: HVM_MMIO_SIZE,
        max_vcpus: 1,
        online_vcpus: 1,
        apic: true,
        cmdline: None,
        modules: vec![ModuleRequest {
            len: 256 << 10,
            cmdline: Some("firmware".into()),
        }],
        acpi: Vec::new(),
        store_evtchn: 1,
        console_evtchn: 2,
        xenstore_domid: 0,
        console_domid: 0,
        domid: 1,
        xen_version: (4, 17),
    }
}

/// `pvh2` of the lab: memory=64, maxmem=96, vcpus=2, maxvcpus=4, cmdline "hello world",
/// a 1 MiB ramdisk; libxl's ACPI modules at the addresses its log gives.
fn pvh_request() -> HvmRequest {
    HvmRequest {
        guest: HvmGuest::Pvh,
        max_memkb: 96 << 10,
        target_memkb: 64 << 10,
        video_memkb: 0,
        mmio_size: 0,
        max_vcpus: 4,
        online_vcpus: 2,
        apic: true,
        cmdline: Some("hello world".into()),
        modules: vec![ModuleRequest {
            len: 1 << 20,
            cmdline: None,
        }],
        acpi: vec![
            FixedBlob {
                gpa: 0xfc00_8000,
                bytes: vec![0x52; 64],
            },
            FixedBlob {
                gpa: 0xfc00_0000,
                bytes: vec![0x49; 4096],
            },
            FixedBlob {
                gpa: 0xfc00_1000,
                bytes: vec![0x54; 28672],
            },
        ],
        store_evtchn: 1,
        console_evtchn: 2,
        xenstore_domid: 0,
        console_domid: 0,
        domid: 9,
        xen_version: (4, 17),
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// From the real xl's log: "kernel : 0x100000 -> 0x133f40 (pfn 0x100 + 0x34 pages)",
/// "System Firmware module : 0x134000 -> 0x174000 (pfn 0x134 + 0x40 pages)",
/// "HVM start info : 0x174000 -> 0x174890 (pfn 0x174 + 0x1 pages)".
#[test]
fn hvm_layout_is_the_real_xls() {
    let bytes = image32(0x33f40, None);
    let k = parse_image(&bytes, LoadAs::HvmFirmware).unwrap();
    let plan = plan_hvm(&k, &hvm_request()).unwrap();
    assert_eq!((plan.kernel.pfn, plan.kernel.pages), (0x100, 0x34));
    assert_eq!((plan.modules[0].pfn, plan.modules[0].pages), (0x134, 0x40));
    assert_eq!((plan.start_info.pfn, plan.start_info.len), (0x174, 0x890));
    assert_eq!(plan.lowmem_end, 128 << 20);
    assert_eq!(
        plan.e820,
        vec![E820 {
            addr: 0x10_0000,
            size: (128 << 20) - 0x10_0000,
            kind: e820::RAM
        }]
    );
    // xl's log: gnt[0] -> d0 0xfefff, gnt[1] -> d0 0xfeffc.
    assert_eq!(
        plan.grants,
        vec![
            GrantSeed {
                gref: 0,
                domid: 0,
                frame: 0xfefff
            },
            GrantSeed {
                gref: 1,
                domid: 0,
                frame: 0xfeffc
            }
        ]
    );
    // The real xl's xenstore: store/ring-ref 1044476, console/ring-ref 1044479.
    assert_eq!(
        (plan.store_pfn(), plan.console_pfn()),
        (1_044_476, 1_044_479)
    );
}

/// From the real xl's log for pvh2: "kernel : 0x100000 -> 0x100414 (pfn 0x100 + 0x1)",
/// "module0 : 0x101000 -> 0x201000 (pfn 0x101 + 0x100 pages)", "HVM start info :
/// 0x201000 -> 0x201900", and `xen-hvmctx`: rip 0x100000, rbx 0x201000.
#[test]
fn pvh_layout_is_the_real_xls() {
    let bytes = image32(0x414, Some(0x10_0000));
    let k = parse_image(&bytes, LoadAs::Pvh).unwrap();
    let plan = plan_hvm(&k, &pvh_request()).unwrap();
    assert_eq!((plan.kernel.pfn, plan.kernel.pages), (0x100, 1));
    assert_eq!(
        (
            plan.modules[0].name,
            plan.modules[0].pfn,
            plan.modules[0].pages
        ),
        ("module0", 0x101, 0x100)
    );
    assert_eq!((plan.start_info.pfn, plan.start_info.len), (0x201, 0x900));
    assert_eq!((plan.entry, plan.start_info_gpa()), (0x10_0000, 0x20_1000));
    assert!(plan.pod());
    let kinds: Vec<u32> = plan.e820.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            e820::RAM,
            e820::RESERVED,
            e820::ACPI,
            e820::ACPI,
            e820::ACPI
        ]
    );
    assert_eq!(plan.e820[1].addr, 0xfeff_8000);
    assert_eq!(plan.e820[1].size, 0x8000);
    let si = &plan.start_info_bytes;
    assert_eq!(u32_at(si, 0), 0x336e_c578);
    assert_eq!(u32_at(si, 12), 1, "one module");
    let cmdline = u64_at(si, 24) - 0x20_1000;
    assert_eq!(
        &si[cmdline as usize..cmdline as usize + 12],
        b"hello world\0"
    );
    assert_eq!(u64_at(si, 32), 0xfc00_8000, "rsdp_paddr is ACPI module 0");
    let modlist = (u64_at(si, 16) - 0x20_1000) as usize;
    assert_eq!(u64_at(si, modlist), 0x10_1000);
    assert_eq!(u64_at(si, modlist + 8), 1 << 20);
    assert_eq!(u32_at(si, 48), 5);
}

#[test]
fn hvm_info_table_has_libxls_fields_and_sums_to_zero() {
    let bytes = image32(0x33f40, None);
    let k = parse_image(&bytes, LoadAs::HvmFirmware).unwrap();
    let mut req = hvm_request();
    req.max_vcpus = 12;
    req.online_vcpus = 10;
    let plan = plan_hvm(&k, &req).unwrap();
    let page = plan.hvm_info_page.unwrap();
    let t = &page[0x800..0x800 + 48];
    assert_eq!(&t[..8], b"HVM INFO");
    assert_eq!(t.iter().fold(0u8, |s, &b| s.wrapping_add(b)), 0);
    assert_eq!(t[13], 1, "apic_mode");
    assert_eq!(u32_at(t, 16), 12);
    assert_eq!(u32_at(t, 20), 0x8000, "low_mem_pgend");
    assert_eq!(u32_at(t, 24), 0xfeff0, "reserved_mem_pgstart");
    assert_eq!(&t[32..34], &[0xff, 0x03], "ten vCPUs online");
}

#[test]
fn memory_above_the_hole_goes_above_4gib() {
    let bytes = image32(0x33f40, None);
    let k = parse_image(&bytes, LoadAs::HvmFirmware).unwrap();
    let mut req = hvm_request();
    req.max_memkb = 6 << 20;
    req.target_memkb = 6 << 20;
    req.video_memkb = 8 << 10;
    let plan = plan_hvm(&k, &req).unwrap();
    let ram = (6u64 << 30) - (8 << 20);
    assert_eq!(plan.lowmem_end, 0xf000_0000);
    assert_eq!(plan.highmem_end, (1 << 32) + ram - 0xf000_0000);
    assert_eq!(plan.e820.last().unwrap().addr, 1 << 32);
    let mut t = MemHvm::new(12);
    apply_hvm(&plan, &k, &[&vec![7u8; 256 << 10]], &mut t).unwrap();
    // 1 GiB extents only where whole and clear of the hole: the second and third GiB
    // below it (the first starts after the VGA hole, the fourth holds the hole), and
    // the two whole ones above 4 GiB.
    let gib: Vec<u64> = t
        .extents
        .iter()
        .filter(|e| e.1 == 18)
        .map(|e| e.0)
        .collect();
    assert_eq!(gib, vec![0x4_0000, 0x8_0000, 0x10_0000, 0x14_0000]);
    assert_eq!(t.populated.len() as u64, ram / 4096 - 0x20 + 8 + 8);
}

#[test]
fn applied_hvm_guest_leaves_the_vga_hole_and_boots_hvmloader() {
    let bytes = image32(0x33f40, None);
    let k = parse_image(&bytes, LoadAs::HvmFirmware).unwrap();
    let mut req = hvm_request();
    req.video_memkb = 8 << 10;
    let plan = plan_hvm(&k, &req).unwrap();
    let bios = vec![0x5a; 256 << 10];
    let mut t = MemHvm::new(1);
    let built = apply_hvm(&plan, &k, &[&bios], &mut t).unwrap();
    assert_eq!(built.store_pfn, 0xfeffc);
    for pfn in 0xa0..0xc0 {
        assert!(!t.populated.contains(&pfn), "VGA pfn {pfn:#x} populated");
    }
    assert!(t.populated.contains(&0x9f) && t.populated.contains(&0xc0));
    assert!((0xfeff0..0xff000).all(|p| t.populated.contains(&p)));
    assert_eq!(t.claims, vec![(120 << 8) - 0x20, 0]);
    assert_eq!(t.page(0x134)[..8], [0x5a; 8]);
    let si = t.page(0x174);
    assert_eq!(u32_at(si, 12), 1);
    let modlist = (u64_at(si, 16) - 0x17_4000) as usize;
    assert_eq!(u64_at(si, modlist), 0x13_4000);
    assert_eq!(u64_at(si, modlist + 8), 256 << 10);
    let cmd = (u64_at(si, modlist + 16) - 0x17_4000) as usize;
    assert_eq!(&si[cmd..cmd + 9], b"firmware\0");
    assert_eq!(t.params.get(&32), Some(&0xfeff0));
    assert_eq!(t.params.get(&12), Some(&0xfeffe000));
    let ident = t.page(0xfeffe);
    assert_eq!(u32_at(ident, 4), (1 << 22) | 0xe7);
    // One context load: the boot vCPU, no MTRRs (hvmloader programs them).
    assert_eq!(t.contexts.len(), 1);
    let cpu = &t.contexts[0][8 + 24 + 8..];
    assert_eq!(u64_at(cpu, 640), 0x10_0000, "rip");
    assert_eq!(u64_at(cpu, 520), 0x17_4000, "rbx");
    assert_eq!(u64_at(cpu, 656), 0x11, "cr0");
    assert_eq!(u32_at(cpu, 888), 0xc9b);
    assert_eq!(u32_at(cpu, 792), 0x67);
}

#[test]
fn applied_pvh_guest_gets_mtrrs_pod_and_acpi() {
    let bytes = image32(0x414, Some(0x10_0000));
    let k = parse_image(&bytes, LoadAs::Pvh).unwrap();
    let plan = plan_hvm(&k, &pvh_request()).unwrap();
    let mut t = MemHvm::new(4);
    apply_hvm(&plan, &k, &[&vec![1u8; 1 << 20]], &mut t).unwrap();
    assert_eq!(t.pod_target, Some(64 << 8));
    assert!(
        t.extents.iter().all(|e| e.2 || e.0 >= 0xfc000),
        "RAM is PoD"
    );
    // Four MTRR loads, then the boot vCPU's.
    assert_eq!(t.contexts.len(), 5);
    for (i, c) in t.contexts[..4].iter().enumerate() {
        assert_eq!(u16::from_le_bytes([c[32], c[33]]), 14);
        assert_eq!(u16::from_le_bytes([c[34], c[35]]), i as u16);
        assert_eq!(u64_at(c, 40 + 232), 0x806);
    }
    assert_eq!(
        u16::from_le_bytes([t.contexts[4][32], t.contexts[4][33]]),
        2
    );
    assert_eq!(t.page(0xfc000)[0], 0x49);
    assert_eq!(t.page(0xfc008)[..64], [0x52; 64]);
    assert!(t.populated.contains(&0xfc007));
    assert_eq!(t.memory_map.len(), 5);
}

#[test]
fn bad_requests_are_refused() {
    let bytes = image32(0x414, Some(0x10_0000));
    let k = parse_image(&bytes, LoadAs::Pvh).unwrap();
    let mut req = pvh_request();
    req.max_vcpus = 129;
    assert!(plan_hvm(&k, &req).is_err());
    let mut req = pvh_request();
    req.cmdline = Some("x".repeat(1024));
    assert!(plan_hvm(&k, &req).is_err());
    let mut req = pvh_request();
    req.max_memkb = 512;
    req.target_memkb = 512;
    assert!(plan_hvm(&k, &req).is_err());
    // A PV-only image is not a PVH kernel, and a kernel is not HVM firmware.
    assert!(parse_image(&image32(0x414, None), LoadAs::Pvh).is_err());
    assert!(parse_image(&bytes, LoadAs::HvmFirmware).is_err());
}

/// The offsets this module writes, against every release's public headers.
#[test]
fn structures_match_xens_headers() {
    for (version, facts) in xen_sys::expected::EXPECTED {
        let f = |name: &str| {
            facts
                .iter()
                .find(|(n, _)| *n == name)
                .unwrap_or_else(|| panic!("{version}: no {name}"))
                .1
        };
        assert_eq!(f("size struct hvm_hw_cpu"), record::CPU_LEN);
        assert_eq!(f("size struct hvm_hw_mtrr"), record::MTRR_LEN);
        assert_eq!(f("offset struct hvm_hw_cpu.rbx"), record::cpu::RBX);
        assert_eq!(f("offset struct hvm_hw_cpu.rip"), record::cpu::RIP);
        assert_eq!(f("offset struct hvm_hw_cpu.cr0"), record::cpu::CR0);
        assert_eq!(f("offset struct hvm_hw_cpu.dr6"), record::cpu::DR6);
        assert_eq!(f("offset struct hvm_hw_cpu.dr7"), record::cpu::DR7);
        assert_eq!(
            f("offset struct hvm_hw_cpu.tr_limit"),
            record::cpu::TR_LIMIT
        );
        assert_eq!(
            f("offset struct hvm_hw_cpu.tr_arbytes"),
            record::cpu::TR_ARBYTES
        );
        for (seg, i) in [("cs", 0), ("ds", 1), ("es", 2), ("ss", 3)] {
            let lim = format!("offset struct hvm_hw_cpu.{seg}_limit");
            let ar = format!("offset struct hvm_hw_cpu.{seg}_arbytes");
            let base = format!("offset struct hvm_hw_cpu.{seg}_base");
            assert_eq!(f(&lim), record::cpu::LIMITS[i]);
            assert_eq!(f(&ar), record::cpu::ARBYTES[i]);
            assert_eq!(f(&base), record::cpu::BASES[i]);
        }
        assert_eq!(f("offset struct hvm_hw_cpu.tr_base"), record::cpu::BASES[4]);
        assert_eq!(
            f("offset struct hvm_hw_mtrr.msr_mtrr_def_type"),
            record::MTRR_DEF_TYPE
        );
        assert_eq!(f("const HVM_SAVE_CODE(HEADER)"), record::HEADER as usize);
        assert_eq!(f("const HVM_SAVE_CODE(CPU)"), record::CPU as usize);
        assert_eq!(f("const HVM_SAVE_CODE(MTRR)"), record::MTRR as usize);
        assert_eq!(f("size struct hvm_save_descriptor"), record::DESCRIPTOR);
        let si = [
            ("magic", 0),
            ("version", 4),
            ("flags", 8),
            ("nr_modules", 12),
            ("modlist_paddr", 16),
            ("cmdline_paddr", 24),
            ("rsdp_paddr", 32),
            ("memmap_paddr", 40),
            ("memmap_entries", 48),
        ];
        for (field, at) in si {
            assert_eq!(f(&format!("offset struct hvm_start_info.{field}")), at);
        }
        assert_eq!(f("size struct hvm_start_info"), 56);
        assert_eq!(f("size struct hvm_modlist_entry"), 32);
        assert_eq!(f("size struct hvm_memmap_table_entry"), 24);
        assert_eq!(f("const XEN_HVM_START_MAGIC_VALUE"), 0x336e_c578);
        assert_eq!(f("size struct hvm_info_table"), 48);
        for (field, at) in [
            ("length", 8),
            ("checksum", 12),
            ("apic_mode", 13),
            ("nr_vcpus", 16),
            ("low_mem_pgend", 20),
            ("reserved_mem_pgstart", 24),
            ("high_mem_pgend", 28),
            ("vcpu_online", 32),
        ] {
            assert_eq!(f(&format!("offset struct hvm_info_table.{field}")), at);
        }
        assert_eq!(f("const HVM_INFO_PFN"), HVM_INFO_PFN as usize);
        assert_eq!(f("const HVM_INFO_OFFSET"), 0x800);
        assert_eq!(f("const HVM_MAX_VCPUS"), HVM_MAX_VCPUS as usize);
        for (name, ours) in [
            ("STORE_PFN", param::STORE_PFN),
            ("STORE_EVTCHN", param::STORE_EVTCHN),
            ("IOREQ_PFN", param::IOREQ_PFN),
            ("BUFIOREQ_PFN", param::BUFIOREQ_PFN),
            ("IDENT_PT", param::IDENT_PT),
            ("CONSOLE_PFN", param::CONSOLE_PFN),
            ("CONSOLE_EVTCHN", param::CONSOLE_EVTCHN),
            ("PAGING_RING_PFN", param::PAGING_RING_PFN),
            ("MONITOR_RING_PFN", param::MONITOR_RING_PFN),
            ("SHARING_RING_PFN", param::SHARING_RING_PFN),
            ("IOREQ_SERVER_PFN", param::IOREQ_SERVER_PFN),
            ("NR_IOREQ_SERVER_PAGES", param::NR_IOREQ_SERVER_PAGES),
            ("CALLBACK_IRQ", param::CALLBACK_IRQ),
            ("PAE_ENABLED", param::PAE_ENABLED),
            ("VIRIDIAN", param::VIRIDIAN),
            ("ACPI_S_STATE", param::ACPI_S_STATE),
            ("ACPI_IOPORTS_LOCATION", param::ACPI_IOPORTS_LOCATION),
            ("VM_GENERATION_ID_ADDR", param::VM_GENERATION_ID_ADDR),
            ("X87_FIP_WIDTH", param::X87_FIP_WIDTH),
            ("VM86_TSS_SIZED", param::VM86_TSS_SIZED),
            ("MCA_CAP", param::MCA_CAP),
        ] {
            assert_eq!(f(&format!("const HVM_PARAM_{name}")), ours as usize);
        }
    }
}

/// An in-memory HVM container: populated frames, params, loaded contexts.
struct MemHvm {
    vcpus: u16,
    populated: BTreeSet<u64>,
    pages: BTreeMap<u64, Vec<u8>>,
    /// (first gfn, order, pod) of every extent asked for.
    extents: Vec<(u64, u32, bool)>,
    claims: Vec<u64>,
    pod_target: Option<u64>,
    memory_map: Vec<E820>,
    params: BTreeMap<u32, u64>,
    contexts: Vec<Vec<u8>>,
}

impl MemHvm {
    fn new(vcpus: u16) -> Self {
        MemHvm {
            vcpus,
            populated: BTreeSet::new(),
            pages: BTreeMap::new(),
            extents: Vec::new(),
            claims: Vec::new(),
            pod_target: None,
            memory_map: Vec::new(),
            params: BTreeMap::new(),
            contexts: Vec::new(),
        }
    }

    fn page(&self, gfn: u64) -> &[u8] {
        self.pages.get(&gfn).map_or(&[0; PAGE][..], |p| &p[..])
    }
}

impl GuestFrames for MemHvm {
    fn write_frames_with(
        &mut self,
        frames: &[u64],
        fill: &mut FillFrames<'_>,
    ) -> Result<(), TargetError> {
        for (i, gfn) in frames.iter().enumerate() {
            if !self.populated.contains(gfn) {
                return Err(TargetError::Message(format!("{gfn:#x} is not populated")));
            }
            let page = self.pages.entry(*gfn).or_insert_with(|| vec![0xee; PAGE]);
            fill(i * PAGE, page)?;
        }
        Ok(())
    }
}

impl HvmTarget for MemHvm {
    fn claim(&mut self, pages: u64) -> Result<(), TargetError> {
        self.claims.push(pages);
        Ok(())
    }

    fn set_pod_target(&mut self, pages: u64) -> Result<(), TargetError> {
        self.pod_target = Some(pages);
        Ok(())
    }

    fn populate(&mut self, order: u32, gfns: &[u64], pod: bool) -> Result<usize, TargetError> {
        for &g in gfns {
            self.extents.push((g, order, pod));
            for pfn in g..g + (1 << order) {
                if !self.populated.insert(pfn) {
                    return Err(TargetError::Message(format!("{pfn:#x} populated twice")));
                }
            }
        }
        Ok(gfns.len())
    }

    fn set_memory_map(&mut self, map: &[E820]) -> Result<(), TargetError> {
        self.memory_map = map.to_vec();
        Ok(())
    }

    fn set_param(&mut self, index: u32, value: u64) -> Result<(), TargetError> {
        self.params.insert(index, value);
        Ok(())
    }

    /// Xen's shape: a header, per-vCPU CPU and MTRR records, the end.
    fn hvm_context(&mut self) -> Result<Vec<u8>, TargetError> {
        let mut s = Vec::new();
        let mut rec = |code: u16, inst: u16, body: Vec<u8>| {
            s.extend(code.to_le_bytes());
            s.extend(inst.to_le_bytes());
            s.extend((body.len() as u32).to_le_bytes());
            s.extend(body);
        };
        rec(1, 0, vec![0xab; 24]);
        for v in 0..self.vcpus {
            rec(2, v, vec![0xcc; 1032]);
        }
        for v in 0..self.vcpus {
            rec(14, v, vec![0x11; 240]);
        }
        rec(0, 0, Vec::new());
        Ok(s)
    }

    fn set_hvm_context(&mut self, records: &[u8]) -> Result<(), TargetError> {
        assert_eq!(&records[8..32], &[0xab; 24], "Xen's header first");
        self.contexts.push(records.to_vec());
        Ok(())
    }

    fn seed_grants(&mut self, _grants: &[GrantSeed]) -> Result<(), TargetError> {
        Ok(())
    }
}
