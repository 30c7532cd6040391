//! Writing a suspended PV domain as libxc's image (stream v3): static
//! data, where its p2m lives, every page (page tables with pfns in place
//! of frames), its clock, shared info and vCPUs, END.

use std::io::Write;

use xen_sys::Xen;
use xen_sys::abi::{DomId, DomainInfo, pfinfo};
use xl_savefile::{DomainHeader, LibxcRecord, libxc_rec};

use super::pv_image::{
    self as img, GUEST_WIDTH, INVALID_MFN, P2m, PAGE, PT_LEVELS, PvImageError, hv,
};
use crate::Error;

/// Pages per PAGE_DATA record, as libxc batches them (and the most
/// getpageframeinfo3 takes).
const BATCH: usize = pfinfo::MAX_BATCH;

/// What the save works from: the domain, its shared info and p2m.
struct Source<'a> {
    xen: &'a Xen,
    dom: DomId,
    info: DomainInfo,
    shinfo: Vec<u8>,
    p2m: P2m,
    /// The pfns of the frames holding the guest's p2m.
    p2m_pfns: Vec<u64>,
}

/// Write the suspended PV domain `dom` to `out`.
pub(super) fn save_pv(xen: &Xen, dom: DomId, out: &mut dyn Write) -> Result<(), Error> {
    let src = Source::open(xen, dom)?;
    let w = |r: std::io::Result<()>| r.map_err(write_error);
    w(xl_savefile::write_image_header(out))?;
    w(xl_savefile::write_domain_header(
        out,
        &DomainHeader {
            domain_type: xl_savefile::DHDR_TYPE_X86_PV,
            xen_major: xen.version.0,
            xen_minor: xen.version.1,
        },
    ))?;
    src.static_data(out)?;
    src.p2m_frames(out)?;
    src.pages(out)?;
    src.tsc_info(out)?;
    record(out, libxc_rec::SHARED_INFO, src.shinfo.clone())?;
    src.vcpus(out)?;
    w(xl_savefile::write_libxc_record(out, &LibxcRecord::End))?;
    Ok(())
}

/// The PV guest's p2m, as its shared info page says where it is, and the
/// machine frames that hold it.
pub(super) fn read_p2m(xen: &Xen, dom: DomId, shinfo: &[u8]) -> Result<(P2m, Vec<u64>), Error> {
    let (max_pfn, root) = img::p2m_root(shinfo)?;
    let mut read = |frames: &[u64]| {
        xen.with_foreign_ro(dom, frames, <[u8]>::to_vec)
            .map_err(hv("map the guest's p2m"))
    };
    let (leaves, max_pfn) = img::p2m_leaves(&mut read, root, max_pfn)?;
    let words = read(&leaves)?;
    let map: Vec<u64> = words
        .chunks_exact(8)
        .take(max_pfn as usize + 1)
        .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect();
    Ok((P2m::new(map), leaves))
}

fn write_error(source: std::io::Error) -> Error {
    Error::Io {
        what: "writing the domain's image",
        source,
    }
}

fn record(out: &mut dyn Write, rtype: u32, body: Vec<u8>) -> Result<(), Error> {
    xl_savefile::write_libxc_record(out, &LibxcRecord::Other { rtype, body }).map_err(write_error)
}

impl<'a> Source<'a> {
    fn open(xen: &'a Xen, dom: DomId) -> Result<Self, Error> {
        let info = xen.getdomaininfo(dom)?;
        let bits = xen.get_address_size(dom)?;
        if bits != u32::from(GUEST_WIDTH) * 8 {
            return Err(PvImageError::Width(bits).into());
        }
        let shinfo = xen
            .with_foreign_ro(dom, &[info.shared_info_frame], <[u8]>::to_vec)
            .map_err(hv("map the shared info page"))?;
        let (p2m, leaves) = read_p2m(xen, dom, &shinfo)?;
        let p2m_pfns = leaves
            .iter()
            .map(|m| {
                p2m.pfn(*m).ok_or_else(|| PvImageError::ForeignFrame {
                    what: "a frame of the p2m".into(),
                    mfn: *m,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        crate::trace::detail(|| {
            format!(
                "save: domain {dom}: {} pfns, p2m in {} frames",
                p2m.len(),
                p2m_pfns.len()
            )
        });
        Ok(Source {
            xen,
            dom,
            info,
            shinfo,
            p2m,
            p2m_pfns,
        })
    }

    /// X86_PV_INFO, then STATIC_DATA_END. The CPU policy records are left
    /// out: a restore then gives the guest the host's default policy, as
    /// for a stream from before they existed.
    fn static_data(&self, out: &mut dyn Write) -> Result<(), Error> {
        let info = LibxcRecord::X86PvInfo {
            guest_width: GUEST_WIDTH,
            pt_levels: PT_LEVELS,
        };
        xl_savefile::write_libxc_record(out, &info).map_err(write_error)?;
        xl_savefile::write_libxc_record(out, &LibxcRecord::StaticDataEnd).map_err(write_error)
    }

    fn p2m_frames(&self, out: &mut dyn Write) -> Result<(), Error> {
        let body = img::p2m_frames_record(self.p2m.max_pfn(), &self.p2m_pfns)?;
        record(out, libxc_rec::X86_PV_P2M_FRAMES, body)
    }

    /// Every pfn, a batch at a time: its type, and the contents of those
    /// that have some (page tables normalised).
    fn pages(&self, out: &mut dyn Write) -> Result<(), Error> {
        let pfns: Vec<u64> = (0..self.p2m.len()).collect();
        for batch in pfns.chunks(BATCH) {
            let rec = self.page_batch(batch)?;
            xl_savefile::write_libxc_record(out, &rec).map_err(write_error)?;
        }
        Ok(())
    }

    fn page_batch(&self, pfns: &[u64]) -> Result<LibxcRecord, Error> {
        let mfns: Vec<u64> = pfns.iter().map(|p| self.p2m.entry(*p)).collect();
        // Pfns without a frame (ballooned out) are invalid pages; Xen is
        // asked about the others.
        let held: Vec<u64> = mfns.iter().copied().filter(|m| *m != INVALID_MFN).collect();
        let mut held_types = if held.is_empty() {
            Vec::new()
        } else {
            self.xen
                .page_types(self.dom, &held)
                .map_err(hv("getpageframeinfo3"))?
        }
        .into_iter();
        let types: Vec<u64> = mfns
            .iter()
            .map(|m| {
                if *m == INVALID_MFN {
                    pfinfo::XTAB
                } else {
                    held_types.next().unwrap_or(pfinfo::XTAB)
                }
            })
            .collect();
        let with_data: Vec<usize> = (0..pfns.len())
            .filter(|i| img::has_data(types[*i]))
            .collect();
        let frames: Vec<u64> = with_data.iter().map(|i| mfns[*i]).collect();
        let mut data = Vec::with_capacity(frames.len() * PAGE);
        if !frames.is_empty() {
            let copied = self
                .xen
                .with_foreign_ro(self.dom, &frames, |bytes| -> Result<(), PvImageError> {
                    for (k, i) in with_data.iter().enumerate() {
                        let page = &bytes[k * PAGE..(k + 1) * PAGE];
                        match img::table_level(types[*i]) {
                            Some(level) => {
                                data.extend(img::normalise_table(page, level, &self.p2m)?)
                            }
                            None => data.extend_from_slice(page),
                        }
                    }
                    Ok(())
                })
                .map_err(hv("map the guest's pages"))?;
            copied?;
        }
        let entries = pfns
            .iter()
            .zip(&types)
            .map(|(pfn, ty)| (ty << 32) | pfn)
            .collect();
        Ok(LibxcRecord::PageData { entries, data })
    }

    fn tsc_info(&self, out: &mut dyn Write) -> Result<(), Error> {
        let rec = img::tsc_record(self.xen, self.dom)?;
        xl_savefile::write_libxc_record(out, &rec).map_err(write_error)
    }

    /// The four records of each online vCPU (empty ones left out).
    fn vcpus(&self, out: &mut dyn Write) -> Result<(), Error> {
        for v in 0..=self.info.max_vcpu_id {
            if self.xen.vcpu_info(self.dom, v)?.online == 0 {
                continue;
            }
            let mut ctx = self
                .xen
                .vcpu_context(self.dom, v)
                .map_err(hv("getvcpucontext"))?;
            img::vcpu_to_pfns(&mut ctx, v, &self.p2m)?;
            record(
                out,
                libxc_rec::X86_PV_VCPU_BASIC,
                img::vcpu_record(v, &xen_sys::abi::Pod::to_bytes(&ctx)),
            )?;
            let ext = self
                .xen
                .ext_vcpu_context(self.dom, v)
                .map_err(hv("get_ext_vcpucontext"))?;
            if !ext.is_empty() {
                record(
                    out,
                    libxc_rec::X86_PV_VCPU_EXTENDED,
                    img::vcpu_record(v, &ext),
                )?;
            }
            if let Some(xsave) = self
                .xen
                .vcpu_xsave(self.dom, v)
                .map_err(hv("getvcpuextstate"))?
            {
                record(
                    out,
                    libxc_rec::X86_PV_VCPU_XSAVE,
                    img::vcpu_record(v, &xsave),
                )?;
            }
            let msrs = self
                .xen
                .vcpu_msrs(self.dom, v)
                .map_err(hv("get_vcpu_msrs"))?;
            if !msrs.is_empty() {
                record(out, libxc_rec::X86_PV_VCPU_MSRS, img::vcpu_record(v, &msrs))?;
            }
        }
        Ok(())
    }
}
