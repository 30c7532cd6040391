//! The `xl` command line: xl 4.17's command table, help texts, option
//! parsing and the subcommands. The binary (`main.rs`) only dispatches;
//! `cmdtable::clap_root` is the one definition that the man page and the
//! shell completions are generated from (`cargo xtask gen`).

pub mod args;
pub mod backend;
pub mod cmdtable;
mod cmdtable_data;
pub mod commands;
pub mod diag;
pub mod globalcfg;
pub mod logging;
pub mod tui;

/// The options before the subcommand (`xl [-vfNtT] <subcommand>`); the
/// settings of xl.conf are [`xl_config::Globals`].
#[derive(Debug, Default, Clone)]
pub struct GlobalOpts {
    pub verbose: u32,
    pub dryrun: bool,
    pub force: bool,
    pub progress_cr: bool,
    pub timestamps: bool,
}

/// A command's exit status.
pub type Status = i32;
