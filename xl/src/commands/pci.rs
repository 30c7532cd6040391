//! `xl pci-list` and `xl pci-assignable-list`: PCI devices given to a
//! domain (pciback's xenstore entries) and those pciback holds for guests.

use xenstore::{Xs, XsOps};

use super::{Ctx, Outcome, err, out, sanitize};
use crate::backend;
use crate::cmdtable::Opts;

/// Where pciback lists the devices bound to it.
const PCIBACK: &str = "/sys/bus/pci/drivers/pciback";
/// Bound on the devices read from one backend.
const MAX_DEVS: u32 = 4096;

/// sscanf("%x") on a whole field: hex digits, at most `width`.
fn hex(s: &str, width: usize) -> Option<u32> {
    (!s.is_empty() && s.len() <= width)
        .then(|| u32::from_str_radix(s, 16).ok())
        .flatten()
}

/// `dddd:bb:dd.f` as libxl's PCI_BDF reads it.
fn parse_bdf(s: &str, widths: [usize; 4]) -> Option<[u32; 4]> {
    let (dom, rest) = s.split_once(':')?;
    let (bus, rest) = rest.split_once(':')?;
    let (dev, func) = rest.split_once('.')?;
    Some([
        hex(dom, widths[0])?,
        hex(bus, widths[1])?,
        hex(dev, widths[2])?,
        hex(func, widths[3])?,
    ])
}

/// `xl pci-list DOMAIN`: nothing at all for a domain without PCI devices.
pub fn pci_list(cx: &Ctx, opts: Opts) -> Outcome {
    let domid = cx.domain(&opts.operands()[0])?;
    let (_, xs) = cx.connect()?;
    match assigned(xs, domid) {
        Ok(devs) if devs.is_empty() => Ok(0),
        Ok(devs) => {
            let mut text = String::from("Vdev Device\n");
            for (vdevfn, [dom, bus, dev, func]) in devs {
                text.push_str(&format!(
                    "{:02x}.{:01x} {dom:04x}:{bus:02x}:{dev:02x}.{func:01x}\n",
                    (vdevfn >> 3) & 0x1f,
                    vdevfn & 7
                ));
            }
            out(&text);
            Ok(0)
        }
        Err(e) => {
            err(&format!("xl: {}\n", backend::chain(&e)));
            Ok(0)
        }
    }
}

/// The (vdevfn, address) of each device pciback serves the domain.
fn assigned(xs: &Xs, domid: u32) -> Result<Vec<(u32, [u32; 4])>, xenstore::Error> {
    let be = format!("/local/domain/0/backend/pci/{domid}/0");
    let Some(num) = xs.try_read(&format!("{be}/num_devs"))? else {
        return Ok(Vec::new());
    };
    let num = num.trim().parse::<u32>().unwrap_or(0).min(MAX_DEVS);
    let mut devs = Vec::new();
    for i in 0..num {
        let Some(addr) = xs
            .try_read(&format!("{be}/dev-{i}"))?
            .and_then(|s| parse_bdf(&s, [8, 8, 8, 8]))
        else {
            continue;
        };
        let vdevfn = xs
            .try_read(&format!("{be}/vdevfn-{i}"))?
            .and_then(|s| u32::from_str_radix(s.trim(), 16).ok())
            .unwrap_or(0);
        devs.push((vdevfn, addr));
    }
    Ok(devs)
}

/// `xl pci-assignable-list [-n]`: devices bound to pciback and given to
/// no domain, in directory order as libxl reads them.
pub fn assignable_list(cx: &Ctx, opts: Opts) -> Outcome {
    let names = opts.flag('n');
    let (_, xs) = cx.connect()?;
    let dir = match std::fs::read_dir(PCIBACK) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            err("libxl: error: Looks like pciback driver not loaded\n");
            return Ok(0);
        }
        Err(e) => {
            err(&format!(
                "libxl: error: Couldn't open {PCIBACK}: {}\n",
                super::strerror(&e)
            ));
            return Ok(0);
        }
    };
    let mut text = String::new();
    for entry in dir.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some([dom, bus, dev, func]) = parse_bdf(&name, [4, 2, 2, 1]) else {
            continue;
        };
        let node = format!("/libxl/pci/{dom:04x}-{bus:02x}-{dev:02x}-{func:01x}");
        if matches!(xs.try_read(&format!("{node}/domid")), Ok(Some(_))) {
            continue;
        }
        let label = if names {
            xs.try_read(&format!("{node}/name"))
                .ok()
                .flatten()
                .map(|n| sanitize(&n))
                .unwrap_or_default()
        } else {
            String::new()
        };
        text.push_str(&format!(
            "{dom:04x}:{bus:02x}:{dev:02x}.{func:01x} {label}\n"
        ));
    }
    out(&text);
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bdfs_parse_as_libxl_reads_them() {
        assert_eq!(
            parse_bdf("0000:00:1f.3", [4, 2, 2, 1]),
            Some([0, 0, 0x1f, 3])
        );
        assert_eq!(parse_bdf("0000:00:1f.13", [4, 2, 2, 1]), None);
        assert_eq!(parse_bdf("new_slot", [4, 2, 2, 1]), None);
        assert_eq!(parse_bdf("0:3:0.0", [8, 8, 8, 8]), Some([0, 3, 0, 0]));
    }
}
