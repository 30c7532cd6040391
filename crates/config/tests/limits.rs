//! Inputs xl takes that once made this reader spin, balloon or overflow
//! its stack: each must end soon, with xl's outcome.

use xl_config::Report;
use xl_config::value::{Config, Value};

fn parse(text: &str) -> (bool, Vec<xl_config::value::Setting>, String) {
    let mut r = Report::new();
    let parsed = xl_config::syntax::parse(text, "f.cfg", &mut r);
    (parsed.ok, parsed.settings, r.take())
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
