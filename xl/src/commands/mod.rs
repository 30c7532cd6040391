//! Subcommands. What needs no hypervisor is implemented here; the rest
//! says plainly that this build has no backend for it yet.

mod console;
mod cpupool;
pub mod create;
mod devices;
mod domains;
mod flask;
mod host;
mod hostops;
mod lifecycle;
mod pci;
mod saverestore;
mod sched;
pub mod top;
mod vcpu;
mod vdevlist;
mod vnc;

use std::io::Write;

use crate::cmdtable::{self, Cmd, Opts, ParseEnd};
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

/// C's strerror text for an I/O error.
pub fn strerror(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "No such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "Permission denied".into(),
        std::io::ErrorKind::IsADirectory => "Is a directory".into(),
        _ => {
            let s = e.to_string();
            s.split(" (os error").next().unwrap_or(&s).to_string()
        }
    }
}

/// Parse a command's options, printing xl's help or errors when parsing
/// ends the command.
pub fn options(cmd: &'static Cmd, args: &[String]) -> Result<Opts, Status> {
    options_as(cmd, cmd.name, args)
}

pub fn options_as(cmd: &'static Cmd, help_name: &str, args: &[String]) -> Result<Opts, Status> {
    cmdtable::parse(cmd, help_name, args).map_err(
        |ParseEnd::Exit {
             stdout,
             stderr,
             code,
         }| {
            err(&stderr);
            out(&stdout);
            code
        },
    )
}

pub fn dispatch(
    cmd: &'static Cmd,
    args: &[String],
    g: &GlobalOpts,
    xlconf: &xl_config::Globals,
) -> Status {
    match cmd.name {
        "create" => create::main(cmd, args, g, xlconf),
        "block-attach" => devices::block_attach(cmd, args, g),
        "network-attach" => devices::network_attach(cmd, args, g, xlconf),
        "block-detach" => devices::block_detach(cmd, args),
        "network-detach" => devices::network_detach(cmd, args),
        "cd-insert" => devices::cd_insert(cmd, args),
        "cd-eject" => devices::cd_eject(cmd, args),
        "block-list" => devices::block_list(cmd, args),
        "network-list" => devices::network_list(cmd, args),
        "vkb-list" => vdevlist::vkb_list(cmd, args),
        "vtpm-list" => vdevlist::vtpm_list(cmd, args),
        "channel-list" => vdevlist::channel_list(cmd, args),
        "dmesg" => host::dmesg(cmd, args),
        "info" => host::info(cmd, args),
        "vcpu-list" => host::vcpu_list(cmd, args),
        "list" => domains::list(cmd, args),
        "domid" => domains::domid(cmd, args),
        "domname" => domains::domname(cmd, args),
        "rename" => domains::rename(cmd, args),
        "vcpu-pin" => vcpu::vcpu_pin(cmd, args, g, xlconf),
        "vcpu-set" => vcpu::vcpu_set(cmd, args),
        "sched-credit" => sched::sched_credit(cmd, args, false),
        "sched-credit2" => sched::sched_credit(cmd, args, true),
        "pause" => domains::pause_unpause(cmd, args, true),
        "uptime" => domains::uptime(cmd, args),
        "mem-set" => domains::memory(cmd, args, true),
        "mem-max" => domains::memory(cmd, args, false),
        "sysrq" => domains::sysrq(cmd, args),
        "trigger" => domains::trigger(cmd, args),
        "shutdown" => lifecycle::shutdown_or_reboot(cmd, args, false),
        "destroy" => lifecycle::destroy(cmd, args),
        "console" => console::console(cmd, args),
        "reboot" => lifecycle::shutdown_or_reboot(cmd, args, true),
        "unpause" => domains::pause_unpause(cmd, args, false),
        "top" => top::top(cmd, args),
        "save" => saverestore::save(cmd, args, xlconf),
        "restore" => saverestore::restore(cmd, args, xlconf),
        "migrate" => saverestore::migrate(cmd, args, g, xlconf),
        "migrate-receive" => saverestore::migrate_receive(cmd, args, xlconf),
        "vm-list" => hostops::vm_list(cmd, args),
        "claims" => hostops::claims(cmd, args, xlconf),
        "sharing" => hostops::sharing(cmd, args),
        "debug-keys" => hostops::debug_keys(cmd, args),
        "sched-rtds" => hostops::sched_rtds(cmd, args),
        "button-press" => {
            err("WARNING: \"button-press\" is deprecated. Please use \"trigger\"\n");
            hostops::button_press(cmd, args)
        }
        "pci-list" => pci::pci_list(cmd, args),
        "vncviewer" => vnc::vncviewer(cmd, args),
        "pci-assignable-list" => pci::assignable_list(cmd, args),
        "getenforce" => flask::getenforce(cmd),
        "setenforce" => flask::setenforce(cmd, args),
        "loadpolicy" => flask::loadpolicy(cmd, args),
        "cpupool-list" => cpupool::list(cmd, args),
        "cpupool-create" => cpupool::create(cmd, args, g),
        "cpupool-destroy" => cpupool::destroy(cmd, args),
        "cpupool-rename" => cpupool::rename(cmd, args),
        "cpupool-cpu-add" => cpupool::cpu_add_remove(cmd, args, true),
        "cpupool-cpu-remove" => cpupool::cpu_add_remove(cmd, args, false),
        "cpupool-migrate" => cpupool::migrate(cmd, args),
        "cpupool-numa-split" => cpupool::numa_split(cmd, args),
        "config-update" => {
            // xl checks for a domain and warns before looking at options.
            if args.is_empty() {
                err("xl config-update requires a domain argument\n");
                out(&cmdtable::help_text(Some("config-update")));
                return 1;
            }
            err(
                "WARNING: xl now has better capability to manage domain configuration, \
                 avoid using this command when possible\n",
            );
            not_implemented(cmd.name)
        }
        _ => {
            // Options and operand counts are still checked first, as xl does.
            if let Err(code) = options(cmd, args) {
                return code;
            }
            not_implemented(cmd.name)
        }
    }
}

/// A command that needs a host when `XL_BACKEND=none` refuses one.
pub fn no_backend(name: &str) -> Status {
    err(&format!(
        "xl: `{name}' needs a Xen host, and XL_BACKEND=none selects none (use xen, or sim for the simulator).\n"
    ));
    1
}

/// A command of xl 4.17 this xl does not have yet.
fn not_implemented(name: &str) -> Status {
    err(&format!(
        "xl: `{name}' is not implemented in this xl yet (README's status table lists what is).\n"
    ));
    1
}
