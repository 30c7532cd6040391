//! The x86 Linux boot protocol header of a bzImage: where the compressed kernel lies.
//!
//! Offsets (Linux `Documentation/arch/x86/boot.rst`): `setup_sects` u8 @0x1f1, "HdrS"
//! @0x202, `version` u16 @0x206, `payload_offset` u32 @0x248, `payload_length` u32 @0x24c.
//! `payload_offset` exists from protocol 2.08 on, hence Xen's minimum.

use super::ImageError;

const SETUP_SECTS: usize = 0x1f1;
const HEADER_MAGIC: usize = 0x202;
const VERSION: usize = 0x206;
const PAYLOAD_OFFSET: usize = 0x248;
const PAYLOAD_LENGTH: usize = 0x24c;
/// Bytes needed to read every field above.
const HEADER_END: usize = 0x250;
const MIN_VERSION: u16 = 0x0208;

pub(crate) fn is_bzimage(bytes: &[u8]) -> bool {
    bytes.get(HEADER_MAGIC..HEADER_MAGIC + 4) == Some(b"HdrS")
}

/// The compressed payload, bounds-checked against the file.
pub(crate) fn payload(bytes: &[u8]) -> Result<&[u8], ImageError> {
    if bytes.len() < HEADER_END {
        return Err(ImageError::BzImage(format!(
            "the file is {} bytes, too short for a boot protocol header (truncated?)",
            bytes.len()
        )));
    }
    let version = u16::from_le_bytes([bytes[VERSION], bytes[VERSION + 1]]);
    if version < MIN_VERSION {
        return Err(ImageError::BzImage(format!(
            "boot protocol {}.{:02} is older than 2.08, the first to say where the compressed \
             kernel is; use the kernel's vmlinux instead",
            version >> 8,
            version & 0xff
        )));
    }
    let setup_sects = u64::from(bytes[SETUP_SECTS]);
    let offset = (setup_sects + 1) * 512 + u64::from(le32(bytes, PAYLOAD_OFFSET));
    let length = u64::from(le32(bytes, PAYLOAD_LENGTH));
    let file_len = bytes.len() as u64;
    if offset >= file_len {
        return Err(ImageError::BzImage(format!(
            "payload offset {offset:#x} is past the end of the {file_len:#x}-byte file \
             (truncated?)"
        )));
    }
    if offset + length > file_len {
        return Err(ImageError::BzImage(format!(
            "payload of {length:#x} bytes at {offset:#x} runs past the end of the \
             {file_len:#x}-byte file (truncated?)"
        )));
    }
    // Both bounds are at most the slice length, so they fit in usize.
    Ok(&bytes[offset as usize..(offset + length) as usize])
}

fn le32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}
