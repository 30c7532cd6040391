//! The command table, xl's help output, and per-command option parsing.
//!
//! Every subcommand is declared as a clap `Command` built from the table
//! (the same definition feeds completions and the man page); parsing goes
//! through clap with GNU getopt's behaviour (options may follow operands,
//! long options may be abbreviated) and clap's errors are turned into xl's
//! messages and exit codes.

use clap::{Arg, ArgAction, ArgMatches, Command};

use crate::commands::{Ctx, Outcome};

pub use crate::cmdtable_data::COMMANDS;

#[derive(Debug)]
pub struct LongOpt {
    pub name: &'static str,
    pub has_arg: bool,
    pub short: Option<char>,
}

#[derive(Debug)]
pub struct Cmd {
    pub name: &'static str,
    pub can_dryrun: bool,
    pub modifies: bool,
    pub desc: &'static str,
    pub usage: &'static str,
    pub options: Option<&'static str>,
    /// getopt string (`f:` takes a value).
    pub getopt: &'static str,
    pub long: &'static [LongOpt],
    /// Operands required after the options.
    pub min_args: usize,
    pub run: Run,
}

/// The function that runs a command, and how its arguments reach it.
#[derive(Debug, Clone, Copy)]
pub enum Run {
    /// Parsed by the `getopt` string and operand count first.
    Parsed(fn(&Ctx, Opts) -> Outcome),
    /// As typed: for commands that read them before or instead of getopt.
    Raw(fn(&Ctx, &[String]) -> Outcome),
}

/// xl's `cmdtable_lookup`: exact name, else a unique prefix.
pub fn lookup(s: &str) -> Option<&'static Cmd> {
    let mut found = None;
    let mut count = 0;
    for c in COMMANDS {
        if c.name.starts_with(s) {
            if c.name.len() == s.len() {
                return Some(c);
            }
            found = Some(c);
            count += 1;
        }
    }
    if count == 1 { found } else { None }
}

/// `xl help [cmd]` text.
pub fn help_text(command: Option<&str>) -> String {
    match command {
        None | Some("help") => {
            let mut s = String::from(
                "Usage xl [-vfNtT] <subcommand> [args]\n\nxl full list of subcommands:\n\n",
            );
            for c in COMMANDS {
                s.push_str(&format!(" {:<19} ", c.name));
                if c.name.len() > 19 {
                    s.push_str(&format!("\n {:<19} ", ""));
                }
                s.push_str(c.desc);
                s.push('\n');
            }
            s
        }
        Some(name) => match lookup(name) {
            Some(c) => {
                let mut s = format!(
                    "Usage: xl [-vtT{}{}] {} {}\n\n{}.\n\n",
                    if c.modifies { "f" } else { "" },
                    if c.can_dryrun { "N" } else { "" },
                    c.name,
                    c.usage,
                    c.desc
                );
                if let Some(o) = c.options {
                    s.push_str(&format!("Options:\n\n{o}\n"));
                }
                s
            }
            None => format!("command \"{name}\" not implemented\n"),
        },
    }
}

/// The value-taking short options of a getopt string.
fn short_opts(getopt: &str) -> Vec<(char, bool)> {
    let b: Vec<char> = getopt.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let takes = b.get(i + 1) == Some(&':');
        out.push((b[i], takes));
        i += if takes { 2 } else { 1 };
    }
    out
}

fn arg_id(short: Option<char>, long: Option<&str>) -> String {
    match (short, long) {
        (Some(c), _) => format!("opt-{c}"),
        (None, Some(l)) => format!("long-{l}"),
        (None, None) => unreachable!("an option has a name"),
    }
}

/// The clap definition of one subcommand.
pub fn clap_command(c: &'static Cmd) -> Command {
    let about = c.desc.lines().next().unwrap_or_default();
    let mut cmd = Command::new(c.name)
        .about(about)
        .override_usage(format!("xl {} {}", c.name, c.usage.trim_end()))
        .disable_help_flag(true)
        .disable_version_flag(true)
        .infer_long_args(true)
        .allow_negative_numbers(true)
        .arg(
            Arg::new("help")
                .short('h')
                .long("help")
                .action(ArgAction::SetTrue)
                .help("Print this help."),
        );
    for (ch, takes) in short_opts(c.getopt)
        .into_iter()
        .filter(|(ch, _)| *ch != 'h')
    {
        let long = c.long.iter().find(|l| l.short == Some(ch));
        let mut a = Arg::new(arg_id(Some(ch), None)).short(ch);
        if let Some(l) = long {
            a = a.long(l.name);
        }
        a = if takes {
            a.action(ArgAction::Append)
                .num_args(1)
                .allow_hyphen_values(true)
                .value_name("VALUE")
        } else {
            a.action(ArgAction::Count)
        };
        cmd = cmd.arg(a);
    }
    for l in c
        .long
        .iter()
        .filter(|l| l.short.is_none_or(|s| !c.getopt.contains(s)))
    {
        let a = Arg::new(arg_id(None, Some(l.name))).long(l.name);
        cmd = cmd.arg(if l.has_arg {
            a.action(ArgAction::Append)
                .num_args(1)
                .allow_hyphen_values(true)
        } else {
            a.action(ArgAction::Count)
        });
    }
    cmd.arg(
        Arg::new("operands")
            .num_args(0..)
            .action(ArgAction::Append)
            .value_name("ARGS"),
    )
}

/// The whole command line as clap sees it, for completions and man pages.
pub fn clap_root() -> Command {
    let mut root = Command::new("xl")
        .about("Xen management tool, a drop-in replacement for libxl's xl")
        .version(env!("CARGO_PKG_VERSION"))
        .disable_help_subcommand(true)
        .arg(
            Arg::new("verbose")
                .short('v')
                .action(ArgAction::Count)
                .help("Verbose (repeat for more)"),
        )
        .arg(
            Arg::new("force")
                .short('f')
                .action(ArgAction::SetTrue)
                .help("Force execution (accepted, unused, as in xl)"),
        )
        .arg(
            Arg::new("dryrun")
                .short('N')
                .action(ArgAction::SetTrue)
                .help("Dry run: print what would be done"),
        )
        .arg(
            Arg::new("progress-cr")
                .short('t')
                .action(ArgAction::SetTrue)
                .help("Overwrite progress lines with CR"),
        )
        .arg(
            Arg::new("timestamps")
                .short('T')
                .action(ArgAction::SetTrue)
                .help("Timestamps and pid on log lines"),
        );
    for c in COMMANDS {
        root = root.subcommand(clap_command(c));
    }
    root.subcommand(
        Command::new("help")
            .about("Print help")
            .arg(Arg::new("command").num_args(0..=1)),
    )
}

/// Parsed options of one subcommand invocation.
pub struct Opts {
    m: ArgMatches,
    operands: Vec<String>,
}

impl Opts {
    /// How often a flag was given; 0 for a flag the command does not have
    /// (shared code asks about options some commands lack).
    pub fn count(&self, short: char) -> u8 {
        self.m
            .try_get_one::<u8>(&arg_id(Some(short), None))
            .ok()
            .flatten()
            .copied()
            .unwrap_or(0)
    }
    pub fn flag(&self, short: char) -> bool {
        self.count(short) > 0
    }
    /// Last value given for a value-taking option.
    pub fn value(&self, short: char) -> Option<&str> {
        self.m
            .try_get_many::<String>(&arg_id(Some(short), None))
            .ok()
            .flatten()
            .and_then(|mut v| v.next_back())
            .map(String::as_str)
    }
    /// Every value given for a value-taking option, in order.
    pub fn values(&self, short: char) -> Vec<&str> {
        self.m
            .try_get_many::<String>(&arg_id(Some(short), None))
            .ok()
            .flatten()
            .map(|v| v.map(String::as_str).collect())
            .unwrap_or_default()
    }
    /// Whether a long option without a short form was given.
    pub fn long_flag(&self, name: &str) -> bool {
        self.m
            .try_get_one::<u8>(&arg_id(None, Some(name)))
            .ok()
            .flatten()
            .is_some_and(|n| *n > 0)
    }
    pub fn operands(&self) -> Vec<String> {
        self.operands.clone()
    }
}

/// What parsing ended in, when it did not produce options.
pub enum ParseEnd {
    /// Print this to stdout/stderr and exit with the code.
    Exit {
        stdout: String,
        stderr: String,
        code: i32,
    },
}

/// Where getopt stops: xl parses subcommand options in REQUIRE_ORDER mode
/// (glibc keeps the `+` ordering of xl's global getopt string because xl
/// resets `optind` to 1, not 0), so the first operand ends the options and
/// a `--` is consumed. Returns (option words, operands).
fn split_operands<'a>(c: &Cmd, args: &'a [String]) -> (&'a [String], Vec<String>) {
    let shorts = short_opts(c.getopt);
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        if a == "--" {
            return (&args[..i], args[i + 1..].to_vec());
        }
        if !a.starts_with('-') || a == "-" {
            break;
        }
        if let Some(long) = a.strip_prefix("--") {
            let name = long.split('=').next().unwrap_or_default();
            let matches: Vec<&LongOpt> =
                c.long.iter().filter(|l| l.name.starts_with(name)).collect();
            let exact = matches.iter().find(|l| l.name == name).copied();
            let opt = exact.or(if matches.len() == 1 {
                Some(matches[0])
            } else {
                None
            });
            if opt.is_some_and(|o| o.has_arg) && !long.contains('=') {
                i += 1;
            }
        } else {
            for (n, ch) in a[1..].char_indices() {
                if shorts.iter().any(|(s, takes)| *s == ch && *takes) {
                    if n + ch.len_utf8() == a.len() - 1 {
                        i += 1;
                    }
                    break;
                }
            }
        }
        i += 1;
    }
    let i = i.min(args.len());
    (&args[..i], args[i..].to_vec())
}

/// Parse a subcommand's arguments (argv without the command name) with
/// xl's outcomes for -h, unknown options and missing operands.
pub fn parse(c: &'static Cmd, args: &[String]) -> Result<Opts, ParseEnd> {
    let (option_words, operands) = split_operands(c, args);
    let cmd = clap_command(c).no_binary_name(true);
    let m = match cmd.try_get_matches_from(option_words) {
        Ok(m) => m,
        Err(e) => {
            use clap::error::{ContextKind, ContextValue};
            // getopt reports the option letter; for long options it has none.
            let bad = match e.get(ContextKind::InvalidArg) {
                Some(ContextValue::String(s)) => s.clone(),
                _ => String::new(),
            };
            let letter = if bad.starts_with("--") {
                '\0'
            } else {
                bad.trim_start_matches('-').chars().next().unwrap_or('\0')
            };
            // getopt handles words in order: a -h before the bad option wins.
            let help_first = option_words
                .iter()
                .take_while(|a| !a.contains(bad.as_str()) || bad.is_empty())
                .any(|a| {
                    a == "--help"
                        || (a.starts_with('-') && !a.starts_with("--") && a[1..].contains('h'))
                });
            if help_first {
                return Err(ParseEnd::Exit {
                    stdout: help_text(Some(c.name)),
                    stderr: String::new(),
                    code: 0,
                });
            }
            return Err(ParseEnd::Exit {
                stdout: String::new(),
                stderr: format!("option `{letter}' not supported.\n"),
                code: 2,
            });
        }
    };
    if m.get_flag("help") {
        return Err(ParseEnd::Exit {
            stdout: help_text(Some(c.name)),
            stderr: String::new(),
            code: 0,
        });
    }
    let opts = Opts { m, operands };
    if opts.operands().len() < c.min_args {
        return Err(ParseEnd::Exit {
            stdout: help_text(Some(c.name)),
            stderr: format!(
                "'xl {}' requires at least {} argument{}.\n\n",
                c.name,
                c.min_args,
                if c.min_args > 1 { "s" } else { "" }
            ),
            code: 2,
        });
    }
    Ok(opts)
}

/// Escape text for roff: backslashes, and lines starting with `.` or `'`.
fn roff(s: &str) -> String {
    s.replace('\\', "\\e")
        .lines()
        .map(|l| {
            if l.starts_with('.') || l.starts_with('\'') {
                format!("\\&{l}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The per-command reference appended to xl.1: usage and options exactly
/// as `xl help <cmd>` prints them, plus the files and environment we read.
pub fn man_commands_section() -> String {
    let mut s = String::from(".SH \"COMMAND REFERENCE\"\n");
    for c in COMMANDS {
        s.push_str(&format!(
            ".TP\n.B xl {} {}\n{}.\n",
            c.name,
            roff(c.usage.trim_end()),
            roff(c.desc)
        ));
        if let Some(o) = c.options {
            s.push_str(&format!(".RS\n.nf\n{}\n.fi\n.RE\n", roff(o.trim_end())));
        }
    }
    s.push_str(
        ".SH ENVIRONMENT\n.TP\n.B XL_CONF\nPath of the global configuration (default /etc/xen/xl.conf).\n\
         .TP\n.B XL_DIAG\n\\fBcaret\\fR prints a source snippet under configuration errors, \\fBplain\\fR never; \
         by default snippets appear only when stderr is a terminal.\n\
         .TP\n.B XL_FIRMWARE_DIR\nWhere firmware images (pvgrub) live, if not the installed Xen's.\n\
         .SH FILES\n.TP\n.B /etc/xen/xl.conf\nGlobal settings, see \\fBxl.conf\\fR(5).\n\
         .SH \"SEE ALSO\"\n\\fBxl.cfg\\fR(5), \\fBxentop\\fR(1)\n",
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_definition_is_valid() {
        clap_root().debug_assert();
    }

    #[test]
    fn prefix_lookup() {
        assert_eq!(lookup("list").map(|c| c.name), Some("list"));
        assert_eq!(lookup("cre").map(|c| c.name), Some("create"));
        assert!(lookup("cpupool-c").is_none(), "ambiguous");
        assert!(lookup("frobnicate").is_none());
    }
}
