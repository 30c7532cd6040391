//! What the builder needs from the domain it builds: the contract a Xen backend (hypercalls
//! and foreign mappings) and [`crate::MemTarget`] (memory only) implement.

use std::error::Error;

use crate::PAGE_SIZE;

const PAGE: usize = PAGE_SIZE as usize;

/// What [`GuestFrames::write_frames_with`] calls to fill mapped frames: `(offset, bytes)`.
pub type FillFrames<'a> = dyn FnMut(usize, &mut [u8]) -> Result<(), TargetError> + 'a;

/// A failure reported by a target.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// An operation failed with an underlying error (errno, I/O, ...).
    #[error("{what}")]
    Failed {
        /// What was being done, e.g. "XENMEM_populate_physmap".
        what: &'static str,
        /// The cause.
        #[source]
        source: Box<dyn Error + Send + Sync>,
    },
    /// A failure described in words.
    #[error("{0}")]
    Message(String),
}

impl TargetError {
    /// A [`TargetError::Failed`] from any error.
    pub fn failed(what: &'static str, source: impl Into<Box<dyn Error + Send + Sync>>) -> Self {
        TargetError::Failed {
            what,
            source: source.into(),
        }
    }
}

/// `VGCF_in_kernel`: the vCPU starts in kernel mode.
pub const VGCF_IN_KERNEL: u64 = 1 << 2;
/// `VGCF_online`: the vCPU is up.
pub const VGCF_ONLINE: u64 = 1 << 5;
/// `FLAT_KERNEL_CS` for 64-bit PV guests.
pub const FLAT_KERNEL_CS: u16 = 0xe033;
/// `FLAT_KERNEL_SS` for 64-bit PV guests.
pub const FLAT_KERNEL_SS: u16 = 0xe02b;
/// `FLAT_KERNEL_DS` for 64-bit PV guests (the null selector).
pub const FLAT_KERNEL_DS: u16 = 0;
/// RFLAGS with only IF set.
pub const RFLAGS_IF: u64 = 1 << 9;
/// Architectural reset value of DR6.
pub const DR6_DEFAULT: u64 = 0xffff_0ff0;
/// Architectural reset value of DR7.
pub const DR7_DEFAULT: u64 = 0x400;

/// The initial register state of vCPU 0 of a 64-bit PV guest: the fields libxenguest sets
/// in `vcpu_guest_context`; everything else is zero. The backend encodes it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PvVcpuContext {
    /// `flags`: [`VGCF_IN_KERNEL`] | [`VGCF_ONLINE`].
    pub flags: u64,
    /// `user_regs.rip`: the kernel entry point.
    pub rip: u64,
    /// `user_regs.rsp`: top of the boot stack page.
    pub rsp: u64,
    /// `user_regs.rsi`: virtual address of start_info.
    pub rsi: u64,
    /// `user_regs.rflags`.
    pub rflags: u64,
    /// `user_regs.cs`.
    pub cs: u16,
    /// `user_regs.ss`.
    pub ss: u16,
    /// `user_regs.ds`.
    pub ds: u16,
    /// `user_regs.es`.
    pub es: u16,
    /// `user_regs.fs`.
    pub fs: u16,
    /// `user_regs.gs`.
    pub gs: u16,
    /// `kernel_ss`.
    pub kernel_ss: u64,
    /// `kernel_sp`.
    pub kernel_sp: u64,
    /// `ctrlreg[3]`: machine address of the L4 table.
    pub cr3: u64,
    /// `debugreg[6]`.
    pub debugreg6: u64,
    /// `debugreg[7]`.
    pub debugreg7: u64,
}

/// One grant-table entry the toolstack writes before the guest runs, so that the console
/// and xenstore daemons can map the rings by grant reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GrantSeed {
    /// Grant reference: 0 console, 1 xenstore.
    pub gref: u32,
    /// Domain allowed to map the frame (the backend).
    pub domid: u16,
    /// The frame: an MFN for PV.
    pub frame: u64,
}

/// Grant reference reserved for the console ring (`GNTTAB_RESERVED_CONSOLE`).
pub const GNTTAB_RESERVED_CONSOLE: u32 = 0;
/// Grant reference reserved for the xenstore ring (`GNTTAB_RESERVED_XENSTORE`).
pub const GNTTAB_RESERVED_XENSTORE: u32 = 1;

/// Guest memory the builder fills: frames are MFNs for PV guests and guest frame numbers
/// for PVH and HVM guests.
pub trait GuestFrames {
    /// Fill the frames `frames` in place: `fill(offset, bytes)` is called with the frames'
    /// memory in consecutive pieces of whole frames, in order, covering every frame once
    /// (`offset` is the piece's byte offset from the start of the first frame). The
    /// pieces hold what the frames held (anything, for fresh memory): `fill` must write
    /// every byte. An error from `fill` is returned as it is.
    ///
    /// This is how the builder writes the kernel with a single copy, from its file into
    /// the mapped guest memory.
    fn write_frames_with(
        &mut self,
        frames: &[u64],
        fill: &mut FillFrames<'_>,
    ) -> Result<(), TargetError>;

    /// Copy `bytes` into the frames `frames` in order (bytes.len() <= frames.len()*4096); the
    /// rest of those frames is zeroed.
    fn write_frames(&mut self, frames: &[u64], bytes: &[u8]) -> Result<(), TargetError> {
        if bytes.len() > frames.len().saturating_mul(PAGE) {
            return Err(TargetError::Message(format!(
                "{} bytes do not fit in {} frames",
                bytes.len(),
                frames.len()
            )));
        }
        self.write_frames_with(frames, &mut |offset, piece| {
            let start = offset.min(bytes.len());
            let end = offset.saturating_add(piece.len()).min(bytes.len());
            let (data, rest) = piece.split_at_mut(end - start);
            data.copy_from_slice(&bytes[start..end]);
            rest.fill(0);
            Ok(())
        })
    }
}

/// The domain a PV guest is built into.
pub trait PvTarget: GuestFrames {
    /// RAM for pfns 0..nr_pages (2 MiB extents where possible); returns the p2m (pfn -> mfn).
    fn populate(&mut self, nr_pages: u64) -> Result<Vec<u64>, TargetError>;
    /// The machine frame of the domain's shared_info page.
    fn shared_info_mfn(&mut self) -> Result<u64, TargetError>;
    /// Have Xen fill the hypercall page at `mfn`.
    fn hypercall_page(&mut self, mfn: u64) -> Result<(), TargetError>;
    /// Pin `mfn` as the guest's L4 page table.
    fn pin_l4(&mut self, mfn: u64) -> Result<(), TargetError>;
    /// Zero shared_info, with evtchn_upcall_mask set in all 32 vcpu_info slots.
    fn init_shared_info(&mut self) -> Result<(), TargetError>;
    /// Set vCPU 0's initial state.
    fn set_vcpu_context(&mut self, ctx: &PvVcpuContext) -> Result<(), TargetError>;
    /// Write these grant-table entries (v1: permit access to `domid`).
    fn seed_grants(&mut self, grants: &[GrantSeed]) -> Result<(), TargetError>;
}
