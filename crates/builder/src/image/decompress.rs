//! Kernel payload decompression, chosen by magic as libxenguest does.

use std::fmt;
use std::io::Read;

use super::{ImageError, lzop};

/// Largest decompressed kernel accepted (`XC_DOM_DECOMPRESS_MAX`).
pub const MAX_DECOMPRESSED: u64 = 1 << 30;

/// Decoder memory limit for xz and lzma, the value libxenguest gives liblzma (128 MiB).
const LZMA_MEM_LIMIT_KIB: u32 = 128 * 1024;

/// Magic of the kernel's legacy LZ4 frame (`lz4 -l`).
const LZ4_LEGACY_MAGIC: u32 = 0x184C_2102;
/// Largest block of a legacy LZ4 frame.
const LZ4_LEGACY_BLOCK: usize = 8 << 20;

/// The compressors Linux can use for a bzImage payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// gzip (`1f 8b`).
    Gzip,
    /// bzip2 (`BZh`).
    Bzip2,
    /// xz (`fd 37 7a 58 5a 00`), usually with the x86 BCJ filter.
    Xz,
    /// Legacy .lzma (`5d 00`).
    Lzma,
    /// lzop container (`89 4c 5a 4f 00`).
    Lzo,
    /// LZ4 legacy frame (`02 21 4c 18`).
    Lz4,
    /// zstd (`28 b5 2f fd`).
    Zstd,
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Compression::Gzip => "gzip",
            Compression::Bzip2 => "bzip2",
            Compression::Xz => "xz",
            Compression::Lzma => "lzma",
            Compression::Lzo => "lzo",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        })
    }
}

/// The compressor whose magic `data` starts with, checked in libxenguest's order.
pub(crate) fn detect(data: &[u8]) -> Option<Compression> {
    const MAGICS: [(&[u8], Compression); 7] = [
        (b"\x1f\x8b", Compression::Gzip),
        (b"BZh", Compression::Bzip2),
        (b"\xfd7zXZ\x00", Compression::Xz),
        (b"\x28\xb5\x2f\xfd", Compression::Zstd),
        (b"\x5d\x00", Compression::Lzma),
        (b"\x89LZO\x00", Compression::Lzo),
        (b"\x02\x21", Compression::Lz4),
    ];
    MAGICS
        .iter()
        .find(|(magic, _)| data.starts_with(magic))
        .map(|&(_, c)| c)
}

/// Why a decoder stopped.
pub(crate) enum DecodeError {
    /// The output passed [`MAX_DECOMPRESSED`].
    TooLarge,
    /// Anything else, in the decoder's words.
    Corrupt(String),
}

impl From<std::io::Error> for DecodeError {
    fn from(e: std::io::Error) -> Self {
        DecodeError::Corrupt(e.to_string())
    }
}

/// Decompress one stream of `format`; `what` names the data in errors.
pub(crate) fn decompress(
    format: Compression,
    data: &[u8],
    what: &'static str,
) -> Result<Vec<u8>, ImageError> {
    decompress_capped(format, data, what, MAX_DECOMPRESSED)
}

/// [`decompress`] refusing more than `cap` bytes of output.
pub(crate) fn decompress_capped(
    format: Compression,
    data: &[u8],
    what: &'static str,
    cap: u64,
) -> Result<Vec<u8>, ImageError> {
    let result = match format {
        Compression::Gzip => read_capped(flate2::read::GzDecoder::new(data), cap),
        Compression::Bzip2 => read_capped(bzip2::read::BzDecoder::new(data), cap),
        Compression::Xz => read_capped(
            lzma_rust2::XzReader::new_mem_limit(data, false, LZMA_MEM_LIMIT_KIB),
            cap,
        ),
        Compression::Lzma => lzma(data, cap),
        Compression::Zstd => zstd(data, cap),
        Compression::Lz4 => lz4_legacy(data, cap),
        Compression::Lzo => lzop::decompress(data, cap),
    };
    result.map_err(|e| match e {
        DecodeError::TooLarge => ImageError::TooLarge { what, format },
        DecodeError::Corrupt(reason) => ImageError::Decompress {
            what,
            format,
            reason,
        },
    })
}

/// Read a decoder to its end, refusing more than `cap` bytes.
fn read_capped(reader: impl Read, cap: u64) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::new();
    reader.take(cap + 1).read_to_end(&mut out)?;
    check_cap(out.len(), cap)?;
    Ok(out)
}

pub(crate) fn check_cap(len: usize, cap: u64) -> Result<(), DecodeError> {
    if len as u64 > cap {
        return Err(DecodeError::TooLarge);
    }
    Ok(())
}

fn lzma(data: &[u8], cap: u64) -> Result<Vec<u8>, DecodeError> {
    let reader = lzma_rust2::LzmaReader::new_mem_limit(data, LZMA_MEM_LIMIT_KIB, None)?;
    read_capped(reader, cap)
}

fn zstd(data: &[u8], cap: u64) -> Result<Vec<u8>, DecodeError> {
    let mut source = data;
    let decoder = ruzstd::decoding::StreamingDecoder::new(&mut source)
        .map_err(|e| DecodeError::Corrupt(e.to_string()))?;
    read_capped(decoder, cap)
}

/// The kernel's LZ4 legacy frame: the magic, then blocks of (u32 LE compressed length,
/// data), each expanding to at most 8 MiB. A repeated magic starts a new frame. The kernel
/// build appends the 4-byte uncompressed size, which is skipped.
fn lz4_legacy(data: &[u8], cap: u64) -> Result<Vec<u8>, DecodeError> {
    let mut rest = data
        .strip_prefix(&LZ4_LEGACY_MAGIC.to_le_bytes())
        .ok_or_else(|| DecodeError::Corrupt("not an LZ4 legacy frame".to_string()))?;
    let mut out = Vec::new();
    let mut block = vec![0u8; LZ4_LEGACY_BLOCK];
    let mut blocks = 0usize;
    while rest.len() >= 4 {
        if rest.len() == 4 && blocks > 0 {
            break; // the appended size
        }
        let (len_bytes, tail) = rest.split_at(4);
        let len = u32::from_le_bytes([len_bytes[0], len_bytes[1], len_bytes[2], len_bytes[3]]);
        rest = tail;
        if len == LZ4_LEGACY_MAGIC {
            continue;
        }
        let len = len as usize;
        if len > rest.len() {
            return Err(DecodeError::Corrupt(format!(
                "block of {len} bytes but only {} left (truncated?)",
                rest.len()
            )));
        }
        let (compressed, tail) = rest.split_at(len);
        let n = lz4_flex::block::decompress_into(compressed, &mut block)
            .map_err(|e| DecodeError::Corrupt(e.to_string()))?;
        check_cap(out.len() + n, cap)?;
        out.extend_from_slice(&block[..n]);
        blocks += 1;
        rest = tail;
    }
    if blocks == 0 {
        return Err(DecodeError::Corrupt("the frame holds no block".to_string()));
    }
    Ok(out)
}
