//! `device_model_version`: xl.cfg(5)'s spellings, and libxl's own names,
//! which we accept with a warning where xl exits.

use xl_config::{DomainConfig, Exit, Globals, Host, Report, parse_config_data};

fn host() -> Host {
    Host {
        max_cpus: 4,
        node_cpus: vec![vec![0, 1, 2, 3]],
        firmware_dir: "/fw".into(),
    }
}

fn parse(text: &str) -> (Result<DomainConfig, Exit>, String) {
    let mut r = Report::new();
    let got = parse_config_data("t.cfg", text, &Globals::default(), &host(), &mut r);
    (got, r.take())
}

const HVM: &str = "type=\"hvm\"\nname=\"t\"\ndevice_model_override=\"/opt/qemu\"\n";

#[test]
fn libxl_spellings_are_accepted_with_one_warning() {
    for (libxl, xl) in [
        ("qemu_xen", "qemu-xen"),
        ("qemu_xen_traditional", "qemu-xen-traditional"),
    ] {
        let (got, report) = parse(&format!("{HVM}device_model_version=\"{libxl}\"\n"));
        let (want, want_report) = parse(&format!("{HVM}device_model_version=\"{xl}\"\n"));
        assert_eq!(
            report,
            format!(
                "WARNING: device_model_version \"{libxl}\" is libxl's name; xl.cfg(5) spells it \"{xl}\" (accepted)\n"
            )
        );
        assert_eq!(want_report, "");
        let (got, want) = (got.expect("accepted"), want.expect("accepted"));
        assert_eq!(got.b_info.device_model_version, Some(libxl));
        assert_eq!(got.b_info_json().to_yajl(), want.b_info_json().to_yajl());
    }
}

#[test]
fn other_values_still_fail_as_xl_does() {
    for bad in [
        "qemu-xen-ancient",
        "QEMU_XEN",
        "qemu_xen ",
        "qemu-xen_traditional",
        "",
    ] {
        let (got, report) = parse(&format!("{HVM}device_model_version=\"{bad}\"\n"));
        assert_eq!(got.unwrap_err(), Exit(1), "{bad:?}");
        assert_eq!(
            report,
            format!("Unknown device_model_version \"{bad}\" specified\n")
        );
    }
}

#[test]
fn override_without_version_still_warns() {
    let (got, report) = parse(HVM);
    assert!(got.is_ok());
    assert_eq!(
        report,
        "WARNING: device model override given without specific DM version\n"
    );
}
