//! Building a PVH or HVM guest on Xen: libxl__build_pre's arch part for an
//! HVM container (params from the config, TSC mode, the paging pool), then
//! the builder's plan applied with guest frame numbers.

use std::time::{Duration, Instant};

use xen_sys::Xen;
use xen_sys::abi::{self, DomId};
use xl_builder::{
    E820, FixedBlob, GrantSeed, HvmGuest, HvmTarget, LoadAs, ModuleRequest, TargetError,
};

use super::build::{
    DomainBuildError, KernelSource, XenTarget, build_error, check_capability, failed, narrow,
    read_image, seed_grants, timed,
};
use crate::{BuildSpec, Built, Error, GuestKind, HvmBuildSpec};

/// `XENMEMF_populate_on_demand`.
const MEMF_POD: u32 = 1 << 16;
/// `HVM_PARAM_ALTP2M`: 4.17 and 4.18 take altp2m as a param (later
/// releases in createdomain).
const HVM_PARAM_ALTP2M: u32 = 35;
/// The guest type an HVM container runs as (XENVER_capabilities).
pub(super) const HVM_CAPABILITY: &str = "hvm-3.0-x86_32";

/// Build a PVH or HVM guest into the (empty, paused) domain `dom`.
pub(super) fn build(
    xen: &Xen,
    dom: DomId,
    spec: &BuildSpec,
    hvm: &HvmBuildSpec,
) -> Result<Built, Error> {
    let t = Instant::now();
    let guest = match spec.kind {
        GuestKind::Hvm => HvmGuest::Hvm,
        _ => HvmGuest::Pvh,
    };
    let (image_path, load) = image(spec, guest)?;
    let source = timed("open the image", || KernelSource::open(image_path))?;
    let image = timed("parse the image", || source.parse_as(load)).map_err(|source| {
        DomainBuildError::Image {
            what: what(guest),
            path: image_path.to_string(),
            source,
        }
    })?;
    let modules = read_modules(xen, spec, hvm, guest)?;
    check_capability(xen, HVM_CAPABILITY)?;
    let store_port = xen.evtchn_alloc_unbound(dom, narrow(spec.store_domid)?)?;
    let console_port = xen.evtchn_alloc_unbound(dom, narrow(spec.console_domid)?)?;
    arch_setup(xen, dom, hvm)?;
    timed("apply the CPU policy", || {
        super::cpu_policy::apply(xen, dom, true, &spec.cpuid)
    })?;
    let acpi = match guest {
        HvmGuest::Pvh => pvh_acpi(spec, hvm, &image, xen.version)?,
        HvmGuest::Hvm => Vec::new(),
    };
    let req = xl_builder::HvmRequest {
        guest,
        max_memkb: spec.max_memkb,
        target_memkb: spec.target_memkb,
        video_memkb: hvm.video_memkb,
        mmio_size: hvm.mmio_size,
        max_vcpus: hvm.max_vcpus,
        online_vcpus: spec.online_vcpus,
        apic: hvm.apic,
        cmdline: spec.cmdline.clone().filter(|_| guest == HvmGuest::Pvh),
        modules: modules
            .iter()
            .map(|(bytes, cmdline)| ModuleRequest {
                len: bytes.len() as u64,
                cmdline: cmdline.clone(),
            })
            .collect(),
        acpi,
        store_evtchn: store_port,
        console_evtchn: console_port,
        xenstore_domid: narrow(spec.store_domid)?,
        console_domid: narrow(spec.console_domid)?,
        domid: dom,
        xen_version: xen.version,
    };
    let plan = xl_builder::plan_hvm(&image, &req).map_err(DomainBuildError::Plan)?;
    crate::trace::detail(|| format!("domainbuilder: plan for domain {dom}:\n{plan}"));
    let mut target = XenTarget {
        xen,
        dom,
        written: (0, Duration::ZERO),
    };
    let module_bytes: Vec<&[u8]> = modules.iter().map(|(b, _)| b.as_slice()).collect();
    timed("apply the plan", || {
        xl_builder::apply_hvm(&plan, &image, &module_bytes, &mut target)
    })
    .map_err(|e| build_error(xen, plan.target_pages, e))?;
    crate::trace::detail(|| format!("domainbuilder: domain {dom} built in {:?}", t.elapsed()));
    Ok(Built {
        store_port,
        store_mfn: plan.store_pfn(),
        console_port,
        console_mfn: plan.console_pfn(),
    })
}

fn what(guest: HvmGuest) -> &'static str {
    match guest {
        HvmGuest::Hvm => "HVM firmware",
        HvmGuest::Pvh => "PVH kernel",
    }
}

fn image(spec: &BuildSpec, guest: HvmGuest) -> Result<(&str, LoadAs), DomainBuildError> {
    match (guest, spec.kernel.as_deref()) {
        (HvmGuest::Hvm, Some(p)) => Ok((p, LoadAs::HvmFirmware)),
        (HvmGuest::Pvh, Some(p)) => Ok((p, LoadAs::Pvh)),
        (HvmGuest::Hvm, None) => Err(DomainBuildError::NoFirmware),
        (HvmGuest::Pvh, None) => Err(DomainBuildError::NoPvhKernel),
    }
}

/// A module's bytes and its command line in the start info.
type Module = (Vec<u8>, Option<String>);

/// HVM: the BIOS image, which hvmloader finds as the module named
/// "firmware". PVH: the ramdisk, as the running release loads it.
fn read_modules(
    xen: &Xen,
    spec: &BuildSpec,
    hvm: &HvmBuildSpec,
    guest: HvmGuest,
) -> Result<Vec<Module>, Error> {
    match guest {
        HvmGuest::Hvm => {
            let path = hvm
                .system_firmware
                .as_deref()
                .ok_or(DomainBuildError::NoSystemFirmware)?;
            let bios =
                read_image("BIOS", path).map_err(|e| DomainBuildError::NoBios(Box::new(e)))?;
            Ok(vec![(bios, Some("firmware".to_string()))])
        }
        HvmGuest::Pvh => {
            let Some(path) = &spec.ramdisk else {
                return Ok(Vec::new());
            };
            let file = read_image("ramdisk", path)?;
            let ramdisk = xl_builder::load_ramdisk(&file, xen.version)
                .map_err(|source| DomainBuildError::Image {
                    what: "ramdisk",
                    path: path.clone(),
                    source,
                })?
                .into_owned();
            Ok(vec![(ramdisk, None)])
        }
    }
}

/// libxl__arch_domain_create for an HVM container: the config's HVM params,
/// the TSC mode, and the HAP/shadow pool.
pub(super) fn arch_setup(xen: &Xen, dom: DomId, hvm: &HvmBuildSpec) -> Result<(), Error> {
    for &(index, value) in &hvm.conf_params {
        xen.set_hvm_param(dom, index, value)?;
    }
    if xen.version < (4, 19) {
        xen.set_hvm_param(dom, HVM_PARAM_ALTP2M, 0)?;
    }
    xen.settscinfo(dom, hvm.tsc_mode)?;
    xen.set_paging_mempool_size(dom, hvm.paging_pool_kb << 10)?;
    Ok(())
}

/// A PVH guest's ACPI modules (RSDP, info page, tables), placed as libxl
/// places them.
fn pvh_acpi(
    spec: &BuildSpec,
    hvm: &HvmBuildSpec,
    image: &xl_builder::Kernel,
    xen_version: (u32, u32),
) -> Result<Vec<FixedBlob>, Error> {
    let notes = image.notes();
    // Linux without XENFEAT_linux_rsdp_unrestricted finds the RSDP only by
    // scanning below 1 MiB.
    let linux = notes.guest_os.as_deref() == Some("linux");
    let rsdp_below_1mib = linux && !notes.supports(LINUX_RSDP_UNRESTRICTED);
    let tables = xl_builder::x86::acpi::pvh_acpi(&xl_builder::x86::acpi::AcpiRequest {
        max_vcpus: hvm.max_vcpus,
        online_vcpus: spec.online_vcpus,
        apic: hvm.apic,
        rsdp_below_1mib,
        xen_version,
    })
    .map_err(DomainBuildError::Acpi)?;
    Ok([tables.rsdp, tables.info, tables.tables]
        .into_iter()
        .map(|m| FixedBlob {
            gpa: m.gpa,
            bytes: m.bytes,
        })
        .collect())
}

/// `XENFEAT_linux_rsdp_unrestricted`.
const LINUX_RSDP_UNRESTRICTED: u32 = 15;

impl HvmTarget for XenTarget<'_> {
    fn claim(&mut self, pages: u64) -> Result<(), TargetError> {
        self.xen
            .claim_pages(self.dom, pages)
            .map_err(failed("claim_pages"))
    }

    fn set_pod_target(&mut self, pages: u64) -> Result<(), TargetError> {
        self.xen
            .set_pod_target(self.dom, pages)
            .map_err(failed("set_pod_target"))
    }

    fn populate(&mut self, order: u32, gfns: &[u64], pod: bool) -> Result<usize, TargetError> {
        let mut extents = gfns.to_vec();
        let flags = if pod { MEMF_POD } else { 0 };
        self.xen
            .populate_physmap(self.dom, order, flags, &mut extents)
            .map_err(failed("populate_physmap"))
    }

    fn set_memory_map(&mut self, map: &[E820]) -> Result<(), TargetError> {
        let entries: Vec<abi::E820Entry> = map
            .iter()
            .map(|e| abi::E820Entry {
                addr: e.addr,
                size: e.size,
                kind: e.kind,
            })
            .collect();
        self.xen
            .set_memory_map(self.dom, &entries)
            .map_err(failed("set_memory_map"))
    }

    fn set_param(&mut self, index: u32, value: u64) -> Result<(), TargetError> {
        self.xen
            .set_hvm_param(self.dom, index, value)
            .map_err(failed("set_hvm_param"))
    }

    fn hvm_context(&mut self) -> Result<Vec<u8>, TargetError> {
        self.xen
            .hvm_context(self.dom)
            .map_err(failed("gethvmcontext"))
    }

    fn set_hvm_context(&mut self, records: &[u8]) -> Result<(), TargetError> {
        self.xen
            .set_hvm_context(self.dom, records)
            .map_err(failed("sethvmcontext"))
    }

    fn seed_grants(&mut self, grants: &[GrantSeed]) -> Result<(), TargetError> {
        seed_grants(self.xen, self.dom, grants)
    }
}
