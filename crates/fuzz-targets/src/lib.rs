//! Fuzz targets: each takes arbitrary bytes and drives one parser of
//! untrusted input the way `xl` does, checking what can be checked
//! without a reference (round trips, bounds) besides "no panic".
//!
//! The functions are plain library code so that the libFuzzer binaries in
//! `fuzz/` (coverage-guided, `cargo fuzz`) and the replay test of this
//! crate (seeds and past findings, in `cargo test`) run the same thing.
//! [`LimitedAlloc`] turns the memory half of the slow-input rule (no input
//! may need more than [`MEMORY_LIMIT`]) into a deterministic abort; the
//! time half (1 s) is libFuzzer's `-timeout` and the replay test's clock.

use std::io::{Read, Write};

use xenstore::wire::{Access, Errno, Message, Perm, WireError, split_args};
use xenstore::{Daemon, Xs, XsOps};
use xl_config::domain::{Nic, Pci};
use xl_config::{Globals, Host, Report};

mod alloc;
pub use alloc::{LimitedAlloc, MEMORY_LIMIT, peak_bytes, reset_peak};

/// The longest any one input may take.
pub const TIME_LIMIT: std::time::Duration = std::time::Duration::from_secs(1);

/// A target: its name (as in `fuzz/fuzz_targets/<name>.rs`) and function.
pub type Target = (&'static str, fn(&[u8]));

/// Every target, in the order CI runs them.
pub const TARGETS: &[Target] = &[
    ("config_text", config_text),
    ("domain_config", domain_config),
    ("disk_spec", disk_spec),
    ("vif_spec", vif_spec),
    ("pci_spec", pci_spec),
    ("xenstore_wire", xenstore_wire),
    ("xenstored_requests", xenstored_requests),
];

/// Config files and overrides reach the parser as bytes; xl's reader
/// takes them as lossy UTF-8 (see `xl create`).
fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// A host like a small real one: CPU bitmaps and `node:` ranges depend on it.
fn host() -> Host {
    Host {
        max_cpus: 4,
        node_cpus: vec![vec![0, 1], vec![2, 3]],
        firmware_dir: "/usr/lib/xen-4.17/boot".into(),
    }
}

/// The xl.cfg language alone: lexer, grammar, `+=`, error reports.
pub fn config_text(data: &[u8]) {
    let mut r = Report::new();
    let parsed = xl_config::syntax::parse(&text(data), "fuzz.cfg", &mut r);
    // A parse that fails must say why, as xl always prints a line.
    assert!(parsed.ok || !r.as_str().is_empty(), "silent parse failure");
}

/// Config text to the typed domain config, then libxl's JSON, as
/// `xl create -n` does.
pub fn domain_config(data: &[u8]) {
    let mut r = Report::new();
    let g = Globals::default();
    if let Ok(cfg) = xl_config::parse_config_data("fuzz.cfg", &text(data), &g, &host(), &mut r) {
        let json = cfg.to_json().to_yajl();
        assert!(json.starts_with('{'), "not a JSON object: {json}");
    }
}

/// Disk specs, one word per line (`xl block-attach` takes several words,
/// a config item is one).
pub fn disk_spec(data: &[u8]) {
    let t = text(data);
    let words: Vec<&str> = t.split('\n').collect();
    let mut r = Report::new();
    if let Some(d) = xl_config::disk::parse_disk("fuzz.cfg", &words, &mut r) {
        assert!(d.vdev.is_some(), "a disk without a vdev was accepted");
        let _ = xl_config::domain::disk_json(&d);
    }
}

/// A vif spec split into tokens as the config reader splits it, then each
/// `rate=` value through the rate grammar as well.
pub fn vif_spec(data: &[u8]) {
    let spec = text(data);
    let mut nic = Nic::default();
    let mut r = Report::new();
    for tok in spec.split(',').filter(|t| !t.is_empty()) {
        let tok = tok.trim_start_matches(' ');
        if xl_config::nic::parse_nic_token(&mut nic, "fuzz.cfg", tok, &mut r).is_err() {
            break;
        }
        if let Some(rate) = tok.strip_prefix("rate=") {
            let _ = xl_config::nic::parse_rate("fuzz.cfg", rate, &mut r);
        }
    }
    let _ = xl_config::domain::nic_json(&nic);
}

/// A PCI passthrough spec.
pub fn pci_spec(data: &[u8]) {
    let mut pci = Pci::default();
    let mut r = Report::new();
    if xl_config::pci::parse_pci(&mut pci, &text(data), &mut r) {
        let _ = xl_config::domain::pci_json(&pci);
    }
}

/// A byte stream from a xenstore peer: framed messages, then what the
/// client and daemon do with a payload (arguments, error names,
/// permissions). Decoding from a buffer and from a reader must agree, and
/// what decodes must encode back to the same bytes.
pub fn xenstore_wire(data: &[u8]) {
    let mut buf = data;
    let mut reader = data;
    loop {
        let from_buf = Message::decode(buf);
        let from_reader = Message::read_from(&mut reader);
        match (from_buf, from_reader) {
            (Ok(Some((msg, used))), Ok(read)) => {
                assert!(used <= buf.len());
                assert_eq!(msg, read, "decode and read_from disagree");
                let again = msg.encode().expect("a decoded message encodes");
                assert_eq!(again, &buf[..used], "re-encoding changed the bytes");
                payload(&msg.payload);
                buf = &buf[used..];
            }
            (Ok(None), Err(WireError::Closed)) if buf.is_empty() => break,
            (Ok(None), Err(WireError::Io(e))) => {
                assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof);
                break;
            }
            (Err(WireError::TooLarge { .. }), Err(WireError::TooLarge { .. })) => break,
            (b, r) => panic!("decode {b:?} but read_from {r:?}"),
        }
    }
    let mut rest = Vec::new();
    let _ = reader.read_to_end(&mut rest);
}

fn payload(p: &[u8]) {
    let (args, tail) = split_args(p);
    let total: usize = args.iter().map(|a| a.len() + 1).sum::<usize>() + tail.len();
    assert_eq!(total, p.len(), "split_args lost bytes");
    let _ = Errno::from_payload(p);
    for a in args {
        if let Ok(s) = std::str::from_utf8(a)
            && let Ok(perm) = s.parse::<Perm>()
        {
            assert_eq!(perm.to_string().parse::<Perm>(), Ok(perm));
        }
    }
}

/// The guest a [`xenstored_requests`] input speaks for, and its home.
const GUEST: u32 = 5;

/// A connection to the simulator's xenstored sending the input's bytes as
/// they come (the first byte picks a guest, unprivileged, or dom0), on a
/// store laid out as a toolstack leaves it: the guest's home, a device of
/// another domain, a watch. Every reply must be a well-formed message, and
/// the store must still answer dom0 afterwards.
pub fn xenstored_requests(data: &[u8]) {
    let Some((&who, stream)) = data.split_first() else {
        return;
    };
    let d = Daemon::new();
    let dom0 = Xs::new(d.connect_as(0).expect("socket pair")).expect("dom0 connection");
    let home = format!("/local/domain/{GUEST}");
    dom0.write(&format!("{home}/name"), "guest").expect("write");
    dom0.set_perms(&home, &[Perm::new(GUEST, Access::None)])
        .expect("perms");
    dom0.write("/local/domain/0/backend/vbd/7/51712/state", "4")
        .expect("write");
    dom0.introduce_domain(GUEST, 1, 1).expect("introduce");
    dom0.watch("/local/domain", "t").expect("watch");

    let caller = if who & 1 == 0 { GUEST } else { 0 };
    let mut conn = d.connect_as(caller).expect("socket pair");
    // The daemon's reader drains this while its writer queues replies, so
    // writing everything before reading cannot deadlock.
    let _ = conn.write_all(stream);
    let _ = conn.shutdown(std::net::Shutdown::Write);
    let mut replies = Vec::new();
    let _ = conn.read_to_end(&mut replies);
    let mut rest = &replies[..];
    while !rest.is_empty() {
        match Message::decode(rest) {
            Ok(Some((_, used))) => rest = &rest[used..],
            other => panic!("a reply that is no message: {other:?}"),
        }
    }
    dom0.directory("/").expect("the store still answers dom0");
}
