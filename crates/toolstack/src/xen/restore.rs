//! Loading libxc's image of a PV guest into a new, empty, paused domain
//! (in place of a build): memory populated as the pages arrive, page
//! tables given the new frames and pinned, the guest's p2m, start info,
//! shared info, clock and vCPUs brought up to date, its rings granted to
//! their backends.

use std::io::Read;

use xen_sys::Xen;
use xen_sys::abi::{self, DomId, Pod, VcpuGuestContext, pfinfo};
use xl_builder::GrantSeed;
use xl_builder::target::{GNTTAB_RESERVED_CONSOLE, GNTTAB_RESERVED_XENSTORE};
use xl_savefile::{FormatError, LibxcRecord, libxc_rec};

use super::build::{DomainBuildError, arch_setup, check_capability, narrow, seed_grants};
use super::pv_image::{
    self as img, GUEST_WIDTH, INVALID_MFN, NewRings, P2m, PAGE, PT_LEVELS, PvImageError, bad, hv,
};
use crate::{BuildSpec, Built, Error};

/// Pins per mmuext_op call.
const PIN_BATCH: usize = 256;
/// The most pfns a restore accepts: 1 TiB of guest.
const MAX_PFNS: u64 = 1 << 28;

/// A vCPU's saved records, applied once all memory is in.
#[derive(Default)]
struct SavedVcpu {
    basic: Option<Vec<u8>>,
    extended: Option<Vec<u8>>,
    xsave: Option<Vec<u8>>,
    msrs: Option<Vec<u8>>,
}

/// The restore of one stream into one domain.
struct Restore<'a> {
    xen: &'a Xen,
    dom: DomId,
    spec: &'a BuildSpec,
    store_port: u32,
    console_port: u32,
    p2m: P2m,
    /// getpageframeinfo3 types by pfn, as the stream gave them.
    types: Vec<u64>,
    p2m_pfns: Vec<u64>,
    vcpus: Vec<SavedVcpu>,
    seen_pv_info: bool,
    seen_static_end: bool,
    version: u32,
}

/// Restore the image on `input` into `dom`.
pub(super) fn restore_pv(
    xen: &Xen,
    dom: DomId,
    spec: &BuildSpec,
    input: &mut dyn Read,
) -> Result<Built, Error> {
    check_capability(xen, "xen-3.0-x86_64")?;
    let store_port = xen.evtchn_alloc_unbound(dom, narrow(spec.store_domid)?)?;
    let console_port = xen.evtchn_alloc_unbound(dom, narrow(spec.console_domid)?)?;
    arch_setup(xen, dom, spec.max_memkb)?;
    let version = xl_savefile::read_image_header(input).map_err(Error::Stream)?;
    let header = xl_savefile::read_domain_header(input).map_err(Error::Stream)?;
    if header.domain_type != xl_savefile::DHDR_TYPE_X86_PV {
        return Err(PvImageError::Refused(
            "the image is of an HVM guest; the config says PV".into(),
        )
        .into());
    }
    let nr_vcpus = xen.getdomaininfo(dom)?.max_vcpu_id + 1;
    let mut r = Restore {
        xen,
        dom,
        spec,
        store_port,
        console_port,
        p2m: P2m::default(),
        types: Vec::new(),
        p2m_pfns: Vec::new(),
        vcpus: (0..nr_vcpus).map(|_| SavedVcpu::default()).collect(),
        seen_pv_info: false,
        seen_static_end: false,
        version,
    };
    r.records(input)?;
    r.complete()
}

impl Restore<'_> {
    fn records(&mut self, input: &mut dyn Read) -> Result<(), Error> {
        loop {
            match xl_savefile::read_libxc_record(input).map_err(Error::Stream)? {
                LibxcRecord::End => return Ok(()),
                LibxcRecord::X86PvInfo {
                    guest_width,
                    pt_levels,
                } => self.pv_info(guest_width, pt_levels)?,
                LibxcRecord::StaticDataEnd => self.seen_static_end = true,
                LibxcRecord::PageData { entries, data } => self.page_data(&entries, &data)?,
                LibxcRecord::X86TscInfo {
                    mode,
                    khz,
                    nsec,
                    incarnation,
                } => img::apply_tsc(self.xen, self.dom, (mode, khz, nsec, incarnation))?,
                LibxcRecord::Other { rtype, body } => self.other(rtype, body)?,
                LibxcRecord::HvmParams(_) => {
                    return Err(bad("HVM_PARAMS", "in the image of a PV guest").into());
                }
            }
        }
    }

    fn pv_info(&mut self, width: u8, levels: u8) -> Result<(), Error> {
        if (width, levels) != (GUEST_WIDTH, PT_LEVELS) {
            return Err(PvImageError::Width(u32::from(width) * 8).into());
        }
        self.seen_pv_info = true;
        Ok(())
    }

    fn other(&mut self, rtype: u32, body: Vec<u8>) -> Result<(), Error> {
        match rtype {
            libxc_rec::X86_PV_P2M_FRAMES => self.p2m_frames(&body),
            libxc_rec::X86_PV_VCPU_BASIC
            | libxc_rec::X86_PV_VCPU_EXTENDED
            | libxc_rec::X86_PV_VCPU_XSAVE
            | libxc_rec::X86_PV_VCPU_MSRS => self.vcpu_blob(rtype, body),
            libxc_rec::SHARED_INFO => self.shared_info(&body),
            // The new domain keeps the host's default CPU policy: the
            // guest's own is what this host offers anyway when it was
            // saved here.
            libxc_rec::X86_CPUID_POLICY | libxc_rec::X86_MSR_POLICY => Ok(()),
            t if t & xl_savefile::REC_TYPE_OPTIONAL != 0 => Ok(()),
            t => Err(Error::Stream(FormatError::BadRecord {
                what: "libxc",
                why: format!("record type {t:#x} does not belong in a PV guest's image"),
            })),
        }
    }

    fn p2m_frames(&mut self, body: &[u8]) -> Result<(), Error> {
        // Streams before version 3 had no STATIC_DATA_END: it was here.
        if self.version < 3 {
            self.seen_static_end = true;
        }
        if !self.seen_static_end || !self.seen_pv_info {
            return Err(bad(
                "X86_PV_P2M_FRAMES",
                "before X86_PV_INFO and STATIC_DATA_END",
            )
            .into());
        }
        let (start, end, pfns) = img::parse_p2m_frames(body)?;
        self.grow(end)?;
        let first = (start / (PAGE as u64 / 8)) as usize;
        if self.p2m_pfns.len() < first + pfns.len() {
            self.p2m_pfns.resize(first + pfns.len(), INVALID_MFN);
        }
        self.p2m_pfns[first..first + pfns.len()].copy_from_slice(&pfns);
        Ok(())
    }

    fn grow(&mut self, max_pfn: u64) -> Result<(), Error> {
        if max_pfn >= MAX_PFNS {
            return Err(bad(
                "X86_PV_P2M_FRAMES",
                format!("last pfn {max_pfn:#x} too large"),
            )
            .into());
        }
        self.p2m.grow(max_pfn);
        if self.types.len() <= max_pfn as usize {
            self.types.resize(max_pfn as usize + 1, pfinfo::NOTAB);
        }
        Ok(())
    }

    /// Give frames to the pfns that have none yet.
    fn populate(&mut self, pfns: &[u64]) -> Result<(), Error> {
        let mut want: Vec<u64> = pfns
            .iter()
            .copied()
            .filter(|p| self.p2m.mfn(*p).is_none())
            .collect();
        want.sort_unstable();
        want.dedup();
        for chunk in want.chunks(PIN_BATCH * 4) {
            let mut extents = chunk.to_vec();
            let done = self
                .xen
                .populate_physmap(self.dom, 0, 0, &mut extents)
                .map_err(hv("populate_physmap"))?;
            if done != chunk.len() {
                return Err(PvImageError::Refused(format!(
                    "Xen gave {done} of {} pages (not enough free memory?)",
                    chunk.len()
                ))
                .into());
            }
            for (pfn, mfn) in chunk.iter().zip(extents) {
                self.p2m.set(*pfn, mfn);
            }
        }
        Ok(())
    }

    fn page_data(&mut self, entries: &[u64], data: &[u8]) -> Result<(), Error> {
        if !self.seen_pv_info {
            return Err(bad("PAGE_DATA", "before X86_PV_INFO").into());
        }
        let mut pages: Vec<(u64, u64, Vec<u8>)> = Vec::new();
        let mut at = 0;
        for e in entries {
            let pfn = e & xl_savefile::page_type::PFN_MASK;
            let ty = (e >> 32) & 0xffff_ffff & !0x0fff_ffff;
            if pfn > self.p2m.max_pfn() || self.p2m.is_empty() {
                return Err(PvImageError::PfnOutOfRange {
                    what: "a page".into(),
                    pfn,
                    max_pfn: self.p2m.max_pfn(),
                }
                .into());
            }
            if table_or_plain(ty).is_none() && img::has_data(ty) {
                return Err(bad("PAGE_DATA", format!("unknown page type {:#x}", ty >> 28)).into());
            }
            self.types[pfn as usize] = ty;
            if img::has_data(ty) {
                pages.push((pfn, ty, data[at..at + PAGE].to_vec()));
                at += PAGE;
            } else if ty == pfinfo::XALLOC {
                self.populate(&[pfn])?;
            }
        }
        let mut wanted: Vec<u64> = pages.iter().map(|(p, _, _)| *p).collect();
        for (_, ty, page) in &pages {
            if img::table_level(*ty).is_some() {
                wanted.extend(img::table_pfns(page));
            }
        }
        if let Some(bad_pfn) = wanted.iter().find(|p| **p > self.p2m.max_pfn()) {
            return Err(PvImageError::PfnOutOfRange {
                what: "a page table entry".into(),
                pfn: *bad_pfn,
                max_pfn: self.p2m.max_pfn(),
            }
            .into());
        }
        self.populate(&wanted)?;
        for (_, ty, page) in &mut pages {
            if let Some(level) = img::table_level(*ty) {
                img::localise_table(page, level, &self.p2m)?;
            }
        }
        self.write_pages(&pages)
    }

    fn write_pages(&self, pages: &[(u64, u64, Vec<u8>)]) -> Result<(), Error> {
        if pages.is_empty() {
            return Ok(());
        }
        let frames: Vec<u64> = pages.iter().map(|(p, _, _)| self.p2m.entry(*p)).collect();
        self.xen
            .with_foreign(self.dom, &frames, |bytes| {
                for (k, (_, _, page)) in pages.iter().enumerate() {
                    bytes[k * PAGE..(k + 1) * PAGE].copy_from_slice(page);
                }
            })
            .map_err(hv("map the new domain's pages"))?;
        Ok(())
    }

    fn vcpu_blob(&mut self, rtype: u32, body: Vec<u8>) -> Result<(), Error> {
        let name = match rtype {
            libxc_rec::X86_PV_VCPU_BASIC => "X86_PV_VCPU_BASIC",
            libxc_rec::X86_PV_VCPU_EXTENDED => "X86_PV_VCPU_EXTENDED",
            libxc_rec::X86_PV_VCPU_XSAVE => "X86_PV_VCPU_XSAVE",
            _ => "X86_PV_VCPU_MSRS",
        };
        if body.len() < 8 {
            return Err(bad(name, "shorter than its header").into());
        }
        let vcpu = u32::from_le_bytes(body[..4].try_into().expect("4 bytes"));
        let blob = body[8..].to_vec();
        if blob.is_empty() {
            return Ok(());
        }
        let n = self.vcpus.len();
        let v = self
            .vcpus
            .get_mut(vcpu as usize)
            .ok_or_else(|| bad(name, format!("vCPU {vcpu}, but the domain has {n}")))?;
        let size_ok = match rtype {
            libxc_rec::X86_PV_VCPU_BASIC => blob.len() == std::mem::size_of::<VcpuGuestContext>(),
            libxc_rec::X86_PV_VCPU_EXTENDED => blob.len() <= abi::EXT_VCPUCONTEXT_MAX,
            libxc_rec::X86_PV_VCPU_XSAVE => blob.len() >= 16,
            _ => blob.len().is_multiple_of(abi::VCPU_MSR_SIZE),
        };
        if !size_ok {
            return Err(bad(name, format!("{} bytes for vCPU {vcpu}", blob.len())).into());
        }
        let slot = match rtype {
            libxc_rec::X86_PV_VCPU_BASIC => &mut v.basic,
            libxc_rec::X86_PV_VCPU_EXTENDED => &mut v.extended,
            libxc_rec::X86_PV_VCPU_XSAVE => &mut v.xsave,
            _ => &mut v.msrs,
        };
        *slot = Some(blob);
        Ok(())
    }

    fn shared_info(&self, body: &[u8]) -> Result<(), Error> {
        if !self.seen_pv_info {
            return Err(bad("SHARED_INFO", "before X86_PV_INFO").into());
        }
        if body.len() != PAGE {
            return Err(bad("SHARED_INFO", format!("{} bytes", body.len())).into());
        }
        let frame = self.xen.getdomaininfo(self.dom)?.shared_info_frame;
        self.xen
            .with_foreign(self.dom, &[frame], |page| {
                img::restore_shared_info(page, body)
            })
            .map_err(hv("map the shared info page"))?;
        Ok(())
    }

    /// Everything is in: vCPUs (vCPU 0 through its start info), pinned
    /// page tables, the guest's p2m, grants for its rings.
    fn complete(mut self) -> Result<Built, Error> {
        let rings = self.vcpu0_start_info()?;
        self.set_vcpus()?;
        self.pin_tables()?;
        self.write_guest_p2m()?;
        let seeds = [
            GrantSeed {
                gref: GNTTAB_RESERVED_CONSOLE,
                domid: narrow(self.spec.console_domid)?,
                frame: rings.console_mfn,
            },
            GrantSeed {
                gref: GNTTAB_RESERVED_XENSTORE,
                domid: narrow(self.spec.store_domid)?,
                frame: rings.store_mfn,
            },
        ];
        seed_grants(self.xen, self.dom, &seeds).map_err(DomainBuildError::SeedGrants)?;
        Ok(Built {
            store_port: self.store_port,
            store_mfn: rings.store_mfn,
            console_port: self.console_port,
            console_mfn: rings.console_mfn,
        })
    }

    /// vCPU 0's rdx names the start info page: give it its frame, and the
    /// page the new domain's rings.
    fn vcpu0_start_info(&mut self) -> Result<img::RingFrames, Error> {
        let basic = self.vcpus[0]
            .basic
            .as_mut()
            .ok_or(PvImageError::Missing("X86_PV_VCPU_BASIC of vCPU 0"))?;
        let mut ctx = VcpuGuestContext::from_bytes(basic);
        let pfn = ctx.user_regs.rdx;
        let ty = self.types.get(pfn as usize).copied();
        if ty != Some(pfinfo::NOTAB) {
            return Err(PvImageError::PageType {
                what: "the start info page".into(),
                pfn,
                found: ty.unwrap_or(pfinfo::XTAB) >> pfinfo::LTAB_SHIFT,
                expected: 0,
            }
            .into());
        }
        let mfn = self.p2m.mfn(pfn).ok_or_else(|| {
            PvImageError::P2m(format!("the start info page (pfn {pfn:#x}) has no frame"))
        })?;
        ctx.user_regs.rdx = mfn;
        *basic = ctx.to_bytes();
        let new = NewRings {
            store_evtchn: self.store_port,
            console_evtchn: self.console_port,
            shared_info_frame: self.xen.getdomaininfo(self.dom)?.shared_info_frame,
        };
        let p2m = &self.p2m;
        let rings = self
            .xen
            .with_foreign(self.dom, &[mfn], |page| {
                img::fix_start_info(page, p2m, &new)
            })
            .map_err(hv("map the start info page"))??;
        Ok(rings)
    }

    fn set_vcpus(&self) -> Result<(), Error> {
        for (v, saved) in self.vcpus.iter().enumerate() {
            let v = v as u32;
            if let Some(basic) = &saved.basic {
                let mut ctx = VcpuGuestContext::from_bytes(basic);
                img::vcpu_to_mfns(&mut ctx, v, &self.p2m, &self.types)?;
                self.xen
                    .set_vcpu_context(self.dom, v, &ctx)
                    .map_err(hv("setvcpucontext"))?;
            }
            if let Some(ext) = &saved.extended {
                self.xen
                    .set_ext_vcpu_context(self.dom, ext)
                    .map_err(hv("set_ext_vcpucontext"))?;
            }
            if let Some(xsave) = &saved.xsave {
                self.xen
                    .set_vcpu_xsave(self.dom, v, xsave)
                    .map_err(hv("setvcpuextstate"))?;
            }
            if let Some(msrs) = &saved.msrs {
                self.xen
                    .set_vcpu_msrs(self.dom, v, msrs)
                    .map_err(hv("set_vcpu_msrs"))?;
            }
        }
        Ok(())
    }

    /// Pin the page tables the guest had pinned.
    fn pin_tables(&self) -> Result<(), Error> {
        let pins: Vec<(u32, u64)> = self
            .types
            .iter()
            .enumerate()
            .filter(|(_, ty)| **ty & pfinfo::LPINTAB != 0 && img::table_level(**ty).is_some())
            .filter_map(|(pfn, ty)| {
                let cmd = match img::table_level(*ty)? {
                    1 => abi::MMUEXT_PIN_L1_TABLE,
                    2 => abi::MMUEXT_PIN_L2_TABLE,
                    3 => abi::MMUEXT_PIN_L3_TABLE,
                    _ => abi::MMUEXT_PIN_L4_TABLE,
                };
                Some((cmd, self.p2m.mfn(pfn as u64)?))
            })
            .collect();
        for batch in pins.chunks(PIN_BATCH) {
            self.xen
                .mmuext_pin(self.dom, batch)
                .map_err(hv("pin the page tables"))?;
        }
        Ok(())
    }

    /// The guest's own p2m, in its saved frames, now names the new ones.
    /// A frame listed twice gets the last part written to it, as in a
    /// sequential copy.
    fn write_guest_p2m(&self) -> Result<(), Error> {
        let words = self.p2m.guest_bytes();
        let per_frame = PAGE;
        let mut last: std::collections::BTreeMap<u64, usize> = Default::default();
        for (i, pfn) in self.p2m_pfns.iter().enumerate() {
            if i * per_frame >= words.len() {
                break;
            }
            if self.types.get(*pfn as usize) != Some(&pfinfo::NOTAB) {
                return Err(PvImageError::PageType {
                    what: format!("p2m frame {i}"),
                    pfn: *pfn,
                    found: self
                        .types
                        .get(*pfn as usize)
                        .copied()
                        .unwrap_or(pfinfo::XTAB)
                        >> pfinfo::LTAB_SHIFT,
                    expected: 0,
                }
                .into());
            }
            let mfn = self.p2m.mfn(*pfn).ok_or_else(|| {
                PvImageError::P2m(format!("p2m frame {i} (pfn {pfn:#x}) has no frame"))
            })?;
            last.insert(mfn, i);
        }
        let (frames, parts): (Vec<u64>, Vec<usize>) = last.into_iter().unzip();
        for (frames, parts) in frames.chunks(1024).zip(parts.chunks(1024)) {
            self.xen
                .with_foreign(self.dom, frames, |bytes| {
                    for (k, i) in parts.iter().enumerate() {
                        let src = &words[i * per_frame..((i + 1) * per_frame).min(words.len())];
                        bytes[k * PAGE..k * PAGE + src.len()].copy_from_slice(src);
                    }
                })
                .map_err(hv("map the guest's p2m"))?;
        }
        Ok(())
    }
}

/// A known page type: plain or a page table, pinned or not.
fn table_or_plain(ty: u64) -> Option<()> {
    (ty == pfinfo::NOTAB || img::table_level(ty).is_some()).then_some(())
}
