use xl_config::domain::DomainConfig;

use crate::create::CreatePlan;
use crate::{DmSpec, HostPaths};

fn lab_config(name: &str) -> DomainConfig {
    crate::fake::lab_config(name)
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

/// A framebuffer gives a PV guest a xenpv QEMU showing it, with the argv
/// and the vfb/vkbd backend settings the real xl 4.17 gave the same config
/// in the lab (`hvm` suite, lab-vfb-pv).
#[test]
fn vfb_pv_guest_gets_the_real_xl_xenpv_argv() {
    let pv = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../lab/guest/pv.cfg"
    ))
    .unwrap();
    let mut text: String = pv
        .lines()
        .filter(|l| !l.starts_with("name "))
        .map(|l| format!("{l}\n"))
        .collect();
    text.push_str("name = \"lab-vfb-pv\"\n");
    text.push_str("vfb = [ \"vnc=1,vnclisten=127.0.0.1,vncdisplay=3,vncunused=1,keymap=de\" ]\n");
    let cfg = parse(&text);
    let plan = CreatePlan::new(&cfg, &debian_paths());
    let spec = plan
        .device_model
        .as_ref()
        .expect("a device model")
        .spec(7, std::path::Path::new("/var/run/xen"));
    let want = "-xen-domid 7 -no-shutdown \
        -chardev socket,id=libxl-cmd,path=/var/run/xen/qmp-libxl-7,server=on,wait=off \
        -mon chardev=libxl-cmd,mode=control \
        -chardev socket,id=libxenstat-cmd,path=/var/run/xen/qmp-libxenstat-7,server=on,wait=off \
        -mon chardev=libxenstat-cmd,mode=control -nodefaults -no-user-config -xen-attach \
        -name lab-vfb-pv -vnc 127.0.0.1:3,to=99 -display none -k de -machine xenpv -m 256";
    assert_eq!(spec.args.join(" "), want);
    assert!(plan.problems.is_empty(), "{:?}", plan.problems);
    let vfb = &plan.vfbs[0];
    let back: Vec<String> = vfb.back.iter().map(|(k, v)| format!("{k}={v}")).collect();
    assert_eq!(
        back,
        [
            "vnc=1",
            "vnclisten=127.0.0.1",
            "vncdisplay=3",
            "vncunused=1",
            "sdl=0",
            "opengl=0"
        ]
    );
    assert_eq!((vfb.kind.as_str(), vfb.devid), ("vfb", 0));
    assert_eq!(plan.vkbs.len(), 1);
    assert_eq!(plan.vkbs[0].0.backend_kind, "vkbd");
}

fn parse(text: &str) -> DomainConfig {
    crate::fake::config(text)
}

fn testdata(file: &str) -> String {
    let path = format!("{}/src/dm_args/testdata/{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path).unwrap()
}

fn spec_of(cfg: &DomainConfig, domid: u32) -> DmSpec {
    let plan = CreatePlan::new(cfg, &debian_paths());
    let dm = plan.device_model.expect("a device model");
    dm.check().unwrap();
    dm.spec(domid, std::path::Path::new("/var/run/xen"))
}

fn env(domid: u32) -> Vec<(String, String)> {
    [
        ("XEN_QEMU_CONSOLE_LIMIT", "1048576".to_string()),
        ("XEN_DOMAIN_ID", domid.to_string()),
    ]
    .map(|(k, v)| (k.to_string(), v))
    .to_vec()
}

/// The real xl 4.17's device model for testdata/NAME.cfg, started as
/// domain `domid`: its argv (NAME.argv, the domid masked) and environment.
fn like_the_real_xl(name: &str, domid: u32, adjust: impl FnOnce(&mut DomainConfig)) {
    let mut cfg = parse(&testdata(&format!("{name}.cfg")));
    adjust(&mut cfg);
    let spec = spec_of(&cfg, domid);
    let want = testdata(&format!("{name}.argv")).replace("$DOMID", &domid.to_string());
    let want: Vec<&str> = want.lines().collect();
    assert_eq!(spec.binary, want[0], "{name}");
    assert_eq!(spec.args, want[1..], "{name}");
    assert_eq!(spec.env, env(domid), "{name}");
}

/// The lab's HVM guest: qdisk hda, no vga, nographic, vnc and sdl off.
#[test]
fn hvm_base_like_the_real_xl() {
    like_the_real_xl("hvm-base", 1, |_| {});
}

/// A qcow2 disk and a cdrom; vnc and sdl off.
#[test]
fn wiki_like_the_real_xl() {
    like_the_real_xl("wiki", 2, |_| {});
}

/// Default vnc (127.0.0.1:0, findunused), default cirrus vga.
#[test]
fn wiki_fix_like_the_real_xl() {
    like_the_real_xl("wiki-fix", 3, |_| {});
}

/// vcpus/maxvcpus, a SCSI disk, two NICs (one with the default model),
/// a serial list, stdvga, vnclisten/vncdisplay, keymap, usb/usbdevice,
/// soundhw, acpi=0, device_model_args and device_model_args_hvm.
#[test]
fn full_like_the_real_xl() {
    // The real xl made up the second NIC's MAC at random; a uuid that
    // gives the same MAC here stands in for it.
    like_the_real_xl("full", 4, |c| {
        c.c_info.uuid = [0x3b, 0x82, 0xc5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    });
}

/// hdtype="ahci", nographic with vnc on (vnc wins), usbversion=2.
#[test]
fn ahci_like_the_real_xl() {
    like_the_real_xl("ahci", 5, |_| {});
}

/// vga="none", maxmem above memory, xen_platform_pci=0.
#[test]
fn novga_like_the_real_xl() {
    like_the_real_xl("novga", 6, |_| {});
}

/// An HVM guest named t with `lines` added, as domain 7.
fn hvm(lines: &str) -> DmSpec {
    spec_of(
        &parse(&format!(
            "name = \"t\"\ntype = \"hvm\"\nmemory = 128\n{lines}\n"
        )),
        7,
    )
}

fn invalid(lines: &str) -> String {
    let cfg = parse(&format!(
        "name = \"t\"\ntype = \"hvm\"\nmemory = 128\n{lines}\n"
    ));
    let plan = CreatePlan::new(&cfg, &debian_paths());
    match plan.device_model.unwrap().check() {
        Err(e @ crate::Error::ConfigRefused(_)) => e.to_string(),
        other => panic!("{other:?}"),
    }
}

/// Whether `args` has `want` as consecutive items.
fn has(args: &[String], want: &[&str]) -> bool {
    args.windows(want.len()).any(|w| w == want)
}

fn after<'a>(args: &'a [String], flag: &str) -> Vec<&'a str> {
    args.windows(2)
        .filter(|w| w[0] == flag)
        .map(|w| w[1].as_str())
        .collect()
}

// The configs below have no real-xl sample: what they check follows
// libxl_dm.c (libxl__build_device_model_args_new) and libxl_create.c's
// defaults in Xen 4.17.

#[test]
fn qxl_splits_its_video_memory_in_two() {
    let s = hvm("vga = \"qxl\"");
    assert!(has(
        &s.args,
        &["-device", "qxl-vga,vram_size_mb=64,ram_size_mb=64"]
    ));
    // 128 MiB of video memory by default, taken from -m.
    assert_eq!(after(&s.args, "-m"), ["0"]);
    let s = hvm("maxmem = 512\nvga = \"qxl\"\nvideoram = 256");
    assert!(has(
        &s.args,
        &["-device", "qxl-vga,vram_size_mb=128,ram_size_mb=128"]
    ));
    assert_eq!(after(&s.args, "-m"), ["256"]);
}

#[test]
fn stdvga_defaults_to_16_mib() {
    let s = hvm("vga = \"stdvga\"");
    assert!(has(&s.args, &["-device", "VGA,vgamem_mb=16"]));
    assert_eq!(after(&s.args, "-m"), ["112"]);
}

#[test]
fn vnc_options() {
    let s = hvm("vncunused = 0\nvncpasswd = \"secret\"\nvncdisplay = 2");
    assert_eq!(after(&s.args, "-vnc"), ["127.0.0.1:2,password=on"]);
    let s = hvm("vnclisten = \"0.0.0.0:5\"");
    assert_eq!(after(&s.args, "-vnc"), ["0.0.0.0:5,to=99"]);
    let s = hvm("vncpasswd = \"\"");
    assert_eq!(after(&s.args, "-vnc"), ["127.0.0.1:0,to=99"]);
}

#[test]
fn sdl_adds_a_display_and_its_environment() {
    let s = hvm(
        "vnc = 0\nsdl = 1\ndisplay = \":1\"\nxauthority = \"/root/.Xauthority\"\nnographic = 1",
    );
    assert!(has(
        &s.args,
        &["-vnc", "none", "-display", "none", "-display", "sdl"]
    ));
    assert!(!s.args.iter().any(|a| a == "-nographic"));
    let env: Vec<(&str, &str)> = s
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        env,
        [
            ("XEN_QEMU_CONSOLE_LIMIT", "1048576"),
            ("DISPLAY", ":1"),
            ("XAUTHORITY", "/root/.Xauthority"),
            ("XEN_DOMAIN_ID", "7"),
        ]
    );
}

#[test]
fn spice_options_and_its_usb_redirection() {
    let s = hvm(
        "vnc = 0\nspice = 1\nspiceport = 6000\nspicehost = \"0.0.0.0\"\n\
         spicedisable_ticketing = 1\nspicevdagent = 1\nspiceusbredirection = 2",
    );
    assert!(has(
        &s.args,
        &[
            "-spice",
            "port=6000,tls-port=0,addr=0.0.0.0,disable-ticketing=on,agent-mouse=on,\
             disable-copy-paste=on",
            "-device",
            "virtio-serial",
            "-chardev",
            "spicevmc,id=vdagent,name=vdagent",
            "-device",
            "virtserialport,chardev=vdagent,name=com.redhat.spice.0",
        ]
    ));
    // Redirection implies USB 2.
    assert!(has(
        &s.args,
        &[
            "-device",
            "ich9-usb-uhci3,masterbus=usb.0,firstport=4,addr=0x1d.0x2,multifunction=on",
            "-chardev",
            "spicevmc,name=usbredir,id=usbrc1",
            "-device",
            "usb-redir,chardev=usbrc1,id=usbrc1",
            "-chardev",
            "spicevmc,name=usbredir,id=usbrc2",
            "-device",
            "usb-redir,chardev=usbrc2,id=usbrc2",
        ]
    ));
    let s = hvm(
        "spice = 1\nspicetls_port = 6001\nspicepasswd = \"pw\"\nspiceagent_mouse = 0\n\
         spice_clipboard_sharing = 1\nspice_image_compression = \"auto_glz\"\n\
         spice_streaming_video = \"filter\"",
    );
    assert_eq!(
        after(&s.args, "-spice"),
        [
            "port=0,tls-port=6001,password=pw,agent-mouse=off,image-compression=auto_glz,\
          streaming-video=filter"
        ]
    );
    assert!(invalid("spice = 1").contains("spiceport or tls_port"));
    assert!(invalid("spice = 1\nspiceport = 1").contains("missing password"));
}

#[test]
fn usb_versions_and_sound_cards() {
    assert!(has(
        &hvm("usbversion = 1").args,
        &["-device", "piix3-usb-uhci,id=usb"]
    ));
    assert!(has(
        &hvm("usbversion = 3").args,
        &["-device", "nec-usb-xhci,id=usb"]
    ));
    assert!(has(
        &hvm("usbdevice = [ \"tablet\", \"mouse\" ]").args,
        &["-usb", "-usbdevice", "tablet", "-usbdevice", "mouse"]
    ));
    assert!(has(
        &hvm("soundhw = \"HDA\"").args,
        &["-device", "intel-hda", "-device", "hda-duplex"]
    ));
    assert!(invalid("usbversion = 4").contains("usbversion"));
    assert!(invalid("usb = 1\nusbversion = 2").contains("cannot be enabled"));
    assert!(invalid("soundhw = \"pcspk\"").contains("Unknown soundhw option 'pcspk'"));
}

#[test]
fn disks_qemu_can_and_cannot_emulate() {
    let s = hvm("disk = [ \"/img/a,raw,xvda,w\", \",raw,hdd,cdrom\", \
         \"/img/b,qcow2,sdb,r\", \"/img/c,raw,sdc,devtype=cdrom\", \
         \"/img/d,raw,hdb,w,script=block-iscsi\", \"/img/e,raw,xvde,w\" ]");
    let drives: Vec<&str> = s
        .args
        .iter()
        .skip_while(|a| *a != "-m")
        .skip(2)
        .map(String::as_str)
        .collect();
    assert_eq!(
        drives,
        [
            // xvda is IDE disk 0.
            "-drive",
            "file=/img/a,if=ide,index=0,media=disk,format=raw,cache=writeback",
            // An empty cdrom has no file.
            "-drive",
            "if=none,readonly=on,id=ide-5696",
            "-device",
            "ide-cd,id=ide-5696,drive=ide-5696,bus=ide.1,unit=1",
            "-drive",
            "file=/img/b,id=scsi0-hd1,format=qcow2,if=none,readonly=on,cache=writeback",
            "-device",
            "scsi-hd,drive=scsi0-hd1,scsi-id=1",
            // An sd cdrom is an IDE cdrom; the scripted disk and xvde
            // (past the four IDE disks) stay PV-only.
            "-drive",
            "if=none,readonly=on,id=ide-2080,file=/img/c,format=raw",
            "-device",
            "ide-cd,id=ide-2080,drive=ide-2080,bus=ide.1,unit=0",
        ]
    );
    // The SCSI controller precedes the other devices.
    assert!(has(
        &s.args,
        &["-device", "lsi53c895a", "-device", "cirrus-vga,vgamem_mb=8"]
    ));
    assert!(invalid("disk = [ \"/img/a,raw,hda,r\" ]").contains("read-only IDE"));
    assert!(
        invalid("hdtype = \"ahci\"\ndisk = [ \"/img/a,raw,hda,r\" ]").contains("read-only AHCI")
    );
}

#[test]
fn nics_of_type_vif_are_not_emulated() {
    let s = hvm("vif = [ \"type=vif,mac=00:16:3e:00:00:01\" ]");
    assert!(has(&s.args, &["-net", "none", "-machine"]));
    let s = hvm("vif = [ \"type=vif\", \"mac=00:16:3e:00:00:02,bridge=br1,model=e1000\" ]");
    assert!(has(
        &s.args,
        &[
            "-device",
            "e1000,id=nic1,netdev=net1,mac=00:16:3e:00:00:02",
            "-netdev",
            "type=tap,id=net1,ifname=vif7.1-emu,br=br1,script=no,downscript=no",
            "-machine",
        ]
    ));
}

#[test]
fn machine_options_channels_direct_boot_and_vendor_device() {
    let s = hvm(
        "mmio_hole = 256\nvendor_device = \"xenserver\"\nkernel = \"/k\"\n\
         ramdisk = \"/r\"\ncmdline = \"console=ttyS0\"\nvcpus = 2\n\
         channel = [ \"name=org.example.a,connection=pty\", \
         \"name=b,connection=socket,path=/run/b.sock\" ]",
    );
    assert_eq!(
        after(&s.args, "-machine"),
        ["xenfv,suppress-vmdesc=on,max-ram-below-4g=4026531840"]
    );
    assert!(has(
        &s.args,
        &[
            "-chardev",
            "pty,id=libxl-channel0",
            "-chardev",
            "socket,id=libxl-channel1,path=/run/b.sock,server=on,wait=off",
            "-nodefaults",
        ]
    ));
    assert!(has(
        &s.args,
        &[
            "-display",
            "none",
            "-kernel",
            "/k",
            "-initrd",
            "/r",
            "-append",
            "console=ttyS0",
            "-device",
            "cirrus-vga,vgamem_mb=8",
        ]
    ));
    assert!(has(&s.args, &["-smp", "2,maxcpus=2"]));
    assert_eq!(
        s.args[s.args.len() - 2..],
        ["-device", "xen-pvdevice,device-id=0xc000"]
    );
    // The largest hole xl accepts leaves 256 MiB below 4 GiB.
    assert_eq!(
        after(&hvm("mmio_hole = 3840").args, "-machine"),
        ["xenfv,suppress-vmdesc=on,max-ram-below-4g=268435456"]
    );
    assert!(!hvm("vcpus = 1").args.iter().any(|a| a == "-smp"));
}

/// device_model_args_pv follows xenpv, as _hvm follows xenfv.
#[test]
fn xenpv_takes_device_model_args_pv() {
    let mut cfg = lab_config("pv-dev");
    cfg.b_info.extra = vec!["-d".into(), "guest_errors".into()];
    cfg.b_info.extra_pv = vec!["-no-reboot".into()];
    cfg.b_info.extra_hvm = vec!["-unused".into()];
    let s = spec_of(&cfg, 2);
    let tail: Vec<&str> = s.args[s.args.len() - 8..]
        .iter()
        .map(String::as_str)
        .collect();
    assert_eq!(
        tail,
        [
            "-nographic",
            "-d",
            "guest_errors",
            "-machine",
            "xenpv",
            "-no-reboot",
            "-m",
            "256"
        ]
    );
    assert_eq!(s.env, env(2)[..1]);
}
