//! The lzop container around LZO1X blocks (what `lzop -9` writes for kernels).
//!
//! Header (big-endian): magic[9], version u16, lib_version u16, [version_needed u16 if
//! version ≥ 0x0940], method u8, [level u8 if ≥ 0x0940], flags u32, [filter u32 if
//! F_H_FILTER], mode u32, mtime_low u32, [mtime_high u32 if ≥ 0x0940], name_len u8 + name,
//! header checksum u32, [extra field: len u32 + data + checksum u32 if F_H_EXTRA_FIELD].
//! Blocks: dst_len u32 (0 ends the stream), src_len u32, a checksum of the decompressed
//! data per F_ADLER32_D/F_CRC32_D, one of the compressed data per F_ADLER32_C/F_CRC32_C
//! when the block is compressed, then src_len bytes; src_len == dst_len means stored.

use super::decompress::{DecodeError, check_cap};

const MAGIC: &[u8; 9] = b"\x89LZO\x00\r\n\x1a\n";
const F_ADLER32_D: u32 = 0x0001;
const F_ADLER32_C: u32 = 0x0002;
const F_H_EXTRA_FIELD: u32 = 0x0040;
const F_CRC32_D: u32 = 0x0100;
const F_CRC32_C: u32 = 0x0200;
const F_H_FILTER: u32 = 0x0800;
/// Versions from this one carry version_needed, level and mtime_high.
const NEW_HEADER_VERSION: u16 = 0x0940;
/// libxenguest's per-block limit.
const MAX_BLOCK: usize = 64 << 20;

/// Big-endian cursor over the input; every read is bounds-checked.
struct Cursor<'a> {
    data: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.data.len() {
            return Err(DecodeError::Corrupt("lzop data is truncated".to_string()));
        }
        let (head, tail) = self.data.split_at(n);
        self.data = tail;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, DecodeError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
}

pub(crate) fn decompress(data: &[u8], cap: u64) -> Result<Vec<u8>, DecodeError> {
    let mut cur = Cursor { data };
    let flags = read_header(&mut cur)?;
    let mut out = Vec::new();
    while read_block(&mut cur, flags, cap, &mut out)? {}
    Ok(out)
}

/// Parse the file header; returns the flags that shape the blocks.
fn read_header(cur: &mut Cursor<'_>) -> Result<u32, DecodeError> {
    if cur.take(MAGIC.len())? != MAGIC {
        return Err(DecodeError::Corrupt("bad lzop magic".to_string()));
    }
    let version = cur.u16()?;
    let _lib_version = cur.u16()?;
    if version >= NEW_HEADER_VERSION {
        let _version_needed = cur.u16()?;
    }
    let method = cur.u8()?;
    if !(1..=3).contains(&method) {
        return Err(DecodeError::Corrupt(format!(
            "lzop method {method} is not LZO1X"
        )));
    }
    if version >= NEW_HEADER_VERSION {
        let _level = cur.u8()?;
    }
    let flags = cur.u32()?;
    if flags & F_H_FILTER != 0 && cur.u32()? != 0 {
        return Err(DecodeError::Corrupt(
            "lzop filters are not supported".to_string(),
        ));
    }
    let _mode = cur.u32()?;
    let _mtime_low = cur.u32()?;
    if version >= NEW_HEADER_VERSION {
        let _mtime_high = cur.u32()?;
    }
    let name_len = cur.u8()?;
    cur.take(usize::from(name_len))?;
    let _header_checksum = cur.u32()?;
    if flags & F_H_EXTRA_FIELD != 0 {
        let len = cur.u32()? as usize;
        cur.take(len)?;
        let _extra_checksum = cur.u32()?;
    }
    Ok(flags)
}

/// Decode one block into `out`; false at the end marker.
fn read_block(
    cur: &mut Cursor<'_>,
    flags: u32,
    cap: u64,
    out: &mut Vec<u8>,
) -> Result<bool, DecodeError> {
    let dst_len = cur.u32()? as usize;
    if dst_len == 0 {
        return Ok(false);
    }
    if dst_len > MAX_BLOCK {
        return Err(DecodeError::Corrupt(format!(
            "lzop block of {dst_len} bytes exceeds the 64 MiB limit"
        )));
    }
    let src_len = cur.u32()? as usize;
    if src_len == 0 || src_len > dst_len {
        return Err(DecodeError::Corrupt(format!(
            "lzop block of {src_len} compressed bytes for {dst_len} bytes"
        )));
    }
    let adler_d = (flags & F_ADLER32_D != 0).then(|| cur.u32()).transpose()?;
    let crc_d = (flags & F_CRC32_D != 0).then(|| cur.u32()).transpose()?;
    if src_len < dst_len {
        let skip = usize::from(flags & F_ADLER32_C != 0) + usize::from(flags & F_CRC32_C != 0);
        cur.take(4 * skip)?;
    }
    let src = cur.take(src_len)?;
    check_cap(out.len() + dst_len, cap)?;
    let start = out.len();
    if src_len == dst_len {
        out.extend_from_slice(src);
    } else {
        out.resize(start + dst_len, 0);
        let n = lzo::decompress_into(src, &mut out[start..])
            .map_err(|e| DecodeError::Corrupt(format!("LZO1X block: {e:?}")))?;
        if n != dst_len {
            return Err(DecodeError::Corrupt(format!(
                "LZO1X block gave {n} bytes, the header says {dst_len}"
            )));
        }
    }
    verify_checksums(&out[start..], adler_d, crc_d)?;
    Ok(true)
}

fn verify_checksums(block: &[u8], adler: Option<u32>, crc: Option<u32>) -> Result<(), DecodeError> {
    if adler.is_some_and(|want| adler32(block) != want) {
        return Err(DecodeError::Corrupt(
            "lzop block fails its Adler-32 check".to_string(),
        ));
    }
    if let Some(want) = crc {
        let mut c = flate2::Crc::new();
        c.update(block);
        if c.sum() != want {
            return Err(DecodeError::Corrupt(
                "lzop block fails its CRC-32 check".to_string(),
            ));
        }
    }
    Ok(())
}

/// Adler-32 as lzop computes it (starting value 1).
pub(crate) fn adler32(data: &[u8]) -> u32 {
    const MOD: u32 = 65521;
    let (mut a, mut b) = (1u32, 0u32);
    // 5552 bytes is the longest run before `b` could overflow u32.
    for chunk in data.chunks(5552) {
        for &byte in chunk {
            a += u32::from(byte);
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    (b << 16) | a
}
