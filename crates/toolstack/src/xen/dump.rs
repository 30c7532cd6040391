//! `xl dump-core` on Xen: what libxc's xc_domain_dumpcore gathers, in its
//! order (domain info, shared info, vCPU contexts, the guest's extent,
//! the PV p2m), then the pages it walks: a PV guest's pfns through its
//! p2m, skipping invalid entries and frames beyond the host's RAM; a
//! translated guest's pfns below its highest, skipping the VGA and MMIO
//! holes; pages that will not map are left out. Like libxc, the domain is
//! not paused: a running guest is dumped as it changes.
//!
//! Pages are mapped a batch at a time, where libxc maps each on its own:
//! a translated guest's walk visits every pfn up to its highest, nearly
//! all of them holes for a small guest, and a mapping per pfn is what
//! makes libxc's dump slow.

use std::io::Write;

use xen_sys::Xen;
use xen_sys::abi::{self, DomId, DomainInfo, Pod};

use super::pv_image::{GUEST_WIDTH, INVALID_MFN, PvImageError, hv};
use super::save::read_p2m;
use crate::Error;
use crate::core_dump::{
    self, CoreHead, PAGE_SIZE, PageNaming, PageSink, VCPU_CONTEXT_SIZE, XenVersionNote,
};

/// Where HVM guests' MMIO hole below 4 GiB starts
/// (`HVM_BELOW_4G_MMIO_START`).
const MMIO_START_PFN: u64 = 0xF0000;
const FOUR_GIB_PFN: u64 = 1 << 20;

/// Write domain `dom`'s core file to `out`.
pub(super) fn dump_core(xen: &Xen, dom: DomId, out: &mut dyn Write) -> Result<(), Error> {
    let info = xen.getdomaininfo(dom)?;
    let hvm = info.flags & abi::DOMINF_HVM_GUEST != 0;
    // A translated guest's shared info frame maps only where the guest
    // placed it in its physmap; without it the section is left out.
    let shared_info = match xen.with_foreign_ro(dom, &[info.shared_info_frame], <[u8]>::to_vec) {
        Ok(page) => Some(page),
        Err(_) if hvm => None,
        Err(e) => return Err(hv("map the shared info page")(e).into()),
    };
    if !hvm {
        let bits = xen.get_address_size(dom)?;
        if bits != u32::from(GUEST_WIDTH) * 8 {
            return Err(PvImageError::Width(bits).into());
        }
    }
    let vcpus = vcpu_contexts(xen, dom, &info);
    let nr_gpfns = xen.maximum_gpfn(dom)? + 1;
    let head = CoreHead {
        machine: object::elf::EM_X86_64,
        hvm,
        naming: if hvm {
            PageNaming::Pfn
        } else {
            PageNaming::P2m
        },
        vcpus,
        shared_info,
        xen_version: xen_version(xen)?,
        nr_pages: info.tot_pages,
    };
    crate::trace::detail(|| {
        format!(
            "dump-core: domain {dom}: {} pages, {} vCPUs, pfns below {nr_gpfns:#x}",
            info.tot_pages,
            head.vcpus.len()
        )
    });
    if hvm {
        core_dump::write_core(out, &head, |sink| {
            let pfns = (0..nr_gpfns).filter(|p| may_be_ram(*p)).map(|p| (p, p));
            walk(xen, dom, sink, pfns)
        })
    } else {
        let shinfo = head.shared_info.as_deref().unwrap_or_default();
        let (p2m, _) = read_p2m(xen, dom, shinfo)?;
        let max_mfn = xen
            .memory_op_value(abi::XENMEM_MAXIMUM_RAM_PAGE)
            .map_err(hv("maximum_ram_page"))? as u64;
        let len = p2m.len().min(nr_gpfns);
        core_dump::write_core(out, &head, |sink| {
            let pairs = (0..len)
                .map(|pfn| (pfn, p2m.entry(pfn)))
                .filter(|(_, mfn)| *mfn != INVALID_MFN && *mfn <= max_mfn);
            walk(xen, dom, sink, pairs)
        })
    }
}

/// libxc's test for pfns of a translated guest worth trying.
fn may_be_ram(pfn: u64) -> bool {
    let vga = (0xa0..0xc0).contains(&pfn);
    let mmio = (MMIO_START_PFN..FOUR_GIB_PFN).contains(&pfn);
    !vga && !mmio
}

/// The context of every vCPU Xen answers for (libxc skips the others).
fn vcpu_contexts(xen: &Xen, dom: DomId, info: &DomainInfo) -> Vec<Vec<u8>> {
    (0..=info.max_vcpu_id)
        .filter_map(|v| xen.vcpu_context(dom, v).ok())
        .map(|c| {
            let mut b = c.to_bytes();
            b.resize(VCPU_CONTEXT_SIZE, 0);
            b
        })
        .collect()
}

fn xen_version(xen: &Xen) -> Result<XenVersionNote, Error> {
    let raw = |cmd, len| {
        xen.version_raw(cmd, len)
            .map(|(_, b)| b)
            .map_err(hv("xen_version"))
    };
    let v = xen
        .version_value(abi::XENVER_VERSION)
        .map_err(hv("xen_version"))? as u64;
    Ok(XenVersionNote {
        major: v >> 16,
        minor: v & 0xffff,
        extraversion: raw(abi::XENVER_EXTRAVERSION, 16)?,
        compile_info: raw(abi::XENVER_COMPILE_INFO, 144)?,
        capabilities: raw(abi::XENVER_CAPABILITIES, 1024)?,
        changeset: raw(abi::XENVER_CHANGESET, 64)?,
        platform_parameters: raw(abi::XENVER_PLATFORM_PARAMETERS, 8)?,
        pagesize: xen
            .version_value(abi::XENVER_PAGESIZE)
            .map_err(hv("xen_version"))? as u64,
    })
}

/// Map `candidates` (pfn, frame to map) a batch at a time and hand the
/// sink each page that maps.
fn walk(
    xen: &Xen,
    dom: DomId,
    sink: &mut PageSink<'_>,
    candidates: impl Iterator<Item = (u64, u64)>,
) -> Result<(), Error> {
    core_dump::walk_batches(sink, candidates, &mut |frames, take| {
        let done = xen
            .with_foreign_some(dom, frames, |map| {
                for i in 0..frames.len() {
                    if let Some(page) = map.page(i) {
                        debug_assert_eq!(page.len(), PAGE_SIZE);
                        take(i, page)?;
                    }
                }
                Ok::<(), core_dump::CoreError>(())
            })
            .map_err(hv("map the guest's pages"))?;
        Ok(done?)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holes_are_libxcs() {
        assert!(may_be_ram(0x9f));
        assert!(!may_be_ram(0xa0) && !may_be_ram(0xbf));
        assert!(may_be_ram(0xc0));
        assert!(may_be_ram(0xeffff));
        assert!(!may_be_ram(0xf0000) && !may_be_ram(0xfeff0) && !may_be_ram(0xfffff));
        assert!(may_be_ram(0x100000));
    }
}
