//! Scenario tests on the built-in simulator: the real `xl` binary, a
//! simulated host per test (its own XL_SIM_DIR), driven as a script would.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use xenstore::{Xs, XsOps};

struct Host {
    dir: tempfile::TempDir,
}

impl Host {
    fn new() -> Host {
        Host {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_xl"));
        c.args(args)
            .env("XL_BACKEND", "sim")
            .env("XL_SIM_DIR", self.path())
            .env("XL_CONF", "/dev/null")
            .current_dir(self.path())
            .stdin(Stdio::null());
        c
    }

    fn xl(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.xl(args);
        assert!(
            o.status.success(),
            "xl {args:?} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }

    /// Writes a config (and a stand-in kernel) in the host dir.
    fn config(&self, name: &str, extra: &str) -> PathBuf {
        std::fs::write(self.path().join("vmlinuz"), b"kernel").unwrap();
        let p = self.path().join(format!("{name}.cfg"));
        std::fs::write(
            &p,
            format!(
                "name = \"{name}\"\ntype = \"pvh\"\nkernel = \"vmlinuz\"\nmemory = 256\n\
                 vcpus = 2\non_poweroff = \"destroy\"\non_reboot = \"restart\"\n{extra}\n"
            ),
        )
        .unwrap();
        p
    }

    fn create(&self, name: &str, extra: &str) {
        let cfg = self.config(name, extra);
        self.ok(&["create", cfg.to_str().unwrap()]);
    }

    /// `xl list` rows as (name, id, mem, vcpus, state).
    fn list(&self) -> Vec<(String, u32, u64, u32, String)> {
        let out = self.ok(&["list"]);
        let mut lines = out.lines();
        assert_eq!(
            lines.next(),
            Some("Name                                        ID   Mem VCPUs\tState\tTime(s)")
        );
        lines
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (
                    f[0].to_string(),
                    f[1].parse().unwrap(),
                    f[2].parse().unwrap(),
                    f[3].parse().unwrap(),
                    f[4].to_string(),
                )
            })
            .collect()
    }

    fn domid(&self, name: &str) -> Option<u32> {
        self.list().into_iter().find(|r| r.0 == name).map(|r| r.1)
    }

    fn wait_for(&self, what: &str, mut f: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !f() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn free_mb(&self) -> u64 {
        // `xl info KEY` prints the bare value.
        self.ok(&["info", "free_memory"]).trim().parse().unwrap()
    }

    fn xs(&self) -> Xs {
        Xs::open_path(self.path().join("xenstored.sock")).unwrap()
    }

    /// Every xenstore path below `/`, as `xenstore-ls -f` lists them.
    fn store(&self) -> Vec<String> {
        fn walk(xs: &Xs, p: &str, out: &mut Vec<String>) {
            for c in xs.directory(p).unwrap_or_default() {
                let child = if p == "/" {
                    format!("/{c}")
                } else {
                    format!("{p}/{c}")
                };
                out.push(child.clone());
                walk(xs, &child, out);
            }
        }
        let mut v = Vec::new();
        walk(&self.xs(), "/", &mut v);
        v
    }

    /// What `xl console` shows until `until` appears (or 20 s pass).
    fn console(&self, domid: u32, until: &str) -> String {
        use std::io::Read;
        let mut child = self
            .cmd(&["console", &domid.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut seen = Vec::new();
        while !String::from_utf8_lossy(&seen).contains(until) {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(chunk) => seen.extend(chunk),
                Err(_) => break,
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        let mut text = String::from_utf8_lossy(&seen).into_owned();
        if !text.contains(until) {
            let log = std::fs::read_to_string(self.path().join("host.log")).unwrap_or_default();
            text.push_str(&format!("\n[no {until:?} seen; host log:\n{log}]"));
        }
        text
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        // The host process exits once its socket is gone; don't wait.
        let _ = std::fs::remove_file(self.path().join("hypervisor.sock"));
    }
}

/// A guest's stored configuration (dom0's is there from the host's boot,
/// as xen-init-dom0 stores one).
fn guest_config_file(name: &str) -> bool {
    name.contains("libxl-json") && !name.starts_with("userdata-d.0.")
}

#[test]
fn create_list_console_pause_shutdown() {
    let h = Host::new();
    let free = h.free_mb();
    h.create("web", "");
    let id = h.domid("web").expect("web is listed");
    assert_eq!(id, 1, "Xen hands out domid 1 first");
    let row = h.list().into_iter().find(|r| r.0 == "web").unwrap();
    assert_eq!((row.2, row.3), (256, 2));
    assert_eq!(h.free_mb(), free - 256, "memory is taken from the host");
    assert_eq!(h.ok(&["domid", "web"]), "1\n");
    assert_eq!(h.ok(&["domname", "1"]), "web\n");

    let console = h.console(id, "login: ");
    assert!(console.contains("Linux version"), "{console}");
    assert!(console.contains("web login: "), "{console}");

    h.ok(&["pause", "web"]);
    // As on Xen: an idle guest's vCPUs stay blocked while it is paused.
    assert!(h.list().iter().any(|r| r.0 == "web" && r.4 == "-bp---"));
    h.ok(&["unpause", "web"]);
    assert!(h.list().iter().any(|r| r.0 == "web" && r.4 == "-b----"));

    let o = h.xl(&["shutdown", "-w", "web"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("Shutting down domain 1"), "{err}");
    // The monitor applies on_poweroff=destroy.
    h.wait_for("web to go", || h.domid("web").is_none());
    // The monitor removes the name before it destroys the domain (as
    // libxl does), so the memory comes back a moment later.
    h.wait_for("its memory to be given back", || h.free_mb() == free);
    let left: Vec<String> = h
        .store()
        .into_iter()
        .filter(|p| p.starts_with("/local/domain/1") || p.starts_with("/libxl/1"))
        .collect();
    assert!(left.is_empty(), "xenstore residue: {left:?}");
}

#[test]
fn reboot_restarts_with_on_reboot_restart() {
    let h = Host::new();
    h.create("app", "");
    let first = h.domid("app").unwrap();
    h.wait_for("boot", || h.xl(&["reboot", "app"]).status.success());
    h.wait_for("app to come back", || {
        h.domid("app").is_some_and(|d| d != first)
    });
    let log = std::fs::read_to_string(h.path().join("log/xl-app.log")).unwrap();
    assert!(
        log.contains("Action for shutdown reason code 1 is restart"),
        "{log}"
    );
    h.ok(&["destroy", "app"]);
    assert_eq!(h.domid("app"), None);
}

#[test]
fn crash_is_preserved_and_destroy_cleans_up() {
    let h = Host::new();
    h.create("db", "on_crash = \"preserve\"");
    let id = h.domid("db").unwrap();
    assert!(h.console(id, "login: ").contains("db login: "));
    h.ok(&["sysrq", "db", "c"]);
    h.wait_for("crash", || {
        h.list().iter().any(|r| r.0 == "db" && r.4 == "---sc-")
    });
    h.ok(&["destroy", "db"]);
    assert_eq!(h.domid("db"), None);
    let stored: Vec<_> = std::fs::read_dir(h.path().join("lib"))
        .unwrap()
        .flatten()
        .filter(|e| guest_config_file(&e.file_name().to_string_lossy()))
        .collect();
    assert!(stored.is_empty(), "stored config left behind");
}

#[test]
fn duplicate_names_are_refused() {
    let h = Host::new();
    h.create("one", "");
    let cfg = h.config("one", "");
    let o = h.xl(&["create", cfg.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("Domain with name \"one\" already exists."),
        "{err}"
    );
    assert_eq!(h.list().len(), 2);
}

/// cpuid= in both forms reaches the guest: the features it names are gone
/// from (or added to) what the guest's boot log lists, the rest stays.
#[test]
fn cpuid_policy_reaches_the_guest() {
    let h = Host::new();
    let flags = |name: &str| -> Vec<String> {
        let c = h.console(h.domid(name).expect("listed"), "login: ");
        let line = c
            .lines()
            .find_map(|l| {
                l.split_once("CPU flags: ")
                    .map(|(_, f)| f.trim().to_string())
            })
            .unwrap_or_else(|| panic!("no CPU flags line: {c}"));
        line.split(' ').map(String::from).collect()
    };
    h.create("plain", "");
    h.create("named", "cpuid = \"host,avx=0,sse3=0\"");
    // Leaf 1 ecx: bit 0 (sse3) off, bit 28 (avx) as the host has it.
    let mut ecx = "x".repeat(32);
    ecx.replace_range(31..32, "0");
    h.create("xend", &format!("cpuid = [ \"1:ecx={ecx}\" ]"));
    let (plain, named, xend) = (flags("plain"), flags("named"), flags("xend"));
    for f in ["avx", "sse3", "htt", "lm"] {
        assert!(plain.contains(&f.to_string()), "{f}: {plain:?}");
    }
    let without = |v: &[String], gone: &[&str]| -> Vec<String> {
        v.iter()
            .filter(|f| !gone.contains(&f.as_str()))
            .cloned()
            .collect()
    };
    assert_eq!(named, without(&plain, &["avx", "sse3"]));
    assert_eq!(xend, without(&plain, &["sse3"]));
    // xl only warns about an unknown name, and the rest still applies.
    let cfg = h.config("odd", "cpuid = \"host,nosuchflag=0,avx=0\"");
    let o = h.xl(&["create", cfg.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(
            "while parsing CPUID flag: \"nosuchflag=0\":\n  error #2: unknown CPUID flag name"
        ),
        "{}",
        stderr(&o)
    );
    assert_eq!(flags("odd"), without(&plain, &["avx"]));
}

/// vfb= on a PVH guest: the xenpv device model runs, the framebuffer and
/// its keyboard have libxl's nodes, `list -l` keeps them, and destroy takes
/// everything away again.
#[test]
fn pv_framebuffer_gets_a_device_model_and_its_devices() {
    let h = Host::new();
    h.list();
    let before = h.store();
    h.create(
        "fb",
        "vfb = [ \"vnc=1,vncdisplay=2,keymap=de\" ]\non_poweroff = \"preserve\"",
    );
    let id = h.domid("fb").unwrap();
    let xs = h.xs();
    let read = |p: &str| xs.read(p).unwrap_or_else(|e| panic!("{p}: {e}"));
    let be = format!("/local/domain/0/backend/vfb/{id}/0");
    for (k, v) in [
        ("vnc", "1"),
        ("vnclisten", "127.0.0.1"),
        ("vncdisplay", "2"),
        ("vncunused", "1"),
        ("sdl", "0"),
        ("opengl", "0"),
        ("frontend-id", &id.to_string()),
    ] {
        assert_eq!(read(&format!("{be}/{k}")), v, "{k}");
    }
    assert!(
        xs.read(&format!("{be}/vncpasswd")).is_err(),
        "no password, no node"
    );
    assert_eq!(
        read(&format!("/local/domain/{id}/device/vfb/0/backend")),
        be
    );
    assert_eq!(
        read(&format!("/local/domain/{id}/device/vkbd/0/backend")),
        format!("/local/domain/0/backend/vkbd/{id}/0")
    );
    assert_eq!(
        read(&format!("/local/domain/0/device-model/{id}/state")),
        "running"
    );
    let live = h.ok(&["list", "-l", "fb"]);
    assert!(live.contains("\"vfbs\": ["), "{live}");
    assert!(live.contains("\"keymap\": \"de\""), "{live}");
    h.ok(&["destroy", "fb"]);
    // libxl leaves the two directories it made once; the real xl's destroy too.
    let after: Vec<String> = h
        .store()
        .into_iter()
        .filter(|p| p != "/libxl" && p != "/local/domain/0/device-model")
        .collect();
    assert_eq!(after, before, "xenstore residue");
}

#[test]
fn failed_creates_leave_nothing_behind() {
    let h = Host::new();
    let free = h.free_mb();
    let before = h.store();
    for (name, extra, needle) in [
        (
            "nokernel",
            "kernel = \"missing-vmlinuz\"",
            "cannot read kernel",
        ),
        (
            "nodisk",
            "disk = [ \"/nonexistent.img,raw,xvda,rw\" ]",
            "does not exist",
        ),
        (
            "nobridge",
            "vif = [ \"bridge=nosuchbr0\" ]",
            "Could not find bridge device nosuchbr0",
        ),
        ("toobig", "memory = 100000000", "Out of memory"),
        // PV guests go through the real domain builder, which refuses a
        // file that is no kernel as it does on Xen.
        ("notakernel", "type = \"pv\"", "not a kernel image"),
        // A cpuid= leaf the host's policy does not have, refused when the
        // policy is applied (after the domain exists), as libxenguest does.
        (
            "cpuidleaf",
            "cpuid = [ \"0x4fffffff:eax=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\" ]",
            "Failed to apply CPUID policy: Missing leaf 0x4fffffff, subleaf 0xffffffff",
        ),
        // Read and printed by -N, not applied yet: refused, not dropped.
        ("usb", "usbctrl = [ \"version=2\" ]", "`usbctrl' is read"),
        (
            "vnuma",
            "maxvcpus = 2\nvnuma = [ [ \"size=64\", \"vcpus=0-1\" ] ]",
            "`vnuma' is read",
        ),
    ] {
        let cfg = h.config(name, extra);
        let o = h.xl(&["create", cfg.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(3), "{name}: {err}");
        assert!(err.contains(needle), "{name}: {err}");
        assert_eq!(h.list().len(), 1, "{name}: a domain was left behind");
    }
    // libxl creates /libxl once and never removes it; neither do we.
    let after: Vec<String> = h.store().into_iter().filter(|p| p != "/libxl").collect();
    assert_eq!(after, before, "xenstore residue");
    assert_eq!(h.free_mb(), free);
    let files: Vec<_> = std::fs::read_dir(h.path().join("lib"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| guest_config_file(&n.to_string_lossy()))
        .collect();
    assert!(files.is_empty(), "stored configs left: {files:?}");
}

#[test]
fn parallel_creates_get_distinct_domains() {
    let h = Host::new();
    let names: Vec<String> = (0..6).map(|i| format!("par{i}")).collect();
    let cfgs: Vec<PathBuf> = names.iter().map(|n| h.config(n, "")).collect();
    let children: Vec<_> = cfgs
        .iter()
        .map(|c| {
            h.cmd(&["create", "-e", c.to_str().unwrap()])
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let rows = h.list();
    let mut ids: Vec<u32> = rows
        .iter()
        .filter(|r| r.0.starts_with("par"))
        .map(|r| r.1)
        .collect();
    ids.sort();
    assert_eq!(ids, (1..=6).collect::<Vec<_>>());
}

#[test]
fn vcpu_list_and_memory_commands() {
    let h = Host::new();
    h.create("m", "maxmem = 512");
    let out = h.ok(&["vcpu-list", "m"]);
    assert_eq!(out.lines().count(), 3, "{out}");
    h.ok(&["mem-set", "m", "200m"]);
    let xs = h.xs();
    let id = h.domid("m").unwrap();
    assert_eq!(
        xs.read(&format!("/local/domain/{id}/memory/target"))
            .unwrap(),
        "204800"
    );
}

#[test]
fn devices_scheduler_affinity_and_rename() {
    let h = Host::new();
    std::fs::write(h.path().join("disk.img"), vec![0u8; 1 << 20]).unwrap();
    h.create("dev", "disk = [ \"disk.img,raw,xvda,rw\" ]");
    let id = h.domid("dev").unwrap();
    let blocks = h.ok(&["block-list", "dev"]);
    assert!(
        blocks
            .lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("51712")),
        "{blocks}"
    );
    let store = h.store();
    assert!(store.contains(&format!("/local/domain/0/backend/vbd/{id}/51712/params")));

    h.ok(&["vcpu-pin", "dev", "0", "1"]);
    let vcpus = h.ok(&["vcpu-list", "dev"]);
    let row0 = vcpus.lines().nth(1).unwrap();
    assert!(row0.trim_end().ends_with("1 / all"), "{vcpus}");

    let before = h.ok(&["sched-credit2", "-d", "dev"]);
    assert!(before.contains(" 256"), "{before}");
    h.ok(&["sched-credit2", "-d", "dev", "-w", "512"]);
    let after = h.ok(&["sched-credit2", "-d", "dev"]);
    assert!(after.contains(" 512"), "{after}");

    h.ok(&["rename", "dev", "dev2"]);
    assert_eq!(h.domid("dev2"), Some(id));
    h.ok(&["destroy", "dev2"]);
    let left: Vec<String> = h
        .store()
        .into_iter()
        .filter(|p| p.contains("/backend/"))
        .collect();
    assert!(left.is_empty(), "backend residue: {left:?}");
}

#[test]
fn list_long_shows_the_live_configuration() {
    let h = Host::new();
    h.create("cfgd", "maxmem = 512");
    let id = h.domid("cfgd").unwrap();
    let parse = |out: &str| -> serde_json::Value {
        serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
    };
    let text = h.ok(&["list", "-l"]);
    // yajl's text, then the newline puts() adds.
    assert!(
        text.starts_with("[\n    {\n") && text.ends_with("\n]\n\n"),
        "{text}"
    );
    let all = parse(&text);
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 2, "{text}");
    // dom0 has the configuration xen-init-dom0 stores.
    assert_eq!(all[0]["domid"], 0);
    assert_eq!(all[0]["config"]["c_info"]["name"], "Domain-0");
    let c = &all[1]["config"];
    assert_eq!(all[1]["domid"], id);
    assert_eq!(c["c_info"]["name"], "cfgd");
    assert_eq!(c["c_info"]["type"], "pvh");
    assert_eq!(c["b_info"]["max_memkb"], 512 * 1024);
    assert_eq!(c["b_info"]["target_memkb"], 256 * 1024);
    assert_eq!(c["b_info"]["avail_vcpus"], serde_json::json!([0, 1]));
    assert_eq!(c["b_info"]["sched_params"]["weight"], 256);

    // What changed since creation shows, in place.
    h.ok(&["mem-set", "cfgd", "200m"]);
    h.ok(&["vcpu-set", "cfgd", "1"]);
    h.ok(&["sched-credit2", "-d", "cfgd", "-w", "512"]);
    h.ok(&["rename", "cfgd", "renamed"]);
    let one = parse(&h.ok(&["list", "-l", "renamed"]));
    let c = &one[0]["config"];
    assert_eq!(one.as_array().unwrap().len(), 1);
    assert_eq!(c["c_info"]["name"], "renamed");
    assert_eq!(c["b_info"]["target_memkb"], 200 * 1024);
    assert_eq!(c["b_info"]["avail_vcpus"], serde_json::json!([0]));
    assert_eq!(c["b_info"]["sched_params"]["weight"], 512);
    let keys: Vec<&String> = c["b_info"].as_object().unwrap().keys().collect();
    assert_eq!(keys[..3], ["max_vcpus", "avail_vcpus", "max_memkb"]);

    let o = h.xl(&["list", "-l", "nosuch"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "nosuch is an invalid domain identifier (rc=-6)\n"
    );
}

#[test]
fn top_batch_shows_xentops_table() {
    let h = Host::new();
    std::fs::write(h.path().join("disk.img"), vec![0u8; 1 << 20]).unwrap();
    h.create("io", "disk = [ \"disk.img,raw,xvda,rw\" ]");
    let id = h.domid("io").unwrap();
    h.console(id, "login: ");
    let out = h.ok(&["top", "-b", "-i", "2", "-d", "1", "-x", "-v"]);
    let lines: Vec<&str> = out.lines().collect();
    let header = "      NAME  STATE   CPU(sec) CPU(%)     MEM(k) MEM(%)  MAXMEM(k) MAXMEM(%) VCPUS NETS NETTX(k) NETRX(k) VBDS   VBD_OO   VBD_RD   VBD_WR  VBD_RSECT  VBD_WSECT SSID";
    // Two iterations: header, then per domain a row, its vCPUs and disks.
    assert_eq!(lines.iter().filter(|l| **l == header).count(), 2, "{out}");
    let rows: Vec<Vec<&str>> = lines
        .iter()
        .filter(|l| l.starts_with("  Domain-0 ") || l.starts_with("        io "))
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 4, "{out}");
    // Sorted by name: Domain-0 before io; dom0 has no memory limit.
    assert_eq!(rows[0][0], "Domain-0");
    assert_eq!((rows[0][6], rows[0][7]), ("no", "limit"));
    assert_eq!(rows[1][0], "io");
    assert_eq!(rows[1][1], "--b---");
    assert_eq!(rows[1][4], "262144");
    // VCPUS, NETS, then one disk read during the boot.
    assert_eq!((rows[1][8], rows[1][9], rows[1][12]), ("2", "0", "1"));
    assert!(rows[1][14].parse::<u64>().unwrap() > 0, "{out}");
    // CPU(%) is 0.0 without a previous sample; the second has one.
    assert_eq!(rows[1][3], "0.0");
    assert!(rows[3][3].parse::<f64>().unwrap() >= 0.0);
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("VBD BlkBack 51712 [ca: 0]  OO:")),
        "{out}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("VCPUs(sec):   0: ")),
        "{out}"
    );

    // Without -b it needs a terminal, and says so.
    let o = h.xl(&["top"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("xl top -b"));
}

#[test]
fn top_terminal_ui_draws_and_quits_on_q() {
    use std::os::fd::AsFd;
    let h = Host::new();
    h.create("tui", "");
    let pty = xl_sim::pty::Pty::open().unwrap();
    let tty = || {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&pty.path)
            .unwrap()
    };
    rustix::termios::tcsetwinsize(
        tty().as_fd(),
        rustix::termios::Winsize {
            ws_row: 14,
            ws_col: 200,
            ws_xpixel: 0,
            ws_ypixel: 0,
        },
    )
    .unwrap();
    let mut child = h
        .cmd(&["top", "-d", "1"])
        .stdin(tty())
        .stdout(tty())
        .stderr(tty())
        .spawn()
        .unwrap();
    let read_until = |want: &str, seen: &mut Vec<u8>| {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut buf = [0u8; 8192];
        while !String::from_utf8_lossy(seen).contains(want) {
            assert!(
                Instant::now() < deadline,
                "no {want:?} on the screen: {}",
                String::from_utf8_lossy(seen)
            );
            match rustix::io::read(&*pty.master, &mut buf) {
                Ok(n) if n > 0 => seen.extend_from_slice(&buf[..n]),
                _ => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    };
    let mut seen = Vec::new();
    read_until("uit", &mut seen);
    let screen = String::from_utf8_lossy(&seen).into_owned();
    assert!(screen.contains("4.17.0"), "{screen}");
    assert!(screen.contains("      NAME"), "{screen}");
    assert!(screen.contains("Domain-0"), "{screen}");
    assert!(screen.contains("tui"), "{screen}");
    // 's' moves the sort to the next column, 'q' quits and restores the
    // terminal (leaves the alternate screen).
    pty.write(b"s");
    read_until("STATE)", &mut seen);
    pty.write(b"q");
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "xl top did not quit on q");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success());
    read_until("\x1b[?1049l", &mut seen);
}

#[test]
fn a_state_directory_others_can_write_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let h = Host::new();
    std::fs::set_permissions(h.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let o = h.xl(&["list"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("{} can be written by others", h.path().display())),
        "{stderr}"
    );
    assert!(stderr.contains("XL_SIM_DIR"), "{stderr}");
    assert!(!h.path().join("hypervisor.sock").exists());
}

#[test]
fn state_directory_files_are_not_opened_through_symlinks() {
    let h = Host::new();
    let victim = h.path().join("victim");
    std::fs::write(&victim, "precious").unwrap();
    for name in ["start.lock", "host.log"] {
        let link = h.path().join(name);
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let o = h.xl(&["list"]);
        assert!(!o.status.success(), "{name} followed");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        std::fs::remove_file(&link).unwrap();
    }
}

#[test]
fn sched_listings_escape_guest_chosen_names() {
    let h = Host::new();
    h.create("g", "");
    let id = h.domid("g").unwrap();
    let xs = h.xs();
    // Names with control characters, as a config or a rename can set.
    xs.write(&format!("/local/domain/{id}/name"), "g\x1b[2Jx")
        .unwrap();
    xs.write("/local/pool/0/name", "Pool\x1b]0;t\x07").unwrap();
    let id = id.to_string();
    for args in [
        vec!["sched-credit2"],
        vec!["sched-credit2", "-d", &id],
        vec!["sched-credit2", "-s"],
    ] {
        let out = h.ok(&args);
        assert!(
            !out.contains('\x1b') && !out.contains('\x07'),
            "{args:?}: {out:?}"
        );
    }
    assert!(h.ok(&["sched-credit2"]).contains("g?[2Jx"));
    assert!(
        h.ok(&["sched-credit2", "-s"])
            .contains("Cpupool Pool?]0;t?:")
    );
}

#[test]
fn domids_past_the_last_domain_never_name_another() {
    let h = Host::new();
    h.create("one", "");
    assert_eq!(h.domid("one"), Some(1));
    // 65537 and 2^32 + 1 are domain 1 to Xen's 16 bits and libxl's 32.
    for id in ["65537", "4294967297"] {
        let o = h.xl(&["pause", id]);
        assert_eq!(o.status.code(), Some(1), "xl pause {id}");
        assert_eq!(
            String::from_utf8_lossy(&o.stderr),
            format!("Domain {id} does not exist.\n")
        );
        let state = h.list().into_iter().find(|r| r.0 == "one").unwrap().4;
        assert!(
            !state.contains('p'),
            "xl pause {id} paused domain 1: {state}"
        );
    }
    let o = h.xl(&["domname", "4294967297"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        o.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}

/// `cmd`'s output, failing if it runs for more than 20 s (it is killed).
fn output_within(mut cmd: Command) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("still running after 20 s: {cmd:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// CPU maps in a config are sized by the host's CPUs as the hypervisor
/// reports them (libxl_get_max_cpus), not by the CPUs xl itself runs on.
#[test]
fn config_cpu_maps_are_sized_by_the_hypervisors_cpus() {
    let h = Host::new();
    let cfg = h.config("wide", "cpus = \"200\"");
    let o = h
        .cmd(&["create", "-d", cfg.to_str().unwrap()])
        .env("XL_SIM_CPUS", "256")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let json = stderr(&o);
    let hard = &json[json
        .find("\"vcpu_hard_affinity\"")
        .expect("affinity in the JSON")..];
    assert!(hard[..hard.find(']').unwrap()].contains("200"), "{json}");
    h.ok(&["destroy", "wide"]);
}

#[test]
fn vcpu_pin_to_a_huge_cpu_range_pins_to_all() {
    let h = Host::new();
    h.create("pin", "");
    let o = output_within(h.cmd(&["vcpu-pin", "pin", "all", "0-18446744073709551614"]));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let vcpus = h.ok(&["vcpu-list", "pin"]);
    let row0 = vcpus.lines().nth(1).unwrap();
    assert!(row0.trim_end().ends_with("all / all"), "{vcpus}");
    h.ok(&["destroy", "pin"]);
}

#[test]
fn non_utf8_config_names_and_overrides_are_bytes() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let h = Host::new();
    let create = |file: &Path, arg: &[u8]| {
        let mut cmd = h.cmd(&["create"]);
        cmd.arg(file).arg(OsStr::from_bytes(arg));
        let o = output_within(cmd);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(o.status.success(), "{err}");
        err
    };
    // The override is config text, read as a file's bytes are.
    create(&h.config("cafe", ""), b"extra=\"caf\xe9\"");
    let live = h.ok(&["list", "-l", "cafe"]);
    assert!(live.contains("\"cmdline\": \"caf\u{fffd}\""), "{live}");
    // The monitor was started with the same arguments.
    h.wait_for("the monitor", || {
        std::fs::read_to_string(h.path().join("log/xl-cafe.log"))
            .is_ok_and(|l| l.contains("Waiting for domain cafe"))
    });

    let file = h.path().join(OsStr::from_bytes(b"caf\xe9.cfg"));
    std::fs::rename(h.config("odd", ""), &file).unwrap();
    let err = create(&file, b"vcpus=1");
    assert!(err.contains("caf\u{fffd}.cfg"), "{err}");
    assert!(h.domid("odd").is_some());
    h.ok(&["destroy", "cafe"]);
    h.ok(&["destroy", "odd"]);
}

#[test]
fn names_with_slashes_keep_their_logs_in_the_log_directory() {
    let h = Host::new();
    let cfg = h.config("slash", "");
    std::fs::create_dir_all(h.path().join("log/xl-x")).unwrap();
    for (name, log) in [
        ("a/b", "xl-a%2Fb.log"),
        ("x/../../escape", "xl-x%2F..%2F..%2Fescape.log"),
    ] {
        let o =
            output_within(h.cmd(&["create", cfg.to_str().unwrap(), &format!("name=\"{name}\"")]));
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        h.wait_for("the monitor", || {
            std::fs::read_to_string(h.path().join("log").join(log))
                .is_ok_and(|l| l.contains(&format!("Waiting for domain {name}")))
        });
        h.ok(&["destroy", name]);
    }
    assert!(!h.path().join("escape.log").exists());
}

/// Waits until the guest has booted (it answers suspend requests only then).
fn booted(h: &Host, name: &str) -> u32 {
    let id = h.domid(name).expect("listed");
    let c = h.console(id, "login: ");
    assert!(c.contains("login: "), "{c}");
    id
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// xenstore nodes and stored configs of guests: none once they are gone.
fn guest_residue(h: &Host) -> Vec<String> {
    let mut left: Vec<String> = h
        .store()
        .into_iter()
        .filter(|p| {
            (p.starts_with("/local/domain/") && !p.starts_with("/local/domain/0"))
                || (p.starts_with("/libxl/") && !p.starts_with("/libxl/0"))
        })
        .collect();
    for e in std::fs::read_dir(h.path().join("lib")).unwrap() {
        let n = e.unwrap().file_name().to_string_lossy().into_owned();
        if guest_config_file(&n) {
            left.push(n);
        }
    }
    left
}

#[test]
fn save_and_restore_bring_the_guest_back_where_it_was() {
    let h = Host::new();
    h.create("web", "");
    booted(&h, "web");
    let free = h.free_mb();
    let file = h.path().join("web.save");
    let f = file.to_str().unwrap();
    let o = h.xl(&["save", "web", f]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("Saving to {f} new xl format (info 0x3/0x0/")),
        "{}",
        stderr(&o)
    );
    assert_eq!(h.domid("web"), None, "a plain save destroys the domain");
    assert_eq!(h.free_mb(), free + 256);
    assert!(guest_residue(&h).is_empty(), "{:?}", guest_residue(&h));

    // A decoder walks the whole file; the config is the domain's.
    let saved = xl_savefile::SaveFile::decode(&mut std::fs::File::open(&file).unwrap()).unwrap();
    let config = String::from_utf8_lossy(saved.xl.config_text().unwrap()).into_owned();
    assert!(config.contains("\"name\": \"web\""), "{config}");

    let o = h.xl(&["restore", f]);
    assert!(o.status.success(), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains(&format!(
            "Loading new save file {f} (new xl fmt info 0x3/0x0/"
        )),
        "{e}"
    );
    assert!(
        e.contains(
            " Savefile contains xl domain config in JSON format\nParsing config from <saved>\n"
        ),
        "{e}"
    );
    let row = h.list().into_iter().find(|r| r.0 == "web").expect("back");
    assert_eq!((row.2, row.3), (256, 2));
    assert_eq!(h.free_mb(), free);
    // The same guest, resumed rather than booted again.
    let console = h.console(row.1, "resumed after suspend");
    assert!(console.contains("Restarting tasks ... done."), "{console}");
    assert!(!console.contains("Linux version"), "{console}");
    let log = std::fs::read_to_string(h.path().join("log/xl-web.log")).unwrap();
    assert!(log.contains("Domain has suspended."), "{log}");
    // Its monitor still applies on_poweroff.
    h.ok(&["shutdown", "-w", "web"]);
    h.wait_for("web to go", || h.domid("web").is_none());
}

#[test]
fn save_with_checkpoint_or_pause_keeps_the_domain() {
    let h = Host::new();
    h.create("web", "");
    let id = booted(&h, "web");
    let f = h.path().join("c.save");
    h.ok(&["save", "-c", "web", f.to_str().unwrap()]);
    let row = h.list().into_iter().find(|r| r.0 == "web").unwrap();
    assert_eq!((row.1, row.4.as_str()), (id, "-b----"), "still running");
    let p = h.path().join("p.save");
    h.ok(&["save", "-p", "web", p.to_str().unwrap()]);
    let row = h.list().into_iter().find(|r| r.0 == "web").unwrap();
    assert_eq!((row.1, row.4.as_str()), (id, "-bp---"), "left paused");
    // Both files restore (under another name: the original still runs).
    let o = h.xl(&["restore", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("Domain with name \"web\" already exists."),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("cannot restore domain web from"),
        "{}",
        stderr(&o)
    );
    assert_eq!(h.list().len(), 2, "nothing half-restored");
}

#[test]
fn bad_save_files_and_full_hosts_leave_nothing_behind() {
    let h = Host::new();
    h.create("web", "");
    booted(&h, "web");
    let good = h.path().join("good.save");
    h.ok(&["save", "web", good.to_str().unwrap()]);
    let bytes = std::fs::read(&good).unwrap();
    let free = h.free_mb();

    let cut = h.path().join("cut.save");
    std::fs::write(&cut, &bytes[..bytes.len() - 40]).unwrap();
    let o = h.xl(&["restore", cut.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("truncated"), "{}", stderr(&o));
    assert!(stderr(&o).contains("cut.save"), "{}", stderr(&o));

    let foreign = h.path().join("web.cfg");
    let o = h.xl(&["restore", foreign.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).starts_with("File has wrong magic number - corrupt or for a different tool?\n"),
        "{}",
        stderr(&o)
    );

    let o = h.xl(&["restore", "/nonexistent.save"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        "Can't open restore file: No such file or directory\n"
    );

    // A host with no room: the guest's 256 MiB are refused.
    h.create("hog", &format!("memory = {}", free - 100));
    let o = h.xl(&["restore", good.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("Out of memory"), "{}", stderr(&o));
    h.ok(&["destroy", "hog"]);
    assert_eq!(h.list().len(), 1);
    assert_eq!(h.free_mb(), free);
    assert!(guest_residue(&h).is_empty(), "{:?}", guest_residue(&h));
    // The file is still good.
    h.ok(&["restore", good.to_str().unwrap()]);
    assert!(h.domid("web").is_some());
}

/// An `ssh` stand-in: drops the host and runs the command with the
/// destination's simulator directory ($DEST).
fn fake_ssh(dir: &Path) -> (PathBuf, String) {
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let _ = std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_xl"), bin.join("xl"));
    let ssh = dir.join("fake-ssh");
    std::fs::write(&ssh, "#!/bin/sh\nshift\nXL_SIM_DIR=\"$DEST\" exec \"$@\"\n").unwrap();
    std::fs::set_permissions(&ssh, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    (ssh, path)
}

#[test]
fn migrate_moves_a_guest_to_another_host_and_to_localhost() {
    let (a, b) = (Host::new(), Host::new());
    let (ssh, path) = fake_ssh(a.path());
    a.create("web", "");
    booted(&a, "web");
    let migrate = |from: &Host, to: &Host, target: &str| {
        from.cmd(&["migrate", "-s", ssh.to_str().unwrap(), "web", target])
            .env("DEST", to.path())
            .env("PATH", &path)
            .output()
            .unwrap()
    };
    let o = migrate(&a, &b, "elsewhere");
    assert!(o.status.success(), "{}", stderr(&o));
    let e = stderr(&o);
    for line in [
        "migration target: Ready to receive domain.",
        "Saving to migration stream new xl format (info 0x3/0x0/",
        "Loading new save file <incoming migration stream> (new xl fmt info 0x3/0x0/",
        "migration sender: Target has acknowledged transfer.",
        "migration target: Domain started successsfully.",
        "Migration successful.",
    ] {
        assert!(e.contains(line), "{line:?} missing:\n{e}");
    }
    assert_eq!(a.domid("web"), None);
    let id = b.domid("web").expect("arrived");
    let c = b.console(id, "resumed after suspend");
    assert!(c.contains("resumed after suspend"), "{c}");

    // The classic test: to the same host.
    let o = migrate(&b, &b, "localhost");
    assert!(o.status.success(), "{}", stderr(&o));
    let names: Vec<String> = b.list().into_iter().map(|r| r.0).collect();
    assert_eq!(names, ["Domain-0", "web"]);
    assert_ne!(b.domid("web"), Some(id));

    // A target without room refuses; the guest runs on at the source.
    let small = Host::new();
    let id = booted(&b, "web");
    let o = b
        .cmd(&["migrate", "-s", ssh.to_str().unwrap(), "web", "small"])
        .env("DEST", small.path())
        .env("XL_SIM_MEMORY_MB", "2200")
        .env("PATH", &path)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("migration target: Domain creation failed"),
        "{e}"
    );
    assert!(e.contains("Migration failed, resuming at sender."), "{e}");
    let row = b.list().into_iter().find(|r| r.0 == "web").unwrap();
    assert_eq!((row.1, row.4.as_str()), (id, "-b----"), "{e}");
    assert_eq!(small.list().len(), 1);
}

/// Pids of the live processes whose parent is `pid`.
fn children_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid ...: comm may hold spaces and parens.
        let after = &stat[stat.rfind(')').unwrap_or(0) + 1..];
        let f: Vec<&str> = after.split_whitespace().collect();
        if f.get(1).and_then(|p| p.parse::<u32>().ok()) == Some(pid) && f[0] != "Z" {
            out.push(child);
        }
    }
    out
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !s[s.rfind(')').unwrap_or(0) + 1..]
            .trim_start()
            .starts_with('Z')
    })
}

/// Files below the state directory, but for logs, which a host keeps, the
/// record of recently used domids, which destroy keeps on purpose, and
/// the create lock's file: a killed create leaves it as xl leaves
/// /var/lock/xl, holding nothing (the lock went with its holder) and
/// taken over by the next create. The folder of creates in progress is
/// made once and kept; what is in it is listed.
fn state_files(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, d: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
            let p = e.path();
            let rel = p.strip_prefix(base).unwrap().display().to_string();
            if ["host.log", "log", "xl.lock", "run/domid-history"].contains(&rel.as_str()) {
                continue;
            }
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                walk(base, &p, out);
            }
            if rel != "run/xl-create" {
                out.push(rel);
            }
        }
    }
    let mut v = Vec::new();
    walk(dir, dir, &mut v);
    v.sort();
    v
}

/// What a guest can hold of a host: used to show that nothing leaked.
#[derive(Debug, PartialEq)]
struct Holdings {
    domains: Vec<String>,
    free_mb: u64,
    store: Vec<String>,
    files: Vec<String>,
}

impl Host {
    fn holdings(&self) -> Holdings {
        Holdings {
            domains: self.list().into_iter().map(|r| r.0).collect(),
            free_mb: self.free_mb(),
            // libxl creates /libxl and dom0's device-model folder once and
            // removes only what is below them; so do we.
            store: self
                .store()
                .into_iter()
                .filter(|p| p != "/libxl" && p != "/local/domain/0/device-model")
                .collect(),
            files: state_files(self.path()),
        }
    }

    /// Starts `xl create` paused by the test hook before its `point`-th
    /// point; `None` when create has fewer points (it then ran to the end).
    /// The caller kills and waits for the child it is given.
    #[allow(clippy::zombie_processes)]
    fn create_paused_at(&self, cfg: &Path, point: usize) -> Option<std::process::Child> {
        use std::io::BufRead;
        let mut child = self
            .cmd(&["create", "-e", cfg.to_str().unwrap()])
            .env("XL_TEST_CREATE_PAUSE_AT", point.to_string())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        let mut seen = String::new();
        loop {
            let mut line = String::new();
            if stderr.read_line(&mut line).unwrap() == 0 {
                let status = child.wait().unwrap();
                assert!(status.success(), "create failed: {seen}");
                return None;
            }
            seen.push_str(&line);
            if line.contains("test hook: create paused") {
                // Keep the pipe open: a closed stderr is not what is tested.
                std::mem::forget(stderr);
                return Some(child);
            }
        }
    }
}

/// PVH and HVM guests with a disk: between them every step of a create
/// plan (HVM adds the vkbd, hvmloader settings and the device model).
fn kill_configs(h: &Host) -> Vec<PathBuf> {
    std::fs::write(h.path().join("disk.img"), vec![0u8; 1 << 20]).unwrap();
    let disk = "disk = [ \"disk.img,raw,xvda,rw\" ]";
    vec![
        h.config("k", disk),
        h.config("kh", &format!("type = \"hvm\"\n{disk}")),
    ]
}

/// Kills `xl create cfg` before each point of its plan in turn (and its
/// guard too when `with_guard`), then runs `next` (the next command) and
/// checks that the host holds what it held before. Returns the number of
/// points.
fn kill_at_every_point(h: &Host, cfg: &Path, with_guard: bool, next: impl Fn(usize)) -> usize {
    let before = h.holdings();
    let mut points = 0;
    while let Some(mut child) = h.create_paused_at(cfg, points) {
        let guards = children_of(child.id());
        assert_eq!(guards.len(), 1, "point {points}: one guard: {guards:?}");
        if with_guard {
            // As one kill of a whole cgroup would: the guard, then create.
            rustix::process::kill_process(
                rustix::process::Pid::from_raw(guards[0] as i32).unwrap(),
                rustix::process::Signal::KILL,
            )
            .unwrap();
        }
        child.kill().unwrap();
        child.wait().unwrap();
        if !with_guard {
            h.wait_for("the guard to finish", || !alive(guards[0]));
        }
        next(points);
        assert_eq!(h.holdings(), before, "{cfg:?} killed before point {points}");
        points += 1;
    }
    // It ran to the end: the domain is there, and destroyed as any other.
    let name = cfg.file_stem().unwrap().to_str().unwrap();
    h.ok(&["destroy", name]);
    assert_eq!(h.holdings(), before);
    points
}

#[test]
fn create_killed_at_any_point_is_undone_by_its_guard() {
    let h = Host::new();
    let points: Vec<usize> = kill_configs(&h)
        .iter()
        .map(|cfg| kill_at_every_point(&h, cfg, false, |_| {}))
        .collect();
    // Making the domain, its steps, reporting success.
    assert!(points[0] >= 10 && points[1] > points[0], "{points:?}");
}

#[test]
fn create_killed_with_its_guard_is_undone_by_the_next_xl() {
    let h = Host::new();
    let other = h.config("other", "");
    for cfg in kill_configs(&h) {
        kill_at_every_point(&h, &cfg, true, |point| {
            // The next command finds the half-made domain gone, whatever
            // the command: a listing, or another create.
            if point % 2 == 0 {
                let o = h.xl(&["list"]);
                let out = String::from_utf8_lossy(&o.stdout);
                assert_eq!(out.lines().count(), 2, "point {point}: {out}");
            } else {
                h.ok(&["create", "-e", other.to_str().unwrap()]);
                assert_eq!(h.list().len(), 2, "point {point}");
                h.ok(&["destroy", "other"]);
            }
        });
    }
}

/// The pid of the simulated host serving `dir`.
fn host_pid(dir: &Path) -> u32 {
    let want = format!("XL_SIM_SERVE={}", dir.display());
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok())
        .find(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|&b| b == 0).any(|v| v == want.as_bytes()))
                && alive(*pid)
        })
        .expect("a host process")
}

/// The pid a monitor logged ("... to die [pid N]").
fn monitor_pid(h: &Host, name: &str) -> u32 {
    let log = h.path().join(format!("log/xl-{name}.log"));
    let mut pid = None;
    h.wait_for("the monitor", || {
        pid = std::fs::read_to_string(&log).ok().and_then(|l| {
            let tail = l.split("[pid ").nth(1)?;
            tail.split(']').next()?.parse().ok()
        });
        pid.is_some()
    });
    pid.unwrap()
}

#[test]
fn a_killed_host_comes_back_empty_and_its_monitors_go() {
    let h = Host::new();
    std::fs::write(h.path().join("disk.img"), vec![0u8; 1 << 20]).unwrap();
    let cfgs = [
        h.config("a", "disk = [ \"disk.img,raw,xvda,rw\" ]"),
        h.config("b", ""),
    ];
    let before = h.holdings();
    for c in &cfgs {
        h.ok(&["create", c.to_str().unwrap()]);
    }
    let monitors = [monitor_pid(&h, "a"), monitor_pid(&h, "b")];
    // Not cleanly stopped, as a crash or kill -9 of the machine would.
    let pid = host_pid(h.path());
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid as i32).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();
    h.wait_for("the host to die", || !alive(pid));
    // The next xl boots a new machine: no domain of the old one, no
    // stored configuration or runtime file of theirs.
    assert_eq!(h.holdings(), before);
    // The monitors of domains that went with the machine stop, and do not
    // take a new domain with the same domid for theirs.
    for m in monitors {
        h.wait_for("the monitor to stop", || !alive(m));
    }
    h.ok(&["create", cfgs[1].to_str().unwrap()]);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(h.domid("b"), Some(1));
    h.ok(&["destroy", "b"]);
    assert_eq!(h.holdings(), before);
}

impl Host {
    /// `xl args` on a full disk: every file it writes stops growing at 0
    /// bytes (RLIMIT_FSIZE, with SIGXFSZ ignored so a write fails with an
    /// error, as ENOSPC makes it fail). The simulated host, started
    /// earlier, is not limited: it is the hypervisor's side.
    fn xl_on_full_disk(&self, args: &[&str]) -> Output {
        let c = self.cmd(args);
        let mut full = Command::new("sh");
        full.arg("-c")
            .arg("trap '' XFSZ; ulimit -f 0 && exec \"$0\" \"$@\"")
            .arg(c.get_program())
            .args(c.get_args());
        for (k, v) in c.get_envs() {
            if let Some(v) = v {
                full.env(k, v);
            }
        }
        full.current_dir(self.path()).stdin(Stdio::null());
        output_within(full)
    }
}

#[test]
fn a_full_disk_fails_create_cleanly_and_destroy_still_destroys() {
    let h = Host::new();
    std::fs::write(h.path().join("disk.img"), vec![0u8; 1 << 20]).unwrap();
    let cfg = h.config("full", "disk = [ \"disk.img,raw,xvda,rw\" ]");
    let before = h.holdings();
    let o = h.xl_on_full_disk(&["create", cfg.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("failed to store domain configuration"),
        "{stderr}"
    );
    assert_eq!(h.holdings(), before, "{stderr}");

    // A domain made while there was room is destroyed when there is none:
    // the record of its domid cannot be written, which is said, and the
    // domain, its memory, nodes and stored config go all the same.
    h.ok(&["create", "-e", cfg.to_str().unwrap()]);
    let o = h.xl_on_full_disk(&["destroy", "full"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(h.domid("full"), None, "{stderr}");
    assert_eq!(h.holdings(), before, "{stderr}");
}

#[test]
fn parallel_renames_never_give_two_domains_one_name() {
    let h = Host::new();
    for n in ["r1", "r2"] {
        let cfg = h.config(n, "");
        h.ok(&["create", "-e", cfg.to_str().unwrap()]);
    }
    let nodes = h.store().len();
    for round in 0..15 {
        let name = format!("same{round}");
        let children: Vec<_> = ["1", "2"]
            .iter()
            .map(|id| {
                h.cmd(&["rename", id, &name])
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let won = children
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .filter(|o| o.status.success())
            .count();
        assert_eq!(won, 1, "round {round}: {won} renames to {name} succeeded");
        let names: Vec<String> = h.list().into_iter().map(|r| r.0).collect();
        assert_eq!(
            names.iter().filter(|n| **n == name).count(),
            1,
            "round {round}: {names:?}"
        );
    }
    assert_eq!(h.store().len(), nodes, "renames added or lost nodes");
}

#[test]
fn thirty_parallel_creates_share_the_host_and_leave_nothing() {
    let h = Host::new();
    // Twenty names, ten of them asked for twice.
    let names: Vec<String> = (0..30).map(|i| format!("p{}", i % 20)).collect();
    let cfgs: Vec<PathBuf> = names.iter().map(|n| h.config(n, "memory = 128")).collect();
    let before = h.holdings();
    let children: Vec<_> = cfgs
        .iter()
        .map(|c| {
            h.cmd(&["create", "-e", c.to_str().unwrap()])
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<Output> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    let ok = outputs.iter().filter(|o| o.status.success()).count();
    assert_eq!(ok, 20, "one create per name succeeds");
    for o in outputs.iter().filter(|o| !o.status.success()) {
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(3), "{err}");
        assert!(err.contains("already exists"), "{err}");
    }
    let rows = h.list();
    let mut listed: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    listed.sort();
    listed.dedup();
    assert_eq!(listed.len(), 21, "{rows:?}");
    assert_eq!(h.free_mb(), before.free_mb - 20 * 128);
    let children: Vec<_> = (0..20)
        .map(|i| {
            h.cmd(&["destroy", &format!("p{i}")])
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    assert_eq!(h.holdings(), before);
}

#[test]
fn vvv_tells_each_xenstore_round_trip_and_the_time_taken() {
    let h = Host::new();
    h.create("web", "");
    let o = h.xl(&["-vvv", "list"]);
    assert!(o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    // Every line: milliseconds since start, then what was done and its time.
    assert!(
        err.lines()
            .any(|l| l.starts_with("xl: [") && l.contains("] xenstore ") && l.ends_with(" ms)")),
        "{err}"
    );
    assert!(err.contains("] list: exit status 0 ("), "{err}");
    assert!(err.contains(" page faults, "), "{err}");
    let quiet = h.xl(&["list"]);
    assert!(
        quiet.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&quiet.stderr)
    );
    h.ok(&["destroy", "web"]);
}

/// Exit status, stdout and stderr of one `xl` run.
fn run(h: &Host, args: &[&str]) -> (i32, String, String) {
    let o = h.xl(args);
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn cpupools_are_made_given_cpus_and_guests_and_destroyed() {
    let h = Host::new();
    let header = "Name               CPUs   Sched     Active   Domain count\n";
    assert_eq!(
        h.ok(&["cpupool-list"]),
        format!("{header}Pool-0               4   credit2       y          1\n")
    );
    assert_eq!(
        h.ok(&["cpupool-list", "-c"]),
        "Name               CPU list\nPool-0             0,1,2,3\n"
    );
    // CPUs 2 and 3 leave Pool-0 (a range, as xl takes them).
    assert_eq!(run(&h, &["cpupool-cpu-remove", "Pool-0", "2-3"]).0, 0);
    // Without a name setting, the pool is named after the file.
    std::fs::create_dir(h.path().join("pools")).unwrap();
    std::fs::write(h.path().join("pools/p1"), "cpus = [\"2\"]\n").unwrap();
    let (rc, out, _) = run(&h, &["cpupool-create", "pools/p1", "sched=\"credit\""]);
    assert_eq!(rc, 0);
    assert_eq!(
        out,
        "Using config file \"pools/p1\"\ncpupool name:   p1\nscheduler:      credit\nnumber of cpus: 1\n"
    );
    let xs = h.xs();
    let uuid = xs.read("/local/pool/1/uuid").unwrap();
    assert_eq!(uuid.len(), 36, "{uuid}");
    assert_eq!(
        h.ok(&["cpupool-list", "-c"]),
        "Name               CPU list\nPool-0             0,1\np1                 2\n"
    );
    // A guest moves in; the pool cannot go while it is there.
    h.create("g", "");
    assert_eq!(run(&h, &["cpupool-migrate", "g", "p1"]).0, 0);
    assert!(h.ok(&["list", "-c", "g"]).ends_with("              p1\n"));
    assert_eq!(
        h.ok(&["cpupool-list", "p1"]),
        format!("{header}p1                   1    credit       y          1\n")
    );
    let (rc, _, e) = run(&h, &["cpupool-destroy", "p1"]);
    assert_eq!((rc, e.as_str()), (1, "Can't destroy cpupool 'p1'\n"));
    // Its last CPU stays while it has a domain.
    let (rc, _, e) = run(&h, &["cpupool-cpu-remove", "p1", "2"]);
    assert_eq!(rc, 0);
    assert!(
        e.contains("Error removing cpu 2 from cpupool: Device or resource busy"),
        "{e}"
    );
    assert!(e.ends_with(
        "If a cpu can't be added to another cpupool, add it to 'p1' again and retry.\n"
    ));
    assert_eq!(run(&h, &["cpupool-rename", "p1", "p2"]).0, 0);
    assert_eq!(run(&h, &["cpupool-migrate", "g", "Pool-0"]).0, 0);
    assert_eq!(run(&h, &["cpupool-destroy", "p2"]).0, 0);
    assert_eq!(xs.try_read("/local/pool/1/name").unwrap(), None);
    assert_eq!(run(&h, &["cpupool-cpu-add", "Pool-0", "2,3"]).0, 0);
    assert_eq!(
        h.ok(&["cpupool-list"]),
        format!("{header}Pool-0               4   credit2       y          2\n")
    );
}

#[test]
fn cpupool_refusals_say_what_xl_says() {
    let h = Host::new();
    let expect = |args: &[&str], rc: i32, stderr: &str| {
        let (got_rc, _, got_err) = run(&h, args);
        assert_eq!((got_rc, got_err.as_str()), (rc, stderr), "{args:?}");
    };
    expect(&["cpupool-list", "nope"], 1, "Pool 'nope' does not exist\n");
    expect(&["cpupool-destroy", "nope"], 1, "unknown cpupool 'nope'\n");
    expect(&["cpupool-destroy", "5"], 1, "unknown cpupool '5'\n");
    expect(
        &["cpupool-rename", "nope", "x"],
        1,
        "unknown cpupool 'nope'\n",
    );
    expect(
        &["cpupool-cpu-add", "nope", "1"],
        1,
        "unknown cpupool 'nope'\n",
    );
    expect(
        &["cpupool-migrate", "nope", "Pool-0"],
        1,
        "unknown domain 'nope'\n",
    );
    expect(
        &["cpupool-migrate", "0", "nope"],
        1,
        "unknown cpupool 'nope'\n",
    );
    expect(
        &["cpupool-migrate", "0", "Pool-0"],
        1,
        "libxl: error: Error moving domain to cpupool\n",
    );
    expect(
        &["cpupool-cpu-add", "Pool-0", "1"],
        0,
        "libxl: error: Error moving cpu 1 to cpupool: No such device\n\
         some cpus may not have been added to Pool-0\n",
    );
    expect(
        &["cpupool-create", "-n", "cpus=\"1\""],
        1,
        "Missing cpupool name!\n",
    );
    expect(
        &["cpupool-create", "-n", "name=\"Pool-0\""],
        1,
        "Pool name \"Pool-0\" already exists\n",
    );
    expect(
        &["cpupool-create", "-n", "name=\"x\"", "sched=\"bogus\""],
        1,
        "Unknown scheduler\n",
    );
    // After the host's default scheduler was looked up, xl's status is
    // that scheduler's number (credit2: 6).
    expect(
        &["cpupool-create", "-n", "name=\"x\"", "cpus=[\"1\"]"],
        6,
        "cpu 1 illegal or not free\n",
    );
    expect(
        &["cpupool-create", "-n", "/nonexistent.cfg"],
        1,
        "Failed to read config file: /nonexistent.cfg: No such file or directory\n",
    );
    h.ok(&["cpupool-create", "name=\"extra\""]);
    expect(
        &["cpupool-numa-split"],
        1,
        "splitting not possible, already cpupools in use\n",
    );
    h.ok(&["cpupool-destroy", "extra"]);
    // One node: Pool-0 keeps every CPU under the node's name.
    h.ok(&["cpupool-cpu-remove", "Pool-0", "3"]);
    h.ok(&["cpupool-numa-split"]);
    assert_eq!(
        h.ok(&["cpupool-list", "-c"]),
        "Name               CPU list\nPool-node0         0,1,2,3\n"
    );
}

#[test]
fn create_starts_a_guest_in_its_pool_or_refuses_an_unknown_one() {
    let h = Host::new();
    h.ok(&["cpupool-cpu-remove", "Pool-0", "3"]);
    h.ok(&["cpupool-create", "name=\"work\"", "cpus=\"3\""]);
    h.create("g", "pool = \"work\"");
    assert!(h.ok(&["list", "-c", "g"]).ends_with("            work\n"));
    let cfg = h.config("bad", "pool = \"nope\"");
    let (rc, _, e) = run(&h, &["create", cfg.to_str().unwrap()]);
    assert_eq!(rc, 6, "{e}");
    assert!(e.contains("Illegal pool specified: nope"), "{e}");
    assert_eq!(h.domid("bad"), None);
    // By id as well.
    h.ok(&["destroy", "g"]);
    h.create("g", "pool = \"1\"");
    assert!(h.ok(&["list", "-c", "g"]).ends_with("            work\n"));
}

#[test]
fn host_listings_and_debug_keys() {
    let h = Host::new();
    h.create("g", "");
    let id = h.domid("g").unwrap();
    let vm = h.ok(&["vm-list"]);
    let mut lines = vm.lines();
    assert_eq!(
        lines.next(),
        Some("UUID                                  ID    name")
    );
    assert_eq!(
        lines.next(),
        Some("00000000-0000-0000-0000-000000000000  0    Domain-0                      ")
    );
    let row = lines.next().unwrap();
    assert!(row.ends_with(&format!("  {id}    {:<30}", "g")), "{row:?}");
    let claims = h.ok(&["claims"]);
    assert!(claims.starts_with(
        "Name                                        ID   Mem VCPUs\tState\tTime(s)  Claimed\n"
    ));
    assert!(
        claims.lines().nth(2).unwrap().ends_with("     0"),
        "{claims}"
    );
    assert_eq!(
        h.ok(&["sharing", "g"]),
        format!(
            "Name                                        ID   Mem Shared\n{:<40} {id:>5}   256      0\n",
            "g"
        )
    );
    let (rc, _, e) = run(&h, &["sharing", "nope"]);
    assert_eq!(
        (rc, e.as_str()),
        (1, "nope is an invalid domain identifier (rc=-6)\n")
    );
    assert_eq!(run(&h, &["debug-keys", "hq"]).0, 0);
    let dmesg = h.ok(&["dmesg"]);
    assert!(
        dmesg.contains("'h' pressed") && dmesg.contains("'q' pressed"),
        "{dmesg}"
    );
    let (rc, _, e) = run(&h, &["button-press", "g", "reset"]);
    assert_eq!(rc, 1);
    assert_eq!(
        e,
        "WARNING: \"button-press\" is deprecated. Please use \"trigger\"\n\
         reset is an invalid button identifier\n"
    );
}

#[test]
fn sched_rtds_on_a_credit2_host() {
    let h = Host::new();
    assert_eq!(run(&h, &["sched-rtds"]), (0, String::new(), String::new()));
    let (rc, out, e) = run(&h, &["sched-rtds", "-d", "0"]);
    assert_eq!(rc, 1);
    assert_eq!(
        out,
        "Name                                ID    Period    Budget  Extratime\n"
    );
    assert_eq!(
        e,
        "libxl_domain_sched_params_get returned credit2 not rtds.\n"
    );
    let (rc, _, e) = run(&h, &["sched-rtds", "-d", "0", "-v", "all"]);
    assert_eq!(rc, 1);
    assert!(
        e.ends_with("libxl_vcpu_sched_params_get_all failed.\n"),
        "{e}"
    );
    for (args, msg) in [
        (&["sched-rtds", "-p", "100"][..], "Missing parameters.\n"),
        (
            &["sched-rtds", "-d", "0", "-p", "1", "-b", "1", "-e", "1"],
            "Must specify VCPU.\n",
        ),
        (
            &["sched-rtds", "-d", "0", "-v", "0", "-v", "all"],
            "Incorrect VCPU IDs.\n",
        ),
        (
            &["sched-rtds", "-d", "0", "-v", "0", "-e", "3"],
            "Invalid extratime.\n",
        ),
        (
            &["sched-rtds", "-d", "0", "-v", "0", "-p", "1"],
            "Incorrect number of period, budget and extratime\n",
        ),
    ] {
        assert_eq!(
            run(&h, args),
            (1, String::new(), msg.to_string()),
            "{args:?}"
        );
    }
}

#[test]
fn sched_rtds_params_kept_and_shown_in_an_rtds_pool() {
    let h = Host::new();
    h.ok(&["cpupool-cpu-remove", "Pool-0", "3"]);
    h.ok(&[
        "cpupool-create",
        "name=\"rt\"",
        "sched=\"rtds\"",
        "cpus=\"3\"",
    ]);
    h.create("g", "vcpus = 2\npool = \"rt\"");
    let id = h.domid("g").unwrap();
    let dom_row = |p: i32, b: i32| format!("{:<33} {id:>4} {p:>9} {b:>9} {:>10}\n", "g", "yes");
    let vcpu_row = |v: u32, p: u32, b: u32, e: &str| {
        format!("{:<33} {id:>4} {v:>4} {p:>9} {b:>9} {e:>10}\n", "g")
    };
    let dom_header = "Name                                ID    Period    Budget  Extratime\n";
    let vcpu_header =
        "Name                                ID VCPU    Period    Budget  Extratime\n";
    assert_eq!(
        h.ok(&["sched-rtds"]),
        format!(
            "Cpupool rt: sched=RTDS\n{dom_header}{}",
            dom_row(10000, 4000)
        )
    );
    assert_eq!(
        h.ok(&["sched-rtds", "-d", "g", "-v", "all"]),
        format!(
            "{vcpu_header}{}{}",
            vcpu_row(0, 10000, 4000, "yes"),
            vcpu_row(1, 10000, 4000, "yes")
        )
    );
    // One vCPU, then all: each keeps what it was given.
    h.ok(&[
        "sched-rtds",
        "-d",
        "g",
        "-v",
        "1",
        "-p",
        "20000",
        "-b",
        "5000",
        "-e",
        "0",
    ]);
    assert_eq!(
        h.ok(&["sched-rtds", "-d", "g", "-v", "1", "-v", "0"]),
        format!(
            "{vcpu_header}{}{}",
            vcpu_row(1, 20000, 5000, "no"),
            vcpu_row(0, 10000, 4000, "yes")
        )
    );
    h.ok(&[
        "sched-rtds",
        "-d",
        "g",
        "-v",
        "all",
        "-p",
        "300",
        "-b",
        "200",
        "-e",
        "1",
    ]);
    assert_eq!(
        h.ok(&["sched-rtds", "-v", "all"]),
        format!(
            "Cpupool rt: sched=RTDS\n{vcpu_header}{}{}",
            vcpu_row(0, 300, 200, "yes"),
            vcpu_row(1, 300, 200, "yes")
        )
    );
    // The domain's row stays Xen's defaults.
    assert_eq!(
        h.ok(&["sched-rtds", "-d", "g"]),
        format!("{dom_header}{}", dom_row(10000, 4000))
    );
    // libxl's refusals, then Xen's (below its 10 us minimum).
    let refusals: [(&[&str], &str); 4] = [
        (
            &["-v", "2", "-p", "100", "-b", "50", "-e", "1"],
            "Invalid VCPU 2: valid range is [0, 1]",
        ),
        (
            &["-v", "0", "-p", "100", "-b", "200", "-e", "1"],
            "VCPU budget must be smaller than or equal to period, but 200 > 100",
        ),
        (
            &["-v", "all", "-p", "0", "-b", "0", "-e", "1"],
            "Invalid VCPU period of 0 (it should be >= 1)",
        ),
        (
            &["-v", "0", "-p", "5", "-b", "5", "-e", "1"],
            "Setting vcpu sched rtds: Invalid argument",
        ),
    ];
    for (args, msg) in refusals {
        let all: Vec<&str> = ["sched-rtds", "-d", "g"]
            .iter()
            .chain(args)
            .copied()
            .collect();
        let (rc, out, e) = run(&h, &all);
        assert_eq!((rc, out.as_str()), (1, ""), "{args:?}");
        assert!(e.contains(msg), "{args:?}: {e}");
        assert!(e.ends_with(" failed.\n"), "{e}");
    }
    let (rc, out, e) = run(&h, &["sched-rtds", "-d", "g", "-v", "5"]);
    assert_eq!((rc, out.as_str()), (1, vcpu_header));
    assert!(
        e.contains("VCPU index is out of range, valid values are within range from 0 to 1")
            && e.ends_with("libxl_vcpu_sched_params_get failed.\n"),
        "{e}"
    );
    // Nothing changed by the refusals; leaving the pool and coming back
    // gives the defaults again, as Xen does.
    assert!(
        h.ok(&["sched-rtds", "-d", "g", "-v", "0"])
            .ends_with(&vcpu_row(0, 300, 200, "yes"))
    );
    h.ok(&["cpupool-migrate", "g", "Pool-0"]);
    h.ok(&["cpupool-migrate", "g", "rt"]);
    assert!(
        h.ok(&["sched-rtds", "-d", "g", "-v", "0"])
            .ends_with(&vcpu_row(0, 10000, 4000, "yes"))
    );
}

/// Backend nodes as a toolstack in another domain would write them for a
/// disk or nic this domain serves (state Initialising, online).
fn write_backend(xs: &Xs, domid: u32, kind: &str, devid: u32, extra: &[(&str, &str)]) -> String {
    let be = format!("/local/domain/0/backend/{kind}/{domid}/{devid}");
    let fe = format!("/local/domain/{domid}/device/{kind}/{devid}");
    xs.write(&format!("{fe}/backend"), &be).unwrap();
    xs.write(&format!("{fe}/state"), "1").unwrap();
    xs.write(&format!("{be}/frontend"), &fe).unwrap();
    xs.write(&format!("{be}/frontend-id"), &domid.to_string())
        .unwrap();
    for (k, v) in extra {
        xs.write(&format!("{be}/{k}"), v).unwrap();
    }
    xs.write(&format!("{be}/online"), "1").unwrap();
    xs.write(&format!("{be}/state"), "1").unwrap();
    be
}

#[test]
fn devd_runs_scripts_for_its_backends_and_cleans_up_after_them() {
    let h = Host::new();
    h.create("g", "");
    let id = h.domid("g").unwrap();
    let xs = h.xs();
    // A device that waits in InitWait before the daemon starts is taken
    // on at once.
    let img = h.path().join("disk.img");
    std::fs::write(&img, b"disk").unwrap();
    let early = write_backend(
        &xs,
        id,
        "vbd",
        51728,
        &[
            ("script", "/etc/xen/scripts/block"),
            ("params", img.to_str().unwrap()),
        ],
    );
    h.wait_for("InitWait", || {
        xs.try_read(&format!("{early}/state")).unwrap().as_deref() == Some("2")
    });
    let pidfile = h.path().join("devd.pid");
    assert_eq!(h.ok(&["devd", "-p", pidfile.to_str().unwrap()]), "");
    h.wait_for("the pidfile", || {
        std::fs::read_to_string(&pidfile).is_ok_and(|t| t.ends_with('\n'))
    });
    let pid = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .to_string();
    assert!(h.path().join("log/xldevd.log").exists());
    let status = |be: &str| xs.try_read(&format!("{be}/hotplug-status")).unwrap();
    h.wait_for("the early disk's script", || {
        status(&early).as_deref() == Some("connected")
    });
    // Devices that come later, one whose script fails.
    let nic = write_backend(
        &xs,
        id,
        "vif",
        3,
        &[
            ("script", "/etc/xen/scripts/vif-route"),
            ("mac", "00:16:3e:00:00:03"),
        ],
    );
    let missing = write_backend(
        &xs,
        id,
        "vbd",
        51744,
        &[
            ("script", "/etc/xen/scripts/block"),
            ("params", "/nonexistent.img"),
        ],
    );
    h.wait_for("the nic's script", || {
        status(&nic).as_deref() == Some("connected")
    });
    h.wait_for("the failed script", || {
        status(&missing).as_deref() == Some("error")
    });
    assert_eq!(
        xs.try_read(&format!("{nic}/state")).unwrap().as_deref(),
        Some("4")
    );
    // The toolstack takes each offline and closes it: the daemon runs the
    // remove half and deletes the backend; the frontend is the toolstack's.
    for be in [&early, &nic, &missing] {
        xs.write(&format!("{be}/online"), "0").unwrap();
        xs.write(&format!("{be}/state"), "5").unwrap();
    }
    for be in [&early, &nic, &missing] {
        h.wait_for("the backend's removal", || {
            xs.try_read(&format!("{be}/state")).unwrap().is_none()
        });
    }
    assert!(
        xs.directory(&format!("/local/domain/0/backend/vbd/{id}"))
            .is_err(),
        "empty parents are removed too"
    );
    assert!(
        xs.try_read(&format!("/local/domain/{id}/device/vbd/51728/backend"))
            .unwrap()
            .is_some()
    );
    // SIGTERM ends it.
    assert!(Command::new("kill").arg(&pid).status().unwrap().success());
    h.wait_for("the daemon's end", || {
        !Path::new(&format!("/proc/{pid}")).exists()
    });
    // -F stays in the foreground, writes no pidfile, and its output is its own.
    std::fs::remove_file(&pidfile).unwrap();
    let mut fg = h
        .cmd(&["devd", "-F", "-p", pidfile.to_str().unwrap()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let again = write_backend(
        &xs,
        id,
        "vif",
        4,
        &[("script", "/etc/xen/scripts/vif-route")],
    );
    h.wait_for("-F's script", || {
        status(&again).as_deref() == Some("connected")
    });
    assert!(fg.try_wait().unwrap().is_none());
    assert!(!pidfile.exists());
    fg.kill().unwrap();
    fg.wait().unwrap();
}

#[test]
fn trigger_s3resume_asks_qemu_for_hvm_guests_and_is_refused_for_others() {
    let h = Host::new();
    h.create("hvm", "type = \"hvm\"");
    h.create("pvh", "");
    let (hvm, pvh) = (h.domid("hvm").unwrap(), h.domid("pvh").unwrap());
    // QEMU answers that the guest is not asleep; libxl logs it, xl says 0.
    assert_eq!(
        run(&h, &["trigger", "hvm", "s3resume"]),
        (
            0,
            String::new(),
            format!(
                "libxl: error: Domain {hvm}:Unable to wake up: guest is not in suspended state\n\
                 libxl: error: Domain {hvm}:Send trigger 's3resume' failed, rc=-28\n"
            )
        )
    );
    assert_eq!(
        run(&h, &["trigger", "pvh", "S3Resume"]),
        (
            0,
            String::new(),
            format!("libxl: error: Domain {pvh}:Send trigger 's3resume' failed, rc=-6\n")
        )
    );
    let (rc, _, e) = run(&h, &["trigger", "nosuch", "s3resume"]);
    assert_eq!(
        (rc, e.as_str()),
        (1, "nosuch is an invalid domain identifier (rc=-6)\n")
    );
    assert_eq!(h.list().len(), 3, "both guests still there");
}

#[test]
fn flask_pci_and_vncviewer_as_on_a_host_without_them() {
    let h = Host::new();
    assert_eq!(
        run(&h, &["getenforce"]),
        (255, "Flask XSM Disabled\n".into(), String::new())
    );
    assert_eq!(
        run(&h, &["setenforce", "Enforcing"]),
        (255, String::new(), "Flask XSM disabled\n".into())
    );
    let (rc, out, _) = run(&h, &["setenforce", "sometimes"]);
    assert_eq!(rc, 2);
    assert!(out.starts_with("Usage: xl [-vtTf] setenforce"), "{out}");
    std::fs::write(h.path().join("policy"), b"\x8c\xff\x7c\xf9").unwrap();
    assert_eq!(
        run(&h, &["loadpolicy", "policy"]),
        (255, String::new(), "Flask XSM disabled\n".into())
    );
    assert_eq!(
        run(&h, &["loadpolicy", "nope"]),
        (
            255,
            String::new(),
            "Error occurred opening policy file 'nope': No such file or directory\n".into()
        )
    );
    // No PCI devices: nothing listed.
    assert_eq!(
        run(&h, &["pci-list", "0"]),
        (0, String::new(), String::new())
    );
    // A domain with pciback's entries lists them.
    h.create("g", "");
    let id = h.domid("g").unwrap();
    let xs = h.xs();
    let be = format!("/local/domain/0/backend/pci/{id}/0");
    xs.write(&format!("{be}/num_devs"), "1").unwrap();
    xs.write(&format!("{be}/dev-0"), "0000:03:00.1").unwrap();
    xs.write(&format!("{be}/vdevfn-0"), "28").unwrap();
    assert_eq!(h.ok(&["pci-list", "g"]), "Vdev Device\n05.0 0000:03:00.1\n");
    // vncviewer runs $VNCVIEWER with the domain's VNC address; -a hands
    // it the password on stdin.
    let (rc, _, e) = run(&h, &["vncviewer", "g"]);
    assert_eq!(
        (rc, e),
        (
            1,
            format!("libxl: error: Domain {id}:Cannot get vnc-port\n")
        )
    );
    let console = format!("/local/domain/{id}/console");
    xs.write(&format!("{console}/vnc-port"), "5903").unwrap();
    xs.write(&format!("{console}/vnc-pass"), "s3cret").unwrap();
    let viewer = h.path().join("viewer");
    std::fs::write(&viewer, "#!/bin/sh\necho \"$@\"; cat\n").unwrap();
    std::fs::set_permissions(&viewer, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let o = h
        .cmd(&["vncviewer", "-a", "g"])
        .env("VNCVIEWER", &viewer)
        .output()
        .unwrap();
    assert!(o.status.success());
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "localhost:3 -autopass\ns3cret"
    );
    let o = h
        .cmd(&["vncviewer", "g"])
        .env("VNCVIEWER", "/nonexistent/viewer")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(255));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "libxl: cannot execute /nonexistent/viewer: No such file or directory\n"
    );
}

#[test]
fn device_lists_show_an_hvm_guests_keyboard_and_no_vtpm_or_channel() {
    let h = Host::new();
    h.create("kbd", "type = \"hvm\"");
    let id = booted(&h, "kbd");
    let vkb = h.ok(&["vkb-list", "kbd"]);
    let rows: Vec<&str> = vkb.lines().collect();
    assert_eq!(rows.len(), 2, "{vkb}");
    assert!(
        rows[0].starts_with("Idx BE handle state evt-ch    ref ID"),
        "{vkb}"
    );
    let fields: Vec<&str> = rows[1].split_whitespace().collect();
    assert_eq!(fields[0], "0", "{vkb}");
    assert_eq!(fields[7], "qemu", "{vkb}");
    assert_eq!(fields[8], format!("/local/domain/0/backend/vkbd/{id}/0"));
    assert_eq!(h.ok(&["vtpm-list", "kbd"]).lines().count(), 1);
    assert_eq!(h.ok(&["channel-list", "kbd"]).lines().count(), 1);
    // vtpm-list goes on past a name it cannot find; the others stop there.
    let o = h.xl(&["vtpm-list", "nosuch", "kbd"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(stderr(&o), "nosuch is an invalid domain identifier\n");
    let o = h.xl(&["vkb-list", "nosuch", "kbd"]);
    assert_ne!(o.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 1);
}

/// The nodes and stored configuration a domain's devices leave: its
/// device trees in xenstore and its libxl-json, for before/after checks.
fn device_state(h: &Host, id: u32) -> (Vec<String>, String) {
    let nodes = h
        .store()
        .into_iter()
        .filter(|p| {
            p.starts_with(&format!("/local/domain/{id}/device"))
                || p.starts_with(&format!("/libxl/{id}/device"))
                || p.starts_with("/local/domain/0/backend/")
        })
        .collect();
    let mut stored = String::new();
    for e in std::fs::read_dir(h.path().join("lib")).unwrap() {
        let n = e.unwrap().file_name().to_string_lossy().into_owned();
        if n.starts_with(&format!("userdata-d.{id}.")) {
            stored = std::fs::read_to_string(h.path().join("lib").join(n)).unwrap();
        }
    }
    (nodes, stored)
}

#[test]
fn block_and_network_attach_and_detach_on_a_running_guest() {
    let h = Host::new();
    std::fs::write(h.path().join("extra.img"), vec![0u8; 1 << 20]).unwrap();
    h.create("hot", "");
    let id = booted(&h, "hot");
    let before = device_state(&h, id);

    let img = h.path().join("extra.img");
    h.ok(&[
        "block-attach",
        "hot",
        &format!("{},raw,xvdb,rw", img.display()),
    ]);
    let blocks = h.ok(&["block-list", "hot"]);
    let row = blocks.lines().nth(1).unwrap_or_default().to_string();
    assert!(row.starts_with("51728 0   "), "{blocks}");
    // Connected: the backend's state (4) in the row.
    assert_eq!(row.split_whitespace().nth(3), Some("4"), "{blocks}");
    h.ok(&[
        "network-attach",
        &id.to_string(),
        "script=vif-route",
        "mac=00:16:3e:aa:bb:cc",
    ]);
    h.ok(&["network-attach", "hot", "script=vif-route"]);
    let nics = h.ok(&["network-list", "hot"]);
    let rows: Vec<&str> = nics.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{nics}");
    assert!(rows[0].starts_with("0   0  00:16:3e:aa:bb:cc"), "{nics}");
    assert!(rows[1].starts_with("1   0  00:16:3e:"), "{nics}");
    let long: serde_json::Value = serde_json::from_str(&h.ok(&["list", "-l", "hot"])).unwrap();
    let c = &long[0]["config"];
    assert_eq!(c["disks"][0]["vdev"], "xvdb", "{c}");
    assert_eq!(c["nics"][0]["devid"], 0, "{c}");
    assert_eq!(c["nics"][0]["mac"], "00:16:3e:aa:bb:cc", "{c}");
    assert_eq!(c["nics"][1]["devid"], 1, "{c}");
    assert_eq!(c["nics"][1]["nictype"], "vif", "{c}");

    // Again: the same disk is refused, and nothing changes.
    let added = device_state(&h, id);
    let o = h.xl(&[
        "block-attach",
        "hot",
        &format!("{},raw,xvdb,rw", img.display()),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("device already exists in xenstore"),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).ends_with("libxl_device_disk_add failed.\n"),
        "{}",
        stderr(&o)
    );
    assert_eq!(device_state(&h, id), added);

    h.ok(&["block-detach", "hot", "xvdb"]);
    h.ok(&["network-detach", "hot", "00:16:3e:aa:bb:cc"]);
    h.ok(&["network-detach", "hot", "1"]);
    assert_eq!(h.ok(&["block-list", "hot"]).lines().count(), 1);
    assert_eq!(h.ok(&["network-list", "hot"]).lines().count(), 1);
    let long: serde_json::Value = serde_json::from_str(&h.ok(&["list", "-l", "hot"])).unwrap();
    assert!(long[0]["config"].get("disks").is_none(), "{long}");
    assert!(long[0]["config"].get("nics").is_none(), "{long}");
    assert_eq!(device_state(&h, id).0, before.0);

    // What is not there cannot go.
    let o = h.xl(&["block-detach", "hot", "xvdc"]);
    assert_eq!(
        (o.status.code(), stderr(&o)),
        (Some(1), "Error: Device xvdc not connected.\n".into())
    );
    let o = h.xl(&["network-detach", "hot", "7"]);
    assert_eq!(
        (o.status.code(), stderr(&o)),
        (Some(1), "Unknown device 7.\n".into())
    );
    h.ok(&["destroy", "hot"]);
    assert!(guest_residue(&h).is_empty(), "{:?}", guest_residue(&h));
}

/// Unknown devices and domains and bad arguments, as xl says it.
fn vdev_refusals(h: &Host) {
    for (args, code, msg) in [
        (
            &["vkb-detach", "pv", "7"][..],
            253,
            "Error: Device 7 not connected.\n",
        ),
        (
            &["vdispl-detach", "pv", "3"][..],
            253,
            "Error: Device 3 not connected.\n",
        ),
        (&["vtpm-detach", "pv", "5"][..], 1, "Unknown device 5.\n"),
        (
            &["vkb-attach", "pv", "unique-id=x"][..],
            253,
            "backend-type should be set\n",
        ),
        (
            &["vkb-attach", "pv", "foo=bar"][..],
            255,
            "Unknown string \"foo=bar\" in vkb spec\n",
        ),
        (
            &["vdispl-attach", "pv", "be-alloc=1"][..],
            253,
            "At least one connector should be specified.\n",
        ),
        (
            &["vtpm-attach", "pv", "uuid=nonsense"][..],
            1,
            "Invalid uuid specified (nonsense)\n",
        ),
        (
            &["vtpm-attach", "nosuch"][..],
            1,
            "nosuch is an invalid domain identifier\n",
        ),
    ] {
        let o = h.xl(args);
        assert_eq!(
            (o.status.code(), stderr(&o)),
            (Some(code), msg.to_string()),
            "{args:?}"
        );
    }
}

#[test]
fn keyboards_vtpms_displays_and_sound_cards_come_and_go() {
    let h = Host::new();
    h.create("pv", "");
    let id = booted(&h, "pv");
    let before = device_state(&h, id);

    // A keyboard: nodes only (libxl's synchronous add), QEMU's by default
    // kind, the dom0 kernel's with backend-type=linux.
    h.ok(&[
        "vkb-attach",
        "pv",
        "backend-type=qemu",
        "unique-id=k1",
        "width=640",
    ]);
    h.ok(&["vkb-attach", "pv", "backend-type=linux"]);
    let vkbs = h.ok(&["vkb-list", "pv"]);
    let rows: Vec<&str> = vkbs.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{vkbs}");
    assert!(
        rows[0].contains(" k1 ") && rows[0].contains("qemu"),
        "{vkbs}"
    );
    assert!(
        rows[1].ends_with(&format!("/local/domain/0/backend/vinput/{id}/1")),
        "{vkbs}"
    );
    let xs = h.xs();
    let be = format!("/local/domain/0/backend/vkbd/{id}/0");
    assert_eq!(xs.read(&format!("{be}/unique-id")).unwrap(), "k1");
    assert_eq!(xs.read(&format!("{be}/width")).unwrap(), "640");

    let uuid = "5a7c1d52-0b9b-4b8e-a2f5-2b1e7c111111";
    h.ok(&["vtpm-attach", "pv", &format!("uuid={uuid}")]);
    let vtpms = h.ok(&["vtpm-list", "pv"]);
    assert!(
        vtpms
            .lines()
            .nth(1)
            .unwrap_or_default()
            .starts_with(&format!("0   0  {uuid}")),
        "{vtpms}"
    );
    h.ok(&[
        "vdispl-attach",
        "pv",
        "connectors=id0:800x600;id1:1024x768",
        "be-alloc=1",
    ]);
    let displays = h.ok(&["vdispl-list", "pv"]);
    assert!(
        displays.starts_with(&format!(
            "DevId: 0, BE: 0, handle: {id}, state: 4, be-alloc: 1, "
        )),
        "{displays}"
    );
    assert!(
        displays.contains("\tConnector: 1, id: id1, width: 1024, height: 768, req-rref: -1,"),
        "{displays}"
    );
    // The guest may read a display's connectors but not change them.
    let perms = xs
        .get_perms(&format!("/local/domain/{id}/device/vdispl/0/0/resolution"))
        .unwrap();
    let read_only = [
        xenstore::Perm::new(0, xenstore::Access::None),
        xenstore::Perm::new(id, xenstore::Access::Read),
    ];
    assert_eq!(perms, read_only);
    h.ok(&[
        "vsnd-attach",
        "pv",
        "card, short-name=Card0, sample-rates=8000;44100",
        "pcm, name=dev0",
        "stream, unique-id=s0, type=p",
    ]);
    let cards = h.ok(&["vsnd-list", "pv"]);
    assert!(cards.contains("short-name: \"Card0\", long-name: \"(null)\", sample-rates: 8000;44100\n\tpcm: 0, name: \"dev0\"\n\t\tstream: 0, unique-id: \"s0\", type: p\n"), "{cards}");
    assert_eq!(
        xs.read(&format!("/local/domain/{id}/device/vsnd/0/sample-rates"))
            .unwrap(),
        "8000,44100"
    );

    // The stored configuration gains vTPMs, displays and sound cards, not
    // keyboards (libxl's add of those records nothing).
    let long: serde_json::Value = serde_json::from_str(&h.ok(&["list", "-l", "pv"])).unwrap();
    let c = &long[0]["config"];
    assert_eq!(c["vtpms"][0]["uuid"], uuid, "{c}");
    assert_eq!(c["vtpms"][0]["devid"], 0, "{c}");
    assert_eq!(c["vdispls"][0]["connectors"][1]["width"], 1024, "{c}");
    assert_eq!(c["vsnds"][0]["short_name"], "Card0", "{c}");
    assert!(c.get("vkbs").is_none(), "{c}");

    vdev_refusals(&h);

    for (cmd, which) in [
        ("vkb-detach", "0"),
        ("vkb-detach", "1"),
        ("vtpm-detach", uuid),
        ("vdispl-detach", "0"),
        ("vsnd-detach", "0"),
    ] {
        h.ok(&[cmd, "pv", which]);
    }
    assert_eq!(h.ok(&["vkb-list", "pv"]).lines().count(), 1);
    assert_eq!(h.ok(&["vdispl-list", "pv"]), "");
    assert_eq!(device_state(&h, id).0, before.0);
    // libxl keeps removed devices in the stored configuration; list -l
    // leaves them out, with its warning.
    let o = h.xl(&["list", "-l", "pv"]);
    let long: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(long[0]["config"].get("vtpms").is_none(), "{long}");
    assert_eq!(
        stderr(&o)
            .matches("Device present in JSON but not in xenstore, ignored")
            .count(),
        3,
        "{}",
        stderr(&o)
    );
    h.ok(&["destroy", "pv"]);
    assert!(guest_residue(&h).is_empty(), "{:?}", guest_residue(&h));
}

#[test]
fn create_adds_keyboards_and_pv_calls_interfaces() {
    let h = Host::new();
    h.create(
        "kb",
        "vkb = [ \"backend-type=qemu,unique-id=k1\", \"backend-type=linux\" ]\npvcalls = [ \"\" ]",
    );
    let id = booted(&h, "kb");
    let vkbs = h.ok(&["vkb-list", "kb"]);
    let rows: Vec<&str> = vkbs.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{vkbs}");
    assert!(
        rows[0].ends_with(&format!("/local/domain/0/backend/vkbd/{id}/0")),
        "{vkbs}"
    );
    assert!(
        rows[1].ends_with(&format!("/local/domain/0/backend/vinput/{id}/1")),
        "{vkbs}"
    );
    let xs = h.xs();
    assert_eq!(
        xs.read(&format!("/local/domain/{id}/device/pvcalls/0/backend"))
            .unwrap(),
        format!("/local/domain/0/backend/pvcalls/{id}/0")
    );
    assert_eq!(
        xs.read(&format!("/local/domain/0/backend/vkbd/{id}/0/unique-id"))
            .unwrap(),
        "k1"
    );
    h.ok(&["destroy", "kb"]);
    assert!(guest_residue(&h).is_empty(), "{:?}", guest_residue(&h));
}

#[test]
fn create_adds_channels_from_the_second_on() {
    let h = Host::new();
    let cfg = h.config(
        "ch",
        "channel = [ \"name=org.qemu.guest_agent.0,connection=pty\", \"name=org.lab.sock,connection=socket,path=/tmp/ch.sock\" ]",
    );
    let o = h.xl(&["create", cfg.to_str().unwrap()]);
    // xl numbers channels from 0, and libxl refuses a console 0 with a
    // name (it would be the primary console): the first is left out.
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("Primary console has invalid configuration"),
        "{}",
        stderr(&o)
    );
    let id = h.domid("ch").expect("listed");
    let xs = h.xs();
    let be = format!("/local/domain/0/backend/console/{id}/1");
    assert_eq!(xs.read(&format!("{be}/name")).unwrap(), "org.lab.sock");
    assert_eq!(xs.read(&format!("{be}/connection")).unwrap(), "socket");
    assert_eq!(
        xs.read(&format!("/local/domain/{id}/device/console/1/output"))
            .unwrap(),
        "chardev:libxl-channel1"
    );
    let list = h.ok(&["channel-list", "ch"]);
    let rows: Vec<&str> = list.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "{list}");
    assert!(rows[0].contains(" socket "), "{list}");
    h.ok(&["destroy", "ch"]);
    assert!(guest_residue(&h).is_empty(), "{:?}", guest_residue(&h));
}

#[test]
fn failed_attaches_leave_nothing_behind() {
    let h = Host::new();
    h.create("fail", "");
    let id = booted(&h, "fail");
    let before = device_state(&h, id);
    let cases: [(&[&str], &str); 7] = [
        (
            &["block-attach", "nosuch", "/x,raw,xvdb"],
            "nosuch is an invalid domain identifier\n",
        ),
        (
            &["network-attach", "nosuch"],
            "nosuch is an invalid domain identifier (rc=-6)\n",
        ),
        (
            &["block-attach", "fail", "/no/such.img,raw,xvdb,rw"],
            "Disk vdev=xvdb failed to stat: /no/such.img: No such file or directory",
        ),
        (
            &["network-attach", "fail", "bridge=nosuchbr0"],
            "Could not find bridge device nosuchbr0",
        ),
        (
            &["network-attach", "fail", "type=ioemu"],
            "emulated interface",
        ),
        // libxl changes CDs only in HVM guests' emulated drives.
        (
            &["cd-eject", "fail", "xvdd"],
            "cdrom-insert requires an HVM domain\n",
        ),
        (
            &["cd-insert", "fail", "xvdd", "/no/such.iso"],
            "Cannot stat file: /no/such.iso\n",
        ),
    ];
    for (args, want) in cases {
        let o = h.xl(args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(stderr(&o).contains(want), "{args:?}: {}", stderr(&o));
        assert_eq!(device_state(&h, id), before, "{args:?} left something");
    }
    let o = h.xl(&["network-attach", "fail", "bridge=nosuchbr0"]);
    assert!(
        stderr(&o).ends_with("libxl_device_nic_add failed.\n"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn cd_eject_and_insert_change_an_hvm_guests_cd() {
    let h = Host::new();
    for f in ["first.iso", "second.iso"] {
        std::fs::write(h.path().join(f), vec![0u8; 1 << 16]).unwrap();
    }
    h.create(
        "cd",
        "type = \"hvm\"\ndisk = [ \"first.iso,raw,hdc,cdrom\" ]",
    );
    let id = booted(&h, "cd");
    let params = |h: &Host| {
        let xs = h.xs();
        let be = xs
            .read(&format!("/libxl/{id}/device/vbd/5632/backend"))
            .unwrap();
        [
            xs.read(&format!("{be}/params")).unwrap(),
            xs.read(&format!("/libxl/{id}/device/vbd/5632/params"))
                .unwrap(),
        ]
    };
    let target = |h: &Host| {
        let v: serde_json::Value = serde_json::from_str(&h.ok(&["list", "-l", "cd"])).unwrap();
        v[0]["config"]["disks"][0]["pdev_path"].clone()
    };
    h.ok(&["cd-eject", "cd", "hdc"]);
    assert_eq!(params(&h), [String::new(), String::new()]);
    assert_eq!(target(&h), serde_json::Value::String(String::new()));
    let second = h.path().join("second.iso").display().to_string();
    h.ok(&["cd-insert", "cd", "hdc", &second]);
    let want = format!("aio:{second}");
    assert_eq!(params(&h), [want.clone(), want]);
    assert_eq!(target(&h), serde_json::Value::String(second));
    for (args, msg) in [
        (["cd-eject", "cd", "hdd"], "Virtual device not found"),
        (
            ["cd-eject", "nosuch", "hdc"],
            "nosuch is an invalid domain identifier",
        ),
    ] {
        let o = h.xl(&args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(stderr(&o).contains(msg), "{args:?}: {}", stderr(&o));
    }
    h.ok(&["destroy", "cd"]);
}

#[test]
fn a_callers_lock_is_not_held_by_the_processes_xl_leaves_running() {
    // flock(1) runs its command with the lock's descriptor open; the
    // simulator's host and the domain's monitor outlive that command.
    if Command::new("flock").arg("--version").output().is_err() {
        return;
    }
    let h = Host::new();
    let cfg = h.config("locked", "");
    let lock = h.path().join("caller.lock");
    let mut c = Command::new("flock");
    c.arg(&lock)
        .arg(env!("CARGO_BIN_EXE_xl"))
        .args(["create", cfg.to_str().unwrap()])
        .env("XL_BACKEND", "sim")
        .env("XL_SIM_DIR", h.path())
        .env("XL_CONF", "/dev/null")
        .current_dir(h.path())
        .stdin(Stdio::null());
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(h.list().iter().any(|d| d.0 == "locked"));
    let again = Command::new("flock")
        .args(["-n", "-E", "99"])
        .arg(&lock)
        .arg("true")
        .status()
        .unwrap();
    assert_eq!(again.code(), Some(0), "the caller's lock is still held");
    h.ok(&["destroy", "locked"]);
}

#[test]
fn vcpu_set_plugs_an_hvm_guests_vcpus_into_its_device_model() {
    let h = Host::new();
    h.create("cpus", "type = \"hvm\"\nvcpus = 1\nmaxvcpus = 3");
    let id = booted(&h, "cpus");
    let avail = |h: &Host| {
        let v: serde_json::Value = serde_json::from_str(&h.ok(&["list", "-l", "cpus"])).unwrap();
        v[0]["config"]["b_info"]["avail_vcpus"].clone()
    };
    let availability = |h: &Host| -> Vec<String> {
        let xs = h.xs();
        (0..3)
            .map(|i| {
                xs.read(&format!("/local/domain/{id}/cpu/{i}/availability"))
                    .unwrap()
            })
            .collect()
    };
    assert_eq!(avail(&h), serde_json::json!([0]));
    h.ok(&["vcpu-set", "cpus", "2"]);
    assert_eq!(avail(&h), serde_json::json!([0, 1]));
    assert_eq!(availability(&h), ["online", "online", "offline"]);
    // QEMU cannot unplug: the guest is only told, through xenstore.
    h.ok(&["vcpu-set", "cpus", "1"]);
    assert_eq!(avail(&h), serde_json::json!([0, 1]));
    assert_eq!(availability(&h), ["online", "offline", "offline"]);
    let o = h.xl(&["vcpu-set", "cpus", "4"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("Requested 4 VCPUs, however maxcpus is 3!"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn create_and_restore_with_v_start_the_vnc_viewer() {
    let h = Host::new();
    // The simulated QEMU has no VNC server: the viewer `-V` starts says so
    // on create's stderr, which it shares.
    let cfg = h.config("vnc", "type = \"hvm\"");
    let o = output_within(h.cmd(&["create", "-V", cfg.to_str().unwrap()]));
    assert!(o.status.success(), "{}", stderr(&o));
    let id = h.domid("vnc").unwrap();
    assert!(
        stderr(&o).contains(&format!("Domain {id}:Cannot get vnc-port")),
        "{}",
        stderr(&o)
    );
    booted(&h, "vnc");
    let save = h.path().join("vnc.save");
    h.ok(&["save", "vnc", save.to_str().unwrap()]);
    let o = output_within(h.cmd(&["restore", "-A", save.to_str().unwrap()]));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("Cannot get vnc-port"), "{}", stderr(&o));
    h.ok(&["destroy", "vnc"]);
    // -e: nothing waits for the domain, and xl starts no viewer.
    let o = output_within(h.cmd(&["create", "-e", "-A", cfg.to_str().unwrap()]));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stderr(&o).contains("vnc-port"), "{}", stderr(&o));
    h.ok(&["destroy", "vnc"]);
}

#[test]
fn set_parameters_change_the_hypervisor_and_refuse_as_libxl() {
    let h = Host::new();
    let pressed = |h: &Host| h.ok(&["dmesg"]).matches("'h' pressed").count();
    // loglvl=none keeps the keys' lines out of the console ring.
    assert_eq!(run(&h, &["set-parameters", "loglvl=none"]).0, 0);
    h.ok(&["debug-keys", "h"]);
    assert_eq!(pressed(&h), 0);
    assert_eq!(
        run(&h, &["set-parameters", " loglvl=warning  guest_loglvl=all"]).0,
        0
    );
    h.ok(&["debug-keys", "h"]);
    assert_eq!(pressed(&h), 1);
    for (params, why) in [
        ("nosuch=1", "No such file or directory"),
        ("nologlvl", "Invalid argument"),
        ("=1", "Permission denied"),
        ("global-pages=maybe", "Numerical argument out of domain"),
        ("loglvl=all nosuch=1", "No such file or directory"),
    ] {
        assert_eq!(
            run(&h, &["set-parameters", params]),
            (
                1,
                String::new(),
                format!(
                    "libxl: error: setting parameters: {why}\ncannot set parameters: {params}\n"
                )
            ),
            "{params}"
        );
    }
    // The first word of the last one was set before the second failed.
    h.ok(&["debug-keys", "h"]);
    assert_eq!(pressed(&h), 2);
    assert_eq!(run(&h, &["set-parameters", "   "]).0, 0);
    assert_eq!(run(&h, &["set-parameters", "loglvl"]).0, 1);
}

#[test]
fn psr_commands_on_a_host_without_psr() {
    let h = Host::new();
    let cmt = "Cache Monitoring Technology (CMT):\nEnabled         : 0\n";
    assert_eq!(run(&h, &["psr-hwinfo"]), (253, cmt.into(), String::new()));
    assert_eq!(
        run(&h, &["psr-hwinfo", "-m"]),
        (0, cmt.into(), String::new())
    );
    assert_eq!(
        run(&h, &["psr-hwinfo", "-a"]),
        (253, String::new(), String::new())
    );
    assert_eq!(
        run(&h, &["psr-cmt-attach", "0"]),
        (
            253,
            String::new(),
            "libxl: error: CMT is not supported in this system: No such device\n".into()
        )
    );
    assert_eq!(
        run(&h, &["psr-cmt-show", "cache-occupancy"]),
        (255, String::new(), "CMT is disabled in the system\n".into())
    );
    assert_eq!(run(&h, &["psr-cmt-show", "bogus"]).0, 2);
    assert_eq!(
        run(&h, &["psr-cat-set", "0", "0xff"]),
        (
            253,
            String::new(),
            "libxl: error: L3 CAT: is not supported in this system\n".into()
        )
    );
    assert_eq!(
        run(&h, &["psr-cat-set", "-c", "-d", "0", "1"]),
        (
            1,
            String::new(),
            "Cannot handle -c and -d at the same time\n".into()
        )
    );
    // Sockets the host does not have: nothing to do.
    assert_eq!(run(&h, &["psr-cat-set", "-s", "1-3", "0", "1"]).0, 0);
    assert_eq!(
        run(&h, &["psr-mba-show", "0"]),
        (253, String::new(), "Failed to get info\n".into())
    );
    assert_eq!(
        run(&h, &["psr-cat-show", "-l", "4"]),
        (1, String::new(), "Input lvl 4 is wrong\n".into())
    );
    let (rc, _, e) = run(&h, &["psr-mba-set", "nosuch", "1"]);
    assert_eq!(
        (rc, e.as_str()),
        (1, "nosuch is an invalid domain identifier (rc=-6)\n")
    );
}

#[test]
fn config_update_stores_the_text_used_at_the_next_reboot() {
    let h = Host::new();
    h.create("cu", "");
    let id = h.domid("cu").unwrap();
    let cfg = h.config("cu2", "");
    let cfg_text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("\"cu2\"", "\"cu\"");
    std::fs::write(&cfg, &cfg_text).unwrap();
    let warning = "WARNING: xl now has better capability to manage domain configuration, \
                   avoid using this command when possible\n";
    let (rc, _, e) = run(
        &h,
        &["config-update", "cu", cfg.to_str().unwrap(), "memory=128"],
    );
    assert_eq!(
        (rc, e),
        (0, format!("{warning}setting dom{id} configuration\n"))
    );
    let stored: Vec<_> = std::fs::read_dir(h.path().join("lib"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "xl"))
        .collect();
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(
        std::fs::read_to_string(&stored[0]).unwrap(),
        format!("{cfg_text}\nmemory=128\n\n")
    );
    let (rc, o, _) = run(&h, &["-N", "config-update", "cu", cfg.to_str().unwrap()]);
    assert_eq!(rc, 0);
    assert!(
        o.starts_with("{\n    \"domid\": null,\n    \"config\": {\n"),
        "{o}"
    );
    let (rc, _, e) = run(&h, &["config-update", "cu"]);
    assert_eq!(
        (rc, e),
        (1, format!("{warning}Config file not specified\n"))
    );
    let (rc, _, e) = run(&h, &["config-update", "cu", "/nonexistent.cfg"]);
    assert_eq!(
        (rc, e),
        (
            253,
            format!(
                "{warning}Failed to read config file: /nonexistent.cfg: No such file or directory\n"
            )
        )
    );
    let (rc, _, e) = run(&h, &["config-update", "nosuch", cfg.to_str().unwrap()]);
    assert_eq!(
        (rc, e),
        (
            1,
            format!("{warning}nosuch is an invalid domain identifier (rc=-6)\n")
        )
    );
    // The reboot builds from the stored text (128 MiB) and uses it once.
    h.wait_for("boot", || h.xl(&["reboot", "cu"]).status.success());
    h.wait_for("cu to come back", || h.domid("cu").is_some_and(|d| d != id));
    let list = h.ok(&["list", "cu"]);
    assert!(list.lines().nth(1).unwrap().contains("   128 "), "{list}");
    assert!(!stored[0].exists());
    h.ok(&["destroy", "cu"]);
}

#[test]
fn remus_refuses_as_xl_and_leaves_the_guest_running() {
    let h = Host::new();
    h.create("r", "");
    let id = h.domid("r").unwrap();
    assert_eq!(
        run(&h, &["remus", "-p", "r", "backup"]),
        (
            255,
            String::new(),
            "Option -p must be used in conjunction with -c".into()
        )
    );
    assert_eq!(
        run(&h, &["remus", "-c", "-i", "100", "r", "backup"]),
        (
            255,
            String::new(),
            "option -c is conflict with -i, -d, -n or -b: Success\n".into()
        )
    );
    let (rc, _, e) = run(&h, &["remus", "-b", "r", "backup"]);
    assert_eq!(rc, 1);
    assert!(
        e.starts_with(&format!(
            "libxl: error: Domain {id}:Unsafe mode must be enabled to replicate to /dev/null,"
        )) && e.contains("Remus: Backup failed? resuming domain at primary.\n"),
        "{e}"
    );
    let (rc, _, e) = run(&h, &["remus", "-s", "false", "r", "backup"]);
    assert_eq!(rc, 1);
    assert!(
        e.contains("file/stream truncated reading banner from migration receiver stream"),
        "{e}"
    );
    // A backup that answers: this xl does not checkpoint, and says so.
    let (rc, _, e) = run(
        &h,
        &[
            "remus",
            "-s",
            "",
            "r",
            "printf 'xl migration receiver ready, send binary domain data.\\n'; cat >/dev/null",
        ],
    );
    assert_eq!(rc, 1);
    assert!(e.contains("Remus checkpointing is not implemented"), "{e}");
    assert_eq!(h.domid("r"), Some(id));
    assert!(!h.list().iter().any(|d| d.0 == "r" && d.4.contains('s')));
    h.ok(&["destroy", "r"]);
}

/// PCI passthrough on the simulated host (an IOMMU, a NIC bound to its
/// driver at 00:03.0, a device without one at 00:10.0): made assignable
/// (pciback, the driver noted), given to a guest by name and with
/// `seize`, listed, taken back, freed by destroy, rebound at the end.
#[test]
fn pci_devices_are_made_assignable_attached_detached_and_rebound() {
    let h = Host::new();
    let driver = |bdf: &str| {
        std::fs::read_link(h.path().join(format!("sys/bus/pci/devices/{bdf}/driver")))
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
    };
    assert_eq!(h.ok(&["pci-assignable-list"]), "");
    assert_eq!(driver("0000:00:03.0").as_deref(), Some("e1000"));
    h.ok(&["pci-assignable-add", "-n", "nic", "00:03.0"]);
    assert_eq!(driver("0000:00:03.0").as_deref(), Some("pciback"));
    assert_eq!(h.ok(&["pci-assignable-list", "-n"]), "0000:00:03.0 nic\n");
    let xs = h.xs();
    let noted = xs
        .try_read("/libxl/pci/0000-00-03-0/driver_path")
        .unwrap()
        .unwrap();
    assert!(noted.ends_with("/drivers/e1000"), "{noted}");
    // Names are checked as libxl checks them, and bad addresses refused.
    let o = h.xl(&["pci-assignable-add", "-n", "a b", "00:10.0"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("Names may only include printable characters"));
    let o = h.xl(&["pci-assignable-add", "garbage"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        "pci-assignable-add: malformed BDF \"garbage\"\n"
    );

    h.create("pt", "");
    let id = h.domid("pt").unwrap();
    h.ok(&["pci-attach", "pt", "name=nic"]);
    assert_eq!(
        h.ok(&["pci-list", "pt"]),
        "Vdev Device\n00.0 0000:00:03.0\n"
    );
    assert_eq!(h.ok(&["pci-assignable-list"]), "");
    let o = h.xl(&["pci-attach", "pt", "00:10.0"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains(&format!(
        "Domain {id}:PCI device 0:0:10.0 is not assignable"
    )));
    h.ok(&["pci-attach", "pt", "00:10.0@5,seize=1,permissive=1"]);
    assert_eq!(
        h.ok(&["pci-list", "pt"]),
        "Vdev Device\n00.0 0000:00:03.0\n05.0 0000:00:10.0\n"
    );
    let be = format!("/local/domain/0/backend/pci/{id}/0");
    assert_eq!(
        xs.try_read(&format!("{be}/opts-1")).unwrap().as_deref(),
        Some("msitranslate=0,power_mgmt=0,permissive=1,rdm_policy=strict")
    );
    let stored: String = std::fs::read_dir(h.path().join("lib"))
        .unwrap()
        .flatten()
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.starts_with(&format!("userdata-d.{id}.")) && n.ends_with(".libxl-json")
        })
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect();
    assert!(stored.contains("\"pcidevs\""), "{stored}");

    h.ok(&["pci-detach", "pt", "00:03.0"]);
    assert_eq!(
        h.ok(&["pci-list", "pt"]),
        "Vdev Device\n05.0 0000:00:10.0\n"
    );
    assert_eq!(h.ok(&["pci-assignable-list", "-n"]), "0000:00:03.0 nic\n");
    let o = h.xl(&["pci-detach", "pt", "00:03.0"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("PCI device not attached to this domain"));

    h.ok(&["destroy", "pt"]);
    let left: Vec<String> = h
        .store()
        .into_iter()
        .filter(|p| {
            p.contains("/backend/pci") || p.starts_with("/libxl/pci/") && p.ends_with("/domid")
        })
        .collect();
    assert!(left.is_empty(), "residue: {left:?}");
    let both = h.ok(&["pci-assignable-list"]);
    assert_eq!(both.lines().count(), 2, "{both}");

    h.ok(&["pci-assignable-remove", "-r", "nic"]);
    assert_eq!(driver("0000:00:03.0").as_deref(), Some("e1000"));
    assert_eq!(
        xs.try_read("/libxl/pci/0000-00-03-0/driver_path").unwrap(),
        None
    );
    h.ok(&["pci-assignable-remove", "00:10.0"]);
    assert_eq!(driver("0000:00:10.0"), None);
    assert_eq!(h.ok(&["pci-assignable-list"]), "");
}

/// USB controllers on the simulated host: a PVH guest has none to list,
/// and one it asks for needs QEMU's `qusb` backend, which it does not
/// run (libxl's refusal); version and port limits come first.
#[test]
fn usb_controllers_are_listed_and_refused_as_libxl_refuses_them() {
    let h = Host::new();
    h.create("u", "");
    let id = h.domid("u").unwrap();
    assert_eq!(h.ok(&["usb-list", "u"]), "");
    let o = h.xl(&["usbctrl-attach", "u"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        format!(
            "libxl: error: Domain {id}:device model required but not running\n\
             libxl: error: unable to add device\nlibxl_device_usbctrl_add failed.\n"
        )
    );
    let o = h.xl(&["usbctrl-attach", "u", "version=3"]);
    assert!(
        stderr(&o)
            .starts_with("libxl: error: USB version for paravirtualized devices must be 1 or 2\n")
    );
    let o = h.xl(&["usbctrl-detach", "u", "0"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        format!(
            "libxl: error: xenstore read failed: `/libxl/{id}/device/vusb/0': No such file or directory\n\
             Unknown device 0.\n"
        )
    );
    assert!(!h.store().iter().any(|p| p.contains("vusb")));
}

/// A host USB device in the simulated host's sysfs, as libxl finds them.
fn usb_sysfs_device(h: &Host, busid: &str, bus: u32, addr: u32, class: &str) {
    let d = h.path().join("sys/bus/usb/devices").join(busid);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("busnum"), format!("{bus}\n")).unwrap();
    std::fs::write(d.join("devnum"), format!("{addr}\n")).unwrap();
    std::fs::write(d.join("bDeviceClass"), format!("{class}\n")).unwrap();
}

/// usbctrl= and usbdev= at create, usbdev-attach and -detach on an HVM
/// guest's QEMU controllers: libxl's choice of ports, its refusals, and
/// a controller leaving with its devices.
#[test]
fn usb_devices_plug_into_an_hvm_guests_emulated_controllers() {
    let h = Host::new();
    usb_sysfs_device(&h, "usb1", 1, 1, "09");
    usb_sysfs_device(&h, "1-1", 1, 2, "00");
    usb_sysfs_device(&h, "1-2", 1, 3, "00");
    h.create(
        "u",
        "type = \"hvm\"\nusbctrl = [ \"version=3,ports=4\" ]\n\
         usbdev = [ \"hostbus=1,hostaddr=2,controller=0,port=2\" ]",
    );
    let id = booted(&h, "u");
    let xs = h.xs();
    let port = |p: u32| {
        xs.read(&format!("/libxl/{id}/device/vusb/0/port/{p}"))
            .unwrap()
    };
    assert_eq!(port(2), "1-1");
    let list = h.ok(&["usb-list", "u"]);
    assert_eq!(
        list,
        "Devid  Type         BE  state usb-ver ports\n\
         0      devicemodel  0   0     3       4    \n\
         \x20 Port 1:\n  Port 2: Bus 001 Device 002\n  Port 3:\n  Port 4:\n"
    );
    // The same device twice, a hub, a port without its controller.
    let refused = |args: &[&str], why: &str| {
        let o = h.xl(args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert_eq!(
            stderr(&o),
            format!(
                "libxl: error: Domain {id}:{why}\nlibxl: error: unable to add device\n\
                 libxl_device_usbdev_add failed.\n"
            ),
            "{args:?}"
        );
    };
    refused(
        &["usbdev-attach", "u", "hostbus=1", "hostaddr=2"],
        "USB device already attached to a domain",
    );
    refused(
        &["usbdev-attach", "u", "hostbus=1", "hostaddr=1"],
        "USB device is not assignable.",
    );
    refused(
        &["usbdev-attach", "u", "hostbus=1", "hostaddr=3", "port=1"],
        "USB controller must be specified if you specify port",
    );
    refused(
        &[
            "usbdev-attach",
            "u",
            "hostbus=1",
            "hostaddr=3",
            "controller=0",
            "port=2",
        ],
        "The controller port isn't available",
    );
    // Without a controller or port: the first free port.
    h.ok(&["usbdev-attach", "u", "hostbus=1", "hostaddr=3"]);
    assert_eq!(port(1), "1-2");
    let stored = |h: &Host| {
        let lib = h.path().join("lib");
        let f = std::fs::read_dir(&lib)
            .unwrap()
            .flatten()
            .find(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                n.starts_with(&format!("userdata-d.{id}.")) && n.ends_with(".libxl-json")
            })
            .unwrap();
        let bytes = std::fs::read(f.path()).unwrap();
        // libxl's files end with a NUL.
        let text = bytes.split(|b| *b == 0).next().unwrap().to_vec();
        let v: serde_json::Value = serde_json::from_slice(&text).unwrap();
        v["usbdevs"].clone()
    };
    assert!(
        stored(&h)
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["ctrl"] == 0 && d["port"] == 1 && d["type.hostdev"]["hostaddr"] == 3),
        "{}",
        stored(&h)
    );
    h.ok(&["usbdev-detach", "u", "0", "2"]);
    assert_eq!(port(2), "");
    let o = h.xl(&["usbdev-detach", "u", "0", "2"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o), "Unknown device at controller 0 port 2.\n");
    let o = h.xl(&["usbdev-detach", "u", "0", "1", "x"]);
    assert_eq!(
        (o.status.code(), stderr(&o)),
        (Some(1), "Invalid arguments.\n".into())
    );
    // The controller goes with the device it still has.
    h.ok(&["usbctrl-detach", "u", "0"]);
    assert_eq!(h.ok(&["usb-list", "u"]), "");
    // No controller at all: libxl makes a default one in xenstore only,
    // which QEMU has never heard of, so QEMU refuses the device (libxl
    // leaves the controller).
    let o = h.xl(&["usbdev-attach", "u", "hostbus=1", "hostaddr=2"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        format!(
            "libxl: error: Domain {id}:Bus 'xenusb-0.0' not found\n\
             libxl: error: unable to add device\nlibxl_device_usbdev_add failed.\n"
        )
    );
    assert!(h.ok(&["usb-list", "u"]).starts_with("Devid  Type"));
    assert_eq!(port(1), "");
    h.ok(&["destroy", "u"]);
    assert!(guest_residue(&h).is_empty(), "{:?}", guest_residue(&h));
}

/// A create whose USB device QEMU refuses fails and leaves nothing.
#[test]
fn a_refused_usb_device_fails_the_create() {
    let h = Host::new();
    usb_sysfs_device(&h, "1-1", 1, 2, "00");
    h.ok(&["list"]);
    let before = h.store();
    let cfg = h.config("u", "type = \"hvm\"\nusbdev = [ \"hostbus=1,hostaddr=2\" ]");
    let o = h.xl(&["create", cfg.to_str().unwrap()]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(
        err.contains(":unable to add vusb devices: ") && err.contains("Bus 'xenusb-0.0' not found"),
        "{err}"
    );
    assert_eq!(h.list().len(), 1, "a domain was left behind");
    // libxl makes /libxl and dom0's device-model directory once, for good.
    let kept = |p: &String| p != "/libxl" && p != "/local/domain/0/device-model";
    let after: Vec<String> = h.store().into_iter().filter(kept).collect();
    let before: Vec<String> = before.into_iter().filter(kept).collect();
    assert_eq!(after, before, "xenstore residue");
}

/// vtpm=, vdispl= and vsnd= at create: written and connected as libxl
/// adds them (the simulator's backends answer).
#[test]
fn vtpm_vdispl_and_vsnd_are_added_at_create() {
    let h = Host::new();
    let uuid = "5a7c1d52-0b9b-4b8e-a2f5-2b1e7c111111";
    h.create(
        "v",
        &format!(
            "vtpm = [ \"backend=0,uuid={uuid}\" ]\n\
             vdispl = [ \"connectors=id0:800x600\" ]\n\
             vsnd = [ [ \"card, short-name=Card0\", \"pcm, name=dev0\", \"stream, unique-id=s0, type=p\" ] ]"
        ),
    );
    let id = h.domid("v").unwrap();
    let xs = h.xs();
    assert_eq!(
        xs.read(&format!("/local/domain/0/backend/vtpm/{id}/0/uuid"))
            .unwrap(),
        uuid
    );
    assert_eq!(
        xs.read(&format!("/local/domain/{id}/device/vdispl/0/0/resolution"))
            .unwrap(),
        "800x600"
    );
    assert_eq!(
        xs.read(&format!("/local/domain/{id}/device/vsnd/0/short-name"))
            .unwrap(),
        "Card0"
    );
    let vtpms = h.ok(&["vtpm-list", "v"]);
    assert!(
        vtpms
            .lines()
            .nth(1)
            .unwrap_or_default()
            .starts_with(&format!("0   0  {uuid}")),
        "{vtpms}"
    );
    h.ok(&["destroy", "v"]);
    assert!(guest_residue(&h).is_empty(), "{:?}", guest_residue(&h));
}

/// The section `name` of the core file `f`.
fn core_section<'a>(
    f: &'a object::read::elf::ElfFile64<'a, object::LittleEndian>,
    name: &str,
) -> &'a [u8] {
    use object::{Object, ObjectSection};
    f.section_by_name(name)
        .unwrap_or_else(|| panic!("no {name}"))
        .data()
        .unwrap()
}

fn core_u64s(b: &[u8]) -> Vec<u64> {
    b.chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

#[test]
fn dump_core_writes_libxcs_core_file_of_the_running_guest() {
    use object::Object;
    let h = Host::new();
    h.create("core", "");
    let id = booted(&h, "core");
    let fresh = h.path().join("fresh.dump");
    h.ok(&["dump-core", "core", fresh.to_str().unwrap()]);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&fresh).unwrap().permissions().mode();
    assert_eq!(
        mode & 0o777,
        0o600,
        "a new file is made 0600, as libxc makes it"
    );
    let file = h.path().join("core.dump");
    std::fs::write(&file, vec![1u8; 3 * 4096 * 1024]).unwrap();
    let o = h.xl(&["dump-core", "core", file.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "");
    assert_eq!(stderr(&o), "");
    // libxc does not pause the domain.
    let row = h.list().into_iter().find(|r| r.0 == "core").unwrap();
    assert_eq!((row.1, row.4.as_str()), (id, "-b----"));

    let bytes = std::fs::read(&file).unwrap();
    let f = object::read::elf::ElfFile64::<object::LittleEndian>::parse(&bytes[..]).unwrap();
    assert_eq!(f.kind(), object::ObjectKind::Core);
    assert!(
        f.section_by_name(".xen_p2m").is_none(),
        "a PVH guest is translated"
    );
    let notes = core_section(&f, ".note.Xen");
    // The header note: HVM magic, 2 vCPUs, 256 MiB of pages, 4 KiB each.
    assert_eq!(core_u64s(&notes[32..64]), [0xF00F_EBEE, 2, 65536, 4096]);
    assert_eq!(core_section(&f, ".xen_prstatus").len(), 2 * 5168);
    let pfns = core_u64s(core_section(&f, ".xen_pfn"));
    assert_eq!(pfns.len(), 65536);
    assert_eq!(
        (pfns[0x9f], pfns[0xa0]),
        (0x9f, 0xc0),
        "the VGA hole is left out"
    );
    let pages = core_section(&f, ".xen_pages");
    assert_eq!(
        pages.len(),
        65536 * 4096,
        "the old, longer file was truncated"
    );
    let memory = String::from_utf8_lossy(&pages[..4096]);
    assert!(memory.contains("\"name\":\"core\""), "{memory}");
}

#[test]
fn dump_core_failures_say_so_as_xl_does() {
    let h = Host::new();
    h.create("core", "");
    booted(&h, "core");
    let file = h.path().join("none.dump");
    let o = h.xl(&["dump-core", "nosuch", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        "nosuch is an invalid domain identifier (rc=-6)\n"
    );
    assert!(!file.exists(), "no file for an unknown domain");

    let bad = h.path().join("no/such/dir/core.dump");
    let b = bad.to_str().unwrap();
    let o = h.xl(&["dump-core", "core", b]);
    assert_eq!(o.status.code(), Some(1));
    let id = h.domid("core").unwrap();
    assert_eq!(
        stderr(&o),
        format!(
            "xc: error: Could not open corefile {b} (2 = No such file or directory): Internal error\n\
             libxl: error: Domain {id}:Core dumping domain to {b}: No such file or directory\n\
             core dump failed (rc=-3)\n"
        )
    );

    let o = h.xl(&["dump-core", "core"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("'xl dump-core' requires at least 2 arguments."));
}
