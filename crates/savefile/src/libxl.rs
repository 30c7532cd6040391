//! libxl's migration stream v2: a header, then records; the first record
//! (LIBXC_CONTEXT) hands over to libxc's image, after which libxl's
//! records resume until END.

use std::io::{self, Read, Write};

use crate::{FormatError, Result, le_u32, read_exact, read_frame, write_frame};

/// "LibxlFmt", big-endian.
const IDENT: u64 = 0x4c69_6278_6c46_6d74;
const VERSION: u32 = 2;
const OPT_BIG_ENDIAN: u32 = 1 << 0;
const OPT_LEGACY: u32 = 1 << 1;

const REC_END: u32 = 0;
const REC_LIBXC_CONTEXT: u32 = 1;
const REC_EMULATOR_XENSTORE_DATA: u32 = 2;
const REC_EMULATOR_CONTEXT: u32 = 3;
const REC_CHECKPOINT_END: u32 = 4;
const REC_CHECKPOINT_STATE: u32 = 5;
/// QEMU's saved state is a few MiB; libxc's own record limit bounds it too.
const RECORD_MAX: u64 = 128 << 20;

/// Emulator id of qemu-xen-traditional in EMULATOR_* records.
pub const EMULATOR_QEMU_TRADITIONAL: u32 = 1;
/// Emulator id of upstream QEMU (qemu-xen) in EMULATOR_* records.
pub const EMULATOR_QEMU_UPSTREAM: u32 = 2;

/// One record of libxl's stream (`REC_TYPE_*` of the libxl format).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LibxlRecord {
    /// END (0): the end of the stream.
    End,
    /// libxc's image follows, unframed.
    LibxcContext,
    /// The device model's xenstore subtree (NUL-separated key/value pairs).
    EmulatorXenstoreData {
        /// Which device model: [`EMULATOR_QEMU_TRADITIONAL`] or [`EMULATOR_QEMU_UPSTREAM`].
        emulator: u32,
        /// Index of this emulator among the domain's.
        index: u32,
        /// Keys and values as alternating NUL-terminated strings; keys are
        /// relative to the device model's xenstore directory for the domain.
        data: Vec<u8>,
    },
    /// The device model's own saved state.
    EmulatorContext {
        /// Which device model: [`EMULATOR_QEMU_TRADITIONAL`] or [`EMULATOR_QEMU_UPSTREAM`].
        emulator: u32,
        /// Index of this emulator among the domain's.
        index: u32,
        /// QEMU's saved device state, opaque here.
        data: Vec<u8>,
    },
    /// End of one checkpoint of a checkpointed (Remus/COLO) stream.
    CheckpointEnd,
    /// A COLO checkpoint control message; the value is its control id.
    CheckpointState(u32),
}

impl LibxlRecord {
    /// The record type's name in the stream spec, e.g. `"LIBXC_CONTEXT"`.
    pub fn type_name(&self) -> &'static str {
        match self {
            LibxlRecord::End => "END",
            LibxlRecord::LibxcContext => "LIBXC_CONTEXT",
            LibxlRecord::EmulatorXenstoreData { .. } => "EMULATOR_XENSTORE_DATA",
            LibxlRecord::EmulatorContext { .. } => "EMULATOR_CONTEXT",
            LibxlRecord::CheckpointEnd => "CHECKPOINT_END",
            LibxlRecord::CheckpointState(_) => "CHECKPOINT_STATE",
        }
    }
}

/// Writes the 16-byte libxl stream header: `LibxlFmt`, version 2, no
/// options (little-endian, not legacy).
pub fn write_libxl_header(w: &mut dyn Write) -> io::Result<()> {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&IDENT.to_be_bytes());
    b[8..12].copy_from_slice(&VERSION.to_be_bytes());
    w.write_all(&b)
}

/// Reads and checks the libxl stream header: version 2, little-endian,
/// not converted from a legacy stream.
pub fn read_libxl_header(r: &mut dyn Read) -> Result<()> {
    let mut b = [0u8; 16];
    read_exact(r, &mut b, "libxl stream header")?;
    let mut ident = [0u8; 8];
    ident.copy_from_slice(&b[..8]);
    let ident = u64::from_be_bytes(ident);
    let version = u32::from_be_bytes([b[8], b[9], b[10], b[11]]);
    let options = u32::from_be_bytes([b[12], b[13], b[14], b[15]]);
    if ident != IDENT {
        return Err(FormatError::LibxlIdent(ident));
    }
    if version != VERSION {
        return Err(FormatError::LibxlVersion(version));
    }
    if options & OPT_BIG_ENDIAN != 0 {
        return Err(FormatError::BigEndian);
    }
    if options & OPT_LEGACY != 0 {
        return Err(FormatError::Legacy);
    }
    Ok(())
}

fn emulator_body(emulator: u32, index: u32, data: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(8 + data.len());
    b.extend_from_slice(&emulator.to_le_bytes());
    b.extend_from_slice(&index.to_le_bytes());
    b.extend_from_slice(data);
    b
}

/// Writes one libxl record, framed and padded to 8 bytes.
pub fn write_libxl_record(w: &mut dyn Write, rec: &LibxlRecord) -> io::Result<()> {
    match rec {
        LibxlRecord::End => write_frame(w, REC_END, &[]),
        LibxlRecord::LibxcContext => write_frame(w, REC_LIBXC_CONTEXT, &[]),
        LibxlRecord::EmulatorXenstoreData {
            emulator,
            index,
            data,
        } => write_frame(
            w,
            REC_EMULATOR_XENSTORE_DATA,
            &emulator_body(*emulator, *index, data),
        ),
        LibxlRecord::EmulatorContext {
            emulator,
            index,
            data,
        } => write_frame(
            w,
            REC_EMULATOR_CONTEXT,
            &emulator_body(*emulator, *index, data),
        ),
        LibxlRecord::CheckpointEnd => write_frame(w, REC_CHECKPOINT_END, &[]),
        LibxlRecord::CheckpointState(id) => write_frame(w, REC_CHECKPOINT_STATE, &id.to_le_bytes()),
    }
}

fn empty(what: &'static str, body: &[u8]) -> Result<()> {
    if body.is_empty() {
        Ok(())
    } else {
        Err(FormatError::BadRecord {
            what,
            why: format!("{} bytes where none belong", body.len()),
        })
    }
}

fn emulator(what: &'static str, body: Vec<u8>) -> Result<(u32, u32, Vec<u8>)> {
    if body.len() < 8 {
        return Err(FormatError::BadRecord {
            what,
            why: "too short to contain the emulator header".into(),
        });
    }
    Ok((le_u32(&body, 0), le_u32(&body, 4), body[8..].to_vec()))
}

/// Reads one libxl record and checks its body's shape; unknown types are
/// an error.
pub fn read_libxl_record(r: &mut dyn Read) -> Result<LibxlRecord> {
    let (rtype, body) = read_frame(r, RECORD_MAX, "libxl record")?;
    Ok(match rtype {
        REC_END => empty("END", &body).map(|()| LibxlRecord::End)?,
        REC_LIBXC_CONTEXT => empty("LIBXC_CONTEXT", &body).map(|()| LibxlRecord::LibxcContext)?,
        REC_EMULATOR_XENSTORE_DATA => {
            let (emulator, index, data) = emulator("EMULATOR_XENSTORE_DATA", body)?;
            LibxlRecord::EmulatorXenstoreData {
                emulator,
                index,
                data,
            }
        }
        REC_EMULATOR_CONTEXT => {
            let (emulator, index, data) = emulator("EMULATOR_CONTEXT", body)?;
            LibxlRecord::EmulatorContext {
                emulator,
                index,
                data,
            }
        }
        REC_CHECKPOINT_END => {
            empty("CHECKPOINT_END", &body).map(|()| LibxlRecord::CheckpointEnd)?
        }
        REC_CHECKPOINT_STATE => {
            if body.len() != 4 {
                return Err(FormatError::BadRecord {
                    what: "CHECKPOINT_STATE",
                    why: format!("{} bytes, expected 4", body.len()),
                });
            }
            LibxlRecord::CheckpointState(le_u32(&body, 0))
        }
        other => return Err(FormatError::UnknownLibxlRecord(other)),
    })
}
