//! The PV layout and its application, checked against numbers worked out by hand from
//! libxenguest's rules (see the module docs of `pv` and `layout`).

use std::borrow::Cow;

use super::pv::*;
use crate::Kernel;
use crate::layout::{Level, Mapping};
use crate::mem_target::{MemTarget, TargetCall};
use crate::target::{FillFrames, GrantSeed, GuestFrames, PvTarget, PvVcpuContext, TargetError};
use crate::testutil::{self, Desc, ElfBuilder, Load, NotePlace};

/// `parse_kernel` for tests that build the image in a temporary.
fn parse_kernel(bytes: &[u8]) -> Result<Kernel<'static>, crate::ImageError> {
    crate::parse_kernel(bytes).and_then(Kernel::into_owned)
}

const MIB256: u64 = 0x1_0000;
const RAMDISK_LEN: u64 = 10_000;
const VB: u64 = testutil::VIRT_BASE;

fn linux() -> Kernel<'static> {
    parse_kernel(&ElfBuilder::linux().build()).unwrap()
}

fn request(nr_pages: u64, ramdisk_len: u64) -> PvRequest {
    PvRequest {
        nr_pages,
        ramdisk_len,
        cmdline: "console=hvc0 root=/dev/xvda1".to_string(),
        store_evtchn: 1,
        console_evtchn: 2,
        xenstore_domid: 0,
        console_domid: 0,
        domid: 7,
        xen_version: (4, 17),
    }
}

fn ramdisk(len: u64) -> Vec<u8> {
    (0..len).map(|i| (i % 241) as u8 + 7).collect()
}

fn mfn(pfn: u64) -> u64 {
    MemTarget::mfn_of(pfn)
}

fn build(kernel: &Kernel, req: &PvRequest) -> (PvPlan, PvBuilt, MemTarget) {
    let plan = plan_pv(kernel, req).unwrap();
    let mut t = MemTarget::with_fill(0xa5);
    let built = apply_pv(&plan, kernel, &ramdisk(req.ramdisk_len), &mut t).unwrap();
    (plan, built, t)
}

/// Linux at 16 MiB (5 pages), 256 MiB domain, 10 000-byte ramdisk, INIT_P2M and
/// MOD_START_PFN set. Worked out:
/// - kernel pfn 0x1000 (+5); start_info 0x1005, xenstore 0x1006, console 0x1007;
/// - initial mapping [virt_base, 0xffffffff81089000 rounded up to 4 MiB] =
///   ...813fffff: 1 L4 + 1 L3 + 1 L2 + 10 L1 = 13 tables at 0x1008; 13 + 129 pages still
///   fit, so one round; boot stack 0x1015; padding to pfn 0x1400;
/// - ramdisk 0x1400 (+3), mod_len page-rounded 0x3000;
/// - p2m: 0x10000 × 8 = 128 pages at 0x1403, then its L3/L2/L1 at 0x1483..0x1485.
#[test]
fn linux_layout_in_256_mib() {
    let plan = plan_pv(&linux(), &request(MIB256, RAMDISK_LEN)).unwrap();
    assert_eq!(plan.virt_base, VB);
    assert_eq!((plan.kernel.pfn, plan.kernel.pages), (0x1000, 5));
    assert_eq!(plan.kernel.vstart, 0xffff_ffff_8100_0000);
    assert_eq!(plan.start_info_pfn, 0x1005);
    assert_eq!(plan.xenstore_pfn, 0x1006);
    assert_eq!(plan.console_pfn, 0x1007);
    assert_eq!((plan.pgtables.pfn, plan.pgtables.pages), (0x1008, 13));
    assert_eq!(plan.pgtables.vstart, 0xffff_ffff_8100_8000);
    assert_eq!(plan.bootstack_pfn, 0x1015);
    assert_eq!(plan.virt_pgtab_end, 0xffff_ffff_8140_0000);
    let rd = plan.ramdisk.as_ref().unwrap();
    assert!(!rd.mapped);
    assert_eq!(
        (rd.segment.pfn, rd.segment.pages, rd.len),
        (0x1400, 3, RAMDISK_LEN)
    );
    assert_eq!(plan.flags, 8);
    assert_eq!((plan.mod_start, plan.mod_len), (0x1400, 0x3000));
    assert!(plan.p2m_at_init_p2m);
    assert_eq!((plan.p2m.pfn, plan.p2m.pages), (0x1403, 0x83));
    assert_eq!(plan.p2m_vaddr, testutil::INIT_P2M);
    assert_eq!(plan.end_pfn, 0x1486);
    assert_eq!(plan.hypercall_page, Some(testutil::HYPERCALL));
    assert_eq!(plan.mappings.len(), 2);

    let initial = plan.mappings[0];
    assert_eq!(
        initial.area,
        Level {
            from: 0xffff_8000_0000,
            to: 0xffff_813f_ffff,
            pfn: 0,
            tables: 13
        }
    );
    assert_eq!(initial.levels[3], lvl(0, 0xffff_ffff_ffff, 0x1008, 1));
    assert_eq!(
        initial.levels[2],
        lvl(0xff80_0000_0000, 0xffff_ffff_ffff, 0x1009, 1)
    );
    assert_eq!(
        initial.levels[1],
        lvl(0xffff_8000_0000, 0xffff_bfff_ffff, 0x100a, 1)
    );
    assert_eq!(
        initial.levels[0],
        lvl(0xffff_8000_0000, 0xffff_813f_ffff, 0x100b, 10)
    );
    let p2m: Mapping = plan.mappings[1];
    assert_eq!(p2m.area, lvl(0x80_0000_0000, 0x80_0007_ffff, 0x1403, 3));
    assert_eq!(p2m.levels[3].tables, 0);
    assert_eq!(
        p2m.levels[2],
        lvl(0x80_0000_0000, 0xff_ffff_ffff, 0x1483, 1)
    );
    assert_eq!(
        p2m.levels[1],
        lvl(0x80_0000_0000, 0x80_3fff_ffff, 0x1484, 1)
    );
    assert_eq!(
        p2m.levels[0],
        lvl(0x80_0000_0000, 0x80_001f_ffff, 0x1485, 1)
    );
}

fn lvl(from: u64, to: u64, pfn: u64, tables: u64) -> Level {
    Level {
        from,
        to,
        pfn,
        tables,
    }
}

#[test]
fn describe_matches_libxenguest_lines() {
    let plan = plan_pv(&linux(), &request(MIB256, RAMDISK_LEN)).unwrap();
    let want = "\
xc_dom_alloc_segment:   kernel       : 0xffffffff81000000 -> 0xffffffff81005000  (pfn 0x1000 + 0x5 pages)
xc_dom_alloc_page   :   start info   : 0xffffffff81005000 (pfn 0x1005)
xc_dom_alloc_page   :   xenstore     : 0xffffffff81006000 (pfn 0x1006)
xc_dom_alloc_page   :   console      : 0xffffffff81007000 (pfn 0x1007)
count_pgtables: 0x0000007fffffffff/39: 0x0000ff8000000000 -> 0x0000ffffffffffff, 1 table(s)
count_pgtables: 0x000000003fffffff/30: 0x0000ffff80000000 -> 0x0000ffffbfffffff, 1 table(s)
count_pgtables: 0x00000000001fffff/21: 0x0000ffff80000000 -> 0x0000ffff813fffff, 10 table(s)
xc_dom_alloc_segment:   page tables  : 0xffffffff81008000 -> 0xffffffff81015000  (pfn 0x1008 + 0xd pages)
xc_dom_alloc_page   :   boot stack   : 0xffffffff81015000 (pfn 0x1015)
xc_dom_build_image  : virt_alloc_end : 0xffffffff81016000
xc_dom_build_image  : virt_pgtab_end : 0xffffffff81400000
xc_dom_alloc_segment:   module0      : 0xffffffff81400000 -> 0xffffffff81402710  (pfn 0x1400 + 0x3 pages)
count_pgtables: 0x0000007fffffffff/39: 0x0000008000000000 -> 0x000000ffffffffff, 1 table(s)
count_pgtables: 0x000000003fffffff/30: 0x0000008000000000 -> 0x000000803fffffff, 1 table(s)
count_pgtables: 0x00000000001fffff/21: 0x0000008000000000 -> 0x00000080001fffff, 1 table(s)
xc_dom_alloc_segment:   phys2mach    : 0xffffffff81403000 -> 0xffffffff81486000  (pfn 0x1403 + 0x83 pages)
";
    assert_eq!(plan.describe(), want);
    assert_eq!(plan.to_string(), want);
}

/// Without MOD_START_PFN the ramdisk follows the kernel inside the initial mapping and is
/// passed by virtual address and exact length.
#[test]
fn mapped_ramdisk_layout() {
    let k = parse_kernel(&ElfBuilder::linux().without_note(16).build()).unwrap();
    let plan = plan_pv(&k, &request(MIB256, RAMDISK_LEN)).unwrap();
    let rd = plan.ramdisk.as_ref().unwrap();
    assert!(rd.mapped);
    assert_eq!((rd.segment.pfn, rd.segment.pages), (0x1005, 3));
    assert_eq!(plan.flags, 0);
    assert_eq!(plan.mod_start, 0xffff_ffff_8100_5000);
    assert_eq!(plan.mod_len, RAMDISK_LEN);
    assert_eq!(plan.start_info_pfn, 0x1008);
    assert_eq!(plan.xenstore_pfn, 0x1009);
    assert_eq!(plan.console_pfn, 0x100a);
    assert_eq!((plan.pgtables.pfn, plan.pgtables.pages), (0x100b, 13));
    assert_eq!(plan.bootstack_pfn, 0x1018);
    assert_eq!((plan.p2m.pfn, plan.p2m.pages), (0x1400, 0x83));
    assert_eq!(plan.end_pfn, 0x1483);
}

/// Without a usable INIT_P2M the p2m list sits in the initial mapping right after the
/// kernel; start_info then has no first_p2m_pfn/nr_p2m_frames.
#[test]
fn p2m_in_the_initial_mapping() {
    let unaligned = ElfBuilder::linux().with_note(15, Desc::Num(testutil::INIT_P2M + 0x800));
    let above_base = ElfBuilder::linux().with_note(15, Desc::Num(0xffff_ffff_c000_0000));
    for b in [ElfBuilder::linux().without_note(15), unaligned, above_base] {
        let k = parse_kernel(&b.build()).unwrap();
        let plan = plan_pv(&k, &request(MIB256, RAMDISK_LEN)).unwrap();
        assert!(!plan.p2m_at_init_p2m);
        assert_eq!((plan.p2m.pfn, plan.p2m.pages), (0x1005, 0x80));
        assert_eq!(plan.p2m_vaddr, 0xffff_ffff_8100_5000);
        assert_eq!(plan.start_info_pfn, 0x1085);
        assert_eq!(plan.console_pfn, 0x1087);
        assert_eq!((plan.pgtables.pfn, plan.pgtables.pages), (0x1088, 13));
        assert_eq!(plan.bootstack_pfn, 0x1095);
        assert_eq!(plan.ramdisk.as_ref().unwrap().segment.pfn, 0x1400);
        assert_eq!(plan.end_pfn, 0x1403);
        assert_eq!(plan.mappings.len(), 1);
    }
    let k = parse_kernel(&ElfBuilder::linux().without_note(15).build()).unwrap();
    let (_, built, _) = build(&k, &request(MIB256, RAMDISK_LEN));
    assert_eq!(built.start_info.mfn_list, 0xffff_ffff_8100_5000);
    assert_eq!(built.start_info.first_p2m_pfn, 0);
    assert_eq!(built.start_info.nr_p2m_frames, 0);
}

/// A kernel ending 135 pages below a 4 MiB boundary: 13 tables + 129 do not fit in the
/// first guess, so the mapping grows by 4 MiB and needs 2 more L1 tables (15).
#[test]
fn table_count_iterates_until_stable() {
    let mut b = ElfBuilder::linux();
    b.loads[1].memsz = 0x37_3000; // kernel ends at 0xffffffff81376000
    let k = parse_kernel(&b.build()).unwrap();
    let plan = plan_pv(&k, &request(MIB256, 0)).unwrap();
    assert_eq!(plan.kernel.pages, 0x376);
    assert_eq!(plan.pgtables.pfn, 0x1379);
    assert_eq!(plan.pgtables.pages, 15);
    assert_eq!(plan.virt_pgtab_end, 0xffff_ffff_8180_0000);
    let l1_rounds: Vec<String> = plan
        .describe()
        .lines()
        .filter(|l| l.contains("/21:"))
        .map(str::to_string)
        .collect();
    assert_eq!(
        l1_rounds,
        [
            "count_pgtables: 0x00000000001fffff/21: 0x0000ffff80000000 -> 0x0000ffff813fffff, 10 table(s)",
            "count_pgtables: 0x00000000001fffff/21: 0x0000ffff80000000 -> 0x0000ffff817fffff, 12 table(s)",
            "count_pgtables: 0x00000000001fffff/21: 0x0000008000000000 -> 0x00000080001fffff, 1 table(s)",
        ]
    );
}

#[test]
fn no_ramdisk_no_module() {
    let plan = plan_pv(&linux(), &request(MIB256, 0)).unwrap();
    assert!(plan.ramdisk.is_none());
    assert_eq!((plan.flags, plan.mod_start, plan.mod_len), (0, 0, 0));
    assert_eq!(plan.p2m.pfn, 0x1400);
    assert!(!plan.describe().contains("module0"));
}

/// 16 MiB: the layout ends at pfn 0x140e (p2m of 8 pages + 3 tables), 21 MiB rounded up.
#[test]
fn too_small_domain_says_how_much_is_needed() {
    let err = plan_pv(&linux(), &request(4096, RAMDISK_LEN)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "kernel+ramdisk need 21 MiB, the domain has 16 MiB: raise memory"
    );
    assert!(matches!(
        err,
        BuildError::DoesNotFit {
            need_pages: 0x140e,
            have_pages: 4096,
            ..
        }
    ));
    plan_pv(&linux(), &request(21 * 256, RAMDISK_LEN)).unwrap();
    let huge = plan_pv(&linux(), &request(MIB256, 1 << 40)).unwrap_err();
    assert!(huge.to_string().contains("raise memory"), "{huge}");
    assert!(plan_pv(&linux(), &request(0, 0)).is_err());
}

#[test]
fn only_64_bit_kernels() {
    let mut b = ElfBuilder::linux()
        .with_note(3, Desc::Num32(0xc000_0000))
        .with_note(1, Desc::Num32(0xc100_0040))
        .with_note(2, Desc::Num32(0xc100_1000))
        .without_note(15);
    b.class64 = false;
    b.machine = 3;
    b.entry = 0xc100_0040;
    let k = parse_kernel(&b.build()).unwrap();
    let err = plan_pv(&k, &request(MIB256, 0)).unwrap_err();
    assert!(matches!(err, BuildError::NotX86_64));
    assert!(err.to_string().contains("64-bit"));
}

#[test]
fn hypercall_page_outside_the_mapping_is_refused() {
    let b = ElfBuilder::linux().with_note(2, Desc::Num(0xffff_ffff_9000_0000));
    let k = parse_kernel(&b.build()).unwrap();
    let err = plan_pv(&k, &request(MIB256, 0)).unwrap_err();
    assert!(err.to_string().contains("HYPERCALL_PAGE"), "{err}");
}

#[test]
fn command_line_is_truncated_to_1023_bytes() {
    let mut req = request(MIB256, 0);
    req.cmdline = "x".repeat(2000);
    let plan = plan_pv(&linux(), &req).unwrap();
    assert_eq!(plan.cmdline.len(), 1023);
}

#[test]
fn calls_happen_in_libxenguest_order() {
    let (_, _, t) = build(&linux(), &request(MIB256, RAMDISK_LEN));
    let non_writes: Vec<&TargetCall> = t
        .calls
        .iter()
        .filter(|c| !matches!(c, TargetCall::WriteFrames { .. }))
        .collect();
    assert_eq!(
        non_writes,
        [
            &TargetCall::Populate(MIB256),
            &TargetCall::SharedInfoMfn,
            &TargetCall::HypercallPage(mfn(0x1001)),
            &TargetCall::PinL4(mfn(0x1008)),
            &TargetCall::InitSharedInfo,
            &TargetCall::SetVcpuContext,
            &TargetCall::SeedGrants,
        ]
    );
    let writes_before_shared_info = t
        .calls
        .iter()
        .take_while(|c| **c != TargetCall::SharedInfoMfn)
        .filter(|c| matches!(c, TargetCall::WriteFrames { .. }))
        .count();
    assert!(writes_before_shared_info > 5);
    // start_info goes in after shared_info's frame is known.
    let after = t
        .calls
        .iter()
        .skip_while(|c| **c != TargetCall::SharedInfoMfn)
        .nth(1);
    assert_eq!(
        after,
        Some(&TargetCall::WriteFrames {
            first_mfn: mfn(0x1005),
            frames: 1
        })
    );
}

#[test]
fn page_tables_map_the_initial_area_and_the_p2m() {
    let (plan, built, t) = build(&linux(), &request(MIB256, RAMDISK_LEN));
    let l4 = built.l4_mfn;
    assert_eq!(l4, mfn(0x1008));
    assert_eq!(t.pinned_l4, Some(l4));

    // Named addresses resolve to their frames.
    let start_info = t.walk(l4, plan.vaddr_of(0x1005)).unwrap();
    assert_eq!(start_info.mfn, mfn(0x1005));
    assert_eq!(start_info.l1_entry, mfn(0x1005) << 12 | 0x23);
    assert_eq!(t.walk(l4, testutil::ENTRY).unwrap().mfn, mfn(0x1000));
    assert_eq!(t.walk(l4, testutil::HYPERCALL).unwrap().mfn, mfn(0x1001));
    assert_eq!(t.walk(l4, VB).unwrap().mfn, mfn(0));

    // Every page of the initial mapping: pfn = (va - virt_base) / 4096; table frames
    // read-only.
    for pfn in 0..0x1400 {
        let tr = t.walk(l4, plan.vaddr_of(pfn)).unwrap();
        let prot = if (0x1008..0x1015).contains(&pfn) {
            0x21
        } else {
            0x23
        };
        assert_eq!(tr.l1_entry, mfn(pfn) << 12 | prot, "pfn {pfn:#x}");
    }
    assert_eq!(t.walk(l4, plan.virt_pgtab_end), None);
    assert_eq!(t.walk(l4, VB - 0x1000), None);

    // The p2m list at INIT_P2M maps pfns 0x1403.. (its tables are not mapped).
    for i in 0..128 {
        let tr = t.walk(l4, testutil::INIT_P2M + i * 4096).unwrap();
        assert_eq!(tr.l1_entry, mfn(0x1403 + i) << 12 | 0x23, "p2m page {i}");
    }
    assert_eq!(t.walk(l4, testutil::INIT_P2M + 128 * 4096), None);
    assert_eq!(t.walk(l4, testutil::INIT_P2M - 4096), None);
}

#[test]
fn page_table_entries_field_by_field() {
    let (_, _, t) = build(&linux(), &request(MIB256, RAMDISK_LEN));
    let l4 = mfn(0x1008);
    for i in 0..512 {
        let want = match i {
            1 => mfn(0x1483) << 12 | 0x67,
            511 => mfn(0x1009) << 12 | 0x67,
            _ => 0,
        };
        assert_eq!(t.entry(l4, i), want, "L4[{i}]");
    }
    for i in 0..512 {
        let want = if i == 510 {
            mfn(0x100a) << 12 | 0x67
        } else {
            0
        };
        assert_eq!(t.entry(mfn(0x1009), i), want, "L3[{i}]");
    }
    for i in 0..512 {
        let want = if i < 10 {
            mfn(0x100b + i) << 12 | 0x67
        } else {
            0
        };
        assert_eq!(t.entry(mfn(0x100a), i), want, "L2[{i}]");
    }
    // Last L1 table: pfns 0x1200..0x13ff.
    assert_eq!(t.entry(mfn(0x1014), 0), mfn(0x1200) << 12 | 0x23);
    assert_eq!(t.entry(mfn(0x1014), 511), mfn(0x13ff) << 12 | 0x23);
    // p2m mapping: L3 → L2 → L1 → 128 frames, rest empty.
    assert_eq!(t.entry(mfn(0x1483), 0), mfn(0x1484) << 12 | 0x67);
    assert_eq!(t.entry(mfn(0x1483), 1), 0);
    assert_eq!(t.entry(mfn(0x1484), 0), mfn(0x1485) << 12 | 0x67);
    assert_eq!(t.entry(mfn(0x1484), 1), 0);
    assert_eq!(t.entry(mfn(0x1485), 127), mfn(0x1482) << 12 | 0x23);
    assert_eq!(t.entry(mfn(0x1485), 128), 0);
}

#[test]
fn start_info_field_by_field() {
    let (_, built, t) = build(&linux(), &request(MIB256, RAMDISK_LEN));
    let page = mfn(0x1005);
    assert_eq!(built.start_info_pfn, 0x1005);
    assert_eq!(
        t.read(page, 0, 32),
        b"xen-3.0-x86_64\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
    );
    let u64_at = |off| t.read_u64(page, off);
    let u32_at = |off: usize| u64_at(off) & 0xffff_ffff;
    assert_eq!(u64_at(32), MIB256, "nr_pages");
    assert_eq!(u64_at(40), MemTarget::SHARED_INFO_MFN << 12, "shared_info");
    assert_eq!(u32_at(48), 8, "flags");
    assert_eq!(u64_at(56), mfn(0x1006), "store_mfn");
    assert_eq!(u32_at(64), 1, "store_evtchn");
    assert_eq!(u64_at(72), mfn(0x1007), "console.domU.mfn");
    assert_eq!(u32_at(80), 2, "console.domU.evtchn");
    assert_eq!(u64_at(88), 0xffff_ffff_8100_8000, "pt_base");
    assert_eq!(u64_at(96), 13, "nr_pt_frames");
    assert_eq!(u64_at(104), testutil::INIT_P2M, "mfn_list");
    assert_eq!(u64_at(112), 0x1400, "mod_start");
    assert_eq!(u64_at(120), 0x3000, "mod_len");
    let cmd = b"console=hvc0 root=/dev/xvda1";
    assert_eq!(t.read(page, 128, cmd.len() + 1), [&cmd[..], b"\0"].concat());
    assert!(
        t.read(page, 128 + cmd.len(), 1024 - cmd.len())
            .iter()
            .all(|&b| b == 0)
    );
    assert_eq!(u64_at(1152), 0x1403, "first_p2m_pfn");
    assert_eq!(u64_at(1160), 0x83, "nr_p2m_frames");
    assert!(t.read(page, 1168, 4096 - 1168).iter().all(|&b| b == 0));
    assert_eq!(built.start_info.to_bytes(), t.read(page, 0, 1168));
}

#[test]
fn vcpu_context_and_grants() {
    let (_, built, t) = build(&linux(), &request(MIB256, RAMDISK_LEN));
    let want = PvVcpuContext {
        flags: 0x24,
        rip: testutil::ENTRY,
        rsp: 0xffff_ffff_8101_6000,
        rsi: 0xffff_ffff_8100_5000,
        rflags: 0x200,
        cs: 0xe033,
        ss: 0xe02b,
        ds: 0,
        es: 0,
        fs: 0,
        gs: 0,
        kernel_ss: 0xe02b,
        kernel_sp: 0xffff_ffff_8101_6000,
        cr3: mfn(0x1008) << 12,
        debugreg6: 0xffff_0ff0,
        debugreg7: 0x400,
    };
    assert_eq!(t.vcpu, Some(want));
    assert_eq!(built.vcpu, want);
    let grants = [
        GrantSeed {
            gref: 0,
            domid: 0,
            frame: mfn(0x1007),
        },
        GrantSeed {
            gref: 1,
            domid: 0,
            frame: mfn(0x1006),
        },
    ];
    assert_eq!(t.grants, grants);
    assert_eq!(
        (
            built.store_pfn,
            built.store_mfn,
            built.console_pfn,
            built.console_mfn
        ),
        (0x1006, mfn(0x1006), 0x1007, mfn(0x1007))
    );
    assert_eq!(built.hypercall_mfn, Some(mfn(0x1001)));
}

#[test]
fn grants_skip_a_guest_that_is_its_own_backend() {
    let mut req = request(MIB256, 0);
    req.domid = 3;
    req.xenstore_domid = 3;
    req.console_domid = 0;
    let (_, _, t) = build(&linux(), &req);
    assert_eq!(
        t.grants,
        [GrantSeed {
            gref: 0,
            domid: 0,
            frame: mfn(0x1007)
        }]
    );
}

#[test]
fn memory_contents() {
    let (_, _, t) = build(&linux(), &request(MIB256, RAMDISK_LEN));
    let b = ElfBuilder::linux();
    // Kernel text and data where the ELF says, bss zeroed although RAM was not.
    let text: Vec<u8> = (0..3)
        .flat_map(|p| t.read(mfn(0x1000 + p), 0, 4096))
        .collect();
    assert_eq!(text, b.loads[0].data);
    assert_eq!(t.read(mfn(0x1003), 0, 0x800), b.loads[1].data);
    assert!(t.read(mfn(0x1003), 0x800, 0x800).iter().all(|&x| x == 0));
    assert!(t.read(mfn(0x1004), 0, 4096).iter().all(|&x| x == 0));
    // Nothing written below the kernel (padding keeps fresh RAM).
    assert!(t.page(mfn(0xfff)).is_none());
    // Ramdisk bytes, tail of its last page zeroed.
    let rd: Vec<u8> = (0..3)
        .flat_map(|p| t.read(mfn(0x1400 + p), 0, 4096))
        .collect();
    assert_eq!(&rd[..RAMDISK_LEN as usize], &ramdisk(RAMDISK_LEN)[..]);
    assert!(rd[RAMDISK_LEN as usize..].iter().all(|&x| x == 0));
    // Rings and boot stack are zero.
    for pfn in [0x1006, 0x1007, 0x1015] {
        assert!(
            t.read(mfn(pfn), 0, 4096).iter().all(|&x| x == 0),
            "pfn {pfn:#x}"
        );
    }
    // The p2m list holds the MFN of every pfn.
    for pfn in [0u64, 1, 511, 512, 0x1005, 0xffff] {
        let page = mfn(0x1403 + pfn / 512);
        assert_eq!(
            t.read_u64(page, (pfn % 512) as usize * 8),
            mfn(pfn),
            "p2m[{pfn:#x}]"
        );
    }
    // shared_info: zero, with evtchn_upcall_mask set in all 32 vcpu_info slots.
    let si = t.read(MemTarget::SHARED_INFO_MFN, 0, 4096);
    for (i, &byte) in si.iter().enumerate() {
        let want = u8::from(i < 32 * 64 && i % 64 == 1);
        assert_eq!(byte, want, "shared_info byte {i}");
    }
}

#[test]
fn mapped_ramdisk_is_reachable_through_the_tables() {
    let k = parse_kernel(&ElfBuilder::linux().without_note(16).build()).unwrap();
    let (plan, built, t) = build(&k, &request(MIB256, RAMDISK_LEN));
    assert_eq!(built.start_info.flags, 0);
    assert_eq!(built.start_info.mod_start, plan.vaddr_of(0x1005));
    assert_eq!(built.start_info.mod_len, RAMDISK_LEN);
    let tr = t.walk(built.l4_mfn, built.start_info.mod_start).unwrap();
    assert_eq!(tr.mfn, mfn(0x1005));
    assert_eq!(t.read(tr.mfn, 0, 16), ramdisk(16));
}

#[test]
fn mismatched_inputs_are_refused() {
    let k = linux();
    let plan = plan_pv(&k, &request(MIB256, RAMDISK_LEN)).unwrap();
    let err = apply_pv(&plan, &k, &ramdisk(100), &mut MemTarget::new()).unwrap_err();
    assert!(err.to_string().contains("ramdisk is 100 bytes"), "{err}");
    let mut b = ElfBuilder::linux();
    b.loads[1].memsz = 0x4000;
    let other = parse_kernel(&b.build()).unwrap();
    let err = apply_pv(&plan, &other, &ramdisk(RAMDISK_LEN), &mut MemTarget::new()).unwrap_err();
    assert!(err.to_string().contains("another kernel"), "{err}");
}

/// A target that fails one named operation, else behaves like [`MemTarget`].
struct FailingTarget {
    inner: MemTarget,
    fail: &'static str,
}

impl FailingTarget {
    fn check(&self, op: &'static str) -> Result<(), TargetError> {
        if op == self.fail {
            return Err(TargetError::failed(op, std::io::Error::other("EINVAL")));
        }
        Ok(())
    }
}

impl GuestFrames for FailingTarget {
    fn write_frames_with(
        &mut self,
        mfns: &[u64],
        fill: &mut FillFrames<'_>,
    ) -> Result<(), TargetError> {
        self.check("write_frames")?;
        self.inner.write_frames_with(mfns, fill)
    }
}

impl PvTarget for FailingTarget {
    fn populate(&mut self, nr_pages: u64) -> Result<Vec<u64>, TargetError> {
        self.check("populate")?;
        self.inner.populate(nr_pages)
    }
    fn shared_info_mfn(&mut self) -> Result<u64, TargetError> {
        self.check("shared_info_mfn")?;
        self.inner.shared_info_mfn()
    }
    fn hypercall_page(&mut self, mfn: u64) -> Result<(), TargetError> {
        self.check("hypercall_page")?;
        self.inner.hypercall_page(mfn)
    }
    fn pin_l4(&mut self, mfn: u64) -> Result<(), TargetError> {
        self.check("pin_l4")?;
        self.inner.pin_l4(mfn)
    }
    fn init_shared_info(&mut self) -> Result<(), TargetError> {
        self.check("init_shared_info")?;
        self.inner.init_shared_info()
    }
    fn set_vcpu_context(&mut self, ctx: &PvVcpuContext) -> Result<(), TargetError> {
        self.check("set_vcpu_context")?;
        self.inner.set_vcpu_context(ctx)
    }
    fn seed_grants(&mut self, grants: &[GrantSeed]) -> Result<(), TargetError> {
        self.check("seed_grants")?;
        self.inner.seed_grants(grants)
    }
}

#[test]
fn target_failures_name_the_step() {
    let k = linux();
    let plan = plan_pv(&k, &request(MIB256, RAMDISK_LEN)).unwrap();
    let cases = [
        ("populate", "populating the guest's memory"),
        ("write_frames", "writing the kernel"),
        ("shared_info_mfn", "reading the shared_info frame"),
        ("hypercall_page", "setting up the hypercall page"),
        ("pin_l4", "pinning the L4 page table"),
        ("init_shared_info", "initialising shared_info"),
        ("set_vcpu_context", "setting vCPU 0's context"),
        ("seed_grants", "seeding the grant table"),
    ];
    for (fail, step) in cases {
        let mut t = FailingTarget {
            inner: MemTarget::new(),
            fail,
        };
        let err = apply_pv(&plan, &k, &ramdisk(RAMDISK_LEN), &mut t).unwrap_err();
        assert_eq!(err.to_string(), step);
        let source = std::error::Error::source(&err).unwrap();
        assert_eq!(source.to_string(), fail);
        assert_eq!(
            std::error::Error::source(source).unwrap().to_string(),
            "EINVAL"
        );
    }
}

#[test]
fn mem_target_refuses_what_xen_refuses() {
    let (_, built, mut t) = build(&linux(), &request(MIB256, RAMDISK_LEN));
    // Unpopulated frames cannot be written.
    let err = t.write_frames(&[mfn(MIB256)], &[1]).unwrap_err();
    assert!(err.to_string().contains("not populated"), "{err}");
    assert!(t.write_frames(&[mfn(0)], &[0; 4097]).is_err());
    // Make the L1 entry of an L1 table frame writable: the pin must fail.
    let l1 = mfn(0x100b + 0x1014 / 512);
    let slot = (0x1014 % 512) as usize * 8;
    let mut page = t.read(l1, 0, 4096);
    page[slot] |= 0x02;
    t.write_frames(&[l1], &page).unwrap();
    let err = t.pin_l4(built.l4_mfn).unwrap_err();
    assert!(err.to_string().contains("writable"), "{err}");
    // An entry pointing at a frame the domain does not own.
    page[slot..slot + 8].copy_from_slice(&(0x42u64 << 12 | 0x21).to_le_bytes());
    t.write_frames(&[l1], &page).unwrap();
    let err = t.pin_l4(built.l4_mfn).unwrap_err();
    assert!(err.to_string().contains("not the domain's"), "{err}");
}

/// A Mini-OS stubdomain as built by a real `xl -vvv create` (Xen 4.12, in a public
/// xen-devel report): virt_base 0, image 0 -> 0x566638, 28 MB, no INIT_P2M, no ramdisk.
/// The same lines, except the kernel end, which Xen before 4.19 printed page-rounded.
#[test]
fn matches_a_real_mini_os_build_log() {
    let b = ElfBuilder {
        class64: true,
        machine: 62,
        entry: 0,
        loads: vec![testutil::Load {
            paddr: 0,
            vaddr: 0,
            data: vec![0x90; 0x100],
            memsz: 0x56_6638,
            flags: 7,
        }],
        notes: vec![
            ("Xen", 6, Desc::Str("Mini-OS")),
            ("Xen", 8, Desc::Str("generic")),
            ("Xen", 2, Desc::Num(0x2000)),
            ("Xen", 5, Desc::Str("xen-3.0")),
        ],
        note_place: testutil::NotePlace::Section,
    };
    let k = parse_kernel(&b.build()).unwrap();
    let mut req = request(0x1c00, 0);
    req.cmdline = " -d 1".to_string();
    let plan = plan_pv(&k, &req).unwrap();
    let want = "\
xc_dom_alloc_segment:   kernel       : 0x0 -> 0x566638  (pfn 0x0 + 0x567 pages)
xc_dom_alloc_segment:   phys2mach    : 0x567000 -> 0x575000  (pfn 0x567 + 0xe pages)
xc_dom_alloc_page   :   start info   : 0x575000 (pfn 0x575)
xc_dom_alloc_page   :   xenstore     : 0x576000 (pfn 0x576)
xc_dom_alloc_page   :   console      : 0x577000 (pfn 0x577)
count_pgtables: 0x0000007fffffffff/39: 0x0000000000000000 -> 0x0000007fffffffff, 1 table(s)
count_pgtables: 0x000000003fffffff/30: 0x0000000000000000 -> 0x000000003fffffff, 1 table(s)
count_pgtables: 0x00000000001fffff/21: 0x0000000000000000 -> 0x00000000007fffff, 4 table(s)
xc_dom_alloc_segment:   page tables  : 0x578000 -> 0x57f000  (pfn 0x578 + 0x7 pages)
xc_dom_alloc_page   :   boot stack   : 0x57f000 (pfn 0x57f)
xc_dom_build_image  : virt_alloc_end : 0x580000
xc_dom_build_image  : virt_pgtab_end : 0x800000
";
    assert_eq!(plan.describe(), want);
    // What the guest printed from start_info, and the hypercall page pfn 0x2.
    let mut t = MemTarget::new();
    let built = apply_pv(&plan, &k, &[], &mut t).unwrap();
    let si = &built.start_info;
    assert_eq!(plan.vaddr_of(built.start_info_pfn), 0x57_5000);
    assert_eq!(si.nr_pages, 0x1c00);
    assert_eq!(si.pt_base, 0x57_8000);
    assert_eq!(si.nr_pt_frames, 7);
    assert_eq!(si.mfn_list, 0x56_7000);
    assert_eq!((si.mod_start, si.mod_len, si.flags), (0, 0, 0));
    assert_eq!(si.cmd_line, b" -d 1");
    assert_eq!(built.hypercall_mfn, Some(mfn(0x2)));
    assert_eq!(built.l4_pfn, 0x578);
    let grants: Vec<(u32, u64)> = t.grants.iter().map(|g| (g.gref, g.frame)).collect();
    assert_eq!(grants, [(0, mfn(0x577)), (1, mfn(0x576))]);
    // The kernel's bss beyond the file bytes is zero up to the end of its last page.
    assert!(t.read(mfn(0x566), 0, 4096).iter().all(|&b| b == 0));
}

/// An unmapped ramdisk may be larger than the virtual space left above the kernel: its
/// virtual address is never used, as in libxenguest.
#[test]
fn huge_unmapped_ramdisk_plans() {
    let plan = plan_pv(&linux(), &request(0x10_0000, 3 << 30)).unwrap();
    let rd = plan.ramdisk.as_ref().unwrap();
    assert_eq!((rd.segment.pfn, rd.segment.pages), (0x1400, 0xc_0000));
    assert_eq!(plan.p2m.pfn, 0xc_1400);
    assert_eq!(plan.mod_len, 3 << 30);
}

#[test]
fn absurd_sizes_are_errors_not_panics() {
    let k = linux();
    for (pages, ramdisk_len) in [
        (u64::MAX, 0),
        (u64::MAX / 8, 0),
        (1 << 60, 0),
        (MIB256, u64::MAX),
        (1 << 52, u64::MAX - 4096),
    ] {
        let r = plan_pv(&k, &request(pages, ramdisk_len));
        assert!(
            r.is_err(),
            "{pages:#x} pages, {ramdisk_len:#x}-byte ramdisk"
        );
    }
}

/// Xen 4.21+ marks the console ring disconnected when it clears it; earlier releases
/// leave it all zero. Nothing else differs.
#[test]
fn console_connection_byte_from_4_21() {
    for (version, connection) in [((4, 17), 0), ((4, 20), 0), ((4, 21), 1), ((4, 22), 1)] {
        let mut req = request(MIB256, RAMDISK_LEN);
        req.xen_version = version;
        let (plan, _, t) = build(&linux(), &req);
        let console = t.read(mfn(plan.console_pfn), 0, 4096);
        assert_eq!(console[3088], connection, "Xen {version:?}");
        let others = console.iter().enumerate().filter(|&(i, _)| i != 3088);
        assert!(others.into_iter().all(|(_, &b)| b == 0), "Xen {version:?}");
        assert!(
            t.read(mfn(plan.xenstore_pfn), 0, 4096)
                .iter()
                .all(|&b| b == 0)
        );
        assert_eq!(plan.xen_version, version);
        let mut old = request(MIB256, RAMDISK_LEN);
        old.xen_version = (4, 17);
        let reference = plan_pv(&linux(), &old).unwrap();
        assert_eq!(plan.describe(), reference.describe());
    }
}

/// The plan is made for the loaded ramdisk; apply refuses the file when they differ.
#[test]
fn apply_wants_the_loaded_ramdisk() {
    let contents = ramdisk(20_000);
    let gz = testutil::compress(crate::Compression::Gzip, &contents);
    let loaded = crate::load_ramdisk(&gz, (4, 17)).unwrap();
    let plan = plan_pv(&linux(), &request(MIB256, loaded.len() as u64)).unwrap();
    let err = apply_pv(&plan, &linux(), &gz, &mut MemTarget::new()).unwrap_err();
    assert!(err.to_string().contains("loaded ramdisk"), "{err}");
    let mut t = MemTarget::new();
    apply_pv(&plan, &linux(), &loaded, &mut t).unwrap();
    let rd = plan.ramdisk.as_ref().unwrap();
    assert_eq!(rd.len, 20_016);
    assert_eq!(t.read(mfn(rd.segment.pfn), 0, 4096), contents[..4096]);
}

/// A ramdisk handed over late gives the same guest, and its failure comes back as it is.
#[test]
fn deferred_ramdisk_builds_the_same_guest() {
    let req = request(MIB256, RAMDISK_LEN);
    let (plan, built, t) = build(&linux(), &req);
    let mut late = MemTarget::with_fill(0xa5);
    let bytes = ramdisk(RAMDISK_LEN);
    let deferred =
        crate::apply_pv_deferred(&plan, &linux(), || Ok(Cow::Borrowed(&bytes[..])), &mut late)
            .unwrap();
    assert_eq!(format!("{deferred:?}"), format!("{built:?}"));
    assert!(late == t, "the same calls and memory");
    let err = crate::apply_pv_deferred(
        &plan,
        &linux(),
        || Err(BuildError::Invalid("no ramdisk today".into())),
        &mut MemTarget::new(),
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "no ramdisk today");
    let err = crate::apply_pv_deferred(
        &plan,
        &linux(),
        || Ok(Cow::Owned(ramdisk(100))),
        &mut MemTarget::new(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("loaded ramdisk"), "{err}");
}

/// The kernel image a naive loader makes: zeros, then each segment's bytes and bss in
/// program header order.
fn reference_image(b: &ElfBuilder) -> Vec<u8> {
    let pstart = b.loads.iter().map(|l| l.paddr).min().unwrap();
    let pend = b.loads.iter().map(|l| l.paddr + l.memsz).max().unwrap();
    let mut image = vec![0; (pend - pstart) as usize];
    for l in &b.loads {
        let at = (l.paddr - pstart) as usize;
        image[at..at + l.data.len()].copy_from_slice(&l.data);
        image[at + l.data.len()..at + l.memsz as usize].fill(0);
    }
    image
}

/// Kernels whose loading has edges: notes only in sections, bss, segments overlapping in
/// memory and a gap between them, a kernel spanning several write chunks.
fn load_fixtures() -> Vec<(&'static str, ElfBuilder)> {
    let mut sections = ElfBuilder::linux();
    sections.note_place = NotePlace::Section;
    let mut zero_offset = ElfBuilder::linux();
    zero_offset.note_place = NotePlace::ZeroOffsetSegmentAndSection;
    let mut overlapping = ElfBuilder::linux();
    // Over the text's tail and the data's head: its bytes, then its bss, win.
    overlapping.loads.push(Load {
        paddr: testutil::KERNEL_PADDR + 0x2c00,
        vaddr: testutil::KERNEL_VADDR + 0x2c00,
        data: vec![0x33; 0x100],
        memsz: 0x600,
        flags: 4,
    });
    // After a two-page gap, ending inside a page; first in program header order.
    overlapping.loads.insert(
        0,
        Load {
            paddr: testutil::KERNEL_PADDR + 0x7000,
            vaddr: testutil::KERNEL_VADDR + 0x7000,
            data: vec![0x44; 0x100],
            memsz: 0x180,
            flags: 4,
        },
    );
    let mut large = ElfBuilder::linux();
    let text = (4 << 20) + 0x1800;
    large.loads[0].data = (0..text).map(|i| (i % 253) as u8 + 2).collect();
    large.loads[0].memsz = text as u64 + 0x800;
    large.loads[1].paddr = testutil::KERNEL_PADDR + (5 << 20);
    large.loads[1].vaddr = testutil::KERNEL_VADDR + (5 << 20);
    vec![
        ("linux", ElfBuilder::linux()),
        ("notes in sections", sections),
        ("zero-offset note segment", zero_offset),
        ("overlapping segments", overlapping),
        ("several chunks", large),
    ]
}

/// A [`MemTarget`] that hands each write to the builder as one piece, as the Xen target
/// hands a mapped batch of frames.
struct Batched(MemTarget);

impl GuestFrames for Batched {
    fn write_frames_with(
        &mut self,
        mfns: &[u64],
        fill: &mut FillFrames<'_>,
    ) -> Result<(), TargetError> {
        let mut mapped: Vec<u8> = mfns.iter().flat_map(|&m| self.0.read(m, 0, 4096)).collect();
        fill(0, &mut mapped)?;
        self.0.write_frames(mfns, &mapped)
    }
}

impl PvTarget for Batched {
    fn populate(&mut self, nr_pages: u64) -> Result<Vec<u64>, TargetError> {
        self.0.populate(nr_pages)
    }
    fn shared_info_mfn(&mut self) -> Result<u64, TargetError> {
        self.0.shared_info_mfn()
    }
    fn hypercall_page(&mut self, mfn: u64) -> Result<(), TargetError> {
        self.0.hypercall_page(mfn)
    }
    fn pin_l4(&mut self, mfn: u64) -> Result<(), TargetError> {
        self.0.pin_l4(mfn)
    }
    fn init_shared_info(&mut self) -> Result<(), TargetError> {
        self.0.init_shared_info()
    }
    fn set_vcpu_context(&mut self, ctx: &PvVcpuContext) -> Result<(), TargetError> {
        self.0.set_vcpu_context(ctx)
    }
    fn seed_grants(&mut self, grants: &[GrantSeed]) -> Result<(), TargetError> {
        self.0.seed_grants(grants)
    }
}

/// A kernel streamed from its file builds the same guest as one in memory, whether the
/// target hands frames one by one or in batches, and each file byte is read once,
/// straight into guest memory.
#[test]
fn streamed_kernel_builds_identical_memory() {
    // 257 MiB: the p2m list ends inside a page.
    let req = request(MIB256 + 256, RAMDISK_LEN);
    for (name, b) in load_fixtures() {
        let bytes = b.build();
        let in_memory = parse_kernel(&bytes).unwrap();
        let (plan, built, t) = build(&in_memory, &req);
        let src = testutil::Streamed::new(bytes.clone());
        let streamed = crate::parse_kernel_from(&src).unwrap();
        let parse_reads = src.reads.borrow().len();
        let (plan_streamed, built_streamed, t_streamed) = build(&streamed, &req);
        assert_eq!(plan, plan_streamed, "{name}");
        assert_eq!(built, built_streamed, "{name}");
        assert!(t == t_streamed, "{name}: guest memory differs");
        let image = reference_image(&b);
        let loaded: Vec<u8> = (0..plan.kernel.pages)
            .flat_map(|p| t.read(mfn(plan.kernel.pfn + p), 0, 4096))
            .collect();
        assert!(loaded[..image.len()] == image[..], "{name}: kernel image");
        assert!(loaded[image.len()..].iter().all(|&x| x == 0), "{name}");
        let load_reads: u64 = src.reads.borrow()[parse_reads..]
            .iter()
            .map(|&(_, n)| n as u64)
            .sum();
        if name != "overlapping segments" {
            let file_bytes: u64 = b.loads.iter().map(|l| l.data.len() as u64).sum();
            assert_eq!(load_reads, file_bytes, "{name}");
        }
        let mut batched = Batched(MemTarget::with_fill(0xa5));
        apply_pv(&plan, &streamed, &ramdisk(RAMDISK_LEN), &mut batched).unwrap();
        assert!(
            batched.0 == t,
            "{name}: guest memory differs when written in batches"
        );
        // The p2m list's last page: 256 entries, then zeros.
        let last = mfn(plan.p2m.pfn + (MIB256 + 256) / 512);
        assert_eq!(t.read_u64(last, 255 * 8), mfn(MIB256 + 255));
        assert!(t.read(last, 256 * 8, 2048).iter().all(|&x| x == 0));
    }
}

/// A kernel file that shrinks between parsing and loading fails the build cleanly.
#[test]
fn kernel_file_that_shrinks_fails_cleanly() {
    let src = testutil::Streamed::new(ElfBuilder::linux().build());
    let k = crate::parse_kernel_from(&src).unwrap();
    let plan = plan_pv(&k, &request(MIB256, 0)).unwrap();
    src.readable.set(0x400);
    let err = apply_pv(&plan, &k, &[], &mut MemTarget::new()).unwrap_err();
    assert!(matches!(err, BuildError::KernelRead(_)), "{err:?}");
    assert_eq!(err.to_string(), "cannot read the kernel: the file shrank");
}
