//! A simulated guest: what it prints on its console and how it answers
//! its user and the toolstack. Time is the guest's own clock (ms of
//! unpaused run time), so a paused guest stops mid-boot like a real one.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use xl_toolstack::GuestKind;

/// What the guest asks the hypervisor for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Exit {
    /// Power off (SHUTDOWN_poweroff): `poweroff`, `halt`, sysrq `o`.
    Poweroff,
    /// Restart (SHUTDOWN_reboot): `reboot`, sysrq `b`.
    Reboot,
    /// Crash (SHUTDOWN_crash): a kernel panic, e.g. sysrq `c`.
    Crash,
    /// Suspended for a save (SHUTDOWN_suspend).
    Suspend,
}

/// Guest-side I/O totals (`tx` is what the guest sent).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GuestIo {
    /// Disk read requests.
    pub rd_reqs: u64,
    /// Sectors read (512 bytes each).
    pub rd_sects: u64,
    /// Disk write requests.
    pub wr_reqs: u64,
    /// Sectors written (512 bytes each).
    pub wr_sects: u64,
    /// Network packets sent by the guest.
    pub tx_packets: u64,
    /// Bytes sent by the guest.
    pub tx_bytes: u64,
    /// Network packets received by the guest.
    pub rx_packets: u64,
    /// Bytes received by the guest.
    pub rx_bytes: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Phase {
    Booting,
    Login,
    Shell,
    Halting,
}

/// All of a guest's state: a save carries it whole, as a real save
/// carries the guest's memory.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Guest {
    /// Domain name, used as the guest's hostname.
    pub name: String,
    /// Guest type (PV, PVH or HVM).
    pub kind: GuestKind,
    cmdline: String,
    memkb: u64,
    vcpus: u32,
    /// Guest clock, ms of run time.
    pub clock_ms: u64,
    /// Lines due at a guest-clock time.
    queue: VecDeque<(u64, String)>,
    phase: Phase,
    line: String,
    exit: Option<(u64, Exit)>,
    booted: bool,
    /// Guest clock when the boot finished.
    booted_at: Option<u64>,
    /// `xlsim.poweroff_after=SECS` on the kernel command line: power off
    /// that long after the login prompt unless someone logs in (lets
    /// demos and scripts run unattended).
    auto_poweroff_ms: Option<u64>,
    /// The CPU features its CPUID policy gives it, as the boot log lists them.
    #[serde(default)]
    cpu_flags: Vec<String>,
}

/// Kernel log timestamp as Linux prints it.
fn stamp(ms: u64) -> String {
    format!("[{:5}.{:06}] ", ms / 1000, (ms % 1000) * 1000)
}

impl Guest {
    /// A guest at the start of its boot, as the domain builder loads it:
    /// `cmdline` is its kernel command line, `memkb` its memory in KiB and
    /// `vcpus` its vCPUs online at boot.
    pub fn new(name: &str, kind: GuestKind, cmdline: &str, memkb: u64, vcpus: u32) -> Guest {
        Guest::with_cpu_flags(name, kind, cmdline, memkb, vcpus, Vec::new())
    }

    /// The same, with the CPU features its CPUID policy gives it.
    pub fn with_cpu_flags(
        name: &str,
        kind: GuestKind,
        cmdline: &str,
        memkb: u64,
        vcpus: u32,
        cpu_flags: Vec<String>,
    ) -> Guest {
        let mut g = Guest {
            name: name.to_string(),
            kind,
            cmdline: cmdline.to_string(),
            memkb,
            vcpus,
            clock_ms: 0,
            queue: VecDeque::new(),
            phase: Phase::Booting,
            line: String::new(),
            exit: None,
            booted: false,
            booted_at: None,
            auto_poweroff_ms: cmdline
                .split_whitespace()
                .find_map(|w| w.strip_prefix("xlsim.poweroff_after="))
                .and_then(|v| v.parse::<u64>().ok())
                .map(|s| s * 1000),
            cpu_flags,
        };
        g.queue_boot();
        g
    }

    fn at(&mut self, ms: u64, text: String) {
        self.queue.push_back((ms, text));
    }

    fn kmsg(&mut self, ms: u64, text: &str) {
        self.at(ms, format!("{}{text}\r\n", stamp(ms)));
    }

    fn queue_boot(&mut self) {
        let hvm = self.kind == GuestKind::Hvm;
        let mut t = 0;
        if hvm {
            self.at(0, "SeaBIOS (version 1.16.2-debian-1.16.2-1)\r\n".into());
            self.at(150, "Booting from Hard Disk...\r\n".into());
            t = 400;
        }
        let platform = match self.kind {
            GuestKind::Pv => "Xen PV",
            GuestKind::Pvh => "Xen PVH",
            GuestKind::Hvm => "Xen HVM",
        };
        let mb = self.memkb / 1024;
        let cpu = if self.cpu_flags.is_empty() {
            "CPU: no CPUID policy".to_string()
        } else {
            format!("CPU flags: {}", self.cpu_flags.join(" "))
        };
        let lines = [
            "Linux version 6.1.0-sim-amd64 (xl simulator) #1 SMP PREEMPT_DYNAMIC".to_string(),
            format!("Command line: {}", self.cmdline),
            format!("Hypervisor detected: {platform}"),
            cpu,
            format!("Memory: {mb}M available"),
            format!("smp: Brought up 1 node, {} CPUs", self.vcpus),
            "xen:grant_table: Grant tables using version 1 layout".into(),
            "xen:balloon: Initialising balloon driver".into(),
            "Freeing unused kernel image (initmem) memory: 2048K".into(),
            "Run /sbin/init as init process".into(),
        ];
        for (i, l) in lines.iter().enumerate() {
            // Kernel messages are stamped with the kernel's own uptime.
            let ms = t + 60 * i as u64;
            let k = ms - t;
            self.at(ms, format!("{}{l}\r\n", stamp(k)));
        }
        let t = t + 60 * lines.len() as u64 + 300;
        self.at(
            t,
            format!("\r\nWelcome to {} (simulated by xl)!\r\n\r\n", self.name),
        );
        self.at(
            t + 200,
            "[  OK  ] Reached target Multi-User System.\r\n".into(),
        );
        let prompt = self.login_prompt();
        self.at(t + 400, prompt);
    }

    fn login_prompt(&self) -> String {
        format!(
            "\r\nDebian GNU/Linux 12 {} hvc0\r\n\r\n{} login: ",
            self.name, self.name
        )
    }

    fn shell_prompt(&self) -> String {
        format!("root@{}:~# ", self.name)
    }

    /// Whether the boot has finished (PV drivers up, devices connected).
    /// True once, at the first call after the login prompt is out.
    pub fn take_booted(&mut self) -> bool {
        if !self.booted && self.phase == Phase::Booting && self.queue.is_empty() {
            self.booted = true;
            self.booted_at = Some(self.clock_ms);
            self.phase = Phase::Login;
            if let Some(after) = self.auto_poweroff_ms {
                self.auto_poweroff_ms = Some(self.clock_ms + after);
            }
            return true;
        }
        false
    }

    /// The guest's disk and network traffic so far, a function of its
    /// clock: the boot reads its root disk hard, then a running system
    /// writes a journal entry a second and sees broadcast traffic.
    pub fn io(&self) -> GuestIo {
        let boot = self.booted_at.unwrap_or(self.clock_ms);
        let up = self.clock_ms - boot;
        let rd_reqs = boot * 3 / 10 + up / 2000;
        let wr_reqs = boot / 100 + up / 1000;
        let (mut net_tx, mut net_rx) = ((0, 0), (0, 0));
        if self.booted_at.is_some() {
            // DHCP at the end of the boot, then ARP broadcasts in and a
            // keepalive out.
            net_tx = (2 + up / 10_000, 684 + (up / 10_000) * 98);
            net_rx = (2 + up / 2000, 684 + (up / 2000) * 60);
        }
        GuestIo {
            rd_reqs,
            rd_sects: rd_reqs * 16,
            wr_reqs,
            wr_sects: wr_reqs * 8,
            tx_packets: net_tx.0,
            tx_bytes: net_tx.1,
            rx_packets: net_rx.0,
            rx_bytes: net_rx.1,
        }
    }

    /// Whether the boot is over (its PV drivers are up).
    pub fn booted(&self) -> bool {
        self.booted
    }

    /// Whether it is booting or halting, when it uses its vCPUs fully
    /// (otherwise it idles).
    pub fn busy(&self) -> bool {
        self.phase == Phase::Booting || self.phase == Phase::Halting
    }

    /// Advance the guest clock; returns console output now due and an
    /// exit the guest performs.
    pub fn advance(&mut self, ms: u64) -> (Vec<u8>, Option<Exit>) {
        self.clock_ms += ms;
        let mut out = Vec::new();
        while let Some((due, _)) = self.queue.front() {
            if *due > self.clock_ms {
                break;
            }
            if let Some((_, text)) = self.queue.pop_front() {
                out.extend_from_slice(text.as_bytes());
            }
        }
        if let Some(due) = self.auto_poweroff_ms
            && self.booted
            && self.clock_ms >= due
        {
            self.auto_poweroff_ms = None;
            if self.phase == Phase::Login {
                let t = self.clock_ms;
                self.at(t, "\r\n".into());
                self.kmsg(t, "systemd-logind: Power key pressed short.");
                self.halt(Exit::Poweroff);
            }
        }
        let exit = match self.exit {
            Some((due, e)) if due <= self.clock_ms && self.queue.is_empty() => {
                self.exit = None;
                Some(e)
            }
            _ => None,
        };
        (out, exit)
    }

    fn halt(&mut self, how: Exit) {
        if self.phase == Phase::Halting {
            return;
        }
        let booting = self.phase == Phase::Booting;
        self.phase = Phase::Halting;
        let mut t = self.clock_ms.max(self.queue.back().map_or(0, |q| q.0));
        // Whatever was still to come of the boot is cut short.
        if booting {
            self.queue.clear();
        }
        if how != Exit::Crash {
            for l in [
                "\r\n[  OK  ] Stopped target Multi-User System.\r\n",
                "[  OK  ] Stopped Getty on hvc0.\r\n",
                "[  OK  ] Unmounted /home.\r\n",
                "[  OK  ] Reached target System Shutdown.\r\n",
            ] {
                t += 80;
                self.at(t, l.to_string());
            }
            t += 100;
            let msg = match how {
                Exit::Reboot => "reboot: Restarting system",
                _ => "reboot: Power down",
            };
            self.kmsg(t, msg);
        } else {
            t += 20;
            self.kmsg(t, "Kernel panic - not syncing: sysrq triggered crash");
        }
        self.exit = Some((t + 50, how));
    }

    /// The toolstack wrote `control/shutdown`. Returns whether the guest
    /// understood (and so acknowledges by clearing the node).
    pub fn control_shutdown(&mut self, what: &str) -> bool {
        match what {
            "poweroff" | "halt" => self.halt(Exit::Poweroff),
            "reboot" => self.halt(Exit::Reboot),
            "suspend" => self.suspend(),
            _ => return false,
        }
        true
    }

    /// Linux's PV suspend: processes frozen, xenstore quiesced, then
    /// SCHEDOP_shutdown(suspend).
    fn suspend(&mut self) {
        let t = self.clock_ms.max(self.queue.back().map_or(0, |q| q.0));
        self.kmsg(
            t,
            "Freezing user space processes ... (elapsed 0.001 seconds) done.",
        );
        self.kmsg(t + 1, "OOM killer disabled.");
        self.kmsg(t + 2, "suspending xenstore...");
        self.exit = Some((t + 5, Exit::Suspend));
    }

    /// Back from a suspend: the same guest on a new (or the same) domain,
    /// its clock and everything it was doing as they were.
    pub fn resumed(&mut self) {
        let t = self.clock_ms;
        self.exit = None;
        self.kmsg(t, "xen:grant_table: Grant tables using version 1 layout");
        self.kmsg(t, "OOM killer enabled.");
        self.kmsg(t, "Restarting tasks ... done.");
        self.kmsg(t, "xen: resumed after suspend (xl simulator)");
    }

    /// ACPI power button (HVM/PVH) or `xl trigger power`.
    pub fn power_button(&mut self) {
        let t = self.clock_ms;
        self.kmsg(t, "ACPI: button: The power button was pressed");
        self.halt(Exit::Poweroff);
    }

    /// `xl sysrq`: Linux's magic SysRq keys that matter to a toolstack.
    pub fn sysrq(&mut self, key: char) {
        let t = self.clock_ms;
        match key {
            'c' => {
                self.kmsg(t, "sysrq: Trigger a crash");
                self.halt(Exit::Crash);
            }
            'b' => {
                self.kmsg(t, "sysrq: Resetting");
                self.exit = Some((t, Exit::Reboot));
                self.phase = Phase::Halting;
            }
            'o' => {
                self.kmsg(t, "sysrq: Power Off");
                self.exit = Some((t, Exit::Poweroff));
                self.phase = Phase::Halting;
            }
            'h' => self.kmsg(
                t,
                "sysrq: HELP : loglevel(0-9) reboot(b) crash(c) show-all-locks(d) \
                 terminate-all-tasks(e) memory-full-oom-kill(f) kill-all-tasks(i) \
                 thaw-filesystems(j) sak(k) show-memory-usage(m) nice-all-RT-tasks(n) \
                 poweroff(o) show-registers(p) show-all-timers(q) unraw(r) sync(s) \
                 show-task-states(t) unmount(u) show-blocked-tasks(w)",
            ),
            's' => self.kmsg(t, "sysrq: Emergency Sync"),
            'm' => self.kmsg(t, "sysrq: Show Memory"),
            _ => self.kmsg(t, &format!("sysrq: {key}")),
        }
    }

    /// An NMI arrives (`xl trigger nmi`): the kernel logs it and runs on.
    pub fn nmi(&mut self) {
        let t = self.clock_ms;
        self.kmsg(t, "Uhhuh. NMI received for unknown reason 00 on CPU 0.");
    }

    /// Keys typed on the console. Returns the echo and replies.
    pub fn input(&mut self, bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        if !matches!(self.phase, Phase::Login | Phase::Shell) {
            return out;
        }
        for &b in bytes {
            match b {
                b'\r' | b'\n' => {
                    out.extend_from_slice(b"\r\n");
                    let line = std::mem::take(&mut self.line);
                    out.extend_from_slice(self.enter(line.trim()).as_bytes());
                    if self.phase == Phase::Halting {
                        break;
                    }
                }
                0x7f | 0x08 if self.line.pop().is_some() => {
                    out.extend_from_slice(b"\x08 \x08");
                }
                0x03 => {
                    self.line.clear();
                    out.extend_from_slice(b"^C\r\n");
                    out.extend_from_slice(self.prompt().as_bytes());
                }
                0x20..=0x7e => {
                    self.line.push(b as char);
                    out.push(b);
                }
                _ => {}
            }
        }
        out
    }

    fn prompt(&self) -> String {
        match self.phase {
            Phase::Shell => self.shell_prompt(),
            _ => format!("{} login: ", self.name),
        }
    }

    fn enter(&mut self, line: &str) -> String {
        match self.phase {
            Phase::Login if line.is_empty() => format!("{} login: ", self.name),
            Phase::Login => {
                self.phase = Phase::Shell;
                format!(
                    "Linux {} 6.1.0-sim-amd64 #1 SMP (simulated by xl)\r\n\r\n{}",
                    self.name,
                    self.shell_prompt()
                )
            }
            Phase::Shell => {
                let reply = match line.split_whitespace().next().unwrap_or("") {
                    "" => String::new(),
                    "poweroff" | "halt" | "shutdown" => {
                        self.halt(Exit::Poweroff);
                        return String::new();
                    }
                    "reboot" => {
                        self.halt(Exit::Reboot);
                        return String::new();
                    }
                    "exit" | "logout" => {
                        self.phase = Phase::Login;
                        return self.login_prompt();
                    }
                    "uname" => "Linux\r\n".into(),
                    "hostname" => format!("{}\r\n", self.name),
                    "uptime" => format!(" up {} sec\r\n", self.clock_ms / 1000),
                    "free" => format!("               total\r\nMem:        {:>8}\r\n", self.memkb),
                    "nproc" => format!("{}\r\n", self.vcpus),
                    "echo" => format!("{}\r\n", line.get(5..).unwrap_or("")),
                    other => format!("-bash: {other}: command not found\r\n"),
                };
                format!("{reply}{}", self.shell_prompt())
            }
            _ => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(b: &[u8]) -> String {
        String::from_utf8_lossy(b).into_owned()
    }

    #[test]
    fn boots_to_a_login_prompt_over_time() {
        let mut g = Guest::new("web", GuestKind::Pv, "console=hvc0", 512 * 1024, 2);
        let (first, _) = g.advance(0);
        assert!(text(&first).contains("Linux version"));
        assert!(!g.take_booted());
        let (rest, exit) = g.advance(10_000);
        let rest = text(&rest);
        assert!(rest.contains("Command line: console=hvc0"));
        assert!(rest.ends_with("web login: "));
        assert_eq!(exit, None);
        assert!(g.take_booted());
        assert!(!g.take_booted());
    }

    #[test]
    fn answers_shutdown_requests() {
        let mut g = Guest::new("web", GuestKind::Pv, "", 1024, 1);
        g.advance(10_000);
        assert!(!g.control_shutdown("hibernate"));
        assert!(g.control_shutdown("reboot"));
        let (out, exit) = g.advance(10_000);
        assert!(text(&out).contains("reboot: Restarting system"));
        assert_eq!(exit, Some(Exit::Reboot));
    }

    #[test]
    fn suspends_and_resumes_where_it_was() {
        let mut g = Guest::new("web", GuestKind::Pv, "", 1024, 1);
        g.advance(10_000);
        g.take_booted();
        let clock = g.clock_ms;
        assert!(g.control_shutdown("suspend"));
        let (out, exit) = g.advance(100);
        assert!(text(&out).contains("Freezing user space processes"));
        assert_eq!(exit, Some(Exit::Suspend));
        // The saved guest is the guest: its clock and phase come back.
        let mut back: Guest = serde_json::from_str(&serde_json::to_string(&g).unwrap()).unwrap();
        back.resumed();
        let (out, exit) = back.advance(0);
        assert!(text(&out).contains("Restarting tasks ... done."));
        assert_eq!(exit, None);
        assert!(back.booted() && back.clock_ms >= clock);
        assert!(text(&back.input(b"root\r")).ends_with("root@web:~# "));
    }

    #[test]
    fn crash_and_shell() {
        let mut g = Guest::new("db", GuestKind::Hvm, "", 1024, 1);
        g.advance(10_000);
        g.take_booted();
        let out = text(&g.input(b"root\r"));
        assert!(out.ends_with("root@db:~# "));
        let out = text(&g.input(b"hostname\r"));
        assert!(out.contains("db\r\n"));
        g.sysrq('c');
        let (out, exit) = g.advance(1000);
        assert!(text(&out).contains("Kernel panic"));
        assert_eq!(exit, Some(Exit::Crash));
    }

    #[test]
    fn powers_off_by_itself_when_asked_on_the_command_line() {
        let mut g = Guest::new("demo", GuestKind::Pv, "xlsim.poweroff_after=2", 1024, 1);
        g.advance(10_000);
        assert!(g.take_booted());
        let (_, exit) = g.advance(1000);
        assert_eq!(exit, None);
        let (out, exit) = g.advance(1500);
        let (more, exit2) = g.advance(5000);
        assert!(text(&out).contains("Power key") || text(&more).contains("Power key"));
        assert_eq!(exit.or(exit2), Some(Exit::Poweroff));
    }

    #[test]
    fn poweroff_from_the_shell() {
        let mut g = Guest::new("db", GuestKind::Pvh, "", 1024, 1);
        g.advance(10_000);
        g.take_booted();
        g.input(b"root\r");
        g.input(b"poweroff\r");
        let (out, exit) = g.advance(5000);
        assert!(text(&out).contains("Power down"));
        assert_eq!(exit, Some(Exit::Poweroff));
    }
}
