//! Fixtures built in code: ELF kernels with Xen notes and bzImages around them.

use std::cell::{Cell, RefCell};

use crate::image::Compression;
use crate::source::ReadAt;

pub const VIRT_BASE: u64 = 0xffff_ffff_8000_0000;
pub const KERNEL_PADDR: u64 = 0x100_0000;
pub const KERNEL_VADDR: u64 = VIRT_BASE + KERNEL_PADDR;
pub const ENTRY: u64 = KERNEL_VADDR + 0x40;
pub const HYPERCALL: u64 = KERNEL_VADDR + 0x1000;
pub const INIT_P2M: u64 = 0x80_0000_0000;

pub const PT_LOAD: u32 = 1;
pub const PT_NOTE: u32 = 4;

/// A note's descriptor.
#[derive(Clone, Debug)]
pub enum Desc {
    Num(u64),
    Num32(u32),
    Str(&'static str),
    Raw(Vec<u8>),
}

impl Desc {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Desc::Num(v) => v.to_le_bytes().to_vec(),
            Desc::Num32(v) => v.to_le_bytes().to_vec(),
            Desc::Str(s) => {
                let mut b = s.as_bytes().to_vec();
                b.push(0);
                b
            }
            Desc::Raw(b) => b.clone(),
        }
    }
}

/// A program header to emit, with its file bytes.
#[derive(Clone, Debug)]
pub struct Load {
    pub paddr: u64,
    pub vaddr: u64,
    pub data: Vec<u8>,
    pub memsz: u64,
    pub flags: u32,
}

/// Where the notes go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotePlace {
    Segment,
    /// Only an SHT_NOTE section (no PT_NOTE).
    Section,
    /// A PT_NOTE whose p_offset is 0 (ignored by Xen) and the real notes in a section.
    ZeroOffsetSegmentAndSection,
}

/// An ELF64 (or ELF32) x86 image, written by hand.
#[derive(Clone, Debug)]
pub struct ElfBuilder {
    pub class64: bool,
    pub machine: u16,
    pub entry: u64,
    pub loads: Vec<Load>,
    /// (owner name, type, descriptor)
    pub notes: Vec<(&'static str, u32, Desc)>,
    pub note_place: NotePlace,
}

impl ElfBuilder {
    /// A Linux-like x86_64 PV kernel: 3 text pages + 0x800 data bytes and bss up to 5
    /// pages at paddr 16 MiB, with the notes a current Linux carries.
    pub fn linux() -> Self {
        let text: Vec<u8> = (0..3 * 4096u32).map(|i| (i % 251) as u8 + 1).collect();
        let data: Vec<u8> = (0..0x800u32).map(|i| (i % 13) as u8 + 0x80).collect();
        ElfBuilder {
            class64: true,
            machine: 62,
            entry: ENTRY,
            loads: vec![
                Load {
                    paddr: KERNEL_PADDR,
                    vaddr: KERNEL_VADDR,
                    data: text,
                    memsz: 3 * 4096,
                    flags: 5,
                },
                Load {
                    paddr: KERNEL_PADDR + 0x3000,
                    vaddr: KERNEL_VADDR + 0x3000,
                    data,
                    memsz: 0x2000,
                    flags: 6,
                },
            ],
            notes: vec![
                ("Xen", 6, Desc::Str("linux")),
                ("Xen", 7, Desc::Str("2.6")),
                ("Xen", 5, Desc::Str("xen-3.0")),
                ("Xen", 3, Desc::Num(VIRT_BASE)),
                ("Xen", 15, Desc::Num(INIT_P2M)),
                ("Xen", 1, Desc::Num(ENTRY)),
                ("Xen", 2, Desc::Num(HYPERCALL)),
                // Linux writes this one with .ascii: no terminating NUL.
                ("Xen", 10, Desc::Raw(b"!writable_page_tables".to_vec())),
                ("Xen", 9, Desc::Str("yes")),
                ("Xen", 8, Desc::Str("generic")),
                // L1_MFN_VALID: mask and value, 16 bytes.
                (
                    "Xen",
                    13,
                    Desc::Raw(vec![1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]),
                ),
                ("Xen", 14, Desc::Num32(1)),
                ("Xen", 16, Desc::Num(1)),
                ("Xen", 17, Desc::Num32(0x801)),
                ("Xen", 4, Desc::Num(0)),
                ("GNU", 3, Desc::Raw(vec![0xaa; 20])),
            ],
            note_place: NotePlace::Segment,
        }
    }

    /// Drop every note of this type.
    pub fn without_note(mut self, kind: u32) -> Self {
        self.notes.retain(|(n, k, _)| !(*n == "Xen" && *k == kind));
        self
    }

    /// Replace (or add) a Xen note.
    pub fn with_note(mut self, kind: u32, desc: Desc) -> Self {
        self = self.without_note(kind);
        self.notes.push(("Xen", kind, desc));
        self
    }

    /// The notes area bytes (4-byte aligned entries).
    fn note_area(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, kind, desc) in &self.notes {
            let mut name_bytes = name.as_bytes().to_vec();
            name_bytes.push(0);
            let desc = desc.bytes();
            out.extend((name_bytes.len() as u32).to_le_bytes());
            out.extend((desc.len() as u32).to_le_bytes());
            out.extend(kind.to_le_bytes());
            out.extend(&name_bytes);
            pad4(&mut out);
            out.extend(&desc);
            pad4(&mut out);
        }
        out
    }

    pub fn build(&self) -> Vec<u8> {
        let (ehsize, phentsize, shentsize) = if self.class64 {
            (64usize, 56usize, 64usize)
        } else {
            (52, 32, 40)
        };
        let notes = self.note_area();
        let note_phdrs = usize::from(self.note_place != NotePlace::Section);
        let phnum = self.loads.len() + note_phdrs;
        let mut off = ehsize + phnum * phentsize;
        let notes_off = off;
        off += notes.len();
        let mut load_offs = Vec::new();
        for l in &self.loads {
            off = off.next_multiple_of(16);
            load_offs.push(off);
            off += l.data.len();
        }
        let sections = self.note_place != NotePlace::Segment;
        off = off.next_multiple_of(8);
        let shoff = if sections { off } else { 0 };
        let shnum = if sections { 2 } else { 0 };
        let total = off + shnum * shentsize;
        let mut b = vec![0u8; total];
        // ELF header.
        b[0..4].copy_from_slice(b"\x7fELF");
        b[4] = if self.class64 { 2 } else { 1 };
        b[5] = 1; // little-endian
        b[6] = 1; // EV_CURRENT
        let mut w = Writer {
            b: &mut b,
            wide: self.class64,
        };
        w.u16(16, 2); // ET_EXEC
        w.u16(18, self.machine);
        w.u32(20, 1);
        w.word(24, self.entry);
        let (phoff_at, shoff_at, flags_at) = if self.class64 {
            (32, 40, 48)
        } else {
            (28, 32, 36)
        };
        w.word(phoff_at, ehsize as u64);
        w.word(shoff_at, shoff as u64);
        w.u32(flags_at, 0);
        w.u16(flags_at + 4, ehsize as u16);
        w.u16(flags_at + 6, phentsize as u16);
        w.u16(flags_at + 8, phnum as u16);
        w.u16(flags_at + 10, shentsize as u16);
        w.u16(flags_at + 12, shnum as u16);
        w.u16(flags_at + 14, 0);
        // Program headers.
        let mut ph = ehsize;
        for (l, &lo) in self.loads.iter().zip(&load_offs) {
            w.phdr(
                ph,
                PT_LOAD,
                l.flags,
                lo as u64,
                l.vaddr,
                l.paddr,
                l.data.len() as u64,
                l.memsz,
                4096,
            );
            ph += phentsize;
        }
        if note_phdrs == 1 {
            let p_off = if self.note_place == NotePlace::Segment {
                notes_off as u64
            } else {
                0
            };
            w.phdr(
                ph,
                PT_NOTE,
                4,
                p_off,
                0,
                0,
                notes.len() as u64,
                notes.len() as u64,
                4,
            );
        }
        // Contents.
        b[notes_off..notes_off + notes.len()].copy_from_slice(&notes);
        for (l, &lo) in self.loads.iter().zip(&load_offs) {
            b[lo..lo + l.data.len()].copy_from_slice(&l.data);
        }
        if sections {
            let mut w = Writer {
                b: &mut b,
                wide: self.class64,
            };
            let sh = shoff + shentsize; // section 0 stays null
            w.u32(sh + 4, 7); // SHT_NOTE
            if self.class64 {
                w.word(sh + 24, notes_off as u64);
                w.word(sh + 32, notes.len() as u64);
                w.word(sh + 48, 4);
            } else {
                w.word(sh + 16, notes_off as u64);
                w.word(sh + 20, notes.len() as u64);
                w.word(sh + 32, 4);
            }
        }
        b
    }
}

fn pad4(v: &mut Vec<u8>) {
    while !v.len().is_multiple_of(4) {
        v.push(0);
    }
}

struct Writer<'a> {
    b: &'a mut [u8],
    wide: bool,
}

impl Writer<'_> {
    fn u16(&mut self, at: usize, v: u16) {
        self.b[at..at + 2].copy_from_slice(&v.to_le_bytes());
    }
    fn u32(&mut self, at: usize, v: u32) {
        self.b[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, at: usize, v: u64) {
        self.b[at..at + 8].copy_from_slice(&v.to_le_bytes());
    }
    fn word(&mut self, at: usize, v: u64) {
        if self.wide {
            self.u64(at, v)
        } else {
            self.u32(at, v as u32)
        }
    }
    #[allow(clippy::too_many_arguments)]
    fn phdr(
        &mut self,
        at: usize,
        kind: u32,
        flags: u32,
        offset: u64,
        vaddr: u64,
        paddr: u64,
        filesz: u64,
        memsz: u64,
        align: u64,
    ) {
        self.u32(at, kind);
        if self.wide {
            self.u32(at + 4, flags);
            self.u64(at + 8, offset);
            self.u64(at + 16, vaddr);
            self.u64(at + 24, paddr);
            self.u64(at + 32, filesz);
            self.u64(at + 40, memsz);
            self.u64(at + 48, align);
        } else {
            self.u32(at + 4, offset as u32);
            self.u32(at + 8, vaddr as u32);
            self.u32(at + 12, paddr as u32);
            self.u32(at + 16, filesz as u32);
            self.u32(at + 20, memsz as u32);
            self.u32(at + 24, flags);
            self.u32(at + 28, align as u32);
        }
    }
}

/// Compress `data` as the kernel build would for a bzImage payload (with the 4-byte
/// little-endian size appended, except for gzip whose trailer carries it already).
pub fn compress(format: Compression, data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut out = match format {
        Compression::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            e.write_all(data).unwrap();
            return e.finish().unwrap();
        }
        Compression::Bzip2 => {
            let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::best());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        Compression::Xz => {
            let mut opts = lzma_rust2::XzOptions::with_preset(6);
            opts.prepend_pre_filter(lzma_rust2::FilterType::BcjX86, 0);
            opts.set_check_sum_type(lzma_rust2::CheckType::Crc32);
            let mut e = lzma_rust2::XzWriter::new(Vec::new(), opts).unwrap();
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        Compression::Lzma => {
            let opts = lzma_rust2::LzmaOptions::with_preset(6);
            let mut e = lzma_rust2::LzmaWriter::new_use_header(Vec::new(), &opts, None).unwrap();
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        Compression::Zstd => {
            ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
        }
        Compression::Lz4 => lz4_legacy(data),
        Compression::Lzo => lzop_file(data),
    };
    out.extend((data.len() as u32).to_le_bytes());
    out
}

/// An LZ4 legacy frame with 8 MiB blocks.
fn lz4_legacy(data: &[u8]) -> Vec<u8> {
    let mut out = 0x184C_2102u32.to_le_bytes().to_vec();
    for chunk in data.chunks(8 << 20) {
        let block = lz4_flex::block::compress(chunk);
        out.extend((block.len() as u32).to_le_bytes());
        out.extend(block);
    }
    out
}

/// An lzop file (version 0x1040, Adler-32 of the data) as `lzop` writes it: 256 KiB
/// blocks, compressed with [`lzo1x_compress`], stored when that does not help.
pub fn lzop_file(data: &[u8]) -> Vec<u8> {
    let mut out = lzop_header(0x0001);
    for chunk in data.chunks(256 * 1024) {
        let packed = lzo1x_compress(chunk);
        let block = if packed.len() < chunk.len() {
            &packed[..]
        } else {
            chunk
        };
        out.extend((chunk.len() as u32).to_be_bytes());
        out.extend((block.len() as u32).to_be_bytes());
        out.extend(crate::image::lzop_adler32(chunk).to_be_bytes());
        out.extend(block);
    }
    out.extend(0u32.to_be_bytes());
    out
}

/// A small greedy LZO1X compressor (literal runs and M3 matches), enough to make real
/// compressed fixtures.
pub fn lzo1x_compress(data: &[u8]) -> Vec<u8> {
    const MIN_MATCH: usize = 4;
    const MAX_DISTANCE: usize = 0x4000;
    let mut out = Vec::new();
    let mut last_seen = std::collections::HashMap::new();
    let mut literal_start = 0;
    let mut pos = 0;
    // Where the previous match's 2-bit trailing-literal count lives, if any.
    let mut state_at: Option<usize> = None;
    while pos + MIN_MATCH <= data.len() {
        let key = [data[pos], data[pos + 1], data[pos + 2], data[pos + 3]];
        let candidate = last_seen.insert(key, pos);
        let Some(from) = candidate.filter(|&f| pos - f <= MAX_DISTANCE) else {
            pos += 1;
            continue;
        };
        let mut len = 0;
        while pos + len < data.len() && data[from + len] == data[pos + len] {
            len += 1;
        }
        emit_literals(&mut out, &data[literal_start..pos], state_at);
        emit_m3(&mut out, pos - from, len);
        state_at = Some(out.len() - 2);
        pos += len;
        literal_start = pos;
    }
    emit_literals(&mut out, &data[literal_start..], state_at);
    out.extend([17, 0, 0]);
    out
}

fn emit_literals(out: &mut Vec<u8>, lits: &[u8], state_at: Option<usize>) {
    let n = lits.len();
    match (n, state_at) {
        (0, _) => return,
        (1..=3, Some(at)) => out[at] |= n as u8,
        (1..=238, None) => out.push(17 + n as u8),
        (4..=18, Some(_)) => out.push(n as u8 - 3),
        _ => {
            // Instruction 0 with a length extension: n = 18 + 255 * zeros + last.
            let mut rest = n - 18;
            out.push(0);
            while rest > 255 {
                out.push(0);
                rest -= 255;
            }
            out.push(rest as u8);
        }
    }
    out.extend(lits);
}

fn emit_m3(out: &mut Vec<u8>, distance: usize, len: usize) {
    if len - 2 <= 31 {
        out.push(32 | (len - 2) as u8);
    } else {
        out.push(32);
        let mut rest = len - 2 - 31;
        while rest > 255 {
            out.push(0);
            rest -= 255;
        }
        out.push(rest as u8);
    }
    out.extend((((distance - 1) << 2) as u16).to_le_bytes());
}

/// The lzop file header with `flags`, no name.
pub fn lzop_header(flags: u32) -> Vec<u8> {
    let mut h = b"\x89LZO\x00\r\n\x1a\n".to_vec();
    h.extend(0x1040u16.to_be_bytes()); // version
    h.extend(0x2080u16.to_be_bytes()); // lib version
    h.extend(0x0940u16.to_be_bytes()); // version needed
    h.push(3); // LZO1X-999
    h.push(9); // level
    h.extend(flags.to_be_bytes());
    h.extend(0o100644u32.to_be_bytes()); // mode
    h.extend(0u32.to_be_bytes()); // mtime low
    h.extend(0u32.to_be_bytes()); // mtime high
    h.push(0); // name length
    h.extend(0u32.to_be_bytes()); // header checksum (not verified)
    h
}

/// A bzImage around `payload`: 2 setup sectors plus the boot sector, protocol `version`.
pub fn bzimage(payload: &[u8], version: u16) -> Vec<u8> {
    let setup_sects = 2u8;
    let payload_offset = 0x40u32; // from the start of the protected-mode part
    let start = (usize::from(setup_sects) + 1) * 512 + payload_offset as usize;
    let mut b = vec![0u8; start];
    b[0x1f1] = setup_sects;
    b[0x202..0x206].copy_from_slice(b"HdrS");
    b[0x206..0x208].copy_from_slice(&version.to_le_bytes());
    b[0x248..0x24c].copy_from_slice(&payload_offset.to_le_bytes());
    b[0x24c..0x250].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    b.extend(payload);
    b.extend([0u8; 16]); // trailing bytes a real bzImage has after the payload
    b
}

/// A kernel file as the toolstack reads it, through [`ReadAt`], recording every read.
/// A read past the length it claims panics: the builder must never ask for one.
pub struct Streamed {
    bytes: Vec<u8>,
    len: u64,
    /// Reads of bytes from here on fail, as if the file had shrunk.
    pub readable: Cell<u64>,
    /// (offset, length) of every read.
    pub reads: RefCell<Vec<(u64, usize)>>,
}

impl Streamed {
    pub fn new(bytes: Vec<u8>) -> Self {
        let len = bytes.len() as u64;
        Self::claiming(bytes, len)
    }

    /// A source that says it is `len` bytes long whatever it holds.
    pub fn claiming(bytes: Vec<u8>, len: u64) -> Self {
        Streamed {
            bytes,
            len,
            readable: Cell::new(u64::MAX),
            reads: RefCell::new(Vec::new()),
        }
    }

    pub fn bytes_read(&self) -> u64 {
        self.reads.borrow().iter().map(|&(_, n)| n as u64).sum()
    }

    pub fn largest_read(&self) -> usize {
        self.reads
            .borrow()
            .iter()
            .map(|&(_, n)| n)
            .max()
            .unwrap_or(0)
    }
}

impl ReadAt for Streamed {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        self.reads.borrow_mut().push((offset, buf.len()));
        let end = offset.checked_add(buf.len() as u64);
        assert!(
            end.is_some_and(|end| end <= self.len),
            "read of {} bytes at {offset:#x} past the claimed length {:#x}",
            buf.len(),
            self.len
        );
        if end.is_some_and(|end| end > self.readable.get()) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the file shrank",
            ));
        }
        self.bytes.read_exact_at(buf, offset)
    }
}
