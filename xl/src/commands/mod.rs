//! Subcommands: each is a function of the command table (`Cmd::run`),
//! given a [`Ctx`] and its parsed options. Commands of xl 4.17 this xl
//! lacks say so plainly.

pub(crate) mod console;
pub(crate) mod cpupool;
pub mod create;
mod ctx;
pub mod devd;
pub(crate) mod devices;
pub(crate) mod domains;
pub(crate) mod dumpcore;
pub(crate) mod flask;
pub(crate) mod host;
pub(crate) mod hostops;
pub(crate) mod lifecycle;
pub(crate) mod pci;
pub(crate) mod psr;
pub(crate) mod remus;
pub(crate) mod saverestore;
pub(crate) mod sched;
pub mod top;
pub(crate) mod usb;
pub(crate) mod vcpu;
pub(crate) mod vdev;
pub(crate) mod vdevlist;
pub(crate) mod vnc;

use std::io::Write;

pub use ctx::{Ctx, Exit, OrExit, Outcome, fail, status, xl_error};

use crate::cmdtable::{Cmd, Run};
use crate::{GlobalOpts, Status};

/// Write to stdout, ignoring a closed pipe as xl effectively does.
pub fn out(s: &str) {
    let _ = std::io::stdout().write_all(s.as_bytes());
}

pub fn out_bytes(b: &[u8]) {
    let _ = std::io::stdout().write_all(b);
}

pub fn err(s: &str) {
    let _ = std::io::stderr().write_all(s.as_bytes());
}

/// Control characters replaced, so a name cannot drive the terminal.
pub fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

pub use xl_toolstack::strerror;

/// Run a command as its table entry says; its exit status.
pub fn run(
    cmd: &'static Cmd,
    args: &[String],
    g: &GlobalOpts,
    xlconf: &xl_config::Globals,
) -> Status {
    let cx = Ctx::new(cmd, g, xlconf);
    status(match cmd.run {
        Run::Parsed(command) => cx.options(args).and_then(|opts| command(&cx, opts)),
        Run::Raw(command) => command(&cx, args),
    })
}

/// `xl config-update`: xl checks for a domain and warns before it looks
/// at the options.
pub(crate) fn config_update(cx: &Ctx, args: &[String]) -> Outcome {
    if args.is_empty() {
        err("xl config-update requires a domain argument\n");
        return Err(cx.help(1));
    }
    err(
        "WARNING: xl now has better capability to manage domain configuration, \
         avoid using this command when possible\n",
    );
    let domid = cx.domain(&args[0])?;
    create::config_update(cx, domid, &args[1..])
}

/// `xl button-press`: deprecated, and says so before reading options.
pub(crate) fn button_press(cx: &Ctx, args: &[String]) -> Outcome {
    err("WARNING: \"button-press\" is deprecated. Please use \"trigger\"\n");
    let opts = cx.options(args)?;
    hostops::button_press(cx, opts)
}

/// A command that needs a host when `XL_BACKEND=none` refuses one.
pub fn no_backend(name: &str) -> Exit {
    err(&format!(
        "xl: `{name}' needs a Xen host, and XL_BACKEND=none selects none (use xen, or sim for the simulator).\n"
    ));
    Exit(1)
}
