//! xl's save file and what follows it: libxl's migration stream (v2),
//! which carries libxc's (image v3) for the domain's memory and CPUs.
//!
//! ```text
//! xl header | optional data (the config) | libxl header | LIBXC_CONTEXT
//!           | libxc image header | domain header | libxc records .. END
//!           | libxl records (emulator data, CHECKPOINT_END) .. END
//! ```
//!
//! Pure: everything goes through `Read`/`Write`, so the same code serves a
//! file, a pipe to `ssh` and a test's byte vector. Every length read from
//! the input is checked against a limit, and bodies are read as the input
//! delivers them, so a lying length cannot make us allocate more than the
//! input holds.

#![warn(missing_docs)]

mod libxc;
mod libxl;
mod xl;

use std::io::{self, Read, Write};

pub use libxc::{
    DHDR_TYPE_X86_HVM, DHDR_TYPE_X86_PV, DomainHeader, LibxcImage, LibxcRecord, PAGE_SIZE,
    REC_LENGTH_MAX, REC_TYPE_OPTIONAL, libxc_rec, page_type, read_domain_header, read_image_header,
    read_libxc_record, write_domain_header, write_image_header, write_libxc_record,
};
pub use libxl::{
    EMULATOR_QEMU_TRADITIONAL, EMULATOR_QEMU_UPSTREAM, LibxlRecord, read_libxl_header,
    read_libxl_record, write_libxl_header, write_libxl_record,
};
pub use xl::{
    FLAG_JSON, FLAG_STREAM_V2, MAGIC, OPTIONAL_DATA_MAX, XlHeader, XlPrefix, read_xl_optional,
    read_xl_prefix, write_xl_header,
};

/// Why a stream cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// The input ended inside the named part of the stream.
    #[error("truncated: the input ends inside the {0}")]
    Truncated(&'static str),
    /// The first 32 bytes are not xl's [`MAGIC`].
    #[error("wrong magic number: not an xl save file (corrupt or for a different tool?)")]
    WrongMagic,
    /// The xl header's byte-order marker, as read, is not this host's.
    #[error("wrong byte order marker {0:#010x} (saved on a machine of the other endianness?)")]
    WrongByteOrder(u32),
    /// A length field larger than this reader's limit for that part.
    #[error("the {what} is {len} bytes long, more than the {max} this reader accepts")]
    TooLong {
        /// The part whose length it is.
        what: &'static str,
        /// The length the stream states, in bytes.
        len: u64,
        /// The limit, in bytes.
        max: u64,
    },
    /// The config length inside the xl header's optional data points past
    /// its end.
    #[error("the config length {config} does not fit in the {optional} bytes of optional data")]
    ConfigOutsideOptionalData {
        /// The bytes the config length field and config need.
        config: u64,
        /// The size of the optional data.
        optional: u64,
    },
    /// The libxl stream header does not start with `LibxlFmt`; the ident read.
    #[error("not a libxl migration stream (ident {0:#018x}, expected \"LibxlFmt\")")]
    LibxlIdent(u64),
    /// A libxl stream version other than 2; the version read.
    #[error("libxl stream version {0}, only version 2 is supported")]
    LibxlVersion(u32),
    /// The libxl or libxc header's big-endian option is set.
    #[error("big-endian streams are not supported")]
    BigEndian,
    /// The libxl header's legacy option is set: a stream converted from
    /// the pre-v2 format.
    #[error("legacy (pre-v2) streams are not supported")]
    Legacy,
    /// The libxc image header lacks its all-ones marker or `XENF` id.
    #[error("not a libxc image header (marker {marker:#018x}, id {id:#010x})")]
    ImageHeader {
        /// The 64-bit marker read (should be all ones).
        marker: u64,
        /// The id read (should be `XENF`).
        id: u32,
    },
    /// A libxc image version other than 2 or 3; the version read.
    #[error("libxc image version {0}, only versions 2 and 3 are supported")]
    ImageVersion(u32),
    /// A libxc domain header type other than x86 PV or HVM.
    #[error("unknown domain type {0:#x} in the libxc domain header")]
    DomainType(u32),
    /// A libxc domain header page shift other than 12 (4 KiB pages).
    #[error("page shift {0} in the libxc domain header, only 12 is supported")]
    PageShift(u16),
    /// A libxl record type this reader does not know.
    #[error("unknown libxl record type {0:#010x}")]
    UnknownLibxlRecord(u32),
    /// A libxc record type above those Xen 4.17 defines, without the
    /// optional bit.
    #[error("unknown mandatory libxc record type {0:#010x}")]
    UnknownLibxcRecord(u32),
    /// A known record whose body has the wrong shape, or records in an
    /// order the stream does not allow.
    #[error("malformed {what} record: {why}")]
    BadRecord {
        /// The record type's name, or the stream (`libxl`, `libxc`).
        what: &'static str,
        /// What is wrong.
        why: String,
    },
    /// Reading the input failed.
    #[error("reading the {what}")]
    Io {
        /// The part being read.
        what: &'static str,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

/// A result whose error is a [`FormatError`].
pub type Result<T> = std::result::Result<T, FormatError>;

/// Records are padded to a multiple of 8 octets (REC_ALIGN_ORDER 3).
const REC_ALIGN: usize = 8;

fn padding(len: usize) -> usize {
    (REC_ALIGN - len % REC_ALIGN) % REC_ALIGN
}

/// `read_exact`, with an early end reported as truncation of `what`.
fn read_exact(r: &mut dyn Read, buf: &mut [u8], what: &'static str) -> Result<()> {
    r.read_exact(buf).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => FormatError::Truncated(what),
        _ => FormatError::Io { what, source: e },
    })
}

/// `len` bytes of `what`, after checking `len` against `max`. The buffer
/// grows as the bytes arrive: a length the input does not back costs no
/// more memory than the input itself.
fn read_body(r: &mut dyn Read, len: u64, max: u64, what: &'static str) -> Result<Vec<u8>> {
    if len > max {
        return Err(FormatError::TooLong { what, len, max });
    }
    let mut body = Vec::new();
    r.take(len)
        .read_to_end(&mut body)
        .map_err(|source| FormatError::Io { what, source })?;
    if (body.len() as u64) < len {
        return Err(FormatError::Truncated(what));
    }
    Ok(body)
}

fn skip_padding(r: &mut dyn Read, len: usize, what: &'static str) -> Result<()> {
    let mut pad = [0u8; REC_ALIGN];
    read_exact(r, &mut pad[..padding(len)], what)
}

/// One record's frame: type, length, body, zero padding to 8 octets.
fn write_frame(w: &mut dyn Write, rtype: u32, body: &[u8]) -> io::Result<()> {
    let len = u32::try_from(body.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "record body over 4 GiB"))?;
    let mut hdr = [0u8; 8];
    hdr[..4].copy_from_slice(&rtype.to_le_bytes());
    hdr[4..].copy_from_slice(&len.to_le_bytes());
    w.write_all(&hdr)?;
    w.write_all(body)?;
    w.write_all(&[0u8; REC_ALIGN][..padding(body.len())])
}

/// A record's type and body, its length checked against `max`.
fn read_frame(r: &mut dyn Read, max: u64, what: &'static str) -> Result<(u32, Vec<u8>)> {
    let mut hdr = [0u8; 8];
    read_exact(r, &mut hdr, what)?;
    let rtype = u32::from_le_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]);
    let len = u32::from_le_bytes([hdr[4], hdr[5], hdr[6], hdr[7]]);
    let body = read_body(r, u64::from(len), max, what)?;
    skip_padding(r, body.len(), what)?;
    Ok((rtype, body))
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    let mut v = [0u8; 4];
    v.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(v)
}

fn le_u64(b: &[u8], at: usize) -> u64 {
    let mut v = [0u8; 8];
    v.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(v)
}

/// A whole save file held in memory: what tests and small simulated
/// guests need. Real streams are written and read record by record with
/// the functions above.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SaveFile {
    /// xl's header with the stored config.
    pub xl: XlHeader,
    /// The libxc image following LIBXC_CONTEXT.
    pub libxc: LibxcImage,
    /// The libxl records after the libxc image, END excluded.
    pub tail: Vec<LibxlRecord>,
}

impl SaveFile {
    /// Writes the whole file: xl header, libxl header, LIBXC_CONTEXT, the
    /// libxc image, the tail records and END.
    pub fn encode(&self, w: &mut dyn Write) -> io::Result<()> {
        write_xl_header(w, &self.xl)?;
        write_libxl_header(w)?;
        write_libxl_record(w, &LibxlRecord::LibxcContext)?;
        self.libxc.encode(w)?;
        for rec in &self.tail {
            write_libxl_record(w, rec)?;
        }
        write_libxl_record(w, &LibxlRecord::End)
    }

    /// Reads a whole file written as [`SaveFile::encode`] writes it, up to
    /// the libxl END record.
    pub fn decode(r: &mut dyn Read) -> Result<SaveFile> {
        let prefix = read_xl_prefix(r)?;
        let xl = read_xl_optional(r, &prefix)?;
        read_domain_stream_head(r)?;
        let libxc = LibxcImage::decode(r)?;
        let tail = read_domain_stream_tail(r)?;
        Ok(SaveFile { xl, libxc, tail })
    }
}

/// The libxl header and the LIBXC_CONTEXT record that hands the stream to
/// libxc; a stream that starts otherwise is refused.
pub fn read_domain_stream_head(r: &mut dyn Read) -> Result<()> {
    read_libxl_header(r)?;
    match read_libxl_record(r)? {
        LibxlRecord::LibxcContext => Ok(()),
        other => Err(FormatError::BadRecord {
            what: "libxl",
            why: format!("expected LIBXC_CONTEXT first, found {}", other.type_name()),
        }),
    }
}

/// The libxl records after the libxc image, up to END (not included).
pub fn read_domain_stream_tail(r: &mut dyn Read) -> Result<Vec<LibxlRecord>> {
    let mut tail = Vec::new();
    loop {
        match read_libxl_record(r)? {
            LibxlRecord::End => return Ok(tail),
            LibxlRecord::LibxcContext => {
                return Err(FormatError::BadRecord {
                    what: "libxl",
                    why: "a second LIBXC_CONTEXT".into(),
                });
            }
            rec => tail.push(rec),
        }
        // A stream is a handful of records here; more means garbage.
        if tail.len() > MAX_TAIL_RECORDS {
            return Err(FormatError::BadRecord {
                what: "libxl",
                why: format!("more than {MAX_TAIL_RECORDS} records after the libxc image"),
            });
        }
    }
}

const MAX_TAIL_RECORDS: usize = 1024;

#[cfg(test)]
mod tests;
