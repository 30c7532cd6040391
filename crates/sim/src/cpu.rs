//! The simulated host's CPU as CPUID sees it (an AMD EPYC-like part with
//! Xen's default policies for guests), and a new guest's policy made from it
//! by the toolstack's rules (`xl_toolstack::cpu_policy`).

use xl_toolstack::GuestKind;
use xl_toolstack::cpu_policy::{self, CpuidRequest, Leaf, Msr, NO_SUBLEAF};

/// `(leaf, subleaf, [eax, ebx, ecx, edx])` of the host's policy.
const HOST: &[(u32, u32, [u32; 4])] = &[
    // "AuthenticAMD", basic leaves up to 0xd.
    (0, NO_SUBLEAF, [0xd, 0x6874_7541, 0x444d_4163, 0x6974_6e65]),
    // Family 0x17: sse3 pclmulqdq ssse3 fma cx16 sse4.1 sse4.2 movbe
    // popcnt aesni xsave avx f16c rdrand; fpu..sse2 htt.
    (
        1,
        NO_SUBLEAF,
        [0x0083_0f10, 0x0002_0800, 0x7ed8_3203, 0x178b_fbff],
    ),
    (7, 0, [0, 0x0029_c3a9, 0, 0]),
    (0xd, 0, [0x7, 0x340, 0x340, 0]),
    (0xd, 1, [0xf, 0, 0, 0]),
    (0xd, 2, [0x100, 0x240, 0, 0]),
    (
        0x8000_0000,
        NO_SUBLEAF,
        [0x8000_0008, 0x6874_7541, 0x444d_4163, 0x6974_6e65],
    ),
    // lahf_lm cmp_legacy abm sse4a misalignsse 3dnowprefetch; syscall nx
    // mmxext fxsr_opt pdpe1gb rdtscp lm.
    (
        0x8000_0001,
        NO_SUBLEAF,
        [0x0083_0f10, 0, 0x0000_01f3, 0x2fd3_fbff],
    ),
    (0x8000_0007, NO_SUBLEAF, [0, 0, 0, 0x100]),
    (0x8000_0008, NO_SUBLEAF, [0x3030, 0, 0x1003, 0]),
];

/// MSRs of the policies: MSR_INTEL_PLATFORM_INFO and ARCH_CAPABILITIES.
const MSRS: &[(u32, u64)] = &[(0xce, 0), (0x10a, 0)];

fn leaves(table: &[(u32, u32, [u32; 4])]) -> Vec<Leaf> {
    table
        .iter()
        .map(|&(leaf, subleaf, regs)| Leaf {
            leaf,
            subleaf,
            regs,
        })
        .collect()
}

fn msrs() -> Vec<Msr> {
    MSRS.iter()
        .map(|&(index, val)| Msr { index, val })
        .collect()
}

/// Xen's default for a guest type: the host's, without the hardware
/// topology bit (htt) and the invariant TSC, which the toolstack decides.
fn default_policy() -> Vec<Leaf> {
    let mut p = leaves(HOST);
    for l in &mut p {
        match l.leaf {
            1 => l.regs[3] &= !(1 << 28),
            0x8000_0007 => l.regs[3] &= !(1 << 8),
            _ => {}
        }
    }
    p
}

/// The CPU features a new guest sees (leaf 1 edx and ecx, leaf 7 ebx,
/// 0x80000001 edx and ecx), or why its policy cannot be made.
pub fn guest_flags(kind: GuestKind, req: &CpuidRequest) -> Result<Vec<String>, String> {
    let host = leaves(HOST);
    let (got, _) = cpu_policy::apply_all(
        (&default_policy(), &msrs()),
        (&host, &msrs()),
        &cpu_policy::featureset(&host),
        kind != GuestKind::Pv,
        req,
    )
    .map_err(|e| format!("Failed to apply CPUID policy: {e}"))?;
    let mut flags = Vec::new();
    for (leaf, subleaf, regs) in [
        (1, None, [3usize, 2].as_slice()),
        (7, Some(0), [1usize].as_slice()),
        (0x8000_0001, None, [3usize, 2].as_slice()),
    ] {
        let Some(l) = got
            .iter()
            .find(|l| l.leaf == leaf && l.subleaf == subleaf.unwrap_or(NO_SUBLEAF))
        else {
            continue;
        };
        for &r in regs {
            flags.extend(
                xl_config::cpuid::feature_names(leaf, subleaf, r, l.regs[r])
                    .into_iter()
                    .map(String::from),
            );
        }
    }
    Ok(flags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_features_come_and_go() {
        let req = |s: &str| {
            let mut p = xl_config::cpuid::CpuidPolicy::default();
            for item in s.split(',') {
                p.add_named(item).unwrap();
            }
            CpuidRequest::new(true, false, false, Some(&p))
        };
        // What create asks for a PVH guest without cpuid= (PAE on).
        let plain =
            guest_flags(GuestKind::Pvh, &CpuidRequest::new(true, false, false, None)).unwrap();
        assert!(plain.iter().any(|f| f == "avx"), "{plain:?}");
        assert!(plain.iter().any(|f| f == "htt"), "HVM-type guests see htt");
        let pv = guest_flags(GuestKind::Pv, &CpuidRequest::default()).unwrap();
        assert!(pv.iter().any(|f| f == "htt"), "the host has htt");
        let masked = guest_flags(GuestKind::Pvh, &req("avx=0,sse3=0")).unwrap();
        assert!(
            !masked.iter().any(|f| f == "avx" || f == "sse3"),
            "{masked:?}"
        );
        assert_eq!(masked.len() + 2, plain.len());
    }
}
