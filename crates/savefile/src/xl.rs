//! xl's own header: a 32-byte magic, a byte-order marker, flags, and
//! "optional data" holding the domain's config.

use std::io::{self, Read, Write};

use crate::{FormatError, Result, le_u32, read_body, read_exact};

/// `"Xen saved domain, xl format\n \0 \r"`: the NUL and CR catch files
/// mangled by text-mode transfers.
pub const MAGIC: [u8; 32] = *b"Xen saved domain, xl format\n \0 \r";
/// Written in the saving host's byte order; read back as 04 03 02 01 on x86.
const BYTEORDER: u32 = 0x0102_0304;
/// Mandatory flag: the config is libxl JSON (else xl.cfg text).
pub const FLAG_JSON: u32 = 1 << 0;
/// Mandatory flag: the domain stream is libxl's v2.
pub const FLAG_STREAM_V2: u32 = 1 << 1;
const KNOWN_FLAGS: u32 = FLAG_JSON | FLAG_STREAM_V2;
/// More optional data than any config takes is refused before reading it.
pub const OPTIONAL_DATA_MAX: u64 = 64 << 20;

/// The header as written: the flags and the stored config (`None`: the
/// file carries none).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct XlHeader {
    /// Flags a reader must understand: [`FLAG_JSON`], [`FLAG_STREAM_V2`].
    pub mandatory_flags: u32,
    /// Flags a reader may ignore (xl defines none).
    pub optional_flags: u32,
    /// The config as stored, with the trailing NUL xl writes.
    pub config: Option<Vec<u8>>,
}

impl XlHeader {
    /// The header xl writes for a v2 stream and a JSON config (the text
    /// gets its terminating NUL here, as xl counts it in the length).
    pub fn with_json_config(json: &str) -> XlHeader {
        let mut config = json.as_bytes().to_vec();
        config.push(0);
        XlHeader {
            mandatory_flags: FLAG_STREAM_V2 | FLAG_JSON,
            optional_flags: 0,
            config: Some(config),
        }
    }

    /// The optional data's length as the header states it.
    pub fn optional_data_len(&self) -> u32 {
        4 + self.config.as_ref().map_or(0, |c| c.len() as u32)
    }

    /// The config text without its terminating NUL (and whatever a
    /// writer put after one).
    pub fn config_text(&self) -> Option<&[u8]> {
        let c = self.config.as_deref()?;
        Some(c.split(|b| *b == 0).next().unwrap_or(c))
    }
}

/// The fixed part of the header: what xl prints before it reads on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct XlPrefix {
    /// Flags a reader must understand: [`FLAG_JSON`], [`FLAG_STREAM_V2`].
    pub mandatory_flags: u32,
    /// Flags a reader may ignore (xl defines none).
    pub optional_flags: u32,
    /// Bytes of optional data after the fixed header.
    pub optional_data_len: u32,
}

impl XlPrefix {
    /// Mandatory flags this reader does not know (a newer xl's).
    pub fn unknown_mandatory_flags(&self) -> u32 {
        self.mandatory_flags & !KNOWN_FLAGS
    }
}

/// Writes the 48-byte fixed header and the optional data (config length,
/// then the config), in this host's byte order as xl does.
pub fn write_xl_header(w: &mut dyn Write, h: &XlHeader) -> io::Result<()> {
    let config_len = h.config.as_ref().map_or(0, Vec::len);
    let config_len = u32::try_from(config_len)
        .ok()
        .filter(|n| u64::from(*n) + 4 <= OPTIONAL_DATA_MAX)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "config too large"))?;
    let mut out = Vec::with_capacity(48 + config_len as usize + 4);
    out.extend_from_slice(&MAGIC);
    for v in [
        BYTEORDER,
        h.mandatory_flags,
        h.optional_flags,
        h.optional_data_len(),
        config_len,
    ] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    if let Some(c) = &h.config {
        out.extend_from_slice(c);
    }
    w.write_all(&out)
}

/// Magic, byte order and flags; the optional data is left unread.
pub fn read_xl_prefix(r: &mut dyn Read) -> Result<XlPrefix> {
    let mut b = [0u8; 48];
    read_exact(r, &mut b, "xl header")?;
    if b[..32] != MAGIC {
        return Err(FormatError::WrongMagic);
    }
    let byteorder = le_u32(&b, 32);
    if byteorder != BYTEORDER {
        return Err(FormatError::WrongByteOrder(byteorder));
    }
    Ok(XlPrefix {
        mandatory_flags: le_u32(&b, 36),
        optional_flags: le_u32(&b, 40),
        optional_data_len: le_u32(&b, 44),
    })
}

/// The optional data after `prefix`: the config, when there is one.
pub fn read_xl_optional(r: &mut dyn Read, prefix: &XlPrefix) -> Result<XlHeader> {
    let data = read_body(
        r,
        u64::from(prefix.optional_data_len),
        OPTIONAL_DATA_MAX,
        "xl header's optional data",
    )?;
    let config = if data.is_empty() {
        None
    } else {
        if data.len() < 4 {
            return Err(FormatError::ConfigOutsideOptionalData {
                config: 4,
                optional: data.len() as u64,
            });
        }
        let len = u64::from(le_u32(&data, 0));
        let rest = &data[4..];
        if len > rest.len() as u64 {
            return Err(FormatError::ConfigOutsideOptionalData {
                config: len,
                optional: data.len() as u64,
            });
        }
        (len > 0).then(|| rest[..len as usize].to_vec())
    };
    Ok(XlHeader {
        mandatory_flags: prefix.mandatory_flags,
        optional_flags: prefix.optional_flags,
        config,
    })
}
