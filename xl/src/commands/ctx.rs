//! What every command starts from: its table entry, the global options
//! and xl.conf, and the host, opened the first time the command needs it
//! (options are checked first, and a dry run may never need it).
//!
//! A command returns its exit status, or ends early with an [`Exit`]
//! once it has printed why, so its steps chain with `?`.

use std::cell::OnceCell;

use xenstore::Xs;
use xl_toolstack::names::{self, ERROR_INVAL};
use xl_toolstack::{Host, Hypervisor};

use super::{err, out};
use crate::cmdtable::{self, Cmd, Opts, ParseEnd};
use crate::{GlobalOpts, Status, backend};

/// The end of a command whose message is already printed: xl's exit
/// status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit(pub Status);

/// What a command comes to: its exit status either way.
pub type Outcome = Result<Status, Exit>;

/// The exit status an outcome comes to.
pub fn status(outcome: Outcome) -> Status {
    outcome.unwrap_or_else(|Exit(code)| code)
}

/// Print `msg` (xl's words, newline included) on stderr and end with
/// status 1.
pub fn fail<T>(msg: impl AsRef<str>) -> Result<T, Exit> {
    err(msg.as_ref());
    Err(Exit(1))
}

/// How xl reports an error it has no words of its own for.
pub fn xl_error(e: &dyn std::error::Error) -> Exit {
    err(&format!("xl: {}\n", backend::chain(e)));
    Exit(1)
}

/// `?` for errors xl reports as `xl: <causes>` with status 1.
pub trait OrExit<T> {
    fn or_exit(self) -> Result<T, Exit>;
}

impl<T, E: std::error::Error> OrExit<T> for Result<T, E> {
    fn or_exit(self) -> Result<T, Exit> {
        self.map_err(|e| xl_error(&e))
    }
}

/// One command invocation.
pub struct Ctx<'a> {
    pub cmd: &'static Cmd,
    pub globals: &'a GlobalOpts,
    pub xlconf: &'a xl_config::Globals,
    host: OnceCell<Host>,
    xs: OnceCell<Xs>,
}

impl<'a> Ctx<'a> {
    pub fn new(cmd: &'static Cmd, globals: &'a GlobalOpts, xlconf: &'a xl_config::Globals) -> Self {
        Ctx {
            cmd,
            globals,
            xlconf,
            host: OnceCell::new(),
            xs: OnceCell::new(),
        }
    }

    /// The command's options, parsed as its table entry says; help,
    /// unknown options and missing operands end it as in xl.
    pub fn options(&self, args: &[String]) -> Result<Opts, Exit> {
        cmdtable::parse(self.cmd, args).map_err(
            |ParseEnd::Exit {
                 stdout,
                 stderr,
                 code,
             }| {
                err(&stderr);
                out(&stdout);
                Exit(code)
            },
        )
    }

    /// xl's answer to arguments it cannot use: the command's help on
    /// stdout, then `code`.
    pub fn help(&self, code: Status) -> Exit {
        out(&cmdtable::help_text(Some(self.cmd.name)));
        Exit(code)
    }

    /// The host, for commands that need only its hypervisor.
    pub fn host(&self) -> Result<&Host, Exit> {
        if let Some(h) = self.host.get() {
            return Ok(h);
        }
        let host = backend::open(self.cmd.name)?;
        Ok(self.host.get_or_init(|| host))
    }

    /// The host and its xenstore.
    pub fn connect(&self) -> Result<(&Host, &Xs), Exit> {
        let host = self.host()?;
        if let Some(xs) = self.xs.get() {
            return Ok((host, xs));
        }
        let xs = xenstore_of(host)?;
        Ok((host, self.xs.get_or_init(|| xs)))
    }

    /// The hypervisor and xenstore, for commands that need nothing else
    /// of the host.
    pub fn hv(&self) -> Result<(&dyn Hypervisor, &Xs), Exit> {
        let (host, xs) = self.connect()?;
        Ok((host.hv.as_ref(), xs))
    }

    /// A domain argument resolved as xl's `find_domain` does: by name or
    /// id, or the end of the command with its message.
    pub fn domain(&self, q: &str) -> Result<u32, Exit> {
        let (hv, xs) = self.hv()?;
        match names::qualifier_to_domid(hv, xs, q) {
            Ok(Some(d)) => Ok(d),
            Ok(None) => fail(format!(
                "{q} is an invalid domain identifier (rc={ERROR_INVAL})\n"
            )),
            // Refused before any hypercall: Xen would take it for another.
            Err(e @ xl_toolstack::Error::NoSuchDomid(_)) => fail(format!("{e}\n")),
            Err(e) => Err(xl_error(&e)),
        }
    }
}

/// The host and its xenstore for a process that is no command of the
/// table (a create's guard, a restored domain's monitor); `name` is the
/// command it works for.
pub fn connect(name: &str) -> Result<(Host, Xs), Exit> {
    let host = backend::open(name)?;
    let xs = xenstore_of(&host)?;
    Ok((host, xs))
}

fn xenstore_of(host: &Host) -> Result<Xs, Exit> {
    host.xenstore().or_exit()
}
