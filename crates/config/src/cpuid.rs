//! `cpuid=`: the guest's CPUID (and MSR) policy, as libxl 4.17 builds it
//! from xl.cfg: a list of xend-style `LEAF[,SUBLEAF]:eXx=<32 chars>` lines,
//! or a string `"host,NAME=VALUE,..."` of named fields and features.

use crate::cpuid_names::FEATURES;
use crate::json::Json;
use crate::value::strtoul;

/// One leaf's policy: for each of eax..edx, 32 characters (`0`, `1`, `x`,
/// `k`, `s`), most significant bit first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CpuidLeaf {
    /// The CPUID leaf (input EAX).
    pub leaf: u32,
    /// The subleaf (input ECX); `None` when the leaf has none.
    pub subleaf: Option<u32>,
    /// The policy for eax, ebx, ecx and edx; `None` leaves a register as it is.
    pub regs: [Option<String>; 4],
}

/// One MSR's policy: 64 characters, most significant bit first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MsrPolicy {
    /// The MSR's index.
    pub index: u32,
    /// Its policy characters (`0`, `1`, `x`, `k`).
    pub policy: String,
}

/// `libxl_cpuid_policy_list`: leaves and MSRs in the order first named.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CpuidPolicy {
    /// The CPUID leaves.
    pub leaves: Vec<CpuidLeaf>,
    /// The MSRs, for named features whose bits live in one (`ARCH_CAPABILITIES`, 0x10a).
    pub msrs: Vec<MsrPolicy>,
}

/// Most entries a config may add, far above the CPUID leaves that exist.
const MAX_ENTRIES: usize = 1024;

const REG_NAMES: [&str; 4] = ["eax", "ebx", "ecx", "edx"];

/// A field of [`NAMED_FIELDS`]: where its bits live.
struct Field {
    name: &'static str,
    leaf: u32,
    subleaf: Option<u32>,
    /// 0..=3 for eax..edx.
    reg: usize,
    bit: u32,
    length: u32,
}

const fn field(
    name: &'static str,
    leaf: u32,
    subleaf: Option<u32>,
    reg: usize,
    bit: u32,
    length: u32,
) -> Field {
    Field {
        name,
        leaf,
        subleaf,
        reg,
        bit,
        length,
    }
}

const EAX: usize = 0;
const EBX: usize = 1;
const ECX: usize = 2;
const EDX: usize = 3;

/// The multi-bit fields and older names libxl knows besides the featureset.
const NAMED_FIELDS: &[Field] = &[
    field("maxleaf", 0, None, EAX, 0, 32),
    field("stepping", 1, None, EAX, 0, 4),
    field("model", 1, None, EAX, 4, 8),
    field("family", 1, None, EAX, 8, 8),
    field("brandid", 1, None, EBX, 0, 8),
    field("clflush", 1, None, EBX, 8, 8),
    field("proccount", 1, None, EBX, 16, 8),
    field("localapicid", 1, None, EBX, 24, 8),
    field("est", 1, None, ECX, 7, 1),
    field("cntxid", 1, None, ECX, 10, 1),
    field("cmpxchg16", 1, None, ECX, 13, 1),
    field("sse4_1", 1, None, ECX, 19, 1),
    field("sse4.1", 1, None, ECX, 19, 1),
    field("sse4_2", 1, None, ECX, 20, 1),
    field("sse4.2", 1, None, ECX, 20, 1),
    field("aes", 1, None, ECX, 25, 1),
    field("cmpxchg8", 1, None, EDX, 8, 1),
    field("sysenter", 1, None, EDX, 11, 1),
    field("psn", 1, None, EDX, 18, 1),
    field("clfsh", 1, None, EDX, 19, 1),
    field("tm", 1, None, EDX, 29, 1),
    field("ia64", 1, None, EDX, 30, 1),
    field("pbe", 1, None, EDX, 31, 1),
    field("arat", 6, None, EAX, 2, 1),
    field("tsc_adjust", 7, Some(0), EBX, 1, 1),
    field("cmt", 7, Some(0), EBX, 12, 1),
    field("lahfsahf", 0x8000_0001, None, ECX, 0, 1),
    field("cmplegacy", 0x8000_0001, None, ECX, 1, 1),
    field("altmovcr8", 0x8000_0001, None, ECX, 4, 1),
    field("nodeid", 0x8000_0001, None, ECX, 19, 1),
    field("perfctr_core", 0x8000_0001, None, ECX, 23, 1),
    field("perfctr_nb", 0x8000_0001, None, ECX, 24, 1),
    field("procpkg", 4, Some(0), EAX, 26, 6),
    field("invtsc", 0x8000_0007, None, EDX, 8, 1),
    field("ppin", 0x8000_0008, None, EBX, 23, 1),
    field("btc-no", 0x8000_0008, None, EBX, 29, 1),
    field("nc", 0x8000_0008, None, ECX, 0, 8),
    field("apicidsize", 0x8000_0008, None, ECX, 12, 4),
    field("svm_npt", 0x8000_000a, None, EDX, 0, 1),
    field("svm_lbrv", 0x8000_000a, None, EDX, 1, 1),
    field("svm_nrips", 0x8000_000a, None, EDX, 3, 1),
    field("svm_tscrate", 0x8000_000a, None, EDX, 4, 1),
    field("svm_vmcbclean", 0x8000_000a, None, EDX, 5, 1),
    field("svm_decode", 0x8000_000a, None, EDX, 7, 1),
    field("svm_pausefilt", 0x8000_000a, None, EDX, 10, 1),
    field("lfence+", 0x8000_0021, None, EAX, 2, 1),
    field("maxhvleaf", 0x4000_0000, None, EAX, 0, 8),
];

/// Where each 32-bit word of the featureset lives (Xen 4.17).
enum Word {
    Cpuid(u32, Option<u32>, usize),
    Msr(u32, usize),
}

const FEATURE_WORDS: &[Word] = &[
    Word::Cpuid(1, None, EDX),
    Word::Cpuid(1, None, ECX),
    Word::Cpuid(0x8000_0001, None, EDX),
    Word::Cpuid(0x8000_0001, None, ECX),
    Word::Cpuid(0xd, Some(1), EAX),
    Word::Cpuid(7, Some(0), EBX),
    Word::Cpuid(7, Some(0), ECX),
    Word::Cpuid(0x8000_0007, None, EDX),
    Word::Cpuid(0x8000_0008, None, EBX),
    Word::Cpuid(7, Some(0), EDX),
    Word::Cpuid(7, Some(1), EAX),
    Word::Cpuid(0x8000_0021, None, EAX),
    Word::Cpuid(7, Some(1), EBX),
    Word::Cpuid(7, Some(2), EDX),
    Word::Cpuid(7, Some(1), ECX),
    Word::Cpuid(7, Some(1), EDX),
    Word::Msr(0x10a, EAX),
    Word::Msr(0x10a, EDX),
    Word::Cpuid(0x8000_0021, None, ECX),
];

impl CpuidPolicy {
    fn leaf(&mut self, leaf: u32, subleaf: Option<u32>) -> Option<&mut CpuidLeaf> {
        let at = match self
            .leaves
            .iter()
            .position(|l| l.leaf == leaf && l.subleaf == subleaf)
        {
            Some(i) => i,
            None => {
                if self.leaves.len() >= MAX_ENTRIES {
                    return None;
                }
                self.leaves.push(CpuidLeaf {
                    leaf,
                    subleaf,
                    regs: [None, None, None, None],
                });
                self.leaves.len() - 1
            }
        };
        self.leaves.get_mut(at)
    }

    /// One xend-style line `LEAF[,SUBLEAF]:eXx=<32 chars>[,eXx=...]`; the
    /// error number is libxl's (1 leaf, 2 subleaf, 3 colon, 4 register,
    /// 5 length).
    pub fn add_xend(&mut self, line: &str) -> Result<(), i32> {
        let (leaf, used, _) = strtoul(line.as_bytes(), 0);
        if used == 0 {
            return Err(1);
        }
        let mut rest = &line[used..];
        let mut subleaf = None;
        if let Some(after) = rest.strip_prefix(',') {
            let (s, used, _) = strtoul(after.as_bytes(), 0);
            if used == 0 {
                return Err(2);
            }
            subleaf = Some(s as u32);
            rest = &after[used..];
        }
        let Some(mut regs) = rest.strip_prefix(':') else {
            return Err(3);
        };
        let entry = self.leaf(leaf as u32, subleaf).ok_or(4)?;
        while !regs.is_empty() {
            let b = regs.as_bytes();
            if b.len() < 3 || b[0] != b'e' || b[2] != b'x' {
                return Err(4);
            }
            let reg = usize::from(b[1].wrapping_sub(b'a'));
            let Some(eq) = regs.find('=') else {
                return Err(4);
            };
            if reg > 3 {
                return Err(4);
            }
            let value = &regs[eq + 1..];
            let end = value.find(',').unwrap_or(value.len());
            if end != 32 {
                return Err(5);
            }
            entry.regs[reg] = Some(value[..32].to_string());
            if end == value.len() {
                break;
            }
            regs = value[end + 1..].trim_start_matches([' ', '\n']);
        }
        Ok(())
    }

    /// One `NAME=VALUE` of the string form; the error number is libxl's
    /// (1 no `=`, 2 unknown name, 3 bad value).
    pub fn add_named(&mut self, item: &str) -> Result<(), i32> {
        let Some((name, value)) = item.split_once('=') else {
            return Err(1);
        };
        if let Some(f) = NAMED_FIELDS.iter().find(|f| f.name == name) {
            return self.set_bits(f, value);
        }
        let Ok(at) = FEATURES.binary_search_by(|(n, _)| n.as_bytes().cmp(name.as_bytes())) else {
            return Err(2);
        };
        let (fname, bit) = FEATURES[at];
        match FEATURE_WORDS.get((bit / 32) as usize) {
            Some(Word::Cpuid(leaf, subleaf, reg)) => {
                self.set_bits(&field(fname, *leaf, *subleaf, *reg, bit % 32, 1), value)
            }
            Some(Word::Msr(index, reg)) => {
                let bit = bit % 32 + if *reg == EDX { 32 } else { 0 };
                self.set_msr(*index, bit, value)
            }
            None => Err(2),
        }
    }

    /// libxl's `cpuid_add`: a number as its binary digits, or one of
    /// `x`/`k`/`s` repeated, written over the field's bits.
    fn set_bits(&mut self, f: &Field, value: &str) -> Result<(), i32> {
        let len = f.length as usize;
        let (num, used, _) = strtoul(value.as_bytes(), 0);
        let flags: Vec<u8> = if used > 0 {
            (0..len)
                .rev()
                .map(|i| if (num >> i) & 1 == 1 { b'1' } else { b'0' })
                .collect()
        } else {
            match value.as_bytes().first() {
                Some(c @ (b'x' | b'k' | b's')) => vec![*c; len],
                _ => return Err(3),
            }
        };
        let entry = self.leaf(f.leaf, f.subleaf).ok_or(3)?;
        let reg = entry.regs[f.reg].get_or_insert_with(|| "x".repeat(32));
        // Safe to index: every string here is 32 ASCII characters.
        let mut bytes = reg.clone().into_bytes();
        let bit = f.bit as usize;
        match f.name {
            "family" => family_bits(&mut bytes, bit, num, &flags),
            "model" => {
                bytes[12..16].copy_from_slice(&flags[..4]);
                bytes[28 - bit..32 - bit].copy_from_slice(&flags[4..8]);
            }
            _ => bytes[32 - len - bit..32 - bit].copy_from_slice(&flags),
        }
        *reg = String::from_utf8(bytes).expect("ASCII policy characters");
        Ok(())
    }

    fn set_msr(&mut self, index: u32, bit: u32, value: &str) -> Result<(), i32> {
        let c = match value.as_bytes() {
            [c @ (b'0' | b'1' | b'x' | b'k')] => *c,
            // The deprecated `s` means `k` for MSRs.
            [b's'] => b'k',
            _ => return Err(3),
        };
        let at = match self.msrs.iter().position(|m| m.index == index) {
            Some(i) => i,
            None => {
                self.msrs.push(MsrPolicy {
                    index,
                    policy: "x".repeat(64),
                });
                self.msrs.len() - 1
            }
        };
        let mut bytes = std::mem::take(&mut self.msrs[at].policy).into_bytes();
        bytes[63 - bit as usize] = c;
        self.msrs[at].policy = String::from_utf8(bytes).expect("ASCII policy characters");
        Ok(())
    }

    /// libxl's JSON: `{"cpuid": [...], "msr": [...]}`.
    /// The policy as libxl's JSON generator prints it.
    pub fn to_json(&self) -> Json {
        let leaves = self
            .leaves
            .iter()
            .map(|l| {
                let mut o = vec![("leaf".to_string(), Json::Int(i64::from(l.leaf)))];
                if let Some(s) = l.subleaf {
                    o.push(("subleaf".to_string(), Json::Int(i64::from(s))));
                }
                for (name, reg) in REG_NAMES.iter().zip(&l.regs) {
                    if let Some(r) = reg {
                        o.push(((*name).to_string(), Json::str(r.clone())));
                    }
                }
                Json::Obj(o)
            })
            .collect();
        let msrs = self
            .msrs
            .iter()
            .map(|m| {
                Json::Obj(vec![
                    ("index".to_string(), Json::Int(i64::from(m.index))),
                    ("policy".to_string(), Json::str(m.policy.clone())),
                ])
            })
            .collect();
        Json::Obj(vec![
            ("cpuid".to_string(), Json::Arr(leaves)),
            ("msr".to_string(), Json::Arr(msrs)),
        ])
    }
}

/// The names (as `cpuid="host,NAME=..."` spells them) of the features set
/// in `value`, the register `reg` (0..=3 for eax..edx) of a leaf, in bit
/// order; none for a register that holds no featureset word.
pub fn feature_names(leaf: u32, subleaf: Option<u32>, reg: usize, value: u32) -> Vec<&'static str> {
    let Some(word) = FEATURE_WORDS.iter().position(|w| match w {
        Word::Cpuid(l, s, r) => *l == leaf && *s == subleaf && *r == reg,
        Word::Msr(..) => false,
    }) else {
        return Vec::new();
    };
    let mut named: Vec<(u32, &'static str)> = FEATURES
        .iter()
        .filter(|(_, bit)| bit / 32 == word as u32 && value & (1 << (bit % 32)) != 0)
        .map(|(name, bit)| (*bit, *name))
        .collect();
    named.sort_unstable();
    named.into_iter().map(|(_, name)| name).collect()
}

/// The family is split: its low 4 bits at bit 8, and above 15 the rest
/// (family - 15) in the extended family at bit 20.
fn family_bits(bytes: &mut [u8], bit: usize, num: u64, flags: &[u8]) {
    if num < 16 {
        bytes[28 - bit..32 - bit].copy_from_slice(&flags[4..8]);
        bytes[4..12].copy_from_slice(b"00000000");
    } else {
        bytes[28 - bit..32 - bit].copy_from_slice(b"1111");
        let mut ext = [0u8; 8];
        ext[0] = flags[0];
        let mut n = num - 15;
        for i in 0..7 {
            ext[7 - i] = if n & 1 == 1 { b'1' } else { b'0' };
            n >>= 1;
        }
        bytes[4..12].copy_from_slice(&ext);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xend_lines_and_their_errors() {
        let mut p = CpuidPolicy::default();
        let x = "x".repeat(32);
        assert_eq!(p.add_xend(&format!("1:eax={x},ecx={x}")), Ok(()));
        assert_eq!(p.leaves[0].regs[0].as_deref(), Some(x.as_str()));
        assert_eq!(p.leaves[0].regs[2].as_deref(), Some(x.as_str()));
        assert_eq!(p.add_xend("zz:eax=1"), Err(1));
        assert_eq!(p.add_xend("1,q:eax=1"), Err(2));
        assert_eq!(p.add_xend("1 eax"), Err(3));
        assert_eq!(p.add_xend(&format!("1:exx={x}")), Err(4));
        assert_eq!(p.add_xend("1:eax=xx"), Err(5));
    }

    #[test]
    fn feature_names_of_a_register() {
        // Leaf 1 ecx: sse3 (bit 0) and avx (bit 28).
        assert_eq!(feature_names(1, None, ECX, 1 | 1 << 28), ["sse3", "avx"]);
        assert_eq!(feature_names(7, Some(0), EBX, 1 << 5), ["avx2"]);
        assert!(feature_names(1, None, EAX, !0).is_empty());
    }

    #[test]
    fn named_fields_write_their_bits() {
        let mut p = CpuidPolicy::default();
        assert_eq!(p.add_named("tm=0"), Ok(()));
        let edx = p.leaves[0].regs[3].as_deref().unwrap();
        assert_eq!(&edx[2..3], "0");
        assert_eq!(p.add_named("family=6"), Ok(()));
        let eax = p.leaves[0].regs[0].as_deref().unwrap();
        // Extended family zeroed, base family 0110 at bits 8..12.
        assert_eq!(&eax[4..12], "00000000");
        assert_eq!(&eax[20..24], "0110");
        assert_eq!(p.add_named("nosuchflag=1"), Err(2));
        assert_eq!(p.add_named("tm"), Err(1));
        assert_eq!(p.add_named("aes=q"), Err(3));
        assert_eq!(p.add_named("rdcl-no=s"), Ok(()));
        assert_eq!(p.msrs[0].index, 0x10a);
        assert_eq!(&p.msrs[0].policy[63..], "k");
    }
}
