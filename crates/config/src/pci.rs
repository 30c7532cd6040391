//! PCI passthrough specifications: `[DDDD:]BB:DD.F[@VSLOT][,key=val...]`.

use crate::domain::Pci;
use crate::report::Report;

/// sscanf("%x"): optional blanks and sign, optional 0x, hex digits.
fn scan_hex(s: &[u8]) -> Option<(u32, usize)> {
    let (v, used, _) = crate::value::strtoul(s, 16);
    (used > 0).then_some((v as u32, used))
}

fn parse_bdf(pci: &mut Pci, s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let colons = b
        .iter()
        .take_while(|c| c.is_ascii_hexdigit() || **c == b':')
        .filter(|c| **c == b':')
        .count();
    let mut pos = 0;
    let mut next = |sep: u8| -> Option<u32> {
        let (v, n) = scan_hex(&b[pos..])?;
        pos += n;
        if b.get(pos) != Some(&sep) {
            return None;
        }
        pos += 1;
        Some(v)
    };
    let (domain, bus, dev) = match colons {
        1 => (0, next(b':')?, next(b'.')?),
        2 => (next(b':')?, next(b':')?, next(b'.')?),
        _ => return None,
    };
    if domain > 0xffff || bus > 0xff || dev > 0x1f {
        return None;
    }
    let func;
    if b.get(pos) == Some(&b'*') {
        pci.vfunc_mask = 0xffff_ffff;
        func = 0;
        pos += 1;
    } else {
        let (f, n) = scan_hex(&b[pos..])?;
        if f > 7 {
            return None;
        }
        func = f;
        pci.vfunc_mask = 1;
        pos += n;
    }
    pci.domain = i64::from(domain);
    pci.bus = bus as u8;
    pci.dev = dev as u8;
    pci.func = func as u8;
    Some(pos)
}

fn parse_vslot(s: &str) -> Option<(u32, usize)> {
    let (v, n) = scan_hex(s.as_bytes())?;
    (v <= 0x1f).then_some((v << 3, n))
}

fn atoi(s: &str) -> bool {
    crate::value::strtol(s.as_bytes(), 10).0 as i32 != 0
}

/// A bare address as xlu_pci_parse_bdf reads it (`pci-assignable-add`,
/// `-remove`): `[DDDD:]BB:DD.F`, anything after it ignored.
pub fn parse_pci_bdf(pci: &mut Pci, s: &str) -> bool {
    parse_bdf(pci, s).is_some()
}

/// Parse one spec into `pci` (pre-filled with the global pci_* defaults).
/// On failure xl prints `unable to parse PCI_SPEC_STRING` and exits 6.
pub fn parse_pci(pci: &mut Pci, spec: &str, r: &mut Report) -> bool {
    let mut rest = spec;
    let mut bdf = false;
    let mut name = false;
    if let Some(n) = parse_bdf(pci, rest) {
        bdf = true;
        rest = &rest[n..];
        if let Some(v) = rest.strip_prefix('@') {
            let Some((vdevfn, n)) = parse_vslot(v) else {
                return false;
            };
            pci.vdevfn = vdevfn;
            rest = &v[n..];
        }
        if let Some(v) = rest.strip_prefix(',') {
            rest = v;
        } else if !rest.is_empty() {
            return false;
        }
    }
    while !rest.is_empty() {
        let Some(eq) = rest.find('=') else {
            return false;
        };
        let key = &rest[..eq];
        let after = &rest[eq + 1..];
        let end = after.find(',').unwrap_or(after.len());
        let val = &after[..end];
        rest = after.get(end + 1..).unwrap_or("");
        match key {
            "bdf" => {
                if parse_bdf(pci, val).is_some() {
                    bdf = true;
                }
            }
            "vslot" => match parse_vslot(val) {
                Some((v, _)) => pci.vdevfn = v,
                None => return false,
            },
            "permissive" => pci.permissive = atoi(val),
            "msitranslate" => pci.msitranslate = atoi(val),
            "seize" => pci.seize = atoi(val),
            "power_mgmt" => pci.power_mgmt = atoi(val),
            "rdm_policy" => match val.to_ascii_lowercase().as_str() {
                "strict" => pci.rdm_policy = Some("strict"),
                "relaxed" => pci.rdm_policy = Some("relaxed"),
                _ => {
                    r.raw(format!("Unknown RDM policy: {val}"));
                    return false;
                }
            },
            "name" => {
                name = true;
                pci.name = Some(val.to_string());
            }
            _ => {
                r.raw(format!("Unknown PCI_SPEC_STRING option: {key}"));
                return false;
            }
        }
    }
    bdf ^ name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs() {
        let mut r = Report::new();
        let mut p = Pci::default();
        assert!(parse_pci(&mut p, "0000:03:00.1@5,permissive=1", &mut r));
        assert_eq!(
            (p.bus, p.dev, p.func, p.vdevfn, p.permissive),
            (3, 0, 1, 5 << 3, true)
        );
        let mut p = Pci::default();
        assert!(parse_pci(&mut p, "01:02.*", &mut r));
        assert_eq!(p.vfunc_mask, 0xffff_ffff);
        assert!(!parse_pci(&mut Pci::default(), "zz", &mut r));
        assert!(!parse_pci(&mut Pci::default(), "01:02.3,name=x", &mut r));
        assert!(parse_pci(&mut Pci::default(), "name=gpu", &mut r));
    }
}
