use xl_config::domain::DomainConfig;

use crate::HostPaths;
use crate::create::CreatePlan;

fn lab_config(name: &str) -> DomainConfig {
    let path = format!("{}/../../lab/guest/{name}.cfg", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).unwrap();
    let host = xl_config::Host {
        max_cpus: 2,
        node_cpus: vec![vec![0, 1]],
        firmware_dir: "/usr/lib/xen-4.17/boot".into(),
    };
    let mut report = xl_config::Report::new();
    xl_config::parse_config_data(
        "cfg",
        &text,
        &xl_config::Globals::default(),
        &host,
        &mut report,
    )
    .unwrap()
}

fn debian_paths() -> HostPaths {
    HostPaths {
        qemu_xen: "/usr/libexec/xen-qemu-system-i386".into(),
        ..HostPaths::under(std::path::Path::new("/"))
    }
}

/// A qdisk disk gives a PV guest a xenpv QEMU, started with the argv
/// the real xl 4.17 used for the same config (its -vvv log in the lab).
#[test]
fn qdisk_pv_guest_gets_the_real_xl_xenpv_argv() {
    let plan = CreatePlan::new(&lab_config("pv-dev"), &debian_paths());
    let dm = plan.device_model.as_ref().expect("a device model");
    let spec = dm.spec(2, std::path::Path::new("/var/run/xen"));
    assert_eq!(spec.binary, "/usr/libexec/xen-qemu-system-i386");
    let want = [
        "-xen-domid",
        "2",
        "-no-shutdown",
        "-chardev",
        "socket,id=libxl-cmd,path=/var/run/xen/qmp-libxl-2,server=on,wait=off",
        "-mon",
        "chardev=libxl-cmd,mode=control",
        "-chardev",
        "socket,id=libxenstat-cmd,path=/var/run/xen/qmp-libxenstat-2,server=on,wait=off",
        "-mon",
        "chardev=libxenstat-cmd,mode=control",
        "-nodefaults",
        "-no-user-config",
        "-xen-attach",
        "-name",
        "lab-pvdev",
        "-vnc",
        "none",
        "-display",
        "none",
        "-nographic",
        "-machine",
        "xenpv",
        "-m",
        "256",
    ];
    assert_eq!(spec.args, want);
    let disk = &plan.disks[0];
    let back = |k: &str| {
        disk.back
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(disk.backend_kind, "qdisk");
    assert_eq!(back("params"), Some("aio:/lab/guest/boot.img"));
    assert_eq!(back("specification"), Some("xen"));
    assert!(
        disk.front
            .contains(&("protocol".to_string(), "x86_64-abi".to_string()))
    );
}
