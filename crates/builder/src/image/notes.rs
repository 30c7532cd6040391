//! Xen ELF notes (`public/elfnote.h`): name "Xen", numeric or string descriptors.

use super::ImageError;

/// XENFEAT_* bit numbers (`public/features.h`) that FEATURES strings can name.
pub mod feature {
    /// Guest page tables may be writable.
    pub const WRITABLE_PAGE_TABLES: u32 = 0;
    /// Descriptor tables may be writable.
    pub const WRITABLE_DESCRIPTOR_TABLES: u32 = 1;
    /// Guest runs with an auto-translated physmap (gone for PV).
    pub const AUTO_TRANSLATED_PHYSMAP: u32 = 2;
    /// Kernel runs in ring 0.
    pub const SUPERVISOR_MODE_KERNEL: u32 = 3;
    /// PAE page directories above 4 GiB.
    pub const PAE_PGDIR_ABOVE_4GB: u32 = 4;
    /// HVM callback vector.
    pub const HVM_CALLBACK_VECTOR: u32 = 8;
    /// Kernel is (only) a control domain kernel.
    pub const DOM0: u32 = 11;

    /// The names libelf recognises in a FEATURES string.
    pub(crate) const NAMES: [(&str, u32); 7] = [
        ("writable_page_tables", WRITABLE_PAGE_TABLES),
        ("writable_descriptor_tables", WRITABLE_DESCRIPTOR_TABLES),
        ("auto_translated_physmap", AUTO_TRANSLATED_PHYSMAP),
        ("supervisor_mode_kernel", SUPERVISOR_MODE_KERNEL),
        ("pae_pgdir_above_4gb", PAE_PGDIR_ABOVE_4GB),
        ("hvm_callback_vector", HVM_CALLBACK_VECTOR),
        ("dom0", DOM0),
    ];
}

/// Note types (`XEN_ELFNOTE_*`).
pub(crate) mod kind {
    pub const ENTRY: u32 = 1;
    pub const HYPERCALL_PAGE: u32 = 2;
    pub const VIRT_BASE: u32 = 3;
    pub const PADDR_OFFSET: u32 = 4;
    pub const XEN_VERSION: u32 = 5;
    pub const GUEST_OS: u32 = 6;
    pub const GUEST_VERSION: u32 = 7;
    pub const LOADER: u32 = 8;
    pub const PAE_MODE: u32 = 9;
    pub const FEATURES: u32 = 10;
    pub const BSD_SYMTAB: u32 = 11;
    pub const HV_START_LOW: u32 = 12;
    pub const L1_MFN_VALID: u32 = 13;
    pub const SUSPEND_CANCEL: u32 = 14;
    pub const INIT_P2M: u32 = 15;
    pub const MOD_START_PFN: u32 = 16;
    pub const SUPPORTED_FEATURES: u32 = 17;
    pub const PHYS32_ENTRY: u32 = 18;
}

/// Every Xen note the builder understands; `None` when the kernel does not carry it.
/// A note given twice keeps its last value, as in libelf.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct XenNotes {
    /// ENTRY: virtual entry point.
    pub entry: Option<u64>,
    /// HYPERCALL_PAGE: virtual address of the hypercall page.
    pub hypercall_page: Option<u64>,
    /// VIRT_BASE: virtual address of pseudo-physical 0.
    pub virt_base: Option<u64>,
    /// PADDR_OFFSET: subtracted from ELF paddrs to get offsets from VIRT_BASE.
    pub paddr_offset: Option<u64>,
    /// XEN_VERSION, e.g. "xen-3.0".
    pub xen_version: Option<String>,
    /// GUEST_OS, e.g. "linux".
    pub guest_os: Option<String>,
    /// GUEST_VERSION.
    pub guest_version: Option<String>,
    /// LOADER, e.g. "generic".
    pub loader: Option<String>,
    /// PAE_MODE (32-bit kernels).
    pub pae_mode: Option<String>,
    /// FEATURES string as written (`|`-separated, `!` = required).
    pub features: Option<String>,
    /// BSD_SYMTAB.
    pub bsd_symtab: Option<String>,
    /// HV_START_LOW (32-bit kernels).
    pub hv_start_low: Option<u64>,
    /// L1_MFN_VALID: (mask, value) pairs as raw bytes; libelf does not interpret it.
    pub l1_mfn_valid: Option<Vec<u8>>,
    /// SUSPEND_CANCEL.
    pub suspend_cancel: Option<u64>,
    /// INIT_P2M: where the kernel wants the p2m list mapped.
    pub init_p2m: Option<u64>,
    /// MOD_START_PFN: non-zero means "give me the ramdisk by pfn, unmapped".
    pub mod_start_pfn: Option<u64>,
    /// SUPPORTED_FEATURES bitmap (first 32 features).
    pub supported_features: Option<u32>,
    /// PHYS32_ENTRY: 32-bit PVH entry point.
    pub phys32_entry: Option<u64>,
    /// XENFEAT bits the kernel supports (FEATURES and SUPPORTED_FEATURES).
    pub features_supported: u32,
    /// XENFEAT bits the kernel requires (`!` in FEATURES).
    pub features_required: u32,
}

impl XenNotes {
    /// Whether the FEATURES note requires `feature` (a [`feature`] bit number).
    pub fn requires(&self, feature: u32) -> bool {
        feature < 32 && self.features_required & (1 << feature) != 0
    }

    /// Whether the kernel declares `feature` supported (or required).
    pub fn supports(&self, feature: u32) -> bool {
        feature < 32 && self.features_supported & (1 << feature) != 0
    }

    /// Record one note named "Xen". Unknown types are ignored, as libelf does.
    pub(crate) fn record(&mut self, kind_: u32, desc: &[u8]) -> Result<(), ImageError> {
        match kind_ {
            kind::ENTRY => self.entry = Some(numeric("ENTRY", desc)?),
            kind::HYPERCALL_PAGE => self.hypercall_page = Some(numeric("HYPERCALL_PAGE", desc)?),
            kind::VIRT_BASE => self.virt_base = Some(numeric("VIRT_BASE", desc)?),
            kind::PADDR_OFFSET => self.paddr_offset = Some(numeric("PADDR_OFFSET", desc)?),
            kind::XEN_VERSION => self.xen_version = Some(string("XEN_VERSION", desc)?),
            kind::GUEST_OS => self.guest_os = Some(string("GUEST_OS", desc)?),
            kind::GUEST_VERSION => self.guest_version = Some(string("GUEST_VERSION", desc)?),
            kind::LOADER => self.loader = Some(string("LOADER", desc)?),
            kind::PAE_MODE => self.pae_mode = Some(string("PAE_MODE", desc)?),
            kind::FEATURES => self.record_features(string("FEATURES", desc)?)?,
            kind::BSD_SYMTAB => self.bsd_symtab = Some(string("BSD_SYMTAB", desc)?),
            kind::HV_START_LOW => self.hv_start_low = Some(numeric("HV_START_LOW", desc)?),
            kind::L1_MFN_VALID => self.l1_mfn_valid = Some(desc.to_vec()),
            kind::SUSPEND_CANCEL => self.suspend_cancel = Some(numeric("SUSPEND_CANCEL", desc)?),
            kind::INIT_P2M => self.init_p2m = Some(numeric("INIT_P2M", desc)?),
            kind::MOD_START_PFN => self.mod_start_pfn = Some(numeric("MOD_START_PFN", desc)?),
            kind::SUPPORTED_FEATURES => self.record_supported_bitmap(desc),
            kind::PHYS32_ENTRY => self.phys32_entry = Some(numeric("PHYS32_ENTRY", desc)?),
            _ => {}
        }
        Ok(())
    }

    /// libelf's FEATURES grammar: names separated by `|`, `!name` = required. An unknown
    /// required feature makes the kernel unloadable; unknown optional ones are ignored.
    fn record_features(&mut self, text: String) -> Result<(), ImageError> {
        for token in text.split('|').filter(|t| !t.is_empty()) {
            let (required, name) = match token.strip_prefix('!') {
                Some(name) => (true, name),
                None => (false, token),
            };
            match feature::NAMES.iter().find(|(n, _)| *n == name) {
                Some((_, bit)) => {
                    self.features_supported |= 1 << bit;
                    if required {
                        self.features_required |= 1 << bit;
                    }
                }
                None if required => {
                    return Err(ImageError::BadNote {
                        note: "FEATURES",
                        reason: format!(
                            "the kernel requires feature {name:?}, which Xen does not know"
                        ),
                    });
                }
                None => {}
            }
        }
        self.features = Some(text);
        Ok(())
    }

    /// SUPPORTED_FEATURES is an array of u32 bitmaps; only the first is defined.
    fn record_supported_bitmap(&mut self, desc: &[u8]) {
        if desc.len() >= 4 && desc.len().is_multiple_of(4) {
            let bits = u32::from_le_bytes([desc[0], desc[1], desc[2], desc[3]]);
            self.supported_features = Some(bits);
            self.features_supported |= bits;
        }
    }
}

/// A numeric note: 1, 2, 4 or 8 bytes little-endian (Linux uses 4 or 8).
fn numeric(note: &'static str, desc: &[u8]) -> Result<u64, ImageError> {
    match desc.len() {
        1 | 2 | 4 | 8 => {
            let mut le = [0u8; 8];
            le[..desc.len()].copy_from_slice(desc);
            Ok(u64::from_le_bytes(le))
        }
        n => Err(ImageError::BadNote {
            note,
            reason: format!("its value is {n} bytes long, expected 4 or 8"),
        }),
    }
}

/// A string note: up to the first NUL, or the whole descriptor. Linux's
/// FEATURES note has no NUL inside its descriptor (libelf reads on into
/// the zero padding), so a missing terminator is not an error.
fn string(_note: &'static str, desc: &[u8]) -> Result<String, ImageError> {
    let end = desc.iter().position(|&b| b == 0).unwrap_or(desc.len());
    Ok(String::from_utf8_lossy(&desc[..end]).into_owned())
}

/// Walk a note area (4-byte aligned name and descriptor, as Xen reads them) and record
/// every note named "Xen". Returns how many there were.
pub(crate) fn parse_note_area(area: &[u8], notes: &mut XenNotes) -> Result<usize, ImageError> {
    let mut rest = area;
    let mut found = 0;
    while rest.len() >= 12 {
        let namesz = le32(&rest[0..4]) as usize;
        let descsz = le32(&rest[4..8]) as usize;
        let kind_ = le32(&rest[8..12]);
        let name_end = 12usize.saturating_add(namesz);
        let desc_start = align4(name_end);
        let desc_end = desc_start.saturating_add(descsz);
        if desc_end > rest.len() {
            return Err(ImageError::Elf(format!(
                "an ELF note (type {kind_}) runs past the end of its note area"
            )));
        }
        let name = &rest[12..name_end];
        if name.strip_suffix(&[0]).unwrap_or(name) == b"Xen" {
            notes.record(kind_, &rest[desc_start..desc_end])?;
            found += 1;
        }
        rest = rest.get(align4(desc_end)..).unwrap_or(&[]);
    }
    Ok(found)
}

fn align4(n: usize) -> usize {
    n.saturating_add(3) & !3
}

fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}
