//! `xl pci-list` and `xl pci-assignable-list`: PCI devices given to a
//! domain (pciback's xenstore entries) and those pciback holds for guests.

use xenstore::{Xs, XsOps};
use xl_config::domain::Pci;
use xl_config::pci::{parse_pci, parse_pci_bdf};
use xl_toolstack::pci::{Bdf, Level, PciDevice, PciError, PciHost};

use super::{Ctx, Exit, Outcome, err, out, sanitize};
use crate::backend;
use crate::cmdtable::Opts;

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
    let (host, xs) = cx.connect()?;
    let log = libxl_log(cx);
    let devs = match PciHost::new(host, xs, &log).assignable_list() {
        Ok(d) => d,
        Err(e @ PciError::NoPciback) => {
            err(&format!("libxl: error: {e}\n"));
            return Ok(0);
        }
        Err(e) => {
            err(&format!("libxl: error: {}\n", backend::chain(&e)));
            return Ok(0);
        }
    };
    let mut text = String::new();
    for dev in devs {
        let label = match (&dev.name, names) {
            (Some(n), true) => sanitize(n),
            _ => String::new(),
        };
        text.push_str(&format!("{} {label}\n", dev.bdf));
    }
    out(&text);
    Ok(0)
}

/// libxl's log on stderr, as xl's logger shows it: warnings and errors
/// always, details from `-v`, debug lines from `-vvv`.
pub(crate) fn libxl_log(cx: &Ctx) -> impl Fn(Level, &str) + use<> {
    let verbose = cx.globals.verbose;
    move |level: Level, msg: &str| {
        let word = match level {
            Level::Debug if verbose >= 3 => "debug",
            Level::Detail if verbose >= 1 => "detail",
            Level::Info => "info",
            Level::Warn => "warning",
            Level::Error => "error",
            Level::Debug | Level::Detail => return,
        };
        err(&format!("libxl: {word}: {}\n", sanitize(msg)));
    }
}

/// An address as `xlu_pci_parse_bdf` reads it.
fn parse_bdf_arg(s: &str) -> Option<Bdf> {
    let mut pci = Pci::default();
    parse_pci_bdf(&mut pci, s).then(|| Bdf {
        domain: pci.domain as u32,
        bus: pci.bus.into(),
        dev: pci.dev.into(),
        func: pci.func.into(),
    })
}

/// `xl pci-assignable-add [-n NAME] BDF`: always with rebind, as xl asks.
pub fn assignable_add(cx: &Ctx, opts: Opts) -> Outcome {
    let arg = &opts.operands()[0];
    let Some(bdf) = parse_bdf_arg(arg) else {
        err(&format!("pci-assignable-add: malformed BDF \"{arg}\"\n"));
        return Err(Exit(2));
    };
    let name = opts.value('n');
    let (host, xs) = cx.connect()?;
    let log = libxl_log(cx);
    match PciHost::new(host, xs, &log).assignable_add(bdf, name, true) {
        Ok(()) => Ok(0),
        Err(_) => Ok(1),
    }
}

/// `xl pci-assignable-remove [-r] BDF|NAME`: a name first, as xl tries.
pub fn assignable_remove(cx: &Ctx, opts: Opts) -> Outcome {
    let ident = &opts.operands()[0];
    let rebind = opts.flag('r');
    let (host, xs) = cx.connect()?;
    let log = libxl_log(cx);
    let pci = PciHost::new(host, xs, &log);
    let bdf = match pci.by_name(ident) {
        Ok(bdf) => bdf,
        Err(PciError::NameNotFound(_)) => match parse_bdf_arg(ident) {
            Some(bdf) => bdf,
            None => {
                err(&format!("pci-assignable-remove: malformed BDF '{ident}'\n"));
                return Err(Exit(2));
            }
        },
        Err(_) => return Ok(1),
    };
    match pci.assignable_remove(bdf, rebind) {
        Ok(()) => Ok(0),
        Err(_) => Ok(1),
    }
}

/// A `PCI_SPEC_STRING` as xl reads it for `pci-attach`/`pci-detach`:
/// libxlu's own complaint (no newline), then xl's line, status 2.
fn parse_spec(cmd: &str, spec: &str) -> Result<PciDevice, Exit> {
    let mut pci = Pci::default();
    let mut report = xl_config::report::Report::new();
    if !parse_pci(&mut pci, spec, &mut report) {
        err(&format!(
            "{}{cmd}: malformed PCI_SPEC_STRING \"{spec}\"\n",
            report.as_str()
        ));
        return Err(Exit(2));
    }
    Ok(PciDevice::from_spec(&pci))
}

/// `xl pci-attach DOMAIN SPEC`.
pub fn pci_attach(cx: &Ctx, opts: Opts) -> Outcome {
    let ops = opts.operands();
    let domid = cx.domain(&ops[0])?;
    let dev = parse_spec("pci-attach", &ops[1])?;
    let (host, xs) = cx.connect()?;
    let log = libxl_log(cx);
    match PciHost::new(host, xs, &log).attach(host, domid, &dev, false) {
        Ok(()) => Ok(0),
        Err(_) => {
            log(Level::Error, "unable to add device");
            Ok(1)
        }
    }
}

/// `xl pci-detach [-f] DOMAIN SPEC`.
pub fn pci_detach(cx: &Ctx, opts: Opts) -> Outcome {
    let ops = opts.operands();
    let domid = cx.domain(&ops[0])?;
    let dev = parse_spec("pci-detach", &ops[1])?;
    let (host, xs) = cx.connect()?;
    let log = libxl_log(cx);
    match PciHost::new(host, xs, &log).detach(domid, &dev, opts.flag('f')) {
        Ok(()) => Ok(0),
        Err(_) => {
            log(Level::Error, "unable to remove device");
            Ok(1)
        }
    }
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
