//! libxc's migration stream: an image header (big-endian), a domain
//! header, then records up to END. Records the decoder knows are checked
//! for their shape; optional records (type bit 31) of any kind are kept
//! as they are, as libxc skips those it does not know.

use std::io::{self, Read, Write};

use crate::{FormatError, Result, le_u32, le_u64, read_exact, read_frame, write_frame};

const IHDR_MARKER: u64 = u64::MAX;
/// "XENF".
const IHDR_ID: u32 = 0x5845_4e46;
/// The version Xen 4.17 writes; version 2 streams are read too (they
/// differ only in lacking STATIC_DATA_END).
const IHDR_VERSION: u32 = 3;
const IHDR_OPT_BIG_ENDIAN: u16 = 1;

/// Domain header type of an x86 PV guest.
pub const DHDR_TYPE_X86_PV: u32 = 1;
/// Domain header type of an x86 HVM guest (PVH included).
pub const DHDR_TYPE_X86_HVM: u32 = 2;
/// x86's 4 KiB pages, the only size the stream has carried.
pub const PAGE_SHIFT: u16 = 12;
/// Bytes per page: 4096.
pub const PAGE_SIZE: usize = 1 << PAGE_SHIFT;

/// libxc's own limit on one record.
pub const REC_LENGTH_MAX: u64 = 128 << 20;
/// Bit 31 of a record type: a reader that does not know the type may skip
/// the record.
pub const REC_TYPE_OPTIONAL: u32 = 0x8000_0000;

/// Record types (REC_TYPE_*).
pub mod libxc_rec {
    /// The end of the image.
    pub const END: u32 = 0x00;
    /// Guest pages: pfns with their types, then the contents.
    pub const PAGE_DATA: u32 = 0x01;
    /// PV guest width and page-table levels.
    pub const X86_PV_INFO: u32 = 0x02;
    /// The frames holding a PV guest's p2m list.
    pub const X86_PV_P2M_FRAMES: u32 = 0x03;
    /// A PV vCPU's basic register state (`vcpu_guest_context`).
    pub const X86_PV_VCPU_BASIC: u32 = 0x04;
    /// A PV vCPU's extended state.
    pub const X86_PV_VCPU_EXTENDED: u32 = 0x05;
    /// A PV vCPU's xsave area.
    pub const X86_PV_VCPU_XSAVE: u32 = 0x06;
    /// A PV guest's shared info page.
    pub const SHARED_INFO: u32 = 0x07;
    /// TSC mode and frequency.
    pub const X86_TSC_INFO: u32 = 0x08;
    /// An HVM guest's hypervisor-side context (vCPUs, emulated platform devices).
    pub const HVM_CONTEXT: u32 = 0x09;
    /// HVM parameters, as (index, value) pairs.
    pub const HVM_PARAMS: u32 = 0x0a;
    /// Opaque data of the toolstack above libxc; a stopgap libxl no longer sends.
    pub const TOOLSTACK: u32 = 0x0b;
    /// A PV vCPU's MSRs.
    pub const X86_PV_VCPU_MSRS: u32 = 0x0c;
    /// All memory is sent; pages that follow are resent for the receiver to check (debug).
    pub const VERIFY: u32 = 0x0d;
    /// The records so far form a consistent state; the stream returns to libxl (Remus/COLO).
    pub const CHECKPOINT: u32 = 0x0e;
    /// The pfns dirtied during a COLO checkpoint.
    pub const CHECKPOINT_DIRTY_PFN_LIST: u32 = 0x0f;
    /// End of the data sent once, before the memory (image version 3).
    pub const STATIC_DATA_END: u32 = 0x10;
    /// The domain's CPUID policy.
    pub const X86_CPUID_POLICY: u32 = 0x11;
    /// The domain's MSR policy.
    pub const X86_MSR_POLICY: u32 = 0x12;
    /// The last mandatory type Xen 4.17 defines.
    pub const LAST_KNOWN: u32 = X86_MSR_POLICY;
}

/// A PAGE_DATA entry's type (its top nibble, XEN_DOMCTL_PFINFO_*).
pub mod page_type {
    /// An ordinary page, not a page table.
    pub const NOTAB: u64 = 0x0;
    /// A level-1 page table (PV).
    pub const L1TAB: u64 = 0x1;
    /// A level-4 page table (PV).
    pub const L4TAB: u64 = 0x4;
    /// A page the hardware reported broken; no contents sent.
    pub const BROKEN: u64 = 0xd;
    /// A page to allocate but not fill; no contents sent.
    pub const XALLOC: u64 = 0xe;
    /// An invalid pfn (a hole); no contents sent.
    pub const XTAB: u64 = 0xf;
    /// Where the type sits in an entry: bits 60 to 63.
    pub const SHIFT: u32 = 60;
    /// The pfn part of an entry: bits 0 to 51.
    pub const PFN_MASK: u64 = 0x000f_ffff_ffff_ffff;

    /// Whether a page of this type carries its contents in the record.
    pub fn has_data(t: u64) -> bool {
        !matches!(t, BROKEN | XALLOC | XTAB)
    }
}

/// The libxc domain header (its page shift is always 12 here).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DomainHeader {
    /// [`DHDR_TYPE_X86_PV`] or [`DHDR_TYPE_X86_HVM`].
    pub domain_type: u32,
    /// Major version of the Xen that saved the domain.
    pub xen_major: u32,
    /// Minor version of the Xen that saved the domain.
    pub xen_minor: u32,
}

/// One record of libxc's image; the kinds this crate reads or writes
/// itself are decoded, the rest kept as bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LibxcRecord {
    /// END: the end of the image.
    End,
    /// Pages: each entry is a pfn with its type in the top nibble; `data`
    /// holds the contents of those whose type has data, in order.
    PageData {
        /// One entry per page: pfn in bits 0-51, [`page_type`] in bits 60-63.
        entries: Vec<u64>,
        /// The pages' contents, [`PAGE_SIZE`] bytes each.
        data: Vec<u8>,
    },
    /// X86_PV_INFO: the PV guest's word size and paging depth.
    X86PvInfo {
        /// Guest word size in bytes: 8 for a 64-bit guest.
        guest_width: u8,
        /// Page-table levels: 4 on x86_64.
        pt_levels: u8,
    },
    /// X86_TSC_INFO: the guest's TSC setup.
    X86TscInfo {
        /// `TSC_MODE_*`, the xl.cfg `tsc_mode`.
        mode: u32,
        /// Guest TSC frequency in kHz.
        khz: u32,
        /// Guest elapsed time in nanoseconds.
        nsec: u64,
        /// Xen's TSC incarnation counter, bumped each time the TSC info is set (on restore).
        incarnation: u32,
    },
    /// HVM_PARAMS: (`HVM_PARAM_*` index, value) pairs.
    HvmParams(Vec<(u64, u64)>),
    /// STATIC_DATA_END: what is sent once (CPU policy and the like) is over.
    StaticDataEnd,
    /// Any other record known to Xen, or an optional one, kept as is.
    Other {
        /// The record type.
        rtype: u32,
        /// The body, padding excluded.
        body: Vec<u8>,
    },
}

impl LibxcRecord {
    fn encode(&self) -> (u32, Vec<u8>) {
        match self {
            LibxcRecord::End => (libxc_rec::END, Vec::new()),
            LibxcRecord::PageData { entries, data } => {
                let mut b = Vec::with_capacity(8 + entries.len() * 8 + data.len());
                b.extend_from_slice(&(entries.len() as u32).to_le_bytes());
                b.extend_from_slice(&[0; 4]);
                for e in entries {
                    b.extend_from_slice(&e.to_le_bytes());
                }
                b.extend_from_slice(data);
                (libxc_rec::PAGE_DATA, b)
            }
            LibxcRecord::X86PvInfo {
                guest_width,
                pt_levels,
            } => (
                libxc_rec::X86_PV_INFO,
                vec![*guest_width, *pt_levels, 0, 0, 0, 0, 0, 0],
            ),
            LibxcRecord::X86TscInfo {
                mode,
                khz,
                nsec,
                incarnation,
            } => {
                let mut b = Vec::with_capacity(24);
                b.extend_from_slice(&mode.to_le_bytes());
                b.extend_from_slice(&khz.to_le_bytes());
                b.extend_from_slice(&nsec.to_le_bytes());
                b.extend_from_slice(&incarnation.to_le_bytes());
                b.extend_from_slice(&[0; 4]);
                (libxc_rec::X86_TSC_INFO, b)
            }
            LibxcRecord::HvmParams(params) => {
                let mut b = Vec::with_capacity(8 + params.len() * 16);
                b.extend_from_slice(&(params.len() as u32).to_le_bytes());
                b.extend_from_slice(&[0; 4]);
                for (i, v) in params {
                    b.extend_from_slice(&i.to_le_bytes());
                    b.extend_from_slice(&v.to_le_bytes());
                }
                (libxc_rec::HVM_PARAMS, b)
            }
            LibxcRecord::StaticDataEnd => (libxc_rec::STATIC_DATA_END, Vec::new()),
            LibxcRecord::Other { rtype, body } => (*rtype, body.clone()),
        }
    }

    fn decode(rtype: u32, body: Vec<u8>) -> Result<LibxcRecord> {
        let bad = |what: &'static str, why: String| FormatError::BadRecord { what, why };
        let exact = |what: &'static str, want: usize, body: &[u8]| {
            if body.len() == want {
                Ok(())
            } else {
                Err(bad(what, format!("{} bytes, expected {want}", body.len())))
            }
        };
        Ok(match rtype {
            libxc_rec::END => {
                exact("END", 0, &body)?;
                LibxcRecord::End
            }
            libxc_rec::PAGE_DATA => decode_page_data(&body)?,
            libxc_rec::X86_PV_INFO => {
                exact("X86_PV_INFO", 8, &body)?;
                LibxcRecord::X86PvInfo {
                    guest_width: body[0],
                    pt_levels: body[1],
                }
            }
            libxc_rec::X86_TSC_INFO => {
                exact("X86_TSC_INFO", 24, &body)?;
                LibxcRecord::X86TscInfo {
                    mode: le_u32(&body, 0),
                    khz: le_u32(&body, 4),
                    nsec: le_u64(&body, 8),
                    incarnation: le_u32(&body, 16),
                }
            }
            libxc_rec::HVM_PARAMS => {
                if body.len() < 8 {
                    return Err(bad("HVM_PARAMS", "shorter than its header".into()));
                }
                let count = le_u32(&body, 0) as usize;
                exact("HVM_PARAMS", 8 + count * 16, &body)?;
                LibxcRecord::HvmParams(
                    (0..count)
                        .map(|i| (le_u64(&body, 8 + i * 16), le_u64(&body, 16 + i * 16)))
                        .collect(),
                )
            }
            libxc_rec::STATIC_DATA_END => {
                exact("STATIC_DATA_END", 0, &body)?;
                LibxcRecord::StaticDataEnd
            }
            t if t <= libxc_rec::LAST_KNOWN || t & REC_TYPE_OPTIONAL != 0 => {
                LibxcRecord::Other { rtype: t, body }
            }
            t => return Err(FormatError::UnknownLibxcRecord(t)),
        })
    }
}

fn decode_page_data(body: &[u8]) -> Result<LibxcRecord> {
    let bad = |why: String| FormatError::BadRecord {
        what: "PAGE_DATA",
        why,
    };
    if body.len() < 8 {
        return Err(bad("shorter than its header".into()));
    }
    let count = le_u32(body, 0) as usize;
    if count == 0 {
        return Err(bad("no pages".into()));
    }
    let pfns_end = count
        .checked_mul(8)
        .and_then(|n| n.checked_add(8))
        .filter(|n| *n <= body.len())
        .ok_or_else(|| bad(format!("{count} pages do not fit in {} bytes", body.len())))?;
    let entries: Vec<u64> = (0..count).map(|i| le_u64(body, 8 + i * 8)).collect();
    let with_data = entries
        .iter()
        .filter(|e| page_type::has_data(**e >> page_type::SHIFT))
        .count();
    let data = &body[pfns_end..];
    if data.len() != with_data * PAGE_SIZE {
        return Err(bad(format!(
            "{} bytes of page contents for {with_data} pages",
            data.len()
        )));
    }
    Ok(LibxcRecord::PageData {
        entries,
        data: data.to_vec(),
    })
}

/// Writes the 24-byte image header: marker, `XENF`, version 3, little-endian.
pub fn write_image_header(w: &mut dyn Write) -> io::Result<()> {
    let mut b = [0u8; 24];
    b[..8].copy_from_slice(&IHDR_MARKER.to_be_bytes());
    b[8..12].copy_from_slice(&IHDR_ID.to_be_bytes());
    b[12..16].copy_from_slice(&IHDR_VERSION.to_be_bytes());
    w.write_all(&b)
}

/// The image version (2 or 3).
pub fn read_image_header(r: &mut dyn Read) -> Result<u32> {
    let mut b = [0u8; 24];
    read_exact(r, &mut b, "libxc image header")?;
    let mut m = [0u8; 8];
    m.copy_from_slice(&b[..8]);
    let marker = u64::from_be_bytes(m);
    let id = u32::from_be_bytes([b[8], b[9], b[10], b[11]]);
    let version = u32::from_be_bytes([b[12], b[13], b[14], b[15]]);
    let options = u16::from_be_bytes([b[16], b[17]]);
    if marker != IHDR_MARKER || id != IHDR_ID {
        return Err(FormatError::ImageHeader { marker, id });
    }
    if !(2..=3).contains(&version) {
        return Err(FormatError::ImageVersion(version));
    }
    if options & IHDR_OPT_BIG_ENDIAN != 0 {
        return Err(FormatError::BigEndian);
    }
    Ok(version)
}

/// Writes the 16-byte domain header, with a page shift of 12.
pub fn write_domain_header(w: &mut dyn Write, d: &DomainHeader) -> io::Result<()> {
    let mut b = [0u8; 16];
    b[..4].copy_from_slice(&d.domain_type.to_le_bytes());
    b[4..6].copy_from_slice(&PAGE_SHIFT.to_le_bytes());
    b[8..12].copy_from_slice(&d.xen_major.to_le_bytes());
    b[12..16].copy_from_slice(&d.xen_minor.to_le_bytes());
    w.write_all(&b)
}

/// Reads the domain header; only x86 PV/HVM with 4 KiB pages is accepted.
pub fn read_domain_header(r: &mut dyn Read) -> Result<DomainHeader> {
    let mut b = [0u8; 16];
    read_exact(r, &mut b, "libxc domain header")?;
    let domain_type = le_u32(&b, 0);
    let page_shift = u16::from_le_bytes([b[4], b[5]]);
    if !matches!(domain_type, DHDR_TYPE_X86_PV | DHDR_TYPE_X86_HVM) {
        return Err(FormatError::DomainType(domain_type));
    }
    if page_shift != PAGE_SHIFT {
        return Err(FormatError::PageShift(page_shift));
    }
    Ok(DomainHeader {
        domain_type,
        xen_major: le_u32(&b, 8),
        xen_minor: le_u32(&b, 12),
    })
}

/// Writes one record, framed and padded to 8 bytes.
pub fn write_libxc_record(w: &mut dyn Write, rec: &LibxcRecord) -> io::Result<()> {
    let (rtype, body) = rec.encode();
    write_frame(w, rtype, &body)
}

/// Reads one record: known shapes are checked, optional and known-but-
/// undecoded types are kept as [`LibxcRecord::Other`], unknown mandatory
/// types are an error.
pub fn read_libxc_record(r: &mut dyn Read) -> Result<LibxcRecord> {
    let (rtype, body) = read_frame(r, REC_LENGTH_MAX, "libxc record")?;
    LibxcRecord::decode(rtype, body)
}

/// A whole libxc image in memory: headers and records, END excluded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LibxcImage {
    /// The domain header.
    pub domain: DomainHeader,
    /// The records, in stream order.
    pub records: Vec<LibxcRecord>,
}

/// More records than this in one image held in memory is not a
/// simulated guest's; streamed images are read record by record.
const MAX_IMAGE_RECORDS: usize = 1 << 16;

impl LibxcImage {
    /// Writes both headers, the records and END.
    pub fn encode(&self, w: &mut dyn Write) -> io::Result<()> {
        write_image_header(w)?;
        write_domain_header(w, &self.domain)?;
        for rec in &self.records {
            write_libxc_record(w, rec)?;
        }
        write_libxc_record(w, &LibxcRecord::End)
    }

    /// Reads both headers and the records up to END.
    pub fn decode(r: &mut dyn Read) -> Result<LibxcImage> {
        read_image_header(r)?;
        let domain = read_domain_header(r)?;
        let mut records = Vec::new();
        loop {
            match read_libxc_record(r)? {
                LibxcRecord::End => return Ok(LibxcImage { domain, records }),
                rec => records.push(rec),
            }
            if records.len() > MAX_IMAGE_RECORDS {
                return Err(FormatError::BadRecord {
                    what: "libxc",
                    why: format!("more than {MAX_IMAGE_RECORDS} records"),
                });
            }
        }
    }

    /// The body of the first record of type `rtype` kept as raw bytes
    /// (`LibxcRecord::Other`: optional records, and mandatory ones this codec
    /// does not decode), if any.
    pub fn optional(&self, rtype: u32) -> Option<&[u8]> {
        self.records.iter().find_map(|r| match r {
            LibxcRecord::Other { rtype: t, body } if *t == rtype => Some(body.as_slice()),
            _ => None,
        })
    }
}
