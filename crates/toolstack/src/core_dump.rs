//! libxc's core file of a domain (`xl dump-core`): an ELF64 `ET_CORE` file
//! with section headers only, in the order and layout libxc writes them
//! (Xen's docs/misc/dump-core-format.txt): the ELF header, the section
//! headers, `.note.Xen` (the none, header, xen_version and format_version
//! notes), `.xen_prstatus` (each vCPU's `vcpu_guest_context`),
//! `.xen_shared_info` when the page maps, padding to a page, `.xen_pages`,
//! `.xen_p2m` (PV: pfn/gmfn pairs) or `.xen_pfn` (translated guests), and
//! the section name table.
//!
//! The structures are object's `elf` definitions written with its `pod`
//! helpers rather than its `write::elf::Writer`: that writer lays out its
//! own (sorted, tail-merged) name table, where libxc's names sit in the
//! order the sections were made, so headers written by it could not equal
//! libxc's byte for byte.

use std::io::Write;

use object::LittleEndian as LE;
use object::elf::{self, FileHeader64, SectionHeader64};
use object::pod::bytes_of;

use crate::Error;

/// The page size dumps are written in, in bytes.
pub const PAGE_SIZE: usize = 4096;
/// The machine of 64-bit guests' core files.
pub const EM_X86_64: u16 = elf::EM_X86_64;
/// `sizeof(vcpu_guest_context_any_t)` on x86: the 64-bit context, the
/// larger member of the union.
pub const VCPU_CONTEXT_SIZE: usize = 5168;
/// `XC_CORE_MAGIC` (PV) and `XC_CORE_MAGIC_HVM` (HVM and PVH).
const MAGIC_PV: u64 = 0xF00F_EBED;
const MAGIC_HVM: u64 = 0xF00F_EBEE;
/// `XEN_ELFNOTE_DUMPCORE_*` (Xen's public elfnote.h).
const NOTE_NONE: u32 = 0x200_0000;
const NOTE_HEADER: u32 = 0x200_0001;
const NOTE_XEN_VERSION: u32 = 0x200_0002;
const NOTE_FORMAT_VERSION: u32 = 0x200_0003;
/// Format version 0.1 (major in the high 32 bits).
const FORMAT_VERSION: u64 = 1;
const HEADER_SIZE: usize = 64;
const SECTION_HEADER_SIZE: usize = 64;
/// An `elfnote` header: namesz, descsz, type and "Xen\0".
const NOTE_HEAD: usize = 16;
/// `xen_dumpcore_elfnote_xen_version_desc`: two u64, extraversion (16),
/// compile_info (144), capabilities (1024), changeset (64), platform
/// parameters (8) and the page size (u64).
pub const XEN_VERSION_DESC_SIZE: usize = 8 + 8 + 16 + 144 + 1024 + 64 + 8 + 8;
/// Pages written at once, as libxc batches them.
const WRITE_BATCH: usize = 4096;
/// Invalid pfn/gmfn: what pads the tables when fewer pages were found
/// than the domain has.
const INVALID: u64 = !0;

/// Why a core file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The core file could not be written.
    #[error("writing the core file")]
    Write(#[source] std::io::Error),
    /// A piece of guest state of the wrong size.
    #[error("{what} is {got} bytes, expected {want}")]
    Size {
        /// What it is.
        what: &'static str,
        /// Its size, in bytes.
        got: usize,
        /// The size expected, in bytes.
        want: usize,
    },
    /// Not one vCPU's context could be read.
    #[error("no vCPU context could be read")]
    NoVcpus,
}

/// What `XENVER_*` answered, as the xen_version note holds it: each buffer
/// as Xen filled it (shorter ones are padded with zeros).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct XenVersionNote {
    /// Xen's major version.
    pub major: u64,
    /// Xen's minor version.
    pub minor: u64,
    /// XENVER_extraversion.
    pub extraversion: Vec<u8>,
    /// XENVER_compile_info.
    pub compile_info: Vec<u8>,
    /// XENVER_capabilities.
    pub capabilities: Vec<u8>,
    /// XENVER_changeset.
    pub changeset: Vec<u8>,
    /// XENVER_platform_parameters.
    pub platform_parameters: Vec<u8>,
    /// XENVER_pagesize.
    pub pagesize: u64,
}

impl XenVersionNote {
    fn desc(&self) -> Vec<u8> {
        let mut d = Vec::with_capacity(XEN_VERSION_DESC_SIZE);
        d.extend_from_slice(&self.major.to_le_bytes());
        d.extend_from_slice(&self.minor.to_le_bytes());
        for (field, len) in [
            (&self.extraversion, 16),
            (&self.compile_info, 144),
            (&self.capabilities, 1024),
            (&self.changeset, 64),
            (&self.platform_parameters, 8),
        ] {
            let start = d.len();
            d.extend(field.iter().take(len));
            d.resize(start + len, 0);
        }
        d.extend_from_slice(&self.pagesize.to_le_bytes());
        d
    }
}

/// How the dump names its pages: PV guests by (pfn, machine frame) pairs
/// in `.xen_p2m`, translated guests (HVM, PVH) by pfn in `.xen_pfn`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageNaming {
    /// PV: (pfn, machine frame) pairs in `.xen_p2m`.
    P2m,
    /// HVM, PVH: pfns in `.xen_pfn`.
    Pfn,
}

/// Everything of the dump but its pages.
#[derive(Clone, Debug)]
pub struct CoreHead {
    /// `e_machine`: `EM_X86_64` (or `EM_386` for a 32-bit PV guest).
    pub machine: u16,
    /// HVM or PVH (the header note's magic).
    pub hvm: bool,
    /// How its pages are named.
    pub naming: PageNaming,
    /// Each vCPU's context whose read succeeded, `VCPU_CONTEXT_SIZE` bytes.
    pub vcpus: Vec<Vec<u8>>,
    /// The shared info page, when it could be mapped.
    pub shared_info: Option<Vec<u8>>,
    /// The hypervisor's version note.
    pub xen_version: XenVersionNote,
    /// The pages the domain had when the dump began: the section holds
    /// exactly this many (extra pages found are left out, missing ones
    /// become zero pages with invalid table entries), as libxc does.
    pub nr_pages: u64,
}

/// Where the page walk puts the pages it finds.
pub struct PageSink<'a> {
    out: &'a mut dyn Write,
    naming: PageNaming,
    nr_pages: u64,
    found: u64,
    table: Vec<u8>,
    buf: Vec<u8>,
}

impl PageSink<'_> {
    /// Add the page of `pfn` (held in machine frame `gmfn`; for translated
    /// guests the same number). Past the domain's page count it is only
    /// counted.
    pub fn page(&mut self, pfn: u64, gmfn: u64, bytes: &[u8]) -> Result<(), CoreError> {
        if bytes.len() != PAGE_SIZE {
            return Err(CoreError::Size {
                what: "a guest page",
                got: bytes.len(),
                want: PAGE_SIZE,
            });
        }
        self.found += 1;
        if self.found > self.nr_pages {
            return Ok(());
        }
        self.table.extend_from_slice(&pfn.to_le_bytes());
        if self.naming == PageNaming::P2m {
            self.table.extend_from_slice(&gmfn.to_le_bytes());
        }
        self.buf.extend_from_slice(bytes);
        if self.buf.len() >= WRITE_BATCH * PAGE_SIZE {
            self.flush()?;
        }
        Ok(())
    }

    /// Pages taken so far (including any past the domain's count).
    pub fn found(&self) -> u64 {
        self.found
    }

    fn flush(&mut self) -> Result<(), CoreError> {
        self.out.write_all(&self.buf).map_err(CoreError::Write)?;
        self.buf.clear();
        Ok(())
    }

    /// Zero pages and invalid entries for the pages not found, then the
    /// table.
    fn finish(mut self) -> Result<(), CoreError> {
        self.flush()?;
        let zero = [0u8; PAGE_SIZE];
        let entry = match self.naming {
            PageNaming::P2m => 2,
            PageNaming::Pfn => 1,
        };
        for _ in self.found..self.nr_pages {
            self.out.write_all(&zero).map_err(CoreError::Write)?;
            for _ in 0..entry {
                self.table.extend_from_slice(&INVALID.to_le_bytes());
            }
        }
        self.out.write_all(&self.table).map_err(CoreError::Write)
    }
}

/// One section: its name and header fields.
struct Section {
    name: &'static str,
    kind: u32,
    offset: u64,
    size: u64,
    align: u64,
    entsize: u64,
}

/// Where everything goes, computed before a byte is written.
struct Layout {
    sections: Vec<Section>,
    names: Vec<u8>,
    name_at: Vec<u32>,
    padding: usize,
}

/// Sections placed one after the other from `at`.
struct Placer {
    sections: Vec<Section>,
    at: u64,
}

impl Placer {
    fn add(&mut self, name: &'static str, kind: u32, size: u64, align: u64, entsize: u64) {
        self.sections.push(Section {
            name,
            kind,
            offset: self.at,
            size,
            align,
            entsize,
        });
        self.at += size;
    }
}

fn layout(head: &CoreHead) -> Layout {
    let page = PAGE_SIZE as u64;
    let notes = (4 * NOTE_HEAD + 32 + XEN_VERSION_DESC_SIZE + 8) as u64;
    let prstatus = (head.vcpus.len() * VCPU_CONTEXT_SIZE) as u64;
    let count = 6 + usize::from(head.shared_info.is_some());
    let mut p = Placer {
        sections: vec![Section {
            name: "",
            kind: elf::SHT_NULL,
            offset: 0,
            size: 0,
            align: 0,
            entsize: 0,
        }],
        at: (HEADER_SIZE + count * SECTION_HEADER_SIZE) as u64,
    };
    // The name table's place is known last; it goes at the end.
    p.add(".shstrtab", elf::SHT_STRTAB, 0, 0, 0);
    p.add(".note.Xen", elf::SHT_NOTE, notes, 0, 0);
    let vcpu = VCPU_CONTEXT_SIZE as u64;
    p.add(".xen_prstatus", elf::SHT_PROGBITS, prstatus, 8, vcpu);
    if head.shared_info.is_some() {
        p.add(".xen_shared_info", elf::SHT_PROGBITS, page, 8, page);
    }
    let padding = (p.at.next_multiple_of(page) - p.at) as usize;
    p.at += padding as u64;
    let pages = head.nr_pages * page;
    p.add(".xen_pages", elf::SHT_PROGBITS, pages, page, page);
    match head.naming {
        PageNaming::P2m => p.add(".xen_p2m", elf::SHT_PROGBITS, head.nr_pages * 16, 8, 16),
        PageNaming::Pfn => p.add(".xen_pfn", elf::SHT_PROGBITS, head.nr_pages * 8, 8, 8),
    }
    let mut sections = p.sections;
    let mut names = vec![0u8];
    let mut name_at = vec![0u32];
    for s in &sections[1..] {
        name_at.push(names.len() as u32);
        names.extend_from_slice(s.name.as_bytes());
        names.push(0);
    }
    sections[1].offset = p.at;
    sections[1].size = names.len() as u64;
    Layout {
        sections,
        names,
        name_at,
        padding,
    }
}

fn file_header(head: &CoreHead, sections: usize) -> FileHeader64<LE> {
    let e = LE;
    let ident = elf::Ident {
        magic: elf::ELFMAG,
        class: elf::ELFCLASS64,
        data: elf::ELFDATA2LSB,
        version: elf::EV_CURRENT,
        os_abi: elf::ELFOSABI_SYSV,
        // libxc sets the ABI version to EV_CURRENT too.
        abi_version: elf::EV_CURRENT,
        padding: [0; 7],
    };
    FileHeader64 {
        e_ident: ident,
        e_type: object::U16::new(e, elf::ET_CORE),
        e_machine: object::U16::new(e, head.machine),
        e_version: object::U32::new(e, u32::from(elf::EV_CURRENT)),
        e_entry: object::U64::new(e, 0),
        e_phoff: object::U64::new(e, 0),
        e_shoff: object::U64::new(e, HEADER_SIZE as u64),
        e_flags: object::U32::new(e, 0),
        e_ehsize: object::U16::new(e, HEADER_SIZE as u16),
        // sizeof(Elf64_Phdr), though there are none.
        e_phentsize: object::U16::new(e, 56),
        e_phnum: object::U16::new(e, 0),
        e_shentsize: object::U16::new(e, SECTION_HEADER_SIZE as u16),
        e_shnum: object::U16::new(e, sections as u16),
        e_shstrndx: object::U16::new(e, 1),
    }
}

fn section_header(s: &Section, name: u32) -> SectionHeader64<LE> {
    let e = LE;
    SectionHeader64 {
        sh_name: object::U32::new(e, name),
        sh_type: object::U32::new(e, s.kind),
        sh_flags: object::U64::new(e, 0),
        sh_addr: object::U64::new(e, 0),
        sh_offset: object::U64::new(e, s.offset),
        sh_size: object::U64::new(e, s.size),
        sh_link: object::U32::new(e, 0),
        sh_info: object::U32::new(e, 0),
        sh_addralign: object::U64::new(e, s.align),
        sh_entsize: object::U64::new(e, s.entsize),
    }
}

fn note(out: &mut Vec<u8>, kind: u32, desc: &[u8]) {
    out.extend_from_slice(&4u32.to_le_bytes());
    out.extend_from_slice(&(desc.len() as u32).to_le_bytes());
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(b"Xen\0");
    out.extend_from_slice(desc);
}

fn notes(head: &CoreHead) -> Vec<u8> {
    let mut n = Vec::new();
    note(&mut n, NOTE_NONE, &[]);
    let mut header = Vec::with_capacity(32);
    let magic = if head.hvm { MAGIC_HVM } else { MAGIC_PV };
    for v in [
        magic,
        head.vcpus.len() as u64,
        head.nr_pages,
        PAGE_SIZE as u64,
    ] {
        header.extend_from_slice(&v.to_le_bytes());
    }
    note(&mut n, NOTE_HEADER, &header);
    note(&mut n, NOTE_XEN_VERSION, &head.xen_version.desc());
    note(&mut n, NOTE_FORMAT_VERSION, &FORMAT_VERSION.to_le_bytes());
    n
}

fn check_head(head: &CoreHead) -> Result<(), CoreError> {
    if head.vcpus.is_empty() {
        return Err(CoreError::NoVcpus);
    }
    if let Some(v) = head.vcpus.iter().find(|v| v.len() != VCPU_CONTEXT_SIZE) {
        return Err(CoreError::Size {
            what: "a vCPU context",
            got: v.len(),
            want: VCPU_CONTEXT_SIZE,
        });
    }
    if let Some(s) = head.shared_info.as_ref().filter(|s| s.len() != PAGE_SIZE) {
        return Err(CoreError::Size {
            what: "the shared info page",
            got: s.len(),
            want: PAGE_SIZE,
        });
    }
    Ok(())
}

/// Write the core file: headers, notes, vCPUs and shared info, then the
/// pages `walk` hands the sink (in pfn order), the table naming them and
/// the section names.
pub fn write_core(
    out: &mut dyn Write,
    head: &CoreHead,
    walk: impl FnOnce(&mut PageSink<'_>) -> Result<(), Error>,
) -> Result<(), Error> {
    check_head(head)?;
    let lay = layout(head);
    let mut front = Vec::new();
    front.extend_from_slice(bytes_of(&file_header(head, lay.sections.len())));
    for (s, name) in lay.sections.iter().zip(&lay.name_at) {
        front.extend_from_slice(bytes_of(&section_header(s, *name)));
    }
    front.extend(notes(head));
    for v in &head.vcpus {
        front.extend_from_slice(v);
    }
    if let Some(s) = &head.shared_info {
        front.extend_from_slice(s);
    }
    front.resize(front.len() + lay.padding, 0);
    out.write_all(&front).map_err(CoreError::Write)?;
    let mut sink = PageSink {
        out: &mut *out,
        naming: head.naming,
        nr_pages: head.nr_pages,
        found: 0,
        table: Vec::new(),
        buf: Vec::new(),
    };
    walk(&mut sink)?;
    let found = sink.found();
    if found > head.nr_pages {
        crate::trace::info(|| {
            format!(
                "dump-core: {} pages found past the domain's {}, left out",
                found - head.nr_pages,
                head.nr_pages
            )
        });
    }
    sink.finish()?;
    out.write_all(&lay.names).map_err(CoreError::Write)?;
    out.flush().map_err(CoreError::Write)?;
    Ok(())
}

/// Hands each page of a batch that mapped (its index, its bytes) on.
pub type PageTaker<'a> = dyn FnMut(usize, &[u8]) -> Result<(), CoreError> + 'a;
/// Maps a batch of frames and calls the taker with each page that mapped.
pub type BatchReader<'a> = dyn FnMut(&[u64], &mut PageTaker<'_>) -> Result<(), Error> + 'a;

/// PV and translated guests' page walks share this: `candidates` pfns in
/// order with the frame to map each from; `read` maps a batch and calls
/// back with each page that mapped. Batches bound what is mapped at once.
pub fn walk_batches(
    sink: &mut PageSink<'_>,
    candidates: impl Iterator<Item = (u64, u64)>,
    read: &mut BatchReader<'_>,
) -> Result<(), Error> {
    const BATCH: usize = 1024;
    let mut batch: Vec<(u64, u64)> = Vec::with_capacity(BATCH);
    let mut candidates = candidates.peekable();
    while candidates.peek().is_some() {
        batch.clear();
        batch.extend(candidates.by_ref().take(BATCH));
        let frames: Vec<u64> = batch.iter().map(|(_, f)| *f).collect();
        read(&frames, &mut |i, page| {
            let (pfn, frame) = batch[i];
            sink.page(pfn, frame, page)
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use object::read::elf::{ElfFile64, FileHeader, SectionHeader};
    use object::{Object, ObjectSection};

    fn head(naming: PageNaming, nr_pages: u64, shinfo: bool) -> CoreHead {
        CoreHead {
            machine: elf::EM_X86_64,
            hvm: naming == PageNaming::Pfn,
            naming,
            vcpus: vec![vec![0xa5; VCPU_CONTEXT_SIZE], vec![0x5a; VCPU_CONTEXT_SIZE]],
            shared_info: shinfo.then(|| vec![7; PAGE_SIZE]),
            xen_version: XenVersionNote {
                major: 4,
                minor: 17,
                extraversion: b".5-deb\0".to_vec(),
                compile_info: b"gcc\0".to_vec(),
                capabilities: b"xen-3.0-x86_64 hvm-3.0-x86_64\0".to_vec(),
                changeset: b"\0".to_vec(),
                platform_parameters: 0xffff_8000_0000_0000u64.to_le_bytes().to_vec(),
                pagesize: 4096,
            },
            nr_pages,
        }
    }

    fn dump(head: &CoreHead, pages: &[(u64, u64, u8)]) -> Vec<u8> {
        let mut out = Vec::new();
        write_core(&mut out, head, |sink| {
            for (pfn, gmfn, fill) in pages {
                sink.page(*pfn, *gmfn, &[*fill; PAGE_SIZE])?;
            }
            Ok(())
        })
        .unwrap();
        out
    }

    fn section<'a>(f: &'a ElfFile64<'a, LE>, name: &str) -> (u64, &'a [u8]) {
        let s = f.section_by_name(name).unwrap_or_else(|| panic!("{name}"));
        (s.file_range().unwrap().0, s.data().unwrap())
    }

    fn u64s(b: &[u8]) -> Vec<u64> {
        b.chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
            .collect()
    }

    /// A PV dump read back by object's ELF reader: libxc's sections in its
    /// order, the notes, the p2m pairs, pages on a page boundary.
    #[test]
    fn pv_core_reads_back_as_libxc_lays_it_out() {
        let h = head(PageNaming::P2m, 3, true);
        let bytes = dump(&h, &[(0, 0x1234, 1), (2, 0x99, 2), (5, 0x42, 3)]);
        let f = ElfFile64::<LE>::parse(&bytes[..]).unwrap();
        let eh = f.elf_header();
        assert_eq!(eh.e_type(LE), elf::ET_CORE);
        assert_eq!(eh.e_machine(LE), elf::EM_X86_64);
        assert_eq!(eh.e_ident().abi_version, elf::EV_CURRENT);
        // object's iterator leaves out the null section.
        assert_eq!(eh.e_shnum(LE), 7);
        let names: Vec<&str> = f.sections().map(|s| s.name().unwrap()).collect();
        assert_eq!(
            names,
            [
                ".shstrtab",
                ".note.Xen",
                ".xen_prstatus",
                ".xen_shared_info",
                ".xen_pages",
                ".xen_p2m"
            ]
        );
        let (note_at, notes) = section(&f, ".note.Xen");
        assert_eq!(note_at, 64 + 7 * 64);
        assert_eq!(notes.len(), 16 + 48 + 16 + XEN_VERSION_DESC_SIZE + 24);
        let nh = f.section_by_name(".note.Xen").unwrap();
        let elf_sec = f.elf_section_table().section(nh.index()).unwrap();
        let mut it = elf_sec.notes(LE, &bytes[..]).unwrap().unwrap();
        let mut got = Vec::new();
        while let Some(n) = it.next().unwrap() {
            assert_eq!(n.name(), b"Xen");
            got.push((n.n_type(LE), n.desc().to_vec()));
        }
        assert_eq!(got.len(), 4);
        assert_eq!(got[0], (NOTE_NONE, vec![]));
        assert_eq!(got[1].0, NOTE_HEADER);
        assert_eq!(u64s(&got[1].1), [MAGIC_PV, 2, 3, 4096]);
        assert_eq!(got[2].0, NOTE_XEN_VERSION);
        assert_eq!(got[2].1.len(), XEN_VERSION_DESC_SIZE);
        assert_eq!(u64s(&got[2].1[..16]), [4, 17]);
        assert_eq!(&got[2].1[16..22], b".5-deb");
        assert_eq!(u64s(&got[2].1[XEN_VERSION_DESC_SIZE - 8..]), [4096]);
        assert_eq!(got[3], (NOTE_FORMAT_VERSION, 1u64.to_le_bytes().to_vec()));
        let (_, pr) = section(&f, ".xen_prstatus");
        assert_eq!(pr.len(), 2 * VCPU_CONTEXT_SIZE);
        assert!(pr[..VCPU_CONTEXT_SIZE].iter().all(|b| *b == 0xa5));
        let (pages_at, pages) = section(&f, ".xen_pages");
        assert_eq!(pages_at % PAGE_SIZE as u64, 0);
        assert_eq!(pages.len(), 3 * PAGE_SIZE);
        assert_eq!(
            (pages[0], pages[PAGE_SIZE], pages[2 * PAGE_SIZE]),
            (1, 2, 3)
        );
        let (_, p2m) = section(&f, ".xen_p2m");
        assert_eq!(u64s(p2m), [0, 0x1234, 2, 0x99, 5, 0x42]);
        // The name table is last.
        let (str_at, strs) = section(&f, ".shstrtab");
        assert_eq!(str_at as usize + strs.len(), bytes.len());
        assert!(strs.starts_with(b"\0.shstrtab\0.note.Xen\0.xen_prstatus\0"));
    }

    /// A translated guest's dump with fewer pages found than it has: zero
    /// pages and invalid pfns at the end; more found: the extra left out.
    #[test]
    fn translated_core_pads_and_truncates_as_libxc() {
        let h = head(PageNaming::Pfn, 3, false);
        let bytes = dump(&h, &[(0x10, 0x10, 9)]);
        let f = ElfFile64::<LE>::parse(&bytes[..]).unwrap();
        assert!(f.section_by_name(".xen_shared_info").is_none());
        assert!(f.section_by_name(".xen_p2m").is_none());
        let (_, pfns) = section(&f, ".xen_pfn");
        assert_eq!(u64s(pfns), [0x10, INVALID, INVALID]);
        let (_, pages) = section(&f, ".xen_pages");
        assert_eq!(pages.len(), 3 * PAGE_SIZE);
        assert!(pages[..PAGE_SIZE].iter().all(|b| *b == 9));
        assert!(pages[PAGE_SIZE..].iter().all(|b| *b == 0));
        let eh = f.elf_header();
        assert_eq!(eh.e_shnum(LE), 6);

        let bytes = dump(&h, &[(1, 1, 1), (2, 2, 2), (3, 3, 3), (4, 4, 4)]);
        let f = ElfFile64::<LE>::parse(&bytes[..]).unwrap();
        assert_eq!(u64s(section(&f, ".xen_pfn").1), [1, 2, 3]);
        assert_eq!(section(&f, ".xen_pages").1.len(), 3 * PAGE_SIZE);
        let magic = &section(&f, ".note.Xen").1[16 + 16..16 + 24];
        assert_eq!(magic, MAGIC_HVM.to_le_bytes());
    }

    #[test]
    fn malformed_heads_are_refused() {
        let mut h = head(PageNaming::Pfn, 1, false);
        h.vcpus.clear();
        let mut out = Vec::new();
        let e = write_core(&mut out, &h, |_| Ok(())).unwrap_err();
        assert!(matches!(e, Error::Core(CoreError::NoVcpus)), "{e:?}");
        assert!(out.is_empty());
        h.vcpus = vec![vec![0; 10]];
        let e = write_core(&mut out, &h, |_| Ok(())).unwrap_err();
        assert!(matches!(e, Error::Core(CoreError::Size { .. })), "{e:?}");
    }
}
