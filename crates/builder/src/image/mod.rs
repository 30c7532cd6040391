//! Kernel images: what Xen boots as a PV kernel, and what is wrong when it cannot.
//!
//! Accepted inputs, as libxenguest accepts them:
//! - an ELF image (`vmlinux`), 64-bit for x86_64 PV (32-bit ELFs parse, [`crate::plan_pv`]
//!   refuses them);
//! - the same ELF gzip-compressed as a whole file;
//! - a bzImage (boot protocol 2.08 or later), whose payload is an ELF compressed with
//!   **gzip, bzip2, xz (with the x86 BCJ filter), lzma, lzo (lzop container), lz4 (legacy
//!   frame) or zstd** — every compressor Linux offers for x86. Decoding stops at the end of
//!   the compressed stream, so the 4-byte size the kernel build appends is ignored.
//!   Output is capped at [`MAX_DECOMPRESSED`] (1 GiB), like libxenguest.
//!
//! A plain ELF kernel is read as needed ([`parse_kernel_from`] over any [`ReadAt`]): its
//! headers and notes when parsed, its loadable bytes when loaded into the guest, so a
//! large `vmlinux` is never copied into memory. Compressed kernels are read whole (at most
//! [`MAX_COMPRESSED_FILE`], the limit libxenguest puts on kernel files) and decompressed.
//!
//! Ramdisks are not parsed, only loaded: [`load_ramdisk`] gives the bytes Xen's builder
//! puts in guest memory, which depend on the Xen release.
//!
//! Not supported: the legacy `__xen_guest` section (pre-2006 kernels without ELF notes) and
//! the `BSD_SYMTAB` symbol table load (the kernel is loaded without its symbols).

mod bzimage;
mod decompress;
mod elf;
mod lzop;
mod notes;
mod ramdisk;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::{fmt, io};

pub use decompress::{Compression, MAX_DECOMPRESSED};
pub use notes::{XenNotes, feature};
pub use ramdisk::{load_ramdisk, loaded_ramdisk_len};

use crate::source::ReadAt;
use elf::{ElfImage, LoadHeader};

/// Largest compressed kernel file read (libxenguest's limit on kernel files, 1 GiB).
pub const MAX_COMPRESSED_FILE: u64 = 1 << 30;
/// What is read of a kernel source to tell its format: the bzImage magic is at 0x202.
const HEAD_LEN: u64 = 0x400;

#[cfg(test)]
pub(crate) use lzop::adler32 as lzop_adler32;

/// Why a kernel image cannot be booted, in words an administrator can act on.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ImageError {
    /// The bytes are neither ELF, gzip nor bzImage.
    #[error(
        "not a kernel image: neither ELF, gzip-compressed ELF nor bzImage (it starts with {head})"
    )]
    Unrecognized {
        /// The first bytes, in hex.
        head: String,
    },
    /// The bzImage header is unusable.
    #[error("bzImage: {0}")]
    BzImage(String),
    /// The payload magic is not one Linux uses.
    #[error(
        "bzImage payload is compressed with an unknown format (it starts with {head}); \
         Xen kernels use gzip, bzip2, xz, lzma, lzo, lz4 or zstd"
    )]
    UnknownCompression {
        /// The first payload bytes, in hex.
        head: String,
    },
    /// The compressed data is corrupt or truncated.
    #[error("{what} is compressed with {format}, which failed to decompress: {reason}")]
    Decompress {
        /// "bzImage payload" or "kernel file".
        what: &'static str,
        /// The compressor.
        format: Compression,
        /// The decoder's complaint.
        reason: String,
    },
    /// The decompressed kernel would exceed [`MAX_DECOMPRESSED`].
    #[error(
        "{what} is compressed with {format}, which expands past 1 GiB, the limit libxenguest \
         also applies: not a kernel"
    )]
    TooLarge {
        /// "bzImage payload" or "kernel file".
        what: &'static str,
        /// The compressor.
        format: Compression,
    },
    /// The ramdisk is larger than libxenguest loads.
    #[error("the ramdisk is {len} bytes; Xen's domain builder loads modules of at most 1 GiB")]
    RamdiskTooLarge {
        /// Its size in bytes.
        len: u64,
    },
    /// A compressed kernel file is larger than any kernel.
    #[error(
        "the kernel file is compressed and {len} bytes long, more than the 1 GiB \
         libxenguest loads: not a kernel"
    )]
    FileTooLarge {
        /// Its size in bytes.
        len: u64,
    },
    /// Reading the kernel failed.
    #[error("cannot read {len} bytes at offset {offset:#x} of the kernel: {reason}")]
    Read {
        /// Where the read started.
        offset: u64,
        /// How many bytes it wanted.
        len: u64,
        /// The I/O error.
        reason: String,
    },
    /// The ELF structure is broken.
    #[error("malformed ELF kernel: {0}")]
    Elf(String),
    /// No Xen note at all.
    #[error("not a Xen PV kernel: no Xen ELF notes (is CONFIG_XEN enabled?)")]
    NoXenNotes,
    /// A note Xen insists on is absent.
    #[error("not a Xen PV kernel: the {note} ELF note is missing ({hint})")]
    MissingNote {
        /// Note name as in `public/elfnote.h` without the prefix.
        note: &'static str,
        /// What Xen wants there.
        hint: &'static str,
    },
    /// A note has a value Xen refuses.
    #[error("Xen ELF note {note} is invalid: {reason}")]
    BadNote {
        /// Note name.
        note: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The kernel asks for something an unprivileged PV guest cannot have.
    #[error("kernel cannot run as an unprivileged PV guest: {0}")]
    Unsupported(String),
    /// Entry point, kernel range and notes contradict each other.
    #[error("kernel addresses are inconsistent: {0}")]
    Addresses(String),
}

/// How the kernel arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelFormat {
    /// A plain ELF file.
    Elf,
    /// An ELF file compressed as a whole with gzip.
    GzipElf,
    /// A bzImage whose payload used this compressor.
    BzImage(Compression),
}

/// One loadable ELF segment, as the builder copies it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Physical load address from the program header.
    pub paddr: u64,
    /// Where its bytes are in the ELF image ([`Kernel::read_elf_at`]).
    pub file_offset: u64,
    /// How many bytes come from the image (`p_filesz`); checked to lie inside it.
    pub filesz: u64,
    /// Size in memory; the part past `filesz` is zeroed (bss).
    pub memsz: u64,
}

/// Where a parsed kernel's ELF image is.
#[derive(Clone)]
enum Source<'a> {
    /// Borrowed from the caller's bytes when the kernel is a plain ELF, owned when it was
    /// decompressed.
    Bytes(Cow<'a, [u8]>),
    /// A plain ELF read as needed, so that its loadable bytes go straight from the file
    /// into guest memory (copying a whole kernel costs more than the rest of the build
    /// under a PV dom0, where every fresh page is a hypercall).
    Reader(&'a dyn ReadAt),
}

impl ReadAt for Source<'_> {
    fn len(&self) -> u64 {
        match self {
            Source::Bytes(b) => ReadAt::len(&**b),
            Source::Reader(r) => r.len(),
        }
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        match self {
            Source::Bytes(b) => b.read_exact_at(buf, offset),
            Source::Reader(r) => r.read_exact_at(buf, offset),
        }
    }
}

/// A parsed PV kernel: its loadable segments, Xen notes and derived addresses.
#[derive(Clone)]
pub struct Kernel<'a> {
    source: Source<'a>,
    format: KernelFormat,
    is_64bit: bool,
    machine: u16,
    segments: Vec<LoadHeader>,
    notes: XenNotes,
    pstart: u64,
    pend: u64,
    virt_base: u64,
    paddr_offset: u64,
    virt_entry: u64,
}

/// How an image is to be booted: which checks and address rules apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadAs {
    /// An unprivileged PV kernel (Xen notes, virtual addresses).
    Pv,
    /// A PVH kernel: its `PHYS32_ENTRY` note is where it starts, in 32-bit protected
    /// mode with paging off, and its segments load at their physical addresses.
    Pvh,
    /// HVM firmware (hvmloader): a 32-bit ELF without Xen notes, entered at `e_entry`.
    HvmFirmware,
}

/// Parse a kernel image (ELF, gzip'd ELF or bzImage) and check that Xen would boot it as
/// an unprivileged PV guest.
pub fn parse_kernel(bytes: &[u8]) -> Result<Kernel<'_>, ImageError> {
    parse_image(bytes, LoadAs::Pv)
}

/// [`parse_kernel`] for any [`LoadAs`].
pub fn parse_image(bytes: &[u8], load: LoadAs) -> Result<Kernel<'_>, ImageError> {
    let (elf_bytes, format) = unwrap_container(bytes)?;
    finish(Source::Bytes(elf_bytes), format, load)
}

/// [`parse_kernel`] reading from `src`: of a plain ELF only the headers and notes (the
/// kernel keeps `src` to read its loadable bytes when it is loaded); a compressed kernel
/// is read whole, up to [`MAX_COMPRESSED_FILE`].
pub fn parse_kernel_from(src: &dyn ReadAt) -> Result<Kernel<'_>, ImageError> {
    parse_image_from(src, LoadAs::Pv)
}

/// [`parse_kernel_from`] for any [`LoadAs`].
pub fn parse_image_from(src: &dyn ReadAt, load: LoadAs) -> Result<Kernel<'_>, ImageError> {
    let len = src.len();
    let head_len = HEAD_LEN.min(len);
    let mut head = vec![0; head_len as usize];
    src.read_exact_at(&mut head, 0)
        .map_err(|e| read_failed(0, head_len, &e))?;
    if elf::is_elf(&head) {
        return finish(Source::Reader(src), KernelFormat::Elf, load);
    }
    let compressed =
        decompress::detect(&head) == Some(Compression::Gzip) || bzimage::is_bzimage(&head);
    if !compressed {
        return Err(ImageError::Unrecognized {
            head: hex_head(&head),
        });
    }
    if len > MAX_COMPRESSED_FILE {
        return Err(ImageError::FileTooLarge { len });
    }
    // At most MAX_COMPRESSED_FILE, so it fits in usize where a gigabyte does.
    let mut file = vec![0; usize::try_from(len).map_err(|_| ImageError::FileTooLarge { len })?];
    src.read_exact_at(&mut file, 0)
        .map_err(|e| read_failed(0, len, &e))?;
    let (elf_bytes, format) = unwrap_container(&file)?;
    finish(
        Source::Bytes(Cow::Owned(elf_bytes.into_owned())),
        format,
        load,
    )
}

pub(crate) fn read_failed(offset: u64, len: u64, e: &io::Error) -> ImageError {
    ImageError::Read {
        offset,
        len,
        reason: e.to_string(),
    }
}

fn finish(
    source: Source<'_>,
    format: KernelFormat,
    load: LoadAs,
) -> Result<Kernel<'_>, ImageError> {
    let image = elf::parse(&source)?;
    let addrs = match load {
        LoadAs::Pv => {
            check_pv_notes(&image)?;
            compute_addresses(&image)?
        }
        LoadAs::Pvh => physical_addresses(&image, pvh_entry(&image)?)?,
        LoadAs::HvmFirmware => {
            check_hvm_firmware(&image)?;
            physical_addresses(&image, image.entry)?
        }
    };
    Ok(Kernel {
        format,
        is_64bit: image.is_64bit,
        machine: image.machine,
        segments: image.segments,
        notes: image.notes,
        pstart: addrs.pstart,
        pend: addrs.pend,
        virt_base: addrs.virt_base,
        paddr_offset: addrs.paddr_offset,
        virt_entry: addrs.virt_entry,
        source,
    })
}

/// Peel gzip or bzImage wrapping off until an ELF image remains.
fn unwrap_container(bytes: &[u8]) -> Result<(Cow<'_, [u8]>, KernelFormat), ImageError> {
    if elf::is_elf(bytes) {
        return Ok((Cow::Borrowed(bytes), KernelFormat::Elf));
    }
    if decompress::detect(bytes) == Some(Compression::Gzip) {
        let inner = decompress::decompress(Compression::Gzip, bytes, "kernel file")?;
        if elf::is_elf(&inner) {
            return Ok((Cow::Owned(inner), KernelFormat::GzipElf));
        }
        if bzimage::is_bzimage(&inner) {
            return from_bzimage(&inner);
        }
        return Err(ImageError::Unrecognized {
            head: format!("gzip data holding {}", hex_head(&inner)),
        });
    }
    if bzimage::is_bzimage(bytes) {
        return from_bzimage(bytes);
    }
    Err(ImageError::Unrecognized {
        head: hex_head(bytes),
    })
}

fn from_bzimage(bytes: &[u8]) -> Result<(Cow<'static, [u8]>, KernelFormat), ImageError> {
    let payload = bzimage::payload(bytes)?;
    let format = decompress::detect(payload).ok_or_else(|| ImageError::UnknownCompression {
        head: hex_head(payload),
    })?;
    let elf_bytes = decompress::decompress(format, payload, "bzImage payload")?;
    if !elf::is_elf(&elf_bytes) {
        return Err(ImageError::BzImage(format!(
            "the {format}-compressed payload is not an ELF image (it starts with {})",
            hex_head(&elf_bytes)
        )));
    }
    Ok((Cow::Owned(elf_bytes), KernelFormat::BzImage(format)))
}

/// The first bytes of `bytes` in hex, for error messages.
fn hex_head(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "nothing: the file is empty".to_string();
    }
    let shown: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
    shown.join(" ")
}

/// libelf's `elf_xen_note_check` for PV, plus libxenguest's refusal of dom0-only and
/// auto-translated kernels.
fn check_pv_notes(image: &ElfImage) -> Result<(), ImageError> {
    let notes = &image.notes;
    if !image.has_xen_notes {
        return Err(ImageError::NoXenNotes);
    }
    check_not_pvh_only(notes)?;
    check_loader_or_guest_os(notes)?;
    check_xen_version(notes)?;
    check_required_features(notes)
}

/// A kernel with only the PVH entry note is a PVH kernel, not a broken PV one.
fn check_not_pvh_only(notes: &XenNotes) -> Result<(), ImageError> {
    let pv_notes = [&notes.loader, &notes.guest_os, &notes.xen_version];
    if notes.phys32_entry.is_some() && pv_notes.iter().all(|n| n.is_none()) {
        return Err(ImageError::Unsupported(
            "it is a PVH-only kernel (it has the PHYS32_ENTRY note and no PV notes); boot it \
             with type=\"pvh\""
                .to_string(),
        ));
    }
    Ok(())
}

fn check_loader_or_guest_os(notes: &XenNotes) -> Result<(), ImageError> {
    let loader = notes.loader.as_deref().unwrap_or("");
    let guest_os = notes.guest_os.as_deref().unwrap_or("");
    if loader.starts_with("generic") || guest_os.starts_with("linux") {
        return Ok(());
    }
    if notes.loader.is_none() && notes.guest_os.is_none() {
        return Err(ImageError::MissingNote {
            note: "GUEST_OS",
            hint: "Xen loads kernels whose GUEST_OS is \"linux\" or whose LOADER is \"generic\"",
        });
    }
    Err(ImageError::Unsupported(format!(
        "GUEST_OS is {guest_os:?} and LOADER is {loader:?}; Xen only loads Linux kernels \
         and kernels built for the \"generic\" loader"
    )))
}

fn check_xen_version(notes: &XenNotes) -> Result<(), ImageError> {
    match notes.xen_version.as_deref() {
        None => Err(ImageError::MissingNote {
            note: "XEN_VERSION",
            hint: "expected \"xen-3.0\"",
        }),
        Some(v) if v.starts_with("xen-3.0") => Ok(()),
        Some(v) => Err(ImageError::BadNote {
            note: "XEN_VERSION",
            reason: format!("{v:?}: Xen only loads kernels built for \"xen-3.0\""),
        }),
    }
}

fn check_required_features(notes: &XenNotes) -> Result<(), ImageError> {
    if notes.requires(feature::DOM0) {
        return Err(ImageError::Unsupported(
            "its FEATURES note requires \"dom0\" (the kernel only runs as the control domain)"
                .to_string(),
        ));
    }
    if notes.requires(feature::AUTO_TRANSLATED_PHYSMAP) {
        return Err(ImageError::Unsupported(
            "its FEATURES note requires \"auto_translated_physmap\", which Xen no longer \
             offers to PV guests (boot it as PVH instead)"
                .to_string(),
        ));
    }
    Ok(())
}

/// A PVH kernel starts at its PHYS32_ENTRY note; without it Xen cannot boot it as PVH.
fn pvh_entry(image: &ElfImage) -> Result<u64, ImageError> {
    image.notes.phys32_entry.ok_or(ImageError::MissingNote {
        note: "PHYS32_ENTRY",
        hint: "a PVH kernel needs it (Linux has it when built with CONFIG_PVH); boot \
               this kernel with type=\"pv\" or type=\"hvm\"",
    })
}

/// What xc_dom's "HVM-generic" loader accepts: a 32-bit x86 ELF that is not a Xen kernel.
fn check_hvm_firmware(image: &ElfImage) -> Result<(), ImageError> {
    if image.is_64bit || image.machine != object::elf::EM_386 {
        return Err(ImageError::Unsupported(
            "HVM firmware must be a 32-bit x86 ELF image (hvmloader)".to_string(),
        ));
    }
    if image.has_xen_notes {
        return Err(ImageError::Unsupported(
            "it has Xen notes: it is a kernel, not HVM firmware".to_string(),
        ));
    }
    Ok(())
}

/// PVH kernels and HVM firmware load at their physical addresses: no virtual base, no
/// offset (libelf forces both to 0 for PVH), and the entry must lie inside the image.
fn physical_addresses(image: &ElfImage, entry: u64) -> Result<Addresses, ImageError> {
    let (pstart, pend) = image.paddr_range()?;
    if entry < pstart || entry >= pend {
        return Err(ImageError::Addresses(format!(
            "entry point {entry:#x} is outside the image ({pstart:#x}-{pend:#x})"
        )));
    }
    if pend > 1 << 32 {
        return Err(ImageError::Addresses(format!(
            "the image ends at {pend:#x}, above 4 GiB: it cannot be started with paging off"
        )));
    }
    Ok(Addresses {
        pstart,
        pend,
        virt_base: 0,
        paddr_offset: 0,
        virt_entry: entry,
    })
}

struct Addresses {
    pstart: u64,
    pend: u64,
    virt_base: u64,
    paddr_offset: u64,
    virt_entry: u64,
}

/// libelf's `elf_xen_addr_calc_check` for PV kernels with notes.
fn compute_addresses(image: &ElfImage) -> Result<Addresses, ImageError> {
    let notes = &image.notes;
    if notes.paddr_offset.is_some() && notes.virt_base.is_none() {
        return Err(ImageError::Addresses(
            "the PADDR_OFFSET note is set but VIRT_BASE is not".to_string(),
        ));
    }
    let (pstart, pend) = image.paddr_range()?;
    let virt_base = notes.virt_base.unwrap_or(0);
    let paddr_offset = notes.paddr_offset.unwrap_or(0);
    // libelf computes these modulo 2^64; so do we, then checks the result.
    let virt_offset = virt_base.wrapping_sub(paddr_offset);
    let virt_kstart = pstart.wrapping_add(virt_offset);
    let virt_kend = pend.wrapping_add(virt_offset);
    let virt_entry = notes.entry.unwrap_or(image.entry);
    if virt_kstart > virt_kend {
        return Err(ImageError::Addresses(format!(
            "kernel start {virt_kstart:#x} lies above its end {virt_kend:#x}"
        )));
    }
    if virt_entry < virt_kstart || virt_entry > virt_kend {
        return Err(ImageError::Addresses(format!(
            "entry point {virt_entry:#x} is outside the kernel ({virt_kstart:#x}-{virt_kend:#x})"
        )));
    }
    if virt_base > virt_kstart {
        return Err(ImageError::Addresses(format!(
            "VIRT_BASE {virt_base:#x} lies above the kernel start {virt_kstart:#x}"
        )));
    }
    if let Some(p2m) = notes.init_p2m
        && (virt_kstart..virt_kend).contains(&p2m)
    {
        return Err(ImageError::Addresses(format!(
            "INIT_P2M {p2m:#x} lies inside the kernel ({virt_kstart:#x}-{virt_kend:#x})"
        )));
    }
    Ok(Addresses {
        pstart,
        pend,
        virt_base,
        paddr_offset,
        virt_entry,
    })
}

impl fmt::Debug for Kernel<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Kernel")
            .field("format", &self.format)
            .field("elf_len", &self.elf_len())
            .field("streamed", &matches!(self.source, Source::Reader(_)))
            .field("is_64bit", &self.is_64bit)
            .field("segments", &self.segments)
            .field("notes", &self.notes)
            .field("virt_kstart", &format_args!("{:#x}", self.virt_kstart()))
            .field("virt_kend", &format_args!("{:#x}", self.virt_kend()))
            .field("entry", &format_args!("{:#x}", self.virt_entry))
            .finish()
    }
}

impl Kernel<'_> {
    /// The same kernel, owning its ELF bytes (reading them whole from a source).
    pub fn into_owned(self) -> Result<Kernel<'static>, ImageError> {
        let bytes = match self.source {
            Source::Bytes(b) => b.into_owned(),
            Source::Reader(r) => {
                let len = r.len();
                let size = usize::try_from(len).map_err(|_| ImageError::FileTooLarge { len })?;
                let mut bytes = vec![0; size];
                r.read_exact_at(&mut bytes, 0)
                    .map_err(|e| read_failed(0, len, &e))?;
                bytes
            }
        };
        Ok(Kernel {
            source: Source::Bytes(Cow::Owned(bytes)),
            ..self
        })
    }

    /// How the image was wrapped.
    pub fn format(&self) -> KernelFormat {
        self.format
    }

    /// Whether this is an ELF64 image (x86_64 PV) rather than ELF32 (x86_32 PV).
    pub fn is_64bit(&self) -> bool {
        self.is_64bit
    }

    /// ELF `e_machine` (62 for x86_64, 3 for i386).
    pub fn machine(&self) -> u16 {
        self.machine
    }

    /// The loadable segments (PT_LOAD with any of R/W/X), in program header order.
    pub fn segments(&self) -> impl Iterator<Item = Segment> + '_ {
        self.segments.iter().map(|s| Segment {
            paddr: s.paddr,
            file_offset: s.offset,
            filesz: s.filesz,
            memsz: s.memsz,
        })
    }

    /// Fill `buf` from the ELF image at `offset` (from memory, or from the source a plain
    /// ELF was parsed from, which fails if it no longer holds those bytes).
    pub fn read_elf_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.source.read_exact_at(buf, offset)
    }

    /// A segment's file bytes, read whole.
    pub fn segment_data(&self, s: &Segment) -> io::Result<Vec<u8>> {
        let len = usize::try_from(s.filesz).map_err(io::Error::other)?;
        let mut data = vec![0; len];
        self.read_elf_at(&mut data, s.file_offset)?;
        Ok(data)
    }

    /// All Xen notes as found.
    pub fn notes(&self) -> &XenNotes {
        &self.notes
    }

    /// The (decompressed) ELF image when it is in memory; `None` when it is read from the
    /// source given to [`parse_kernel_from`].
    pub fn elf_bytes(&self) -> Option<&[u8]> {
        match &self.source {
            Source::Bytes(b) => Some(b),
            Source::Reader(_) => None,
        }
    }

    /// Length of the ELF image.
    pub fn elf_len(&self) -> u64 {
        self.source.len()
    }

    /// Lowest physical address of the loadable segments.
    pub fn paddr_start(&self) -> u64 {
        self.pstart
    }

    /// End (exclusive) of the loadable segments' physical range.
    pub fn paddr_end(&self) -> u64 {
        self.pend
    }

    /// VIRT_BASE, 0 when the note is absent.
    pub fn virt_base(&self) -> u64 {
        self.virt_base
    }

    /// PADDR_OFFSET, 0 when the note is absent.
    pub fn paddr_offset(&self) -> u64 {
        self.paddr_offset
    }

    /// Virtual address of the first kernel byte: ELF paddr start + (virt_base − paddr_offset).
    pub fn virt_kstart(&self) -> u64 {
        self.pstart
            .wrapping_add(self.virt_base.wrapping_sub(self.paddr_offset))
    }

    /// Virtual end (exclusive) of the kernel image.
    pub fn virt_kend(&self) -> u64 {
        self.pend
            .wrapping_add(self.virt_base.wrapping_sub(self.paddr_offset))
    }

    /// Entry point: the ENTRY note, else `e_entry`.
    pub fn entry(&self) -> u64 {
        self.virt_entry
    }

    /// HYPERCALL_PAGE note (a virtual address), if present.
    pub fn hypercall_page(&self) -> Option<u64> {
        self.notes.hypercall_page
    }

    /// INIT_P2M note (where the kernel wants its p2m list mapped), if present.
    pub fn init_p2m(&self) -> Option<u64> {
        self.notes.init_p2m
    }

    /// MOD_START_PFN note, if present.
    pub fn mod_start_pfn(&self) -> Option<u64> {
        self.notes.mod_start_pfn
    }

    /// PHYS32_ENTRY note (PVH entry), if present.
    pub fn phys32_entry(&self) -> Option<u64> {
        self.notes.phys32_entry
    }

    /// Whether the ramdisk goes outside the initial mapping (MOD_START_PFN ≠ 0).
    pub fn unmapped_initrd(&self) -> bool {
        self.notes.mod_start_pfn.is_some_and(|v| v != 0)
    }
}
