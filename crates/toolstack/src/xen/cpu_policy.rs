//! The new domain's CPUID and MSR policy on Xen: libxenguest's
//! `xc_cpuid_apply_policy` steps (see [`crate::cpu_policy`]) through
//! XEN_SYSCTL_get_cpu_policy, XEN_DOMCTL_get_cpu_policy and
//! XEN_DOMCTL_set_cpu_policy.

use xen_sys::Xen;
use xen_sys::abi::{
    CpuidLeafEntry, DomId, MsrEntry, SYSCTL_CPU_FEATURESET_HOST, SYSCTL_CPU_POLICY_HOST,
    SYSCTL_CPU_POLICY_HVM_DEFAULT, SYSCTL_CPU_POLICY_PV_DEFAULT,
};
use xen_sys::{CpuPolicy, SysError};

use crate::Error;
use crate::cpu_policy::{self as logic, CpuidRequest, Leaf, Msr};

fn leaves(p: &CpuPolicy) -> Vec<Leaf> {
    p.leaves
        .iter()
        .map(|l| Leaf {
            leaf: l.leaf,
            subleaf: l.subleaf,
            regs: [l.a, l.b, l.c, l.d],
        })
        .collect()
}

fn msrs(p: &CpuPolicy) -> Vec<Msr> {
    p.msrs
        .iter()
        .map(|m| Msr {
            index: m.idx,
            val: m.val,
        })
        .collect()
}

fn leaf_policy(leaves: &[Leaf]) -> CpuPolicy {
    CpuPolicy {
        leaves: leaves
            .iter()
            .map(|l| CpuidLeafEntry {
                leaf: l.leaf,
                subleaf: l.subleaf,
                a: l.regs[0],
                b: l.regs[1],
                c: l.regs[2],
                d: l.regs[3],
            })
            .collect(),
        msrs: Vec::new(),
    }
}

fn msr_policy(msrs: &[Msr]) -> CpuPolicy {
    CpuPolicy {
        leaves: Vec::new(),
        msrs: msrs
            .iter()
            .map(|m| MsrEntry {
                idx: m.index,
                flags: 0,
                val: m.val,
            })
            .collect(),
    }
}

/// A policy that could not be applied, as libxl reports it ("Failed to
/// apply CPUID policy"), with what libxenguest said first.
#[derive(Debug, thiserror::Error)]
pub enum CpuidApplyError {
    /// A hypercall of the sequence failed (`what` as libxenguest says it).
    #[error("Failed to apply CPUID policy: {what}")]
    Hypercall {
        /// The step that failed, in libxenguest's words.
        what: &'static str,
        /// The hypercall's failure.
        #[source]
        source: SysError,
    },
    /// The config asks for what the host's policy cannot give.
    #[error("Failed to apply CPUID policy")]
    Policy(#[source] logic::PolicyError),
}

fn failed(e: logic::PolicyError) -> Error {
    CpuidApplyError::Policy(e).into()
}

fn sys(what: &'static str) -> impl FnOnce(SysError) -> Error {
    move |source| CpuidApplyError::Hypercall { what, source }.into()
}

/// Give the new (paused, unbuilt) domain `dom` its policy, as libxl does
/// at the end of its build preparation.
pub(super) fn apply(xen: &Xen, dom: DomId, hvm: bool, req: &CpuidRequest) -> Result<(), Error> {
    let default_index = if hvm {
        SYSCTL_CPU_POLICY_HVM_DEFAULT
    } else {
        SYSCTL_CPU_POLICY_PV_DEFAULT
    };
    let host_features = xen
        .cpu_featureset(SYSCTL_CPU_FEATURESET_HOST)
        .map_err(sys("Failed to obtain host featureset"))?;
    let default = xen
        .system_cpu_policy(default_index)
        .map_err(sys("Failed to obtain the default policy"))?;
    let first = logic::adjust_default(&leaves(&default), &host_features, hvm, req);
    xen.set_domain_cpu_policy(dom, &leaf_policy(&first))
        .map_err(sys("Failed to set the domain's policy"))?;
    if req.leaves.is_empty() && req.msrs.is_empty() {
        return Ok(());
    }
    let host = xen
        .system_cpu_policy(SYSCTL_CPU_POLICY_HOST)
        .map_err(sys("Failed to obtain host policy"))?;
    if !req.leaves.is_empty() {
        let mut cur = leaves(
            &xen.domain_cpu_policy(dom)
                .map_err(sys("Failed to obtain the domain's current policy"))?,
        );
        logic::apply_xend(&mut cur, &leaves(&default), &leaves(&host), &req.leaves)
            .map_err(failed)?;
        xen.set_domain_cpu_policy(dom, &leaf_policy(&cur))
            .map_err(sys("Failed to set the domain's policy"))?;
    }
    if !req.msrs.is_empty() {
        let mut cur = msrs(
            &xen.domain_cpu_policy(dom)
                .map_err(sys("Failed to obtain the domain's current policy"))?,
        );
        logic::apply_msrs(&mut cur, &msrs(&default), &msrs(&host), &req.msrs).map_err(failed)?;
        xen.set_domain_cpu_policy(dom, &msr_policy(&cur))
            .map_err(sys("Failed to set the domain's policy"))?;
    }
    Ok(())
}
