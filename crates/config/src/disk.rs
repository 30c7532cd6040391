//! Disk specifications (`disk=[...]`, `xl block-attach`), read the way
//! libxlu's flex scanner reads them: at each position every rule is tried,
//! the longest match wins (trailing context counts towards the length) and
//! ties go to the earlier rule.

use crate::domain::Disk;
use crate::report::Report;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum R {
    Blank,
    Format,
    Cdrom,
    DevtypeCdrom,
    DevtypeDisk,
    DevtypeOther,
    Access,
    Backend,
    BackendType,
    Specification,
    Vdev,
    Script,
    DirectIoSafe,
    Discard,
    NoDiscard,
    Colo,
    NoColo,
    ColoHost,
    ColoPort,
    ColoExport,
    ActiveDisk,
    HiddenDisk,
    Target,
    UnknownParam,
    FormatPrefix,
    ScriptPrefix,
    IgnoredPrefix,
    UnknownPrefix,
    Positional,
    Bad,
}

/// `key=` rules whose value runs to the next comma, and `word` flags; both
/// take one optional trailing comma.
const VALUE_RULES: &[(&str, R)] = &[
    ("format=", R::Format),
    ("devtype=", R::DevtypeOther),
    ("access=", R::Access),
    ("backend=", R::Backend),
    ("backendtype=", R::BackendType),
    ("specification=", R::Specification),
    ("vdev=", R::Vdev),
    ("script=", R::Script),
    ("colo-host=", R::ColoHost),
    ("colo-port=", R::ColoPort),
    ("colo-export=", R::ColoExport),
    ("active-disk=", R::ActiveDisk),
    ("hidden-disk=", R::HiddenDisk),
];

const FLAG_RULES: &[(&str, R)] = &[
    ("cdrom", R::Cdrom),
    ("devtype=cdrom", R::DevtypeCdrom),
    ("devtype=disk", R::DevtypeDisk),
    ("direct-io-safe", R::DirectIoSafe),
    ("discard", R::Discard),
    ("no-discard", R::NoDiscard),
    ("colo", R::Colo),
    ("no-colo", R::NoColo),
];
// The `trusted`/`untrusted` flags are in xl 4.17's scanner source but not
// in the scanner Xen 4.17 ships (generated before they were added): there
// they are ordinary positional words. We follow the shipped behaviour.

const IGNORED_PREFIXES: &[&str] = &[
    "tapdisk:", "tap:", "tap2:", "aio:", "ioemu:", "file:", "phy:",
];

/// Order of the rules in the scanner, for tie-breaking.
fn rank(r: R) -> u8 {
    r as u8
}

fn line_rest(s: &[u8]) -> usize {
    s.iter().position(|&c| c == b'\n').unwrap_or(s.len())
}

fn opt_comma(s: &[u8], n: usize) -> usize {
    if s.get(n) == Some(&b',') { n + 1 } else { n }
}

/// Candidates at the start of `s`: (total length incl. trailing context,
/// token length, rule).
fn candidates(s: &[u8]) -> Vec<(usize, usize, R)> {
    let mut c = Vec::new();
    let blanks = s
        .iter()
        .take_while(|b| matches!(b, b' ' | b'\t' | b'\n'))
        .count();
    if blanks > 0 {
        let rest = &s[blanks..];
        let ctx = match rest.first() {
            Some(b) if !matches!(b, b' ' | b'\t' | b'\n') => line_rest(rest),
            _ => 0,
        };
        c.push((blanks + ctx, blanks, R::Blank));
    }
    for (lit, r) in FLAG_RULES {
        if s.starts_with(lit.as_bytes()) {
            let n = opt_comma(s, lit.len());
            c.push((n, n, *r));
        }
    }
    for (lit, r) in VALUE_RULES {
        if s.starts_with(lit.as_bytes()) {
            let v = s[lit.len()..].iter().take_while(|&&b| b != b',').count();
            let n = opt_comma(s, lit.len() + v);
            c.push((n, n, *r));
        }
    }
    if s.starts_with(b"target=") {
        let n = line_rest(s);
        c.push((n, n, R::Target));
    }
    // [a-z][-a-z0-9]*=[^,],?
    if s.first().is_some_and(u8::is_ascii_lowercase) {
        let k = 1 + s[1..]
            .iter()
            .take_while(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || **b == b'-')
            .count();
        if s.get(k) == Some(&b'=') && s.get(k + 1).is_some_and(|&b| b != b',') {
            let n = opt_comma(s, k + 2);
            c.push((n, n, R::UnknownParam));
        }
        // [a-z][a-z0-9]*: prefixes
        let w = 1 + s[1..]
            .iter()
            .take_while(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            .count();
        if s.get(w) == Some(&b':') {
            let word = &s[..w];
            let whole = line_rest(s);
            if matches!(word, b"raw" | b"qcow" | b"qcow2" | b"vhd") {
                c.push((whole, w + 1, R::FormatPrefix));
            }
            if matches!(word, b"iscsi" | b"nbd" | b"enbd" | b"drbd") {
                c.push((whole, w + 1, R::ScriptPrefix));
            }
            if IGNORED_PREFIXES.iter().any(|p| s.starts_with(p.as_bytes())) {
                c.push((whole, w + 1, R::IgnoredPrefix));
            }
            let ctx = match s.get(w + 1) {
                Some(b) if !(b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'\n') => {
                    line_rest(&s[w + 1..])
                }
                _ => 0,
            };
            c.push((w + 1 + ctx, w + 1, R::UnknownPrefix));
        }
    }
    // [^=,]*,|[^=,]+,?
    let run = s.iter().take_while(|&&b| b != b'=' && b != b',').count();
    if run > 0 || s.first() == Some(&b',') {
        let n = opt_comma(s, run);
        c.push((n, n, R::Positional));
    }
    if c.is_empty() && !s.is_empty() {
        let n = line_rest(s).max(1);
        c.push((n, n, R::Bad));
    }
    c
}

struct Dpc<'a> {
    source: &'a str,
    spec: &'a str,
    err: bool,
    had_depr_prefix: bool,
    access_set: bool,
    format: Option<&'static str>,
    backend: Option<&'static str>,
    specification: Option<&'static str>,
    disk: Disk,
    report: &'a mut Report,
}

impl Dpc<'_> {
    fn error(&mut self, near: Option<&str>, msg: &str) {
        let near = near.map(|n| format!(": near `{n}'")).unwrap_or_default();
        self.report.line(format!(
            "{}: config parsing error in disk specification: {msg}{near} in `{}'",
            self.source, self.spec
        ));
        self.err = true;
    }

    fn save(&mut self, what: &str, field: fn(&mut Disk) -> &mut Option<String>, value: &str) {
        if let Some(cur) = field(&mut self.disk)
            && !cur.is_empty()
        {
            self.error(Some(value), &format!("{what} respecified"));
            return;
        }
        *field(&mut self.disk) = Some(value.to_string());
    }

    fn set_enum(
        &mut self,
        member: &str,
        slot: fn(&mut Self) -> &mut Option<&'static str>,
        v: &'static str,
        s: &str,
    ) {
        match *slot(self) {
            Some(cur) if cur != v => self.error(Some(s), &format!("{member} respecified")),
            _ => *slot(self) = Some(v),
        }
    }

    fn set_format(&mut self, s: &str) {
        let v = match s {
            "" | "raw" => "raw",
            "qcow" => "qcow",
            "qcow2" => "qcow2",
            "vhd" => "vhd",
            "empty" => "empty",
            "qed" => "qed",
            _ => return self.error(Some(s), "unknown value for format"),
        };
        self.set_enum("format", |d| &mut d.format, v, s);
    }

    fn set_access(&mut self, s: &str) {
        match s {
            "r" | "ro" => self.disk.readwrite = 0,
            "rw" | "w" | "" => self.disk.readwrite = 1,
            _ => self.error(Some(s), "unknown value for access"),
        }
    }

    fn vdev_and_devtype(&mut self, s: &str) -> bool {
        let Some(colon) = s.rfind(':') else {
            return false;
        };
        let (vdev, devtype) = (&s[..colon], &s[colon + 1..]);
        self.save("vdev", |d| &mut d.vdev, vdev);
        match devtype {
            "cdrom" => self.disk.is_cdrom = 1,
            "disk" => self.disk.is_cdrom = 0,
            _ => self.error(Some(devtype), "unknown deprecated type"),
        }
        true
    }

    fn positional(&mut self, text: &str) -> bool {
        if self.err {
        } else if self.disk.pdev_path.is_none() {
            self.save("target", |d| &mut d.pdev_path, text);
        } else if !self.had_depr_prefix && self.format.is_none() {
            if self.disk.pdev_path.as_deref() == Some("") && self.vdev_and_devtype(text) {
                self.format = Some("empty");
            } else {
                self.set_format(text);
            }
        } else if self.disk.vdev.is_none() {
            if !self.vdev_and_devtype(text) {
                self.save("vdev", |d| &mut d.vdev, text);
            }
        } else if !self.access_set {
            self.access_set = true;
            self.set_access(text);
        } else {
            self.error(Some(text), "too many positional parameters");
            return false;
        }
        true
    }

    /// Scan one spec word; false when the scanner stopped early.
    fn scan(&mut self, spec: &str) {
        let bytes = spec.as_bytes();
        let mut pos = 0;
        while pos < bytes.len() {
            let cands = candidates(&bytes[pos..]);
            let Some(&(_, len, rule)) = cands
                .iter()
                .max_by(|a, b| a.0.cmp(&b.0).then(rank(b.2).cmp(&rank(a.2))))
            else {
                break;
            };
            // flex matches bytes; a match ending inside a UTF-8 character is
            // widened to the whole character (only messages can tell).
            let mut len = len.max(1);
            while !spec.is_char_boundary(pos + len) {
                len += 1;
            }
            let tok = &spec[pos..pos + len];
            pos += len;
            let stripped = tok.strip_suffix(',').unwrap_or(tok);
            let value = stripped.split_once('=').map_or("", |(_, v)| v);
            match rule {
                R::Blank => {}
                R::Format => self.set_format(value),
                R::Cdrom | R::DevtypeCdrom => self.disk.is_cdrom = 1,
                R::DevtypeDisk => self.disk.is_cdrom = 0,
                R::DevtypeOther => self.error(Some(tok), "unknown value for type"),
                R::Access => self.set_access(value),
                R::Backend => self.save("backend", |d| &mut d.backend_domname, value),
                R::BackendType => {
                    let v = match value {
                        "phy" => "phy",
                        "tap" => "tap",
                        "qdisk" => "qdisk",
                        "standalone" => "standalone",
                        _ => {
                            self.error(Some(value), "unknown value for backendtype");
                            continue;
                        }
                    };
                    self.set_enum("backend", |d| &mut d.backend, v, value);
                }
                R::Specification => {
                    let v = match value {
                        "xen" => "xen",
                        "virtio" => "virtio",
                        _ => {
                            self.error(Some(value), "unknown value for specification");
                            continue;
                        }
                    };
                    self.set_enum("specification", |d| &mut d.specification, v, value);
                }
                R::Vdev => self.save("vdev", |d| &mut d.vdev, value),
                R::Script => self.save("script", |d| &mut d.script, value),
                R::DirectIoSafe => self.disk.direct_io_safe = true,
                R::Discard => self.disk.discard_enable = Some(true),
                R::NoDiscard => self.disk.discard_enable = Some(false),
                R::Colo => self.disk.colo_enable = Some(true),
                R::NoColo => self.disk.colo_enable = Some(false),
                R::ColoHost => self.save("colo-host", |d| &mut d.colo_host, value),
                R::ColoPort => {
                    let port = crate::value::strtol(value.as_bytes(), 10).0 as i32;
                    if port != 0 {
                        self.disk.colo_port = i64::from(port);
                    } else {
                        self.error(Some(value), "unknown value for colo_port");
                    }
                }
                R::ColoExport => self.save("colo-export", |d| &mut d.colo_export, value),
                R::ActiveDisk => self.save("active-disk", |d| &mut d.active_disk, value),
                R::HiddenDisk => self.save("hidden-disk", |d| &mut d.hidden_disk, value),
                R::Target => {
                    let t = tok["target=".len()..]
                        .strip_suffix(',')
                        .unwrap_or(&tok["target=".len()..]);
                    self.save("target", |d| &mut d.pdev_path, t)
                }
                R::UnknownParam => self.error(Some(tok), "unknown parameter"),
                R::FormatPrefix => {
                    self.had_depr_prefix = true;
                    self.set_format(&tok[..tok.len() - 1]);
                }
                R::ScriptPrefix => {
                    self.had_depr_prefix = true;
                    let script = format!("block-{}", &tok[..tok.len() - 1]);
                    self.save("script", |d| &mut d.script, &script);
                }
                R::IgnoredPrefix => self.had_depr_prefix = true,
                R::UnknownPrefix => {
                    self.error(Some(tok), "unknown deprecated disk prefix");
                    return;
                }
                R::Positional => {
                    if !self.positional(stripped) {
                        return;
                    }
                }
                R::Bad => {
                    self.error(Some(tok), "bad disk syntax");
                    return;
                }
            }
        }
    }
}

/// Parse the words of one disk specification. Errors are printed to
/// `report` as xl prints them; `None` means xl would exit 1.
pub fn parse_disk(source: &str, specs: &[&str], report: &mut Report) -> Option<Disk> {
    let mut dpc = Dpc {
        source,
        spec: specs.first().copied().unwrap_or(""),
        err: false,
        had_depr_prefix: false,
        access_set: false,
        format: None,
        backend: None,
        specification: None,
        disk: Disk {
            readwrite: 1,
            ..Disk::default()
        },
        report,
    };
    for spec in specs {
        dpc.spec = spec;
        dpc.scan(spec);
        if dpc.err {
            return None;
        }
    }
    let mut format = dpc.format.unwrap_or("raw");
    if dpc.disk.is_cdrom != 0 {
        dpc.disk.removable = 1;
        dpc.disk.readwrite = 0;
        if dpc.disk.pdev_path.as_deref().unwrap_or("").is_empty() {
            format = "empty";
        }
    }
    if dpc.disk.vdev.is_none() {
        dpc.error(None, "no vdev specified");
        return None;
    }
    if dpc.disk.pdev_path.is_none() && dpc.disk.removable == 0 {
        dpc.error(None, "no target specified (and device not removable)");
        return None;
    }
    let mut disk = dpc.disk;
    disk.format = Some(format);
    disk.backend = dpc.backend;
    disk.specification = dpc.specification;
    Some(disk)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(spec: &str) -> Disk {
        let mut r = Report::new();
        parse_disk("t", &[spec], &mut r).unwrap_or_else(|| panic!("{spec}: {}", r.as_str()))
    }

    fn err(spec: &str) -> String {
        let mut r = Report::new();
        assert!(parse_disk("t", &[spec], &mut r).is_none(), "{spec} parsed");
        r.take()
    }

    #[test]
    fn doc_equivalents() {
        let a = ok("/dev/vg/guest-volume,,hda");
        for s in [
            "/dev/vg/guest-volume,raw,hda,rw",
            "format=raw, vdev=hda, access=rw, target=/dev/vg/guest-volume",
            "raw:/dev/vg/guest-volume,hda,w",
        ] {
            assert_eq!(ok(s), a, "{s}");
        }
        let c = ok("/root/image.iso,,hdc,cdrom");
        for s in [
            "/root/image.iso,,hdc,,cdrom",
            "/root/image.iso,raw,hdc,devtype=cdrom",
            "format=raw, vdev=hdc, access=ro, devtype=cdrom, target=/root/image.iso",
            "raw:/root/image.iso,hdc:cdrom,ro",
        ] {
            assert_eq!(ok(s), c, "{s}");
        }
        assert_eq!(c.removable, 1);
        assert_eq!(c.readwrite, 0);
    }

    #[test]
    fn quirks() {
        assert_eq!(ok("/x ,raw,xvda").pdev_path.as_deref(), Some("/x "));
        assert_eq!(
            ok("vdev=xvda,target=/x,y,z").pdev_path.as_deref(),
            Some("/x,y,z")
        );
        assert!(err("/img,xvda,w").contains("unknown value for format: near `xvda'"));
        assert!(err("foo=bar,xvda").contains("unknown parameter: near `foo=b'"));
        assert!(err("target=/x,vdev=xvda").contains("no vdev specified"));
        assert!(err("/a,raw,xvda,rw,extra").contains("too many positional parameters"));
        assert!(err("bogus:/x,,xvda").contains("unknown deprecated disk prefix"));
        assert_eq!(
            ok("tap:aio:/x.img,xvda,w").pdev_path.as_deref(),
            Some("/x.img")
        );
        assert_eq!(
            ok("iscsi:iqn.x,xvda,w").script.as_deref(),
            Some("block-iscsi")
        );
        assert_eq!(ok(",hdc:cdrom,r").format, Some("empty"));
    }
}
