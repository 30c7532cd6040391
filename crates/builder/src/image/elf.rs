//! ELF32/ELF64 little-endian x86 images: loadable segments and Xen notes.
//!
//! Only the ELF header, the program headers, the note areas and (when no note segment
//! holds Xen notes) the section headers are read, through [`ReadAt`], so a kernel file
//! need not be in memory. Every read is checked against the source's length first, and
//! the tables and note areas are capped, so header fields cannot make the builder read
//! or allocate much. `object` checks the ELF header and decodes the tables; notes are
//! walked here with the 4-byte alignment Xen uses, whatever alignment the note segment
//! claims.

use std::mem::size_of;

use object::Endianness;
use object::elf::{
    ELFCLASS32, ELFCLASS64, EM_386, EM_X86_64, FileHeader32, FileHeader64, PF_R, PF_W, PF_X,
    PN_XNUM, PT_LOAD, PT_NOTE, SHT_NOTE,
};
use object::read::elf::{FileHeader, ProgramHeader, SectionHeader};

use super::ImageError;
use super::notes::{XenNotes, parse_note_area};
use crate::source::ReadAt;

/// More loadable segments than any kernel has; bounds the work of loading.
const MAX_LOAD_SEGMENTS: usize = 1024;
/// Program headers read at most: what `e_phnum` can say without the extended count.
const MAX_PROGRAM_HEADERS: u64 = PN_XNUM as u64;
/// Section headers read at most when looking for notes in sections (4 MiB of ELF64
/// headers; a vmlinux has under a hundred).
const MAX_SECTIONS: u64 = 1 << 16;
/// Bytes of note areas read in all; Linux's notes take about a kilobyte.
const MAX_NOTE_BYTES: u64 = 16 << 20;

/// A PT_LOAD header, validated against the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LoadHeader {
    pub paddr: u64,
    /// `offset + filesz` lies inside the file.
    pub offset: u64,
    pub filesz: u64,
    pub memsz: u64,
}

/// What the builder needs from an ELF file.
#[derive(Debug)]
pub(crate) struct ElfImage {
    pub is_64bit: bool,
    pub machine: u16,
    pub entry: u64,
    pub segments: Vec<LoadHeader>,
    pub notes: XenNotes,
    pub has_xen_notes: bool,
}

impl ElfImage {
    /// [lowest paddr, highest paddr + memsz) over the loadable segments.
    pub fn paddr_range(&self) -> Result<(u64, u64), ImageError> {
        let mut range: Option<(u64, u64)> = None;
        for s in &self.segments {
            let end = s.paddr.checked_add(s.memsz).ok_or_else(|| {
                ImageError::Elf(format!(
                    "segment at {:#x} of {:#x} bytes wraps around the address space",
                    s.paddr, s.memsz
                ))
            })?;
            range = Some(match range {
                None => (s.paddr, end),
                Some((lo, hi)) => (lo.min(s.paddr), hi.max(end)),
            });
        }
        range.ok_or_else(|| ImageError::Elf("no loadable (PT_LOAD) segment".to_string()))
    }
}

pub(crate) fn is_elf(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\x7fELF")
}

pub(crate) fn parse<R: ReadAt + ?Sized>(src: &R) -> Result<ElfImage, ImageError> {
    // The larger (ELF64) header; a shorter file gives what there is, for `object` to
    // refuse.
    let want = (size_of::<FileHeader64<Endianness>>() as u64).min(src.len());
    let head = read_checked(src, 0, want)?;
    match head.get(4).copied() {
        Some(ELFCLASS64) => parse_class::<FileHeader64<Endianness>, R>(src, &head),
        Some(ELFCLASS32) => parse_class::<FileHeader32<Endianness>, R>(src, &head),
        _ => Err(ImageError::Elf("unknown ELF class".to_string())),
    }
}

fn elf_error(e: object::read::Error) -> ImageError {
    ImageError::Elf(e.to_string())
}

/// Whether `size` bytes at `offset` lie inside a source of `len` bytes.
fn in_file(len: u64, offset: u64, size: u64) -> bool {
    offset.checked_add(size).is_some_and(|end| end <= len)
}

/// `size` bytes at `offset`, which the caller has checked lie inside the source (so
/// `size` is bounded by its length) and capped.
fn read_checked<R: ReadAt + ?Sized>(
    src: &R,
    offset: u64,
    size: u64,
) -> Result<Vec<u8>, ImageError> {
    let len = usize::try_from(size)
        .map_err(|_| ImageError::Elf(format!("{size:#x} bytes do not fit in memory")))?;
    let mut buf = vec![0; len];
    src.read_exact_at(&mut buf, offset)
        .map_err(|e| super::read_failed(offset, size, &e))?;
    Ok(buf)
}

fn parse_class<Elf, R>(src: &R, head: &[u8]) -> Result<ElfImage, ImageError>
where
    Elf: FileHeader<Endian = Endianness>,
    R: ReadAt + ?Sized,
{
    let header = Elf::parse(head).map_err(elf_error)?;
    let endian = header.endian().map_err(elf_error)?;
    if endian != Endianness::Little {
        return Err(ImageError::Elf(
            "big-endian ELF is not an x86 kernel".to_string(),
        ));
    }
    let machine = header.e_machine(endian);
    if machine != EM_X86_64 && machine != EM_386 {
        return Err(ImageError::Elf(format!(
            "ELF machine {machine} is not x86 (an ELF for another architecture?)"
        )));
    }
    let table = program_header_table(header, endian, src)?;
    let phdrs: &[Elf::ProgramHeader] = object::pod::slice_from_all_bytes(&table)
        .map_err(|()| ImageError::Elf("unreadable program header table".to_string()))?;
    let segments = load_headers::<Elf>(phdrs, endian, src.len())?;
    let mut notes = XenNotes::default();
    let mut budget = MAX_NOTE_BYTES;
    let mut found = segment_notes::<Elf, R>(phdrs, endian, src, &mut budget, &mut notes)?;
    if found == 0 {
        found = section_notes(header, endian, src, &mut budget, &mut notes)?;
    }
    Ok(ElfImage {
        is_64bit: header.is_class_64(),
        machine,
        entry: header.e_entry(endian).into(),
        segments,
        notes,
        has_xen_notes: found > 0,
    })
}

/// The raw program header table (empty when there is none).
fn program_header_table<Elf, R>(
    header: &Elf,
    endian: Endianness,
    src: &R,
) -> Result<Vec<u8>, ImageError>
where
    Elf: FileHeader<Endian = Endianness>,
    R: ReadAt + ?Sized,
{
    let phoff: u64 = header.e_phoff(endian).into();
    if phoff == 0 {
        return Ok(Vec::new());
    }
    let e_phnum = header.e_phnum(endian);
    let phnum = if e_phnum < PN_XNUM {
        u64::from(e_phnum)
    } else {
        // The extended count lives in section 0.
        let section_0 = section_0(header, endian, src)?.ok_or_else(|| {
            ImageError::Elf(
                "the program header count is in section 0, but there are no section headers"
                    .to_string(),
            )
        })?;
        u64::from(section_0.sh_info(endian))
    };
    if phnum == 0 {
        return Ok(Vec::new());
    }
    let entsize = size_of::<Elf::ProgramHeader>() as u64;
    if u64::from(header.e_phentsize(endian)) != entsize {
        return Err(ImageError::Elf(format!(
            "program headers of {} bytes, expected {entsize}",
            header.e_phentsize(endian)
        )));
    }
    if phnum > MAX_PROGRAM_HEADERS {
        return Err(ImageError::Elf(format!(
            "{phnum} program headers: more than any kernel has"
        )));
    }
    let size = phnum * entsize;
    if !in_file(src.len(), phoff, size) {
        return Err(ImageError::Elf(format!(
            "the {phnum} program headers at file offset {phoff:#x} run past the end of the \
             {:#x}-byte file (truncated kernel?)",
            src.len()
        )));
    }
    read_checked(src, phoff, size)
}

/// Section header 0, which holds the counts too large for the ELF header.
fn section_0<Elf, R>(
    header: &Elf,
    endian: Endianness,
    src: &R,
) -> Result<Option<Elf::SectionHeader>, ImageError>
where
    Elf: FileHeader<Endian = Endianness>,
    R: ReadAt + ?Sized,
{
    let shoff: u64 = header.e_shoff(endian).into();
    if shoff == 0 {
        return Ok(None);
    }
    let entsize = section_entsize(header, endian)?;
    if !in_file(src.len(), shoff, entsize) {
        return Err(sections_past_end(shoff, src.len()));
    }
    let bytes = read_checked(src, shoff, entsize)?;
    let (sh, _) = object::pod::from_bytes::<Elf::SectionHeader>(&bytes)
        .map_err(|()| ImageError::Elf("unreadable section header".to_string()))?;
    Ok(Some(*sh))
}

fn section_entsize<Elf: FileHeader<Endian = Endianness>>(
    header: &Elf,
    endian: Endianness,
) -> Result<u64, ImageError> {
    let entsize = size_of::<Elf::SectionHeader>() as u64;
    if u64::from(header.e_shentsize(endian)) != entsize {
        return Err(ImageError::Elf(format!(
            "section headers of {} bytes, expected {entsize}",
            header.e_shentsize(endian)
        )));
    }
    Ok(entsize)
}

fn sections_past_end(shoff: u64, len: u64) -> ImageError {
    ImageError::Elf(format!(
        "the section headers at file offset {shoff:#x} run past the end of the {len:#x}-byte \
         file (truncated kernel?)"
    ))
}

/// PT_LOAD headers with any of R/W/X set (libelf's "loadable"), bounds-checked.
fn load_headers<Elf: FileHeader<Endian = Endianness>>(
    phdrs: &[Elf::ProgramHeader],
    endian: Endianness,
    file_len: u64,
) -> Result<Vec<LoadHeader>, ImageError> {
    let mut out = Vec::new();
    for ph in phdrs {
        if ph.p_type(endian) != PT_LOAD || ph.p_flags(endian) & (PF_R | PF_W | PF_X) == 0 {
            continue;
        }
        if out.len() == MAX_LOAD_SEGMENTS {
            return Err(ImageError::Elf(format!(
                "more than {MAX_LOAD_SEGMENTS} loadable segments"
            )));
        }
        out.push(load_header::<Elf>(ph, endian, file_len)?);
    }
    Ok(out)
}

fn load_header<Elf: FileHeader<Endian = Endianness>>(
    ph: &Elf::ProgramHeader,
    endian: Endianness,
    file_len: u64,
) -> Result<LoadHeader, ImageError> {
    let paddr: u64 = ph.p_paddr(endian).into();
    let offset: u64 = ph.p_offset(endian).into();
    let filesz: u64 = ph.p_filesz(endian).into();
    let memsz: u64 = ph.p_memsz(endian).into();
    if !in_file(file_len, offset, filesz) {
        return Err(ImageError::Elf(format!(
            "segment at paddr {paddr:#x} has {filesz:#x} bytes at file offset {offset:#x}, \
             past the end of the {file_len:#x}-byte file (truncated kernel?)"
        )));
    }
    if filesz > memsz {
        return Err(ImageError::Elf(format!(
            "segment at paddr {paddr:#x} has more file bytes ({filesz:#x}) than memory \
             ({memsz:#x})"
        )));
    }
    Ok(LoadHeader {
        paddr,
        offset,
        filesz,
        memsz,
    })
}

/// A note area of the file, counted against `budget`.
fn note_area<R: ReadAt + ?Sized>(
    src: &R,
    offset: u64,
    size: u64,
    budget: &mut u64,
    what: &str,
) -> Result<Vec<u8>, ImageError> {
    if !in_file(src.len(), offset, size) {
        return Err(ImageError::Elf(format!(
            "a note {what} lies outside the file (truncated kernel?)"
        )));
    }
    if size > *budget {
        return Err(ImageError::Elf(format!(
            "the note areas hold more than {} MiB: not a kernel",
            MAX_NOTE_BYTES >> 20
        )));
    }
    *budget -= size;
    read_checked(src, offset, size)
}

/// Xen notes from PT_NOTE segments, skipping those with `p_offset == 0` (some binutils
/// versions leave it unset).
fn segment_notes<Elf, R>(
    phdrs: &[Elf::ProgramHeader],
    endian: Endianness,
    src: &R,
    budget: &mut u64,
    notes: &mut XenNotes,
) -> Result<usize, ImageError>
where
    Elf: FileHeader<Endian = Endianness>,
    R: ReadAt + ?Sized,
{
    let mut found = 0;
    for ph in phdrs {
        let offset: u64 = ph.p_offset(endian).into();
        if ph.p_type(endian) != PT_NOTE || offset == 0 {
            continue;
        }
        let area = note_area(src, offset, ph.p_filesz(endian).into(), budget, "segment")?;
        found += parse_note_area(&area, notes)?;
    }
    Ok(found)
}

/// Fallback when no note segment carried Xen notes: SHT_NOTE sections.
fn section_notes<Elf, R>(
    header: &Elf,
    endian: Endianness,
    src: &R,
    budget: &mut u64,
    notes: &mut XenNotes,
) -> Result<usize, ImageError>
where
    Elf: FileHeader<Endian = Endianness>,
    R: ReadAt + ?Sized,
{
    let shoff: u64 = header.e_shoff(endian).into();
    if shoff == 0 {
        return Ok(0);
    }
    let e_shnum = header.e_shnum(endian);
    let shnum = if e_shnum > 0 {
        u64::from(e_shnum)
    } else {
        // The extended count lives in section 0.
        section_0(header, endian, src)?.map_or(0, |s| s.sh_size(endian).into())
    };
    if shnum == 0 {
        return Ok(0);
    }
    let entsize = section_entsize(header, endian)?;
    if shnum > MAX_SECTIONS {
        return Err(ImageError::Elf(format!(
            "{shnum} sections: more than any kernel has"
        )));
    }
    let size = shnum * entsize;
    if !in_file(src.len(), shoff, size) {
        return Err(sections_past_end(shoff, src.len()));
    }
    let table = read_checked(src, shoff, size)?;
    let sections: &[Elf::SectionHeader] = object::pod::slice_from_all_bytes(&table)
        .map_err(|()| ImageError::Elf("unreadable section header table".to_string()))?;
    let mut found = 0;
    for sh in sections.iter().skip(1) {
        if sh.sh_type(endian) != SHT_NOTE {
            continue;
        }
        let (offset, size) = (sh.sh_offset(endian).into(), sh.sh_size(endian).into());
        let area = note_area(src, offset, size, budget, "section")?;
        found += parse_note_area(&area, notes)?;
    }
    Ok(found)
}
