//! Inputs xl takes that once made this reader spin, balloon or overflow
//! its stack: each must end soon, with xl's outcome.

use std::sync::mpsc;
use std::time::Duration;

use xl_config::value::{Config, Value};
use xl_config::{Globals, Host, Report};

fn host() -> Host {
    Host {
        max_cpus: 4,
        node_cpus: vec![vec![0, 1], vec![2, 3]],
        firmware_dir: "/fw".into(),
    }
}

/// `f`'s result, run on a thread with a `stack`-byte stack; fails when it
/// takes longer than 20 s (the thread is left to spin).
fn bounded<T: Send + 'static>(stack: usize, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .stack_size(stack)
        .spawn(move || {
            let _ = tx.send(f());
        })
        .expect("thread");
    match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(v) => v,
        Err(e) => panic!("no result: {e}"),
    }
}

fn parse(text: &str) -> (bool, Vec<xl_config::value::Setting>, String) {
    let mut r = Report::new();
    let parsed = xl_config::syntax::parse(text, "f.cfg", &mut r);
    (parsed.ok, parsed.settings, r.take())
}

#[test]
fn cpu_ranges_end_where_the_cpu_map_does() {
    let got = bounded(8 << 20, || {
        let h = host();
        [
            "0-18446744073709551614",
            "2-18446744073709551614",
            // strtoul reads "-2" as 2^64 - 2.
            "-2",
            "0--2",
            "all,^1-18446744073709551614",
            "nodes:1-4294967295",
            // libxl gets the node as a C int: 2^32 is node 0.
            "node:4294967296",
            "nodes:1-18446744073709551614",
            "node:9",
        ]
        .map(|s| xl_config::parse::cpu_range(s, &h))
    });
    // The map has whole bytes: 8 CPUs for a 4-CPU host, as libxl sizes it.
    let want: [Vec<u32>; 9] = [
        (0..8).collect(),
        (2..8).collect(),
        vec![],
        (0..8).collect(),
        vec![0],
        vec![2, 3],
        vec![0, 1],
        vec![0, 1, 2, 3],
        vec![],
    ];
    assert_eq!(got, want.map(Ok));
}

fn vcpus_config(maxvcpus: u64) -> (Option<i32>, String) {
    let text = format!("name=\"t\"\nkernel=\"/k\"\nmaxvcpus={maxvcpus}\ncpus=\"0\"\n");
    bounded(8 << 20, move || {
        let mut r = Report::new();
        let got =
            xl_config::parse_config_data("t.cfg", &text, &Globals::default(), &host(), &mut r);
        (got.err().map(|e| e.0), r.take())
    })
}

#[test]
fn affinity_for_more_vcpus_than_xen_allows_is_refused() {
    assert_eq!(vcpus_config(8192), (None, String::new()));
    assert_eq!(
        vcpus_config(2147483647),
        (
            Some(1),
            "xl: 2147483647 vCPUs are more than Xen allows a guest (8192)\n".into()
        )
    );
}

#[test]
fn appending_keeps_one_copy_of_the_value() {
    let n = 1000;
    let text: String = (0..n).map(|_| "a += \"xy\"\nl += [ \"z\" ]\n").collect();
    let (ok, settings, report) = parse(&text);
    assert!(ok, "{report}");
    let held: usize = settings
        .iter()
        .map(|s| match &s.value {
            Value::Str(s) => s.len(),
            Value::List(l) => l.len(),
        })
        .sum();
    assert!(held <= 3 * n, "{held} bytes and items held for {n} appends");
    let cfg = Config::new("f.cfg", settings);
    assert_eq!(
        cfg.find("a").map(|s| &s.value),
        Some(&Value::Str("xy".repeat(n)))
    );
    let mut r = Report::new();
    assert_eq!(cfg.list("l", false, &mut r).map(<[Value]>::len), Ok(n));
    // libxlu's error for mixing kinds still comes.
    let (ok, _, report) = parse("a = \"s\"\na += [ \"t\" ]\n");
    assert!(!ok);
    assert_eq!(
        report,
        "f.cfg:2: config parsing error near `]': can't add [list] to \"string\" or vice versa\n"
    );
}

fn nested(key: &str, depth: usize, inner: &str) -> String {
    format!(
        "{key} = {}{inner}{}\n",
        "[".repeat(depth),
        "]".repeat(depth)
    )
}

#[test]
fn nesting_ends_where_bisons_stack_does() {
    // Bison's stack holds at most 9999 states: the statement takes four,
    // each `[` two, and the innermost value three more.
    let (ok, _, report) = parse(&nested("x", 4997, "\"a\""));
    assert!(!ok);
    assert_eq!(
        report,
        "f.cfg:1: config parsing error near `\"a\"': memory exhausted\n"
    );
    let (ok, _, report) = parse(&nested("x", 200_000, ""));
    assert!(!ok);
    assert_eq!(
        report,
        "f.cfg:1: config parsing error near `[': memory exhausted\n"
    );
    let mut r = Report::new();
    let cpus = format!(
        "name=\"t\"\nkernel=\"/k\"\n{}",
        nested("cpus", 100_000, "\"0\"")
    );
    let got = xl_config::parse_config_data("t.cfg", &cpus, &Globals::default(), &host(), &mut r);
    assert_eq!(got.err().map(|e| e.0), Some(1));
    assert!(
        r.as_str()
            .ends_with("memory exhausted\nFailed to parse config: Invalid argument\n")
    );
}

#[test]
fn the_deepest_values_drop_and_clone_on_a_small_stack() {
    let same = bounded(256 << 10, || {
        let (ok, settings, report) = parse(&nested("x", 4996, "\"a\""));
        assert!(ok, "{report}");
        let copy = settings.clone();
        let same = copy == settings;
        drop(copy);
        drop(settings);
        same
    });
    assert!(same);
}
