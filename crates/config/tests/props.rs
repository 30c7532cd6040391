//! Property tests: no input makes the readers panic, and every rejected
//! config names a line.

use proptest::prelude::*;
use xl_config::{Globals, Host, Report};

fn host() -> Host {
    Host {
        max_cpus: 4,
        node_cpus: vec![vec![0, 1, 2, 3]],
        firmware_dir: "/fw".into(),
    }
}

/// Fragments that reach the interesting corners of the grammar.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("name".to_string()),
        Just(" = ".into()),
        Just("+=".into()),
        Just("\n".into()),
        Just(";".into()),
        Just("[".into()),
        Just("]".into()),
        Just(",".into()),
        Just("# c\n".into()),
        Just("\"s\"".into()),
        Just("'a\\tb'".into()),
        Just("\"\\q\"".into()),
        Just("\"\\x41\"".into()),
        Just("0x1F".into()),
        Just("-".into()),
        Just("\r\n".into()),
        Just("é".into()),
        "[a-z]{1,6}".prop_map(|s| s),
        "[0-9]{1,4}".prop_map(|s| s),
        any::<char>().prop_map(|c| c.to_string()),
    ]
}

fn config_text() -> impl Strategy<Value = String> {
    prop::collection::vec(fragment(), 0..40).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parser_never_panics_and_errors_have_lines(text in config_text()) {
        let mut r = Report::new();
        let parsed = xl_config::syntax::parse(&text, "f.cfg", &mut r);
        if !parsed.ok {
            prop_assert!(
                r.as_str().lines().any(|l| {
                    l.strip_prefix("f.cfg:")
                        .and_then(|rest| rest.split(':').next())
                        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                }),
                "no line number in {:?}", r.as_str()
            );
        }
    }

    #[test]
    fn domain_builder_never_panics(text in config_text(), key in "[a-z_]{1,12}", val in ".{0,12}") {
        let mut r = Report::new();
        let text = format!("name=\"x\"\nkernel=\"/k\"\n{text}\n{key}=\"{}\"\n", val.replace(['"', '\\', '\n'], ""));
        let _ = xl_config::parse_config_data("f.cfg", &text, &Globals::default(), &host(), &mut r);
    }

    #[test]
    fn device_specs_never_panic(spec in ".{0,40}") {
        let mut r = Report::new();
        let _ = xl_config::disk::parse_disk("c", &[&spec], &mut r);
        let mut nic = xl_config::domain::Nic::default();
        let _ = xl_config::nic::parse_nic_token(&mut nic, "c", &spec, &mut r);
        let mut pci = xl_config::domain::Pci::default();
        let _ = xl_config::pci::parse_pci(&mut pci, &spec, &mut r);
    }
}
