//! libxc's image of a PVH or HVM guest (stream v3), both ways. Guest frame
//! numbers are the stream's pfns, so pages travel as they are: every gfn up
//! to the highest with its type, then the clock, Xen's HVM context (vCPUs
//! and emulated platform) and the HVM params, END. A restore populates the
//! gfns as their pages arrive and applies the rest once all memory is in.

use std::collections::HashSet;
use std::io::{Read, Write};

use xen_sys::Xen;
use xen_sys::abi::{DomId, pfinfo};
use xl_builder::GrantSeed;
use xl_builder::target::{GNTTAB_RESERVED_CONSOLE, GNTTAB_RESERVED_XENSTORE};
use xl_builder::x86::hvm::param;
use xl_savefile::{DomainHeader, FormatError, LibxcRecord, libxc_rec};

use super::build::{DomainBuildError, narrow, seed_grants};
use super::pv_image::{self as img, PAGE, PvImageError, bad, has_data, hv};
use crate::{BuildSpec, Built, Error, HvmBuildSpec};

/// Pages per PAGE_DATA record, as libxc batches them.
const BATCH: usize = pfinfo::MAX_BATCH;
/// The most gfns a restore accepts: 1 TiB of guest.
const MAX_PFNS: u64 = 1 << 28;
/// The largest HVM context Xen hands out (every record of 128 vCPUs
/// fits many times over).
const MAX_CONTEXT: usize = 16 << 20;

/// The params libxc's save carries, in its order; zero ones are left out.
const SAVED_PARAMS: [u32; 16] = [
    param::STORE_PFN,
    param::IOREQ_PFN,
    param::BUFIOREQ_PFN,
    param::PAGING_RING_PFN,
    param::MONITOR_RING_PFN,
    param::SHARING_RING_PFN,
    param::VM86_TSS_SIZED,
    param::CONSOLE_PFN,
    param::ACPI_IOPORTS_LOCATION,
    param::VIRIDIAN,
    param::IDENT_PT,
    param::VM_GENERATION_ID_ADDR,
    param::IOREQ_SERVER_PFN,
    param::NR_IOREQ_SERVER_PAGES,
    param::X87_FIP_WIDTH,
    param::MCA_CAP,
];

fn write_error(source: std::io::Error) -> Error {
    Error::Io {
        what: "writing the domain's image",
        source,
    }
}

fn put(out: &mut dyn Write, rec: &LibxcRecord) -> Result<(), Error> {
    xl_savefile::write_libxc_record(out, rec).map_err(write_error)
}

/// Write the suspended PVH or HVM domain `dom` to `out`.
pub(super) fn save_hvm(xen: &Xen, dom: DomId, out: &mut dyn Write) -> Result<(), Error> {
    xl_savefile::write_image_header(out).map_err(write_error)?;
    xl_savefile::write_domain_header(
        out,
        &DomainHeader {
            domain_type: xl_savefile::DHDR_TYPE_X86_HVM,
            xen_major: xen.version.0,
            xen_minor: xen.version.1,
        },
    )
    .map_err(write_error)?;
    // No CPU policy records: a restore gives the guest the host's default,
    // as for a stream from before they existed.
    put(out, &LibxcRecord::StaticDataEnd)?;
    save_pages(xen, dom, out)?;
    save_tsc(xen, dom, out)?;
    let context = xen.hvm_context(dom).map_err(hv("gethvmcontext"))?;
    put(
        out,
        &LibxcRecord::Other {
            rtype: libxc_rec::HVM_CONTEXT,
            body: context,
        },
    )?;
    save_params(xen, dom, out)?;
    put(out, &LibxcRecord::End)
}

/// Every gfn up to the highest, a batch at a time: Xen's type for it
/// (holes and unpopulated gfns are XTAB) and the contents of the others.
fn save_pages(xen: &Xen, dom: DomId, out: &mut dyn Write) -> Result<(), Error> {
    let last = xen.maximum_gpfn(dom).map_err(hv("maximum_gpfn"))?;
    if last >= MAX_PFNS {
        return Err(PvImageError::Refused(format!(
            "the guest's highest frame {last:#x} is beyond what a save carries"
        ))
        .into());
    }
    crate::trace::detail(|| format!("save: domain {dom}: gfns 0..={last:#x}"));
    let mut start = 0u64;
    while start <= last {
        let end = (start + BATCH as u64).min(last + 1);
        let gfns: Vec<u64> = (start..end).collect();
        put(out, &page_batch(xen, dom, &gfns)?)?;
        start = end;
    }
    Ok(())
}

fn page_batch(xen: &Xen, dom: DomId, gfns: &[u64]) -> Result<LibxcRecord, Error> {
    let types = xen.page_types(dom, gfns).map_err(hv("getpageframeinfo3"))?;
    let with_data: Vec<u64> = gfns
        .iter()
        .zip(&types)
        .filter(|(_, t)| has_data(**t))
        .map(|(g, _)| *g)
        .collect();
    let data = if with_data.is_empty() {
        Vec::new()
    } else {
        xen.with_foreign_ro(dom, &with_data, <[u8]>::to_vec)
            .map_err(hv("map the guest's pages"))?
    };
    let entries = gfns
        .iter()
        .zip(&types)
        .map(|(gfn, ty)| (ty << 32) | gfn)
        .collect();
    Ok(LibxcRecord::PageData { entries, data })
}

fn save_tsc(xen: &Xen, dom: DomId, out: &mut dyn Write) -> Result<(), Error> {
    put(out, &img::tsc_record(xen, dom)?)
}

fn save_params(xen: &Xen, dom: DomId, out: &mut dyn Write) -> Result<(), Error> {
    let mut params = Vec::new();
    for index in SAVED_PARAMS {
        let value = xen.hvm_param(dom, index).map_err(hv("get an HVM param"))?;
        if value != 0 {
            params.push((u64::from(index), value));
        }
    }
    if params.is_empty() {
        return Ok(());
    }
    put(out, &LibxcRecord::HvmParams(params))
}

/// The restore of one stream into one PVH or HVM domain.
struct Restore<'a> {
    xen: &'a Xen,
    dom: DomId,
    spec: &'a BuildSpec,
    store_port: u32,
    console_port: u32,
    populated: HashSet<u64>,
    context: Option<Vec<u8>>,
    store_gfn: Option<u64>,
    console_gfn: Option<u64>,
}

/// Load the image on `input` into the (empty, paused) domain `dom`, set up
/// as libxl__build_pre sets up an HVM container.
pub(super) fn restore_hvm(
    xen: &Xen,
    dom: DomId,
    spec: &BuildSpec,
    hvm: &HvmBuildSpec,
    input: &mut dyn Read,
) -> Result<Built, Error> {
    super::build::check_capability(xen, super::build_hvm::HVM_CAPABILITY)?;
    let store_port = xen.evtchn_alloc_unbound(dom, narrow(spec.store_domid)?)?;
    let console_port = xen.evtchn_alloc_unbound(dom, narrow(spec.console_domid)?)?;
    super::build_hvm::arch_setup(xen, dom, hvm)?;
    xl_savefile::read_image_header(input).map_err(Error::Stream)?;
    let header = xl_savefile::read_domain_header(input).map_err(Error::Stream)?;
    if header.domain_type != xl_savefile::DHDR_TYPE_X86_HVM {
        return Err(PvImageError::Refused(format!(
            "the image is of a PV guest; the config says {}",
            spec.kind.type_name()
        ))
        .into());
    }
    let mut r = Restore {
        xen,
        dom,
        spec,
        store_port,
        console_port,
        populated: HashSet::new(),
        context: None,
        store_gfn: None,
        console_gfn: None,
    };
    r.records(input)?;
    r.complete()
}

impl Restore<'_> {
    fn records(&mut self, input: &mut dyn Read) -> Result<(), Error> {
        loop {
            match xl_savefile::read_libxc_record(input).map_err(Error::Stream)? {
                LibxcRecord::End => return Ok(()),
                LibxcRecord::StaticDataEnd => {}
                LibxcRecord::PageData { entries, data } => self.page_data(&entries, &data)?,
                LibxcRecord::X86TscInfo {
                    mode,
                    khz,
                    nsec,
                    incarnation,
                } => img::apply_tsc(self.xen, self.dom, (mode, khz, nsec, incarnation))?,
                LibxcRecord::HvmParams(params) => self.params(&params)?,
                LibxcRecord::X86PvInfo { .. } => {
                    return Err(bad("X86_PV_INFO", "in the image of an HVM guest").into());
                }
                LibxcRecord::Other { rtype, body } => self.other(rtype, body)?,
            }
        }
    }

    fn other(&mut self, rtype: u32, body: Vec<u8>) -> Result<(), Error> {
        match rtype {
            libxc_rec::HVM_CONTEXT => {
                if body.is_empty() || body.len() > MAX_CONTEXT {
                    return Err(bad("HVM_CONTEXT", format!("{} bytes", body.len())).into());
                }
                self.context = Some(body);
                Ok(())
            }
            // The new domain keeps the host's default CPU policy, as a
            // save from this host asks anyway.
            libxc_rec::X86_CPUID_POLICY | libxc_rec::X86_MSR_POLICY => Ok(()),
            t if t & xl_savefile::REC_TYPE_OPTIONAL != 0 => Ok(()),
            t => Err(Error::Stream(FormatError::BadRecord {
                what: "libxc",
                why: format!("record type {t:#x} does not belong in an HVM guest's image"),
            })),
        }
    }

    /// Populate the gfns that are to hold something, then copy in those
    /// sent with contents.
    fn page_data(&mut self, entries: &[u64], data: &[u8]) -> Result<(), Error> {
        let mut fill: Vec<u64> = Vec::new();
        let mut allocate: Vec<u64> = Vec::new();
        for e in entries {
            let gfn = e & xl_savefile::page_type::PFN_MASK;
            let ty = e >> xl_savefile::page_type::SHIFT;
            if gfn >= MAX_PFNS {
                return Err(bad("PAGE_DATA", format!("gfn {gfn:#x} too large")).into());
            }
            match ty {
                xl_savefile::page_type::NOTAB => fill.push(gfn),
                xl_savefile::page_type::XALLOC => allocate.push(gfn),
                xl_savefile::page_type::XTAB | xl_savefile::page_type::BROKEN => {}
                other => {
                    return Err(bad(
                        "PAGE_DATA",
                        format!("page type {other:#x} in an HVM guest's image"),
                    )
                    .into());
                }
            }
        }
        if data.len() != fill.len() * PAGE {
            return Err(bad(
                "PAGE_DATA",
                format!("{} bytes for {} pages", data.len(), fill.len()),
            )
            .into());
        }
        self.populate(fill.iter().chain(&allocate).copied())?;
        if !fill.is_empty() {
            let distinct: HashSet<u64> = fill.iter().copied().collect();
            if distinct.len() != fill.len() {
                return Err(bad("PAGE_DATA", "a gfn sent twice in one record").into());
            }
            self.xen
                .with_foreign(self.dom, &fill, |bytes| bytes.copy_from_slice(data))
                .map_err(hv("map the new domain's pages"))?;
        }
        Ok(())
    }

    /// Give frames to the gfns that have none yet.
    fn populate(&mut self, gfns: impl Iterator<Item = u64>) -> Result<(), Error> {
        let mut want: Vec<u64> = gfns.filter(|g| !self.populated.contains(g)).collect();
        want.sort_unstable();
        want.dedup();
        for chunk in want.chunks(BATCH) {
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
            self.populated.extend(chunk);
        }
        Ok(())
    }

    /// As libxc: the rings and ioreq pages start empty in the new domain,
    /// PAE_ENABLED (obsolete) is dropped, the rest is set as saved.
    fn params(&mut self, params: &[(u64, u64)]) -> Result<(), Error> {
        for &(index, value) in params {
            let index = u32::try_from(index)
                .map_err(|_| bad("HVM_PARAMS", format!("param index {index:#x}")))?;
            match index {
                param::PAE_ENABLED => continue,
                param::CONSOLE_PFN => {
                    self.console_gfn = Some(value);
                    self.clear(value)?;
                }
                param::STORE_PFN => {
                    self.store_gfn = Some(value);
                    self.clear(value)?;
                }
                param::IOREQ_PFN | param::BUFIOREQ_PFN => self.clear(value)?,
                _ => {}
            }
            self.xen
                .set_hvm_param(self.dom, index, value)
                .map_err(hv("set an HVM param"))?;
        }
        Ok(())
    }

    fn clear(&self, gfn: u64) -> Result<(), Error> {
        if !self.populated.contains(&gfn) {
            return Err(bad(
                "HVM_PARAMS",
                format!("a ring or ioreq page at gfn {gfn:#x}, which the image left empty"),
            )
            .into());
        }
        self.xen
            .with_foreign(self.dom, &[gfn], |page| page.fill(0))
            .map_err(hv("clear a ring page"))?;
        Ok(())
    }

    /// Everything is in: the new event channels, Xen's HVM context, grants
    /// for the rings.
    fn complete(self) -> Result<Built, Error> {
        let store_gfn = self
            .store_gfn
            .ok_or(PvImageError::Missing("HVM_PARAMS with the xenstore ring"))?;
        let console_gfn = self
            .console_gfn
            .ok_or(PvImageError::Missing("HVM_PARAMS with the console ring"))?;
        let context = self
            .context
            .as_deref()
            .ok_or(PvImageError::Missing("HVM_CONTEXT"))?;
        let set = |index, value| {
            self.xen
                .set_hvm_param(self.dom, index, u64::from(value))
                .map_err(hv("set an event channel param"))
        };
        set(param::STORE_EVTCHN, self.store_port)?;
        set(param::CONSOLE_EVTCHN, self.console_port)?;
        self.xen
            .set_hvm_context(self.dom, context)
            .map_err(hv("sethvmcontext"))?;
        let seeds = [
            GrantSeed {
                gref: GNTTAB_RESERVED_CONSOLE,
                domid: narrow(self.spec.console_domid)?,
                frame: console_gfn,
            },
            GrantSeed {
                gref: GNTTAB_RESERVED_XENSTORE,
                domid: narrow(self.spec.store_domid)?,
                frame: store_gfn,
            },
        ];
        seed_grants(self.xen, self.dom, &seeds).map_err(DomainBuildError::SeedGrants)?;
        Ok(Built {
            store_port: self.store_port,
            store_mfn: store_gfn,
            console_port: self.console_port,
            console_mfn: console_gfn,
        })
    }
}
