//! The guest's CPUID and MSR policy at build, as libxl's
//! `libxl__cpuid_legacy` has libxenguest's `xc_cpuid_apply_policy` make it
//! (the same steps in Xen 4.17 to 4.22): the default policy for the guest
//! type with the toolstack's adjustments (invariant TSC, PAE, nested
//! virtualisation, the topology bits), then the config's `cpuid=` leaves over
//! the domain's policy as Xen left it, then its MSR bits. Pure logic over
//! Xen's serialised policy; the backends fetch and store it.

use serde::{Deserialize, Serialize};

/// The subleaf of a leaf that has none (`XEN_CPUID_NO_SUBLEAF`).
pub const NO_SUBLEAF: u32 = 0xffff_ffff;

/// One serialised CPUID leaf: eax, ebx, ecx, edx.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Leaf {
    /// The leaf (eax on input).
    pub leaf: u32,
    /// The subleaf (ecx on input), or [`NO_SUBLEAF`].
    pub subleaf: u32,
    /// eax, ebx, ecx, edx.
    pub regs: [u32; 4],
}

/// One serialised MSR.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Msr {
    /// The MSR's index.
    pub index: u32,
    /// Its value.
    pub val: u64,
}

/// One `cpuid=` leaf as libxl hands it to libxenguest: for each register,
/// 32 policy characters (most significant bit first) or none.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct XendLeaf {
    /// The leaf (eax on input).
    pub leaf: u32,
    /// The subleaf (ecx on input), or [`NO_SUBLEAF`].
    pub subleaf: u32,
    /// eax, ebx, ecx, edx: each 32 policy characters, or None to keep the default.
    pub regs: [Option<String>; 4],
}

/// One MSR's 64 policy characters, most significant bit first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MsrRequest {
    /// The MSR's index.
    pub index: u32,
    /// Its 64 policy characters.
    pub policy: String,
}

/// What `libxl__cpuid_legacy` passes for a new domain.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuidRequest {
    /// HVM guests: `pae=` (PV and PVH: always).
    pub pae: bool,
    /// Advertise the invariant TSC: `disable_migrate` or an always
    /// emulated TSC.
    pub itsc: bool,
    /// `nestedhvm=`: VMX/SVM for HVM guests.
    pub nested_virt: bool,
    /// The config's leaves, in its order.
    pub leaves: Vec<XendLeaf>,
    /// The config's MSRs (named features living in one).
    pub msrs: Vec<MsrRequest>,
}

impl CpuidRequest {
    /// The request for a build from the typed config's policy.
    pub fn new(
        pae: bool,
        itsc: bool,
        nested_virt: bool,
        cfg: Option<&xl_config::cpuid::CpuidPolicy>,
    ) -> Self {
        let leaves = cfg.map_or_else(Vec::new, |p| {
            p.leaves
                .iter()
                .map(|l| XendLeaf {
                    leaf: l.leaf,
                    subleaf: l.subleaf.unwrap_or(NO_SUBLEAF),
                    regs: l.regs.clone(),
                })
                .collect()
        });
        let msrs = cfg.map_or_else(Vec::new, |p| {
            p.msrs
                .iter()
                .map(|m| MsrRequest {
                    index: m.index,
                    policy: m.policy.clone(),
                })
                .collect()
        });
        CpuidRequest {
            pae,
            itsc,
            nested_virt,
            leaves,
            msrs,
        }
    }
}

/// Why a policy cannot be made; the texts are libxenguest's.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PolicyError {
    /// The host's policy has no such leaf.
    #[error("Missing leaf {leaf:#x}, subleaf {subleaf:#x}")]
    MissingLeaf {
        /// The leaf.
        leaf: u32,
        /// The subleaf.
        subleaf: u32,
    },
    /// A character libxenguest does not know in a leaf's policy string.
    #[error("Bad character '{ch}' in policy[{reg}] string '{policy}'")]
    BadLeafChar {
        /// The character.
        ch: char,
        /// The register's index (0 eax .. 3 edx).
        reg: usize,
        /// The policy string.
        policy: String,
    },
    /// The host's policy has no such MSR.
    #[error("Missing MSR {0:#x}")]
    MissingMsr(u32),
    /// A character libxenguest does not know in an MSR's policy string.
    #[error("MSR index {index:#x}: bad character '{ch}' in policy string '{policy}'")]
    BadMsrChar {
        /// The MSR's index.
        index: u32,
        /// The character.
        ch: char,
        /// The policy string.
        policy: String,
    },
}

const EAX: usize = 0;
const EBX: usize = 1;
const ECX: usize = 2;
const EDX: usize = 3;

/// Featureset bits (word * 32 + bit) the adjustments read from the host.
const FEATURE_HTT: u32 = 28;
const FEATURE_CMP_LEGACY: u32 = 3 * 32 + 1;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Vendor {
    Intel,
    AmdOrHygon,
    Other,
}

/// The vendor from leaf 0's ebx, ecx, edx.
fn vendor(leaves: &[Leaf]) -> Vendor {
    let Some(l0) = find(leaves, 0, NO_SUBLEAF) else {
        return Vendor::Other;
    };
    match (l0.regs[EBX], l0.regs[ECX], l0.regs[EDX]) {
        // "GenuineIntel"
        (0x756e_6547, 0x6c65_746e, 0x4965_6e69) => Vendor::Intel,
        // "AuthenticAMD", "HygonGenuine"
        (0x6874_7541, 0x444d_4163, 0x6974_6e65) | (0x6f67_7948, 0x656e_6975, 0x6e65_476e) => {
            Vendor::AmdOrHygon
        }
        _ => Vendor::Other,
    }
}

fn find(leaves: &[Leaf], leaf: u32, subleaf: u32) -> Option<&Leaf> {
    leaves
        .iter()
        .find(|l| l.leaf == leaf && l.subleaf == subleaf)
}

fn find_mut(leaves: &mut [Leaf], leaf: u32, subleaf: u32) -> Option<&mut Leaf> {
    leaves
        .iter_mut()
        .find(|l| l.leaf == leaf && l.subleaf == subleaf)
}

/// Set or clear one bit of a leaf's register; a leaf the policy does not
/// serialise is beyond its maximum and stays out.
fn set_bit(leaves: &mut [Leaf], leaf: u32, reg: usize, bit: u32, on: bool) {
    if let Some(l) = find_mut(leaves, leaf, NO_SUBLEAF) {
        l.regs[reg] = (l.regs[reg] & !(1 << bit)) | (u32::from(on) << bit);
    }
}

fn test_feature(featureset: &[u32], bit: u32) -> bool {
    featureset
        .get((bit / 32) as usize)
        .is_some_and(|w| w & (1 << (bit % 32)) != 0)
}

/// The first policy set: the guest type's default policy with the
/// adjustments xc_cpuid_apply_policy makes for a new domain.
pub fn adjust_default(
    default: &[Leaf],
    host_featureset: &[u32],
    hvm: bool,
    req: &CpuidRequest,
) -> Vec<Leaf> {
    let mut p = default.to_vec();
    set_bit(&mut p, 0x8000_0007, EDX, 8, req.itsc);
    if hvm {
        set_bit(&mut p, 1, EDX, 6, req.pae);
        set_bit(&mut p, 1, ECX, 5, req.nested_virt);
        set_bit(&mut p, 0x8000_0001, ECX, 2, req.nested_virt);
        hvm_topology(&mut p);
    } else {
        // Without CPUID faulting PV guests see the real topology, so they
        // see the host's htt and cmp_legacy too.
        set_bit(
            &mut p,
            1,
            EDX,
            28,
            test_feature(host_featureset, FEATURE_HTT),
        );
        set_bit(
            &mut p,
            0x8000_0001,
            ECX,
            1,
            test_feature(host_featureset, FEATURE_CMP_LEGACY),
        );
    }
    p
}

/// HVM topology is Xen's: APIC id = vCPU id * 2, no SMT.
fn hvm_topology(p: &mut [Leaf]) {
    set_bit(p, 1, EDX, 28, true);
    set_bit(p, 0x8000_0001, ECX, 1, false);
    // Leaf 1 ebx[23:16]: logical processors per package, doubled.
    if let Some(l) = find_mut(p, 1, NO_SUBLEAF) {
        let lppp = (l.regs[EBX] >> 16) & 0xff;
        let new = if lppp == 0 {
            2
        } else if lppp & 0x80 == 0 {
            lppp * 2
        } else {
            lppp
        };
        l.regs[EBX] = (l.regs[EBX] & !0x00ff_0000) | (new << 16);
    }
    match vendor(p) {
        Vendor::Intel => {
            // Leaf 4's subleaves up to the first of type 0 (at most 6):
            // cores per package (eax[31:26]) as 2n+1, threads per cache
            // (eax[25:14]) 0.
            for sub in 0..6 {
                let Some(l) = find_mut(p, 4, sub) else { break };
                let a = l.regs[EAX];
                if a & 0x1f == 0 {
                    break;
                }
                let cores = (((a >> 26) << 1) | 1) & 0x3f;
                l.regs[EAX] = (a & 0x0000_3fff) | (cores << 26);
            }
        }
        Vendor::AmdOrHygon => {
            // 0x80000008 ecx: NumberOfCores (7:0) as 2n+1 and
            // ApicIdCoreSize (15:12) one more, below 7 and when set.
            if let Some(l) = find_mut(p, 0x8000_0008, NO_SUBLEAF) {
                let c = l.regs[ECX];
                let nc = c & 0xff;
                let size = (c >> 12) & 0xf;
                if nc < 0x7f {
                    let size = if size != 0 && size < 7 {
                        size + 1
                    } else {
                        size
                    };
                    let nc = ((nc << 1) | 1) & 0xff;
                    l.regs[ECX] = (c & !0xf0ff) | (size << 12) | nc;
                }
            }
        }
        Vendor::Other => {}
    }
}

/// The config's leaves over the domain's current policy: `1`/`0` set and
/// clear, `x` takes the default policy's bit, `k`/`s` the host's.
pub fn apply_xend(
    cur: &mut [Leaf],
    default: &[Leaf],
    host: &[Leaf],
    xend: &[XendLeaf],
) -> Result<(), PolicyError> {
    for x in xend {
        let missing = || PolicyError::MissingLeaf {
            leaf: x.leaf,
            subleaf: x.subleaf,
        };
        let def = *find(default, x.leaf, x.subleaf).ok_or_else(missing)?;
        let host = *find(host, x.leaf, x.subleaf).ok_or_else(missing)?;
        let leaf = find_mut(cur, x.leaf, x.subleaf).ok_or_else(missing)?;
        for (i, policy) in x.regs.iter().enumerate() {
            let Some(policy) = policy else { continue };
            for (j, ch) in policy.chars().take(32).enumerate() {
                let bit = 31 - j as u32;
                let val = match ch {
                    '1' => true,
                    '0' => false,
                    'x' => def.regs[i] & (1 << bit) != 0,
                    'k' | 's' => host.regs[i] & (1 << bit) != 0,
                    _ => {
                        return Err(PolicyError::BadLeafChar {
                            ch,
                            reg: i,
                            policy: policy.clone(),
                        });
                    }
                };
                leaf.regs[i] = (leaf.regs[i] & !(1 << bit)) | (u32::from(val) << bit);
            }
        }
    }
    Ok(())
}

/// The config's MSR bits over the domain's current MSRs (`x` default,
/// `k` host).
pub fn apply_msrs(
    cur: &mut [Msr],
    default: &[Msr],
    host: &[Msr],
    msrs: &[MsrRequest],
) -> Result<(), PolicyError> {
    for m in msrs {
        let find = |l: &[Msr]| l.iter().find(|e| e.index == m.index).map(|e| e.val);
        let (Some(def), Some(host)) = (find(default), find(host)) else {
            return Err(PolicyError::MissingMsr(m.index));
        };
        let entry = cur
            .iter_mut()
            .find(|e| e.index == m.index)
            .ok_or(PolicyError::MissingMsr(m.index))?;
        for (i, ch) in m.policy.chars().take(64).enumerate() {
            let bit = 63 - i as u32;
            let val = match ch {
                '1' => true,
                '0' => false,
                'x' => def & (1 << bit) != 0,
                'k' => host & (1 << bit) != 0,
                _ => {
                    return Err(PolicyError::BadMsrChar {
                        index: m.index,
                        ch,
                        policy: m.policy.clone(),
                    });
                }
            };
            entry.val = (entry.val & !(1 << bit)) | (u64::from(val) << bit);
        }
    }
    Ok(())
}

/// The whole of it where the hypervisor changes nothing in between (the
/// simulator's): the domain's leaves and MSRs from the type's default and
/// the host's policy.
pub fn apply_all(
    default: (&[Leaf], &[Msr]),
    host: (&[Leaf], &[Msr]),
    host_featureset: &[u32],
    hvm: bool,
    req: &CpuidRequest,
) -> Result<(Vec<Leaf>, Vec<Msr>), PolicyError> {
    let mut leaves = adjust_default(default.0, host_featureset, hvm, req);
    apply_xend(&mut leaves, default.0, host.0, &req.leaves)?;
    let mut msrs = default.1.to_vec();
    apply_msrs(&mut msrs, default.1, host.1, &req.msrs)?;
    Ok((leaves, msrs))
}

/// The featureset words a policy's leaves hold that the adjustments read
/// (leaf 1 edx and ecx, 0x80000001 edx and ecx), in featureset order.
pub fn featureset(leaves: &[Leaf]) -> Vec<u32> {
    let reg = |leaf, r: usize| find(leaves, leaf, NO_SUBLEAF).map_or(0, |l| l.regs[r]);
    vec![
        reg(1, EDX),
        reg(1, ECX),
        reg(0x8000_0001, EDX),
        reg(0x8000_0001, ECX),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(leaf: u32, subleaf: u32, regs: [u32; 4]) -> Leaf {
        Leaf {
            leaf,
            subleaf,
            regs,
        }
    }

    fn req() -> CpuidRequest {
        CpuidRequest {
            pae: true,
            ..Default::default()
        }
    }

    /// An AMD default policy (AuthenticAMD, lppp 1, 0x80000008 ecx with
    /// nc 0 and ApicIdCoreSize 0), as a TCG qemu64 host gives.
    fn amd() -> Vec<Leaf> {
        vec![
            leaf(0, NO_SUBLEAF, [0xd, 0x6874_7541, 0x444d_4163, 0x6974_6e65]),
            leaf(
                1,
                NO_SUBLEAF,
                [0x663, 0x0001_0800, 0x8020_0001, 0x0789_fbff],
            ),
            leaf(0x8000_0000, NO_SUBLEAF, [0x8000_0008, 0, 0, 0]),
            leaf(
                0x8000_0001,
                NO_SUBLEAF,
                [0x663, 0, 0x0000_0007, 0x2191_3bff],
            ),
            leaf(0x8000_0007, NO_SUBLEAF, [0, 0, 0, 0]),
            leaf(0x8000_0008, NO_SUBLEAF, [0x3028, 0, 0x0000_1003, 0]),
        ]
    }

    #[test]
    fn hvm_gets_xen_topology_on_amd() {
        let p = adjust_default(&amd(), &[], true, &req());
        let l1 = find(&p, 1, NO_SUBLEAF).unwrap();
        assert_eq!((l1.regs[EBX] >> 16) & 0xff, 2, "lppp doubled");
        assert_ne!(l1.regs[EDX] & (1 << 28), 0, "htt");
        assert_ne!(l1.regs[EDX] & (1 << 6), 0, "pae");
        assert_eq!(l1.regs[ECX] & (1 << 5), 0, "no vmx without nestedhvm");
        let e1 = find(&p, 0x8000_0001, NO_SUBLEAF).unwrap();
        assert_eq!(e1.regs[ECX] & 0b110, 0, "no cmp_legacy, no svm");
        // nc 3 -> 7, ApicIdCoreSize 1 -> 2.
        let e8 = find(&p, 0x8000_0008, NO_SUBLEAF).unwrap();
        assert_eq!(e8.regs[ECX], 0x0000_2007);
        assert_eq!(p.len(), amd().len(), "no leaf added or lost");
    }

    #[test]
    fn pv_takes_htt_and_cmp_legacy_from_the_host() {
        let mut host = vec![0u32; 4];
        host[0] = 1 << 28;
        let p = adjust_default(&amd(), &host, false, &req());
        let l1 = find(&p, 1, NO_SUBLEAF).unwrap();
        assert_ne!(l1.regs[EDX] & (1 << 28), 0);
        assert_eq!(l1.regs[EBX], 0x0001_0800, "PV topology untouched");
        let e1 = find(&p, 0x8000_0001, NO_SUBLEAF).unwrap();
        assert_eq!(e1.regs[ECX] & 0b10, 0);
        let itsc = adjust_default(
            &amd(),
            &host,
            false,
            &CpuidRequest {
                itsc: true,
                ..req()
            },
        );
        let e7 = find(&itsc, 0x8000_0007, NO_SUBLEAF).unwrap();
        assert_eq!(e7.regs[EDX], 1 << 8);
    }

    #[test]
    fn intel_cache_leaves_count_cores_twice() {
        let mut d = vec![
            leaf(0, NO_SUBLEAF, [0xd, 0x756e_6547, 0x6c65_746e, 0x4965_6e69]),
            leaf(1, NO_SUBLEAF, [0, 0x0004_0000, 0, 0]),
        ];
        // Two cache levels (type 1 and 3), then the terminating type 0.
        d.push(leaf(4, 0, [(3 << 26) | (1 << 14) | 0x21, 0, 0, 0]));
        d.push(leaf(4, 1, [(3 << 26) | (7 << 14) | 0x63, 0, 0, 0]));
        d.push(leaf(4, 2, [0, 0, 0, 0]));
        let p = adjust_default(&d, &[], true, &req());
        assert_eq!(find(&p, 1, NO_SUBLEAF).unwrap().regs[EBX] >> 16, 8);
        assert_eq!(find(&p, 4, 0).unwrap().regs[EAX], (7 << 26) | 0x21);
        assert_eq!(find(&p, 4, 1).unwrap().regs[EAX], (7 << 26) | 0x63);
        assert_eq!(find(&p, 4, 2).unwrap().regs[EAX], 0);
    }

    #[test]
    fn xend_characters_pick_their_bits() {
        let def = amd();
        let mut host = amd();
        host[1].regs[ECX] |= 1 << 28; // avx on the host only
        let mut cur = adjust_default(&def, &[], true, &req());
        let mut ecx = "x".repeat(32).into_bytes();
        ecx[31 - 28] = b'k';
        ecx[31] = b'0'; // sse3 off
        ecx[31 - 5] = b'1'; // vmx on
        let x = XendLeaf {
            leaf: 1,
            subleaf: NO_SUBLEAF,
            regs: [None, None, Some(String::from_utf8(ecx).unwrap()), None],
        };
        apply_xend(&mut cur, &def, &host, std::slice::from_ref(&x)).unwrap();
        let c = find(&cur, 1, NO_SUBLEAF).unwrap().regs[ECX];
        assert_eq!(c, (def[1].regs[ECX] & !1) | (1 << 28) | (1 << 5));
        // Registers the line does not name keep the adjusted values.
        assert_eq!(find(&cur, 1, NO_SUBLEAF).unwrap().regs[EBX] >> 16, 2);
        let missing = XendLeaf {
            leaf: 0x1234,
            subleaf: NO_SUBLEAF,
            regs: [Some("x".repeat(32)), None, None, None],
        };
        assert_eq!(
            apply_xend(&mut cur, &def, &host, &[missing])
                .unwrap_err()
                .to_string(),
            "Missing leaf 0x1234, subleaf 0xffffffff"
        );
    }

    #[test]
    fn msr_characters_pick_their_bits() {
        let def = [Msr {
            index: 0x10a,
            val: 0b1010,
        }];
        let host = [Msr {
            index: 0x10a,
            val: 0b0101,
        }];
        let mut cur = def;
        let mut pol = "x".repeat(64).into_bytes();
        pol[63] = b'k';
        pol[62] = b'0';
        pol[60] = b'1';
        let m = MsrRequest {
            index: 0x10a,
            policy: String::from_utf8(pol).unwrap(),
        };
        apply_msrs(&mut cur, &def, &host, std::slice::from_ref(&m)).unwrap();
        assert_eq!(cur[0].val, 0b1001);
        let m = MsrRequest {
            index: 0xce,
            policy: "x".repeat(64),
        };
        assert_eq!(
            apply_msrs(&mut cur, &def, &host, &[m]),
            Err(PolicyError::MissingMsr(0xce))
        );
    }
}
