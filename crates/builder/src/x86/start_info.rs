//! `struct start_info` of x86_64 PV guests (`public/xen.h`), 1168 bytes.

/// Size of the encoded structure.
pub const START_INFO_SIZE: usize = 1168;
/// `SIF_MOD_START_PFN`: `mod_start` is a pfn, not a virtual address.
pub const SIF_MOD_START_PFN: u32 = 1 << 3;
/// `SIF_VIRT_P2M_4TOOLS` (libxl clears it, so xl's guests never see it).
pub const SIF_VIRT_P2M_4TOOLS: u32 = 1 << 4;
/// Size of `cmd_line`, including its terminating NUL.
pub const MAX_GUEST_CMDLINE: usize = 1024;
/// The guest type written into `magic`.
pub const MAGIC_X86_64: &str = "xen-3.0-x86_64";

/// Field offsets (measured from the public headers, identical on 4.17–4.22).
mod offset {
    pub const MAGIC: usize = 0;
    pub const NR_PAGES: usize = 32;
    pub const SHARED_INFO: usize = 40;
    pub const FLAGS: usize = 48;
    pub const STORE_MFN: usize = 56;
    pub const STORE_EVTCHN: usize = 64;
    pub const CONSOLE_MFN: usize = 72;
    pub const CONSOLE_EVTCHN: usize = 80;
    pub const PT_BASE: usize = 88;
    pub const NR_PT_FRAMES: usize = 96;
    pub const MFN_LIST: usize = 104;
    pub const MOD_START: usize = 112;
    pub const MOD_LEN: usize = 120;
    pub const CMD_LINE: usize = 128;
    pub const FIRST_P2M_PFN: usize = 1152;
    pub const NR_P2M_FRAMES: usize = 1160;
}

/// The start_info page contents, field by field.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StartInfo {
    /// Guest type, "xen-3.0-x86_64".
    pub magic: String,
    /// Pages of the domain.
    pub nr_pages: u64,
    /// Machine address of shared_info.
    pub shared_info: u64,
    /// `SIF_*` flags.
    pub flags: u32,
    /// MFN of the xenstore ring.
    pub store_mfn: u64,
    /// Event channel of xenstore.
    pub store_evtchn: u32,
    /// MFN of the console ring.
    pub console_mfn: u64,
    /// Event channel of the console.
    pub console_evtchn: u32,
    /// Virtual address of the L4 table.
    pub pt_base: u64,
    /// Frames of the initial page tables.
    pub nr_pt_frames: u64,
    /// Virtual address of the p2m list.
    pub mfn_list: u64,
    /// Ramdisk: virtual address, or pfn with `SIF_MOD_START_PFN`.
    pub mod_start: u64,
    /// Ramdisk length in bytes.
    pub mod_len: u64,
    /// Command line bytes, without the terminating NUL (at most 1023).
    pub cmd_line: Vec<u8>,
    /// First pfn of the p2m list when mapped at INIT_P2M.
    pub first_p2m_pfn: u64,
    /// Frames of the p2m list and its page tables when mapped at INIT_P2M.
    pub nr_p2m_frames: u64,
}

impl StartInfo {
    /// The 1168-byte little-endian structure the guest reads.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = vec![0u8; START_INFO_SIZE];
        let magic = self.magic.as_bytes();
        let magic_len = magic.len().min(31);
        b[offset::MAGIC..offset::MAGIC + magic_len].copy_from_slice(&magic[..magic_len]);
        put64(&mut b, offset::NR_PAGES, self.nr_pages);
        put64(&mut b, offset::SHARED_INFO, self.shared_info);
        put32(&mut b, offset::FLAGS, self.flags);
        put64(&mut b, offset::STORE_MFN, self.store_mfn);
        put32(&mut b, offset::STORE_EVTCHN, self.store_evtchn);
        put64(&mut b, offset::CONSOLE_MFN, self.console_mfn);
        put32(&mut b, offset::CONSOLE_EVTCHN, self.console_evtchn);
        put64(&mut b, offset::PT_BASE, self.pt_base);
        put64(&mut b, offset::NR_PT_FRAMES, self.nr_pt_frames);
        put64(&mut b, offset::MFN_LIST, self.mfn_list);
        put64(&mut b, offset::MOD_START, self.mod_start);
        put64(&mut b, offset::MOD_LEN, self.mod_len);
        let cmd = truncate_cmdline(&self.cmd_line);
        b[offset::CMD_LINE..offset::CMD_LINE + cmd.len()].copy_from_slice(cmd);
        put64(&mut b, offset::FIRST_P2M_PFN, self.first_p2m_pfn);
        put64(&mut b, offset::NR_P2M_FRAMES, self.nr_p2m_frames);
        b
    }
}

/// What fits in `cmd_line`: up to the first NUL, at most 1023 bytes (strncpy + final NUL).
pub fn truncate_cmdline(cmdline: &[u8]) -> &[u8] {
    let end = cmdline
        .iter()
        .position(|&c| c == 0)
        .unwrap_or(cmdline.len())
        .min(MAX_GUEST_CMDLINE - 1);
    &cmdline[..end]
}

fn put64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

fn put32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}
