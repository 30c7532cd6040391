//! `xl save`, `xl restore`, `xl migrate` and `xl migrate-receive`: xl's
//! save-file header and migration handshake around libxl's stream, with
//! xl 4.17's messages and exit statuses.

use std::io::{BufWriter, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use xenstore::Xs;
use xl_config::DomainConfig;
use xl_savefile::{FormatError, XlHeader};
use xl_toolstack::create::Image;
use xl_toolstack::saverestore::{self, SHUTDOWN_SUSPEND};
use xl_toolstack::{Host, destroy, names};

use super::create::{create_one_from, host_facts, monitor, spawn_console, spawn_monitor_json};
use super::{Ctx, Exit, Outcome, err, fail, strerror};
use crate::cmdtable::{self, Opts};
use crate::{GlobalOpts, Status, backend};

pub(super) const BANNER: &[u8] = b"xl migration receiver ready, send binary domain data.\n";
// The three below go over the wire with their terminating NUL, as xl
// sends them (sizeof of a C string).
const READY: &[u8] = b"domain received, ready to unpause\0";
const GO: &[u8] = b"domain is yours, you are cleared to unpause\0";
const REPORT: &[u8] = b"my copy unpause results are as follows\0";
/// Where xl says a migration's stream comes from.
const INCOMING: &str = "<incoming migration stream>";

/// What `xl save -c`/`-p` and a plain save do with the domain once it is
/// written: leave it running, paused, or destroy it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum After {
    Resume,
    Pause,
    Destroy,
}

/// `xl save [-c] [-p] [-D] <Domain> <CheckpointFile> [<ConfigFile>]`.
pub fn save(cx: &Ctx, opts: Opts) -> Outcome {
    let ops = opts.operands();
    if ops.len() > 3 {
        return Err(cx.help(1));
    }
    let domid = cx.domain(&ops[0])?;
    let (host, xs) = cx.connect()?;
    let file = &ops[1];
    let json = config_to_save(host, xs, domid, ops.get(2), opts.flag('D'), cx.xlconf)?;
    let after = if opts.flag('p') {
        After::Pause
    } else if opts.flag('c') {
        After::Resume
    } else {
        After::Destroy
    };
    let f = match std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .open(crate::args::to_os(file))
    {
        Ok(f) => f,
        Err(_) => return fail(format!("Failed to open temp file {file} for writing\n")),
    };
    let mut w = BufWriter::new(f);
    if let Err(exit) = write_header(&mut w, file, &json) {
        let _ = std::fs::remove_file(crate::args::to_os(file));
        return Err(exit);
    }
    match saverestore::save(host, xs, domid, &mut w) {
        Ok(()) => Ok(finish_save(host, xs, domid, after)),
        Err(e) => {
            err(&format!(
                "libxl: error: Domain {domid}:saving domain: {}\n",
                backend::chain(&e)
            ));
            err("Failed to save domain, resuming domain\n");
            resume_if_suspended(host, xs, domid);
            // What was written is no save file; leave none behind.
            drop(w);
            let _ = std::fs::remove_file(crate::args::to_os(file));
            Err(Exit(1))
        }
    }
}

/// The config a save or migration carries, as JSON: the domain's own, or
/// the override file's (parsed as `xl create` would).
pub(super) fn config_to_save(
    host: &Host,
    xs: &Xs,
    domid: u32,
    override_file: Option<&String>,
    preserve_domid: bool,
    xlconf: &xl_config::Globals,
) -> Result<String, Exit> {
    if let Some(path) = override_file {
        let Ok(data) = std::fs::read(crate::args::to_os(path)) else {
            return fail("unable to read overridden config file\n");
        };
        let cfg = parse_text(path, &data, xlconf)?;
        return Ok(cfg.to_json().to_yajl());
    }
    match saverestore::saved_config(host, xs, domid, preserve_domid) {
        Ok(r) => {
            for l in &r.log {
                err(&format!(
                    "libxl: {}: Domain {}:{}\n",
                    l.level, l.domid, l.message
                ));
            }
            Ok(r.config.to_yajl())
        }
        Err(e) => {
            err(&format!(
                "libxl: error: Domain {domid}:Fail to get domain configuration: {}\n",
                backend::chain(&e)
            ));
            fail("unable to retrieve domain configuration\n")
        }
    }
}

/// xl.cfg text parsed as `xl create` parses it; its messages printed.
fn parse_text(
    source: &str,
    data: &[u8],
    xlconf: &xl_config::Globals,
) -> Result<DomainConfig, Exit> {
    let text = String::from_utf8_lossy(data);
    let mut report = xl_config::Report::new();
    let parsed = xl_config::parse_config_data(source, &text, xlconf, &host_facts(), &mut report);
    err(report.as_str());
    parsed.map_err(|xl_config::Exit(code)| Exit(code))
}

pub(super) fn write_header(w: &mut dyn Write, source: &str, json: &str) -> Result<(), Exit> {
    let h = XlHeader::with_json_config(json);
    if let Err(e) = xl_savefile::write_xl_header(w, &h) {
        return fail(format!(
            "libxl: error: writing header to {source}: {}\n",
            strerror(&e)
        ));
    }
    err(&format!(
        "Saving to {source} new xl format (info 0x{:x}/0x{:x}/{})\n",
        h.mandatory_flags,
        h.optional_flags,
        h.optional_data_len()
    ));
    Ok(())
}

/// After a save: destroy the domain, or let it run on (paused for `-p`).
fn finish_save(host: &Host, xs: &Xs, domid: u32, after: After) -> Status {
    let result = match after {
        After::Destroy => destroy::destroy(host, xs, domid)
            .map(|_| ())
            .map_err(|e| backend::chain(&e)),
        After::Pause | After::Resume => {
            let paused = if after == After::Pause {
                host.hv.pause(domid)
            } else {
                Ok(())
            };
            paused
                .and_then(|()| saverestore::resume(host, xs, domid))
                .map_err(|e| backend::chain(&e))
        }
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            // The file is complete; what failed is the domain's aftercare.
            err(&format!("libxl: error: Domain {domid}:{e}\n"));
            0
        }
    }
}

/// A failed save or migration gives the guest back its domain, if it
/// got as far as suspending.
fn resume_if_suspended(host: &Host, xs: &Xs, domid: u32) -> bool {
    let suspended = matches!(host.hv.domain(domid),
        Ok(Some(d)) if d.shutdown && d.shutdown_reason == SHUTDOWN_SUSPEND);
    if !suspended {
        return true;
    }
    match saverestore::resume(host, xs, domid) {
        Ok(()) => true,
        Err(e) => {
            err(&format!(
                "libxl: error: Domain {domid}:cannot resume: {}\n",
                backend::chain(&e)
            ));
            false
        }
    }
}

/// The config of a domain being restored: from the command line, or the
/// one in the save file.
fn read_header_and_config(
    input: &mut dyn Read,
    source: &str,
    config_file: Option<&str>,
    xlconf: &xl_config::Globals,
) -> Result<DomainConfig, Exit> {
    let truncated = |what: &str| {
        fail(format!(
            "libxl: error: file/stream truncated reading {what} from {source}\n"
        ))
    };
    let prefix = match xl_savefile::read_xl_prefix(input) {
        Ok(p) => p,
        Err(FormatError::WrongMagic) => {
            err("File has wrong magic number - corrupt or for a different tool?\n");
            return fail(format!("xl: {source} is not a domain saved by xl\n"));
        }
        Err(FormatError::WrongByteOrder(_)) => return fail("File has wrong byte order\n"),
        Err(FormatError::Truncated(_)) => return truncated("header"),
        Err(e) => return fail(format!("xl: {source}: {}\n", backend::chain(&e))),
    };
    err(&format!(
        "Loading new save file {source} (new xl fmt info 0x{:x}/0x{:x}/{})\n",
        prefix.mandatory_flags, prefix.optional_flags, prefix.optional_data_len
    ));
    let bad = prefix.unknown_mandatory_flags();
    if bad != 0 {
        return fail(format!(
            "Savefile has mandatory flag(s) 0x{bad:x} which are not supported; need newer xl\n"
        ));
    }
    if prefix.mandatory_flags & xl_savefile::FLAG_STREAM_V2 == 0 {
        return fail(format!(
            "xl: {source} holds a legacy (v1) stream; only v2 streams (Xen 4.6 and later) can be restored\n"
        ));
    }
    let header = match xl_savefile::read_xl_optional(input, &prefix) {
        Ok(h) => h,
        Err(FormatError::Truncated(_)) => return truncated("optdata"),
        Err(FormatError::ConfigOutsideOptionalData { .. }) => {
            err(" Savefile contains xl domain config in JSON format\n");
            return fail("Savefile truncated.\n");
        }
        Err(e) => return fail(format!("xl: {source}: {}\n", backend::chain(&e))),
    };
    let json = header.mandatory_flags & xl_savefile::FLAG_JSON != 0;
    if prefix.optional_data_len > 0 {
        err(&format!(
            " Savefile contains xl domain config{}\n",
            if json { " in JSON format" } else { "" }
        ));
    }
    if let Some(path) = config_file {
        let data = if path == "/dev/null" {
            Vec::new()
        } else {
            match std::fs::read(crate::args::to_os(path)) {
                Ok(d) => d,
                Err(e) => {
                    return fail(format!(
                        "Failed to read config file: {path}: {}\n",
                        strerror(&e)
                    ));
                }
            }
        };
        err(&format!("Parsing config from {path}\n"));
        return parse_text(path, &data, xlconf).map_err(|_| Exit(1));
    }
    let Some(text) = header.config_text() else {
        return fail("Config file not specified and none in save file\n");
    };
    err("Parsing config from <saved>\n");
    if !json {
        return parse_text("<saved>", text, xlconf).map_err(|_| Exit(1));
    }
    DomainConfig::from_json(&String::from_utf8_lossy(text))
        .or_else(|e| fail(format!("xl: the config saved in {source}: {e}\n")))
}

/// How the restored domain is watched: as xl's create_domain does.
struct Watch {
    daemonize: bool,
    monitor: bool,
}

impl Watch {
    fn from(opts: &cmdtable::Opts) -> Watch {
        Watch {
            daemonize: !(opts.flag('F') || opts.flag('e')),
            monitor: !opts.flag('e'),
        }
    }

    fn start(&self, host: &Host, xs: &Xs, config: DomainConfig, domid: u32) -> Outcome {
        if !self.monitor {
            return Ok(0);
        }
        if !self.daemonize {
            return monitor(host, xs, config, domid);
        }
        match spawn_monitor_json(&host.paths, &config, domid) {
            Ok(()) => Ok(0),
            Err(e) => fail(format!("xl: cannot start the domain monitor: {e}\n")),
        }
    }
}

/// `xl restore [options] [<ConfigFile>] <CheckpointFile>`.
pub fn restore(cx: &Ctx, opts: Opts) -> Outcome {
    let ops = opts.operands();
    let (config_file, file) = match ops.as_slice() {
        [file] => (None, file),
        [config, file] => (Some(config.as_str()), file),
        _ => return Err(cx.help(1)),
    };
    let mut input = match std::fs::File::open(crate::args::to_os(file)) {
        Ok(f) => std::io::BufReader::new(f),
        Err(e) => return fail(format!("Can't open restore file: {}\n", strerror(&e))),
    };
    let config = read_header_and_config(&mut input, file, config_file, cx.xlconf)?;
    if opts.flag('d') {
        err(&config.to_json().to_yajl());
    }
    let (host, xs) = cx.connect()?;
    let Ok(domid) = create_one_from(host, xs, &config, Image::Stream(&mut input)) else {
        return fail(format!(
            "xl: cannot restore domain {} from {file}\n",
            config.c_info.name
        ));
    };
    let console = opts.flag('c').then(|| spawn_console(domid).ok()).flatten();
    if !opts.flag('p')
        && let Err(e) = xl_toolstack::qmp::unpause(host, xs, domid)
    {
        err(&format!("xl: unpause failed: {}\n", backend::chain(&e)));
    }
    let watch = Watch::from(&opts);
    if watch.monitor && (opts.flag('V') || opts.flag('A')) {
        super::create::autoconnect_vncviewer(domid, opts.flag('A'));
    }
    let status = watch.start(host, xs, config, domid);
    if let Some(mut c) = console {
        let _ = c.wait();
    }
    status
}

/// Read exactly `msg` from the peer, as xl's migrate_read_fixedmessage.
pub(super) fn expect(
    input: &mut dyn Read,
    msg: &[u8],
    what: &str,
    rune: Option<&str>,
) -> Result<(), ()> {
    let stream = if rune.is_some() {
        "migration receiver stream"
    } else {
        "migration stream"
    };
    let mut buf = vec![0u8; msg.len()];
    if input.read_exact(&mut buf).is_err() {
        err(&format!(
            "libxl: error: file/stream truncated reading {what} from {stream}\n"
        ));
        return Err(());
    }
    if buf != msg {
        err(&format!(
            "{stream} contained unexpected data instead of {what}\n"
        ));
        if let Some(r) = rune {
            err(&format!("(command run was: {r} )\n"));
        }
        return Err(());
    }
    Ok(())
}

/// The command xl runs to reach the receiver: `<ssh> <host> xl ...
/// migrate-receive ...`, or the host alone when the ssh command is empty.
/// Like xl (and as its help says), it is run by `sh -c`.
fn migration_rune(ssh: &str, host: &str, g: &GlobalOpts, receive_opts: &str) -> String {
    if ssh.is_empty() {
        return host.to_string();
    }
    let tty = g.progress_cr || rustix::termios::isatty(std::io::stderr());
    format!(
        "exec {ssh} {host} xl{}{}{} migrate-receive{receive_opts}",
        if tty { " -t" } else { "" },
        if g.timestamps { " -T" } else { "" },
        if g.verbose > 0 {
            format!(" -{}", "v".repeat(g.verbose as usize))
        } else {
            String::new()
        },
    )
}

/// The transport to the receiver: its stdin and stdout are ours to
/// write and read.
pub(super) struct Transport {
    child: Child,
    send: Option<BufWriter<ChildStdin>>,
    pub(super) recv: ChildStdout,
}

impl Transport {
    pub(super) fn start(rune: &str) -> std::io::Result<Transport> {
        let mut child = Command::new("sh")
            .args(["-c", rune])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let send = child.stdin.take().map(BufWriter::new);
        let recv = child
            .stdout
            .take()
            .ok_or_else(|| std::io::Error::other("no pipe from the transport"))?;
        Ok(Transport { child, send, recv })
    }

    pub(super) fn send(&mut self) -> &mut dyn Write {
        match &mut self.send {
            Some(s) => s,
            None => unreachable!("the sending side is only closed on the way out"),
        }
    }

    /// Close our end and say how the transport ended, if it ends soon
    /// (xl waits 2 s).
    pub(super) fn report(mut self) {
        drop(self.send.take());
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            match self.child.try_wait() {
                Ok(Some(st)) => {
                    if !st.success() {
                        let how = match st.code() {
                            Some(c) => format!("exited with error status {c}"),
                            None => format!("died ({st})"),
                        };
                        err(&format!(
                            "xl: migration transport process [{}] {how}\n",
                            self.child.id()
                        ));
                    }
                    return;
                }
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                _ => {
                    err(&format!(
                        "migration child [{}] not exiting, no longer waiting (exit status will be unreported)\n",
                        self.child.id()
                    ));
                    return;
                }
            }
        }
    }
}

/// `xl migrate [options] <Domain> <host>`.
pub fn migrate(cx: &Ctx, opts: Opts) -> Outcome {
    let ops = opts.operands();
    let domid = cx.domain(&ops[0])?;
    let (host, xs) = cx.connect()?;
    let name = names::domid_to_name(xs, domid).ok().flatten();
    let debug = opts.long_flag("debug");
    let receive_opts = format!(
        "{}{}{}",
        if opts.flag('F') || opts.flag('e') {
            " -e"
        } else {
            ""
        },
        if debug { " -d" } else { "" },
        if opts.flag('p') { " -p" } else { "" },
    );
    let rune = migration_rune(
        opts.value('s').unwrap_or("ssh"),
        &ops[1],
        cx.globals,
        &receive_opts,
    );
    let override_file = opts.value('C').map(str::to_string);
    let json = config_to_save(
        host,
        xs,
        domid,
        override_file.as_ref(),
        opts.flag('D'),
        cx.xlconf,
    )?;
    let t = open_stream(&rune, &json)?;
    Ok(Sender {
        host,
        xs,
        domid,
        name,
        rune,
    }
    .run(t))
}

/// Start the receiving side through `rune` (`sh -c`), wait for its
/// banner and send xl's header with the domain's config, as xl's
/// migration and Remus do before the stream.
pub(super) fn open_stream(rune: &str, json: &str) -> Result<Transport, Exit> {
    let mut t = match Transport::start(rune) {
        Ok(t) => t,
        Err(e) => return fail(format!("failed to exec sh: {e}\n")),
    };
    if expect(&mut t.recv, BANNER, "banner", Some(rune)).is_err()
        || write_header(t.send(), "migration stream", json).is_err()
    {
        t.report();
        return Err(Exit(1));
    }
    Ok(t)
}

/// The sending side of a migration once the receiver has greeted us.
struct Sender<'a> {
    host: &'a Host,
    xs: &'a Xs,
    domid: u32,
    name: Option<String>,
    rune: String,
}

impl Sender<'_> {
    fn run(self, mut t: Transport) -> Status {
        if let Err(e) = saverestore::save(self.host, self.xs, self.domid, t.send()) {
            err(&format!(
                "libxl: error: Domain {}:saving domain: {}\n",
                self.domid,
                backend::chain(&e)
            ));
            err(&format!(
                "migration sender: libxl_domain_suspend failed (rc={})\n",
                if e.guest_timed_out() { -8 } else { -3 }
            ));
            return if e.guest_timed_out() {
                t.report();
                err("Migration failed, failed to suspend at sender.\n");
                1
            } else {
                self.failed_resume(t)
            };
        }
        if expect(&mut t.recv, READY, "ready message", Some(&self.rune)).is_err() {
            return self.failed_resume(t);
        }
        err("migration sender: Target has acknowledged transfer.\n");
        let away = self.name.as_ref().map(|n| format!("{n}--migratedaway"));
        if let (Some(name), Some(away)) = (&self.name, &away)
            && self.rename(name, away).is_err()
        {
            return self.failed_resume(t);
        }
        err("migration sender: Giving target permission to start.\n");
        let go = t.send().write_all(GO).and_then(|()| t.send().flush());
        if go.is_err() {
            return self.failed_badly(t);
        }
        let mut status = [0u8; 1];
        if expect(
            &mut t.recv,
            REPORT,
            "success/failure report message",
            Some(&self.rune),
        )
        .is_err()
            || t.recv.read_exact(&mut status).is_err()
        {
            return self.failed_badly(t);
        }
        if status[0] != 0 {
            err(&format!(
                "migration sender: Target reports startup failure (status code {}).\n",
                status[0] as i8
            ));
            if expect(
                &mut t.recv,
                GO,
                "permission for sender to resume",
                Some(&self.rune),
            )
            .is_err()
            {
                return self.failed_badly(t);
            }
            err("migration sender: Trying to resume at our end.\n");
            if let (Some(name), Some(away)) = (&self.name, &away) {
                let _ = self.rename(away, name);
            }
            if resume_if_suspended(self.host, self.xs, self.domid) {
                err("migration sender: Resumed OK.\n");
            }
            err("Migration failed due to problems at target.\n");
            return 1;
        }
        err("migration sender: Target reports successful startup.\n");
        if let Err(e) = destroy::destroy(self.host, self.xs, self.domid) {
            err(&format!(
                "libxl: error: Domain {}:{}\n",
                self.domid,
                backend::chain(&e)
            ));
        }
        err("Migration successful.\n");
        0
    }

    fn rename(&self, from: &str, to: &str) -> Result<(), ()> {
        xl_toolstack::rename::rename(self.host.hv.as_ref(), self.xs, self.domid, Some(from), to)
            .map_err(|e| {
                err(&format!(
                    "libxl: error: Domain {}:{}\n",
                    self.domid,
                    backend::chain(&e)
                ))
            })
    }

    fn failed_resume(&self, t: Transport) -> Status {
        t.report();
        err("Migration failed, resuming at sender.\n");
        resume_if_suspended(self.host, self.xs, self.domid);
        1
    }

    fn failed_badly(&self, t: Transport) -> Status {
        err("** Migration failed during final handshake **\n\
             Domain state is now undefined !\n\
             Please CHECK AT BOTH ENDS for running instances, before renaming and\n \
             resuming at most one instance.  Two simultaneous instances of the domain\n \
             would probably result in SEVERE DATA LOSS and it is now your\n \
             responsibility to avoid that.  Sorry.\n");
        t.report();
        1
    }
}

/// `xl migrate-receive`: the far end of `xl migrate`, on stdin/stdout.
pub fn migrate_receive(cx: &Ctx, opts: Opts) -> Outcome {
    if !opts.operands().is_empty() {
        return Err(cx.help(1));
    }
    if opts.flag('r') || opts.long_flag("colo") {
        return fail("xl: checkpointed (Remus/COLO) migration streams are not supported\n");
    }
    err("migration target: Ready to receive domain.\n");
    let mut send = std::io::stdout().lock();
    if send.write_all(BANNER).and_then(|()| send.flush()).is_err() {
        return fail("libxl: error: writing banner to migration ack stream\n");
    }
    let mut recv = std::io::stdin().lock();
    let mut config = read_header_and_config(&mut recv, INCOMING, None, cx.xlconf)?;
    if opts.flag('d') {
        err(&config.to_json().to_yajl());
    }
    // Received under a temporary name: the sender's domain still has it.
    let common = std::mem::take(&mut config.c_info.name);
    let incoming = format!("{common}--incoming");
    config.c_info.name = incoming.clone();
    let (host, xs) = cx.connect()?;
    let domid = match create_one_from(host, xs, &config, Image::Stream(&mut recv)) {
        Ok(d) => d,
        Err(rc) => {
            return fail(format!(
                "migration target: Domain creation failed (code {rc}).\n"
            ));
        }
    };
    err("migration target: Transfer complete, requesting permission to start domain.\n");
    if send.write_all(READY).and_then(|()| send.flush()).is_err() {
        return Err(Exit(1));
    }
    let rc = start_received(
        host,
        xs,
        domid,
        &mut recv,
        &incoming,
        &common,
        opts.flag('p'),
    );
    if send
        .write_all(REPORT)
        .and_then(|()| send.write_all(&[(-rc) as u8]))
        .and_then(|()| send.flush())
        .is_err()
    {
        return Err(Exit(1));
    }
    if rc != 0 {
        err("migration target: Failure, destroying our copy.\n");
        if let Err(e) = destroy::destroy(host, xs, domid) {
            return fail(format!(
                "migration target: Failed to destroy our copy (code -3): {}.\n",
                backend::chain(&e)
            ));
        }
        err("migration target: Cleanup OK, granting sender permission to resume.\n");
        let _ = send.write_all(GO).and_then(|()| send.flush());
        return Ok(0);
    }
    drop(send);
    config.c_info.name = common;
    Watch::from(&opts).start(host, xs, config, domid)
}

/// After the sender's go-ahead: take the domain's name and let it run.
/// Returns libxl's rc (0: started).
fn start_received(
    host: &Host,
    xs: &Xs,
    domid: u32,
    recv: &mut dyn Read,
    incoming: &str,
    common: &str,
    paused: bool,
) -> i32 {
    if expect(recv, GO, "GO message", None).is_err() {
        return 1;
    }
    err("migration target: Got permission, starting domain.\n");
    if let Err(e) =
        xl_toolstack::rename::rename(host.hv.as_ref(), xs, domid, Some(incoming), common)
    {
        err(&format!(
            "libxl: error: Domain {domid}:{}\n",
            backend::chain(&e)
        ));
        return -3;
    }
    if !paused && let Err(e) = xl_toolstack::qmp::unpause(host, xs, domid) {
        err(&format!(
            "libxl: error: Domain {domid}:{}\n",
            backend::chain(&e)
        ));
        return -3;
    }
    err("migration target: Domain started successsfully.\n");
    0
}
