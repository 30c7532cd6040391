//! The Xen domain builder, without libxenguest.
//!
//! It makes no system calls and has no unsafe code: kernels come as byte slices or through
//! the [`ReadAt`] trait (which the toolstack implements for files). The steps are
//!
//! 1. [`parse_kernel`] / [`parse_kernel_from`]: an ELF or bzImage kernel (its payload
//!    decompressed) becomes a [`Kernel`] with its loadable segments and Xen ELF notes,
//!    checked the way libelf does. A plain ELF read through [`ReadAt`] is read only where
//!    needed, and its loadable bytes later go straight into guest memory.
//! 2. [`load_ramdisk`]: the ramdisk in the form the running Xen release loads it (4.17–4.19
//!    gunzip a gzip-compressed one), whose length the layout is sized for.
//! 3. [`plan_pv`]: the x86_64 PV guest layout (which pseudo-physical frame holds the
//!    kernel, start_info, xenstore and console rings, page tables, boot stack, ramdisk and
//!    p2m list) computed exactly as libxenguest lays it out. Pure and deterministic.
//! 4. [`apply_pv`]: the plan written into a domain through the small [`PvTarget`] trait,
//!    which a Xen backend implements with hypercalls and [`MemTarget`] implements in memory
//!    for tests and the simulator.

#![warn(missing_docs)]

pub mod image;
pub mod layout;
pub mod mem_target;
pub mod source;
pub mod target;
pub mod x86;

#[cfg(test)]
mod testutil;
#[cfg(test)]
mod timing_tests;

pub use image::{
    Compression, ImageError, Kernel, KernelFormat, LoadAs, XenNotes, load_ramdisk,
    loaded_ramdisk_len, parse_image, parse_image_from, parse_kernel, parse_kernel_from,
};
pub use layout::{LayoutEvent, Segment};
pub use mem_target::{MemTarget, TargetCall, Translation};
pub use source::ReadAt;
pub use target::{FillFrames, GrantSeed, GuestFrames, PvTarget, PvVcpuContext, TargetError};
pub use x86::hvm::{
    E820, FixedBlob, HvmBuilt, HvmGuest, HvmPlan, HvmRequest, HvmTarget, ModuleRequest, apply_hvm,
    plan_hvm,
};
pub use x86::pv::{
    BuildError, PvBuilt, PvPlan, PvRequest, StartInfo, apply_pv, apply_pv_deferred, plan_pv,
};

/// Size of a guest page on x86.
pub const PAGE_SIZE: u64 = 4096;
/// log2 of [`PAGE_SIZE`].
pub const PAGE_SHIFT: u32 = 12;
