//! The ramdisk (the guest's first module) in the form libxenguest loads it into guest
//! memory, which is also the size the layout reserves for it.
//!
//! Up to Xen 4.19 libxenguest gunzips a gzip-compressed module on the way in; from 4.20 on
//! it copies the module as it is (the guest unpacks its initramfs itself, and archives
//! mixing compressors were corrupted by the old behaviour). The old rules, in detail:
//! - only files starting with the gzip magic and at least 6 bytes long are tried;
//! - the output buffer is the size in the gzip trailer (last 4 bytes, little-endian)
//!   plus 16 bytes; a trailer size past 1 GiB means "do not try";
//! - the module's segment is the larger of that buffer and the file, unless that passes
//!   1 GiB, in which case the file is loaded as it is;
//! - decompression covers the first gzip member only and must finish inside the buffer
//!   with a matching checksum; otherwise the raw file is loaded instead, still into the
//!   segment sized for the buffer;
//! - the segment's bytes past what was written are zero.

use std::borrow::Cow;

use super::ImageError;
use super::decompress::{self, Compression, MAX_DECOMPRESSED};

/// The first release that loads modules without gunzipping them.
const RAW_MODULES_FROM: (u32, u32) = (4, 20);
/// libxenguest gunzips into a buffer this much larger than the gzip trailer's size.
const GUNZIP_SLACK: u64 = 16;
/// The gzip magic.
const GZIP_MAGIC: &[u8] = b"\x1f\x8b";
/// Magic plus the 4-byte size trailer: shorter files are not tried.
const MIN_GZIP_LEN: usize = 6;

/// The ramdisk as Xen `xen_version` (major, minor) loads it into the guest: gunzipped by
/// 4.17–4.19 when it is gzip-compressed (see the module docs for the exact rules), as it
/// is from 4.20 on. Pass the result's length as [`crate::PvRequest::ramdisk_len`] and
/// its bytes to [`crate::apply_pv`].
///
/// An empty slice (no ramdisk) stays empty. The result never exceeds 1 GiB; a larger file
/// is refused, as libxenguest refuses to map it.
pub fn load_ramdisk(bytes: &[u8], xen_version: (u32, u32)) -> Result<Cow<'_, [u8]>, ImageError> {
    let len = bytes.len() as u64;
    if len > MAX_DECOMPRESSED {
        return Err(ImageError::RamdiskTooLarge { len });
    }
    if xen_version >= RAW_MODULES_FROM {
        return Ok(Cow::Borrowed(bytes));
    }
    let Some(buffer) = gunzip_buffer(bytes) else {
        return Ok(Cow::Borrowed(bytes));
    };
    let segment_len = buffer.max(len);
    let mut loaded =
        match decompress::decompress_capped(Compression::Gzip, bytes, "ramdisk", buffer) {
            Ok(unzipped) => unzipped,
            // libxenguest falls back to the file without telling the caller.
            Err(_) => bytes.to_vec(),
        };
    // Both are at most 1 GiB (checked above and in gunzip_buffer), so they fit a usize.
    loaded.resize(segment_len as usize, 0);
    Ok(Cow::Owned(loaded))
}

/// The length [`load_ramdisk`] gives `bytes`, with its errors, known without unpacking
/// anything: a layout can be planned, and the kernel loaded, while the ramdisk is unpacked.
pub fn loaded_ramdisk_len(bytes: &[u8], xen_version: (u32, u32)) -> Result<u64, ImageError> {
    let len = bytes.len() as u64;
    if len > MAX_DECOMPRESSED {
        return Err(ImageError::RamdiskTooLarge { len });
    }
    if xen_version >= RAW_MODULES_FROM {
        return Ok(len);
    }
    Ok(gunzip_buffer(bytes).map_or(len, |buffer| buffer.max(len)))
}

/// The buffer libxenguest would gunzip `bytes` into, or `None` when it loads the file as
/// it is.
fn gunzip_buffer(bytes: &[u8]) -> Option<u64> {
    if bytes.len() < MIN_GZIP_LEN || !bytes.starts_with(GZIP_MAGIC) {
        return None;
    }
    let (_, trailer) = bytes.split_at(bytes.len() - 4);
    let size = u64::from(u32::from_le_bytes(trailer.try_into().ok()?));
    if size > MAX_DECOMPRESSED {
        return None;
    }
    let buffer = size + GUNZIP_SLACK;
    // A segment past the module size limit makes libxenguest drop the gunzip attempt.
    if buffer.max(bytes.len() as u64) > MAX_DECOMPRESSED {
        return None;
    }
    Some(buffer)
}
