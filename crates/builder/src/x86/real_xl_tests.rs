//! The layout checked against a build by the real xl: the lab's PV guest (Debian 6.1
//! vmlinux, 256 MiB, gzip initrd) created with `xl -vvv create` on Xen 4.17. The kernel
//! is rebuilt from the log's program headers and notes, the ramdisk from its gunzip line;
//! every number asserted below comes from the log.

use super::pv::*;
use crate::image::Compression;
use crate::mem_target::MemTarget;
use crate::testutil::{self, Desc, ElfBuilder, Load, NotePlace};
use crate::{Kernel, load_ramdisk};

/// `parse_kernel` for tests that build the image in a temporary.
fn parse_kernel(bytes: &[u8]) -> Result<Kernel<'static>, crate::ImageError> {
    crate::parse_kernel(bytes).and_then(Kernel::into_owned)
}

const LOG: &str = include_str!("../../testdata/xl-4.17-pv-vvv-create.log");
const XEN_4_17: (u32, u32) = (4, 17);

/// The log's messages, without the `domainbuilder: detail: ` / `xc: detail: ` prefixes.
fn messages() -> impl Iterator<Item = &'static str> {
    LOG.lines().filter(|l| !l.starts_with('#')).filter_map(|l| {
        l.strip_prefix("domainbuilder: detail: ")
            .or_else(|| l.strip_prefix("xc: detail: "))
    })
}

/// The one message starting with `prefix`, with the prefix removed.
fn message(prefix: &str) -> &'static str {
    let found: Vec<&str> = messages().filter_map(|m| m.strip_prefix(prefix)).collect();
    assert_eq!(found.len(), 1, "log lines starting with {prefix:?}");
    found[0]
}

fn hex(s: &str) -> u64 {
    let digits = s.trim().trim_start_matches("0x");
    u64::from_str_radix(digits, 16).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

fn number(s: &str) -> u64 {
    let s = s.trim();
    if s.starts_with("0x") {
        hex(s)
    } else {
        s.parse().unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }
}

/// The hex numbers of `s`, in order.
fn hex_numbers(s: &str) -> Vec<u64> {
    s.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| w.starts_with("0x"))
        .map(hex)
        .collect()
}

/// `xc_dom_alloc_segment` of `name`: (vstart, vend, pfn, pages).
fn segment(name: &str) -> (u64, u64, u64, u64) {
    let line = message(&format!("xc_dom_alloc_segment:   {name:<12} : "));
    let n = hex_numbers(line);
    assert_eq!(n.len(), 4, "{line}");
    (n[0], n[1], n[2], n[3])
}

/// `xc_dom_alloc_page` of `name`: (vaddr, pfn).
fn page(name: &str) -> (u64, u64) {
    let line = message(&format!("xc_dom_alloc_page   :   {name:<12} : "));
    let n = hex_numbers(line);
    assert_eq!(n.len(), 2, "{line}");
    (n[0], n[1])
}

/// The lines `describe` reproduces, in log order.
fn layout_lines() -> Vec<&'static str> {
    messages()
        .filter(|m| {
            [
                "xc_dom_alloc_segment:",
                "xc_dom_alloc_page   :",
                "count_pgtables:",
            ]
            .iter()
            .any(|p| m.starts_with(p))
                || m.starts_with("xc_dom_build_image  : virt_")
        })
        .collect()
}

/// (type, descriptor width in bytes) of a note as libelf names it; 0 = string.
fn note_kind(name: &str) -> (u32, usize) {
    match name {
        "ENTRY" => (1, 8),
        "HYPERCALL_PAGE" => (2, 8),
        "VIRT_BASE" => (3, 8),
        "PADDR_OFFSET" => (4, 8),
        "XEN_VERSION" => (5, 0),
        "GUEST_OS" => (6, 0),
        "GUEST_VERSION" => (7, 0),
        "LOADER" => (8, 0),
        "PAE_MODE" => (9, 0),
        "FEATURES" => (10, 0),
        "HV_START_LOW" => (12, 8),
        "SUSPEND_CANCEL" => (14, 4),
        "INIT_P2M" => (15, 8),
        "MOD_START_PFN" => (16, 4),
        "SUPPORTED_FEATURES" => (17, 4),
        "PHYS32_ENTRY" => (18, 4),
        other => panic!("note {other} is not handled here"),
    }
}

/// The notes libelf printed (`ELF: note: NAME = value`, or `unknown (0xN)` for types it
/// does not name, whose value it does not print).
fn logged_notes() -> Vec<(&'static str, u32, Desc)> {
    messages()
        .filter_map(|m| m.strip_prefix("ELF: note: "))
        .map(|note| {
            if let Some(kind) = note.strip_prefix("unknown (") {
                let kind = hex(kind.trim_end_matches(')')) as u32;
                // L1_MFN_VALID as Linux writes it: a mask and a value.
                assert_eq!(kind, 13, "{note}");
                return (
                    "Xen",
                    kind,
                    Desc::Raw([1u64, 1].map(u64::to_le_bytes).concat()),
                );
            }
            let (name, value) = note.split_once(" = ").unwrap();
            let (kind, width) = note_kind(name);
            let desc = match width {
                0 => Desc::Str(value.trim_matches('"')),
                4 => Desc::Num32(number(value) as u32),
                _ => Desc::Num(number(value)),
            };
            ("Xen", kind, desc)
        })
        .collect()
}

/// An ELF with the logged program headers (a page of file bytes each, the rest bss) and
/// notes.
fn logged_kernel() -> Kernel<'static> {
    let notes = logged_notes();
    let virt_base = notes
        .iter()
        .find_map(|(_, k, d)| match (k, d) {
            (3, Desc::Num(v)) => Some(*v),
            _ => None,
        })
        .unwrap();
    let entry = hex(message("    virt_entry       = "));
    let loads = messages()
        .filter_map(|m| m.strip_prefix("ELF: phdr: "))
        .enumerate()
        .map(|(i, phdr)| {
            let paddr = hex(phdr
                .strip_prefix("paddr=")
                .unwrap()
                .split(' ')
                .next()
                .unwrap());
            let memsz = hex(phdr.split("memsz=").nth(1).unwrap());
            Load {
                paddr,
                vaddr: virt_base + paddr,
                data: vec![0x11 * (i as u8 + 1); 4096],
                memsz,
                flags: 7,
            }
        })
        .collect();
    let b = ElfBuilder {
        class64: true,
        machine: 62,
        entry,
        loads,
        notes,
        note_place: NotePlace::Segment,
    };
    parse_kernel(&b.build()).unwrap()
}

/// A gzip file whose trailer gives the size libxenguest's logged gunzip buffer was made
/// for (buffer − 16), and its contents.
fn logged_gzip_ramdisk() -> (Vec<u8>, Vec<u8>, u64, u64) {
    let line = message("xc_dom_do_gunzip: unzip ok, ");
    let (file_len, buffer) = (hex_numbers(line)[0], hex_numbers(line)[1]);
    let contents: Vec<u8> = (0..buffer - 16)
        .map(|i| (i / 512 % 251) as u8 ^ (i % 7) as u8)
        .collect();
    let gz = testutil::compress(Compression::Gzip, &contents);
    (gz, contents, file_len, buffer)
}

fn request(nr_pages: u64, ramdisk_len: u64, xen_version: (u32, u32)) -> PvRequest {
    PvRequest {
        nr_pages,
        ramdisk_len,
        cmdline: "console=hvc0 rdinit=/init".to_string(),
        store_evtchn: 1,
        console_evtchn: 2,
        xenstore_domid: 0,
        console_domid: 0,
        domid: 1,
        xen_version,
    }
}

fn logged_nr_pages() -> u64 {
    let line = message("xc_dom_mem_init: mem ");
    hex(line
        .split("pages ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap())
}

#[test]
fn kernel_matches_what_libelf_read() {
    let k = logged_kernel();
    let memory = hex_numbers(message("ELF: memory: "));
    assert_eq!((k.paddr_start(), k.paddr_end()), (memory[0], memory[1]));
    assert_eq!(k.virt_base(), hex(message("    virt_base        = ")));
    assert_eq!(k.paddr_offset(), hex(message("    elf_paddr_offset = ")));
    assert_eq!(k.virt_kstart(), hex(message("    virt_kstart      = ")));
    assert_eq!(k.virt_kend(), hex(message("    virt_kend        = ")));
    assert_eq!(k.entry(), hex(message("    virt_entry       = ")));
    assert_eq!(k.init_p2m(), Some(hex(message("    p2m_base         = "))));
    assert!(k.unmapped_initrd());
    // This Linux has no hypercall page (libelf prints every note it knows).
    assert!(!LOG.contains("HYPERCALL_PAGE"));
    assert_eq!(k.hypercall_page(), None);
}

/// 4.17 gunzips the initrd into a buffer 16 bytes larger than the gzip trailer says, and
/// that buffer is the module's size; 4.20 loads the file as it is.
#[test]
fn ramdisk_is_loaded_as_4_17_and_4_20_do() {
    let (gz, contents, logged_file_len, buffer) = logged_gzip_ramdisk();
    assert_eq!((logged_file_len, buffer), (0x10_ce17, 0x1e_e810));
    let loaded = load_ramdisk(&gz, XEN_4_17).unwrap();
    assert_eq!(loaded.len() as u64, buffer);
    assert_eq!(&loaded[..contents.len()], &contents[..]);
    assert!(loaded[contents.len()..].iter().all(|&b| b == 0));
    let raw = load_ramdisk(&gz, (4, 20)).unwrap();
    assert!(matches!(raw, std::borrow::Cow::Borrowed(_)));
    assert_eq!(&raw[..], &gz[..]);
}

#[test]
fn layout_matches_the_real_xl_line_for_line() {
    let k = logged_kernel();
    let (gz, _, _, buffer) = logged_gzip_ramdisk();
    let loaded = load_ramdisk(&gz, XEN_4_17).unwrap();
    let nr_pages = logged_nr_pages();
    assert_eq!(nr_pages, 0x1_0000);
    let plan = plan_pv(&k, &request(nr_pages, loaded.len() as u64, XEN_4_17)).unwrap();
    let ours = plan.describe();
    assert_eq!(ours.lines().collect::<Vec<_>>(), layout_lines());

    // The same numbers, field by field.
    let seg = |s: &crate::Segment| (s.vstart, s.vend, s.pfn, s.pages);
    assert_eq!(seg(&plan.kernel), segment("kernel"));
    assert_eq!(plan.kernel.vstart, k.virt_kstart());
    assert_eq!(seg(&plan.pgtables), segment("page tables"));
    let rd = plan.ramdisk.as_ref().unwrap();
    assert_eq!(seg(&rd.segment), segment("module0"));
    assert_eq!(rd.len, buffer);
    assert!(!rd.mapped);
    assert_eq!(seg(&plan.p2m), segment("phys2mach"));
    for (name, pfn) in [
        ("start info", plan.start_info_pfn),
        ("xenstore", plan.xenstore_pfn),
        ("console", plan.console_pfn),
        ("boot stack", plan.bootstack_pfn),
    ] {
        let (vaddr, logged_pfn) = page(name);
        assert_eq!((plan.vaddr_of(pfn), pfn), (vaddr, logged_pfn), "{name}");
    }
    let end = |what: &str| hex(message(&format!("xc_dom_build_image  : {what} : ")));
    assert_eq!(plan.virt_pgtab_end, end("virt_pgtab_end"));
    assert_eq!(plan.vaddr_of(plan.bootstack_pfn + 1), end("virt_alloc_end"));
    let (pt_pfn, pt_pages) = (segment("page tables").2, segment("page tables").3);
    assert_eq!((plan.l4_pfn(), plan.nr_pt_frames()), (pt_pfn, pt_pages));
    assert!(plan.p2m_at_init_p2m);
    assert_eq!(plan.p2m_vaddr, hex(message("    p2m_base         = ")));
    // The unmapped initrd is passed by pfn with a page-rounded length.
    assert_eq!(plan.flags, 8);
    assert_eq!(plan.mod_start, segment("module0").2);
    assert_eq!(plan.mod_len, segment("module0").3 * 4096);
}

#[test]
fn built_state_matches_the_real_xl() {
    let k = logged_kernel();
    let (gz, contents, _, _) = logged_gzip_ramdisk();
    let loaded = load_ramdisk(&gz, XEN_4_17).unwrap();
    let plan = plan_pv(
        &k,
        &request(logged_nr_pages(), loaded.len() as u64, XEN_4_17),
    )
    .unwrap();
    let mut t = MemTarget::new();
    let built = apply_pv(&plan, &k, &loaded, &mut t).unwrap();

    let cr3 = message("vcpu_x86_64: cr3: ");
    let (cr3_pfn, cr3_mfn) = (hex_numbers(cr3)[0], hex_numbers(cr3)[1]);
    assert_eq!(built.l4_pfn, cr3_pfn);
    assert_eq!(built.vcpu.cr3, MemTarget::mfn_of(cr3_pfn) << 12);
    assert_eq!(built.hypercall_mfn, None);

    // The logged grant frames are MFNs of the real domain. The magic pages share the L4's
    // 2 MiB extent, which Xen populates contiguously, so its mfn − pfn turns them back
    // into pfns.
    let extent = |pfn: u64| pfn >> 9;
    let logged_grants: Vec<(u32, u16, u64)> = messages()
        .filter_map(|m| m.strip_prefix("xc_dom_set_gnttab_entry: "))
        .map(|g| {
            let gref = g.split("gnt[").nth(1).unwrap().split(']').next().unwrap();
            let domid = g.split("-> d").nth(1).unwrap().split(' ').next().unwrap();
            let pfn = hex(g.rsplit(' ').next().unwrap()) - (cr3_mfn - cr3_pfn);
            assert_eq!(extent(pfn), extent(cr3_pfn));
            (
                gref.parse().unwrap(),
                domid.parse().unwrap(),
                MemTarget::mfn_of(pfn),
            )
        })
        .collect();
    let ours: Vec<(u32, u16, u64)> = built
        .grants
        .iter()
        .map(|g| (g.gref, g.domid, g.frame))
        .collect();
    assert_eq!(ours, logged_grants);
    assert_eq!(
        logged_grants,
        [
            (0, 0, MemTarget::mfn_of(page("console").1)),
            (1, 0, MemTarget::mfn_of(page("xenstore").1)),
        ]
    );

    // The gunzipped initrd is in the guest at the module's pfn, the slack zeroed.
    let module = segment("module0").2;
    assert_eq!(built.start_info.mod_start, module);
    let first = t.read(MemTarget::mfn_of(module), 0, 4096);
    assert_eq!(first, contents[..4096]);
    let last_pfn = module + contents.len() as u64 / 4096;
    let tail = t.read(MemTarget::mfn_of(last_pfn), 0, 4096);
    let in_last = contents.len() % 4096;
    assert_eq!(tail[..in_last], contents[contents.len() - in_last..]);
    assert!(tail[in_last..].iter().all(|&b| b == 0));
}

/// On 4.20 the same guest gets the compressed file: a smaller module0, and the p2m list
/// right after it.
#[test]
fn on_4_20_the_module_is_the_compressed_file() {
    let k = logged_kernel();
    let (gz, _, _, _) = logged_gzip_ramdisk();
    let loaded = load_ramdisk(&gz, (4, 20)).unwrap();
    let plan = plan_pv(
        &k,
        &request(logged_nr_pages(), loaded.len() as u64, (4, 20)),
    )
    .unwrap();
    let rd = plan.ramdisk.as_ref().unwrap();
    let (_, _, module_pfn, _) = segment("module0");
    let pages = (gz.len() as u64).div_ceil(4096);
    assert_eq!((rd.segment.pfn, rd.segment.pages), (module_pfn, pages));
    assert_eq!(rd.segment.vend - rd.segment.vstart, gz.len() as u64);
    assert_eq!(plan.p2m.pfn, module_pfn + pages);
    assert_eq!(plan.p2m.pages, segment("phys2mach").3);
    // Everything before the module is as on 4.17.
    let before_module: Vec<&str> = layout_lines()
        .into_iter()
        .take_while(|l| !l.contains("module0"))
        .collect();
    let ours = plan.describe();
    assert_eq!(
        ours.lines().take(before_module.len()).collect::<Vec<_>>(),
        before_module
    );
}
