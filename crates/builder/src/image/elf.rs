//! ELF32/ELF64 little-endian x86 images: loadable segments and Xen notes.
//!
//! `object` reads the headers; notes are walked here with the 4-byte alignment Xen uses,
//! whatever alignment the note segment claims.

use std::ops::Range;

use object::Endianness;
use object::elf::{
    ELFCLASS32, ELFCLASS64, EM_386, EM_X86_64, FileHeader32, FileHeader64, PF_R, PF_W, PF_X,
    PT_LOAD, PT_NOTE, SHT_NOTE,
};
use object::read::elf::{FileHeader, ProgramHeader, SectionHeader};

use super::ImageError;
use super::notes::{XenNotes, parse_note_area};

/// More loadable segments than any kernel has; bounds the work of loading.
const MAX_LOAD_SEGMENTS: usize = 1024;

/// A PT_LOAD header, validated against the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LoadHeader {
    pub paddr: u64,
    pub offset: usize,
    pub filesz: usize,
    pub memsz: u64,
}

impl LoadHeader {
    pub fn file_range(&self) -> Range<usize> {
        self.offset..self.offset + self.filesz
    }
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

pub(crate) fn parse(bytes: &[u8]) -> Result<ElfImage, ImageError> {
    match bytes.get(4).copied() {
        Some(ELFCLASS64) => parse_class::<FileHeader64<Endianness>>(bytes),
        Some(ELFCLASS32) => parse_class::<FileHeader32<Endianness>>(bytes),
        _ => Err(ImageError::Elf("unknown ELF class".to_string())),
    }
}

fn elf_error(e: object::read::Error) -> ImageError {
    ImageError::Elf(e.to_string())
}

fn parse_class<Elf>(data: &[u8]) -> Result<ElfImage, ImageError>
where
    Elf: FileHeader<Endian = Endianness>,
{
    let header = Elf::parse(data).map_err(elf_error)?;
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
    let phdrs = header.program_headers(endian, data).map_err(elf_error)?;
    let segments = load_headers::<Elf>(phdrs, endian, data.len())?;
    let mut notes = XenNotes::default();
    let mut found = segment_notes::<Elf>(phdrs, endian, data, &mut notes)?;
    if found == 0 {
        found = section_notes(header, endian, data, &mut notes)?;
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

/// PT_LOAD headers with any of R/W/X set (libelf's "loadable"), bounds-checked.
fn load_headers<Elf: FileHeader<Endian = Endianness>>(
    phdrs: &[Elf::ProgramHeader],
    endian: Endianness,
    file_len: usize,
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
    file_len: usize,
) -> Result<LoadHeader, ImageError> {
    let paddr: u64 = ph.p_paddr(endian).into();
    let offset: u64 = ph.p_offset(endian).into();
    let filesz: u64 = ph.p_filesz(endian).into();
    let memsz: u64 = ph.p_memsz(endian).into();
    let in_file = offset
        .checked_add(filesz)
        .is_some_and(|end| end <= file_len as u64);
    if !in_file {
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
        // Both fit in usize: they lie inside the file.
        offset: offset as usize,
        filesz: filesz as usize,
        memsz,
    })
}

/// Xen notes from PT_NOTE segments, skipping those with `p_offset == 0` (some binutils
/// versions leave it unset).
fn segment_notes<Elf: FileHeader<Endian = Endianness>>(
    phdrs: &[Elf::ProgramHeader],
    endian: Endianness,
    data: &[u8],
    notes: &mut XenNotes,
) -> Result<usize, ImageError> {
    let mut found = 0;
    for ph in phdrs {
        if ph.p_type(endian) != PT_NOTE || ph.p_offset(endian).into() == 0 {
            continue;
        }
        let area = ph.data(endian, data).map_err(|_| {
            ImageError::Elf("a note segment lies outside the file (truncated kernel?)".into())
        })?;
        found += parse_note_area(area, notes)?;
    }
    Ok(found)
}

/// Fallback when no note segment carried Xen notes: SHT_NOTE sections.
fn section_notes<Elf: FileHeader<Endian = Endianness>>(
    header: &Elf,
    endian: Endianness,
    data: &[u8],
    notes: &mut XenNotes,
) -> Result<usize, ImageError> {
    let sections = header.section_headers(endian, data).map_err(elf_error)?;
    let mut found = 0;
    for sh in sections.iter().skip(1) {
        if sh.sh_type(endian) != SHT_NOTE {
            continue;
        }
        let area = sh.data(endian, data).map_err(|_| {
            ImageError::Elf("a note section lies outside the file (truncated kernel?)".into())
        })?;
        found += parse_note_area(area, notes)?;
    }
    Ok(found)
}
