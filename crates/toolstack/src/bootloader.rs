//! A PV guest's bootloader (`bootloader = "pygrub"`), as libxl runs it:
//! over the guest's first disk, its choice written in the `simple0` format
//! (`kernel <path>\0ramdisk <path>\0args <text>\0`) to a file in
//! /var/lib/xen, the kernel and ramdisk copied into a directory beside it.
//! The plan and the parsing are pure; running it is dom0's job.

use std::path::{Path, PathBuf};

use crate::HostPaths;

/// What a config asks of its bootloader (part of the create plan).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BootloaderPlan {
    /// As configured: a name (looked up in Xen's own bin directory, then
    /// on PATH) or an absolute path.
    pub program: String,
    /// `bootloader_args`, passed as they are.
    pub args: Vec<String>,
    /// `kernel`, `ramdisk`, `cmdline` of the config: paths inside the
    /// guest's file system and extra arguments, for the bootloader.
    pub kernel: Option<String>,
    /// The ramdisk's path inside the guest's file system.
    pub ramdisk: Option<String>,
    /// Extra kernel arguments.
    pub cmdline: Option<String>,
    /// The first disk's image or device, or why the bootloader cannot read
    /// it directly.
    pub disk: Result<String, String>,
}

/// One run of the bootloader for a domain: everything but the process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BootloaderRun {
    /// What the config asked for.
    pub plan: BootloaderPlan,
    /// The domain being booted.
    pub domid: u32,
    /// The program that runs.
    pub program: PathBuf,
    /// Where it writes its choice, and the files it chose.
    pub output: PathBuf,
    /// The directory it writes the chosen files into.
    pub output_dir: PathBuf,
    /// Its terminal output: /var/log/xen/bootloader.N.log.
    pub log: PathBuf,
}

impl BootloaderRun {
    /// libxl's paths for domain `domid` (those of 4.17.3 and later).
    pub fn new(plan: &BootloaderPlan, domid: u32, paths: &HostPaths) -> BootloaderRun {
        BootloaderRun {
            plan: plan.clone(),
            domid,
            program: resolve(&plan.program, paths.xen_bin.get()),
            output: paths.lib.join(format!("bootloader.{domid}.out")),
            output_dir: paths.lib.join(format!("bootloader.{domid}.d")),
            log: paths.log.join(format!("bootloader.{domid}.log")),
        }
    }

    /// The arguments after the program, in libxl's order; `disk` is the
    /// image the bootloader reads.
    pub fn args(&self, disk: &str) -> Vec<String> {
        let p = &self.plan;
        let mut args = Vec::new();
        if let Some(k) = &p.kernel {
            args.push(format!("--kernel={k}"));
        }
        if let Some(r) = &p.ramdisk {
            args.push(format!("--ramdisk={r}"));
        }
        if let Some(c) = p.cmdline.as_deref().filter(|c| !c.is_empty()) {
            args.push(format!("--args={c}"));
        }
        args.push(format!("--output={}", self.output.display()));
        args.push("--output-format=simple0".into());
        args.push(format!("--output-directory={}", self.output_dir.display()));
        args.extend(p.args.iter().cloned());
        args.push(disk.to_string());
        args
    }
}

/// A relative name is first looked for in Xen's own bin directory (where
/// Debian puts pygrub), else left to the PATH search.
fn resolve(program: &str, xen_bin: &Path) -> PathBuf {
    if program.starts_with('/') {
        return program.into();
    }
    let private = xen_bin.join(program);
    if private.exists() {
        private
    } else {
        program.into()
    }
}

/// Removes what a bootloader run for `domid` may have left when its `xl`
/// was killed (the guest's kernel and ramdisk copies among them).
pub fn remove_leftovers(paths: &HostPaths, domid: u32) {
    let _ = std::fs::remove_file(paths.lib.join(format!("bootloader.{domid}.out")));
    let _ = std::fs::remove_dir_all(paths.lib.join(format!("bootloader.{domid}.d")));
}

/// What the bootloader chose. The files live in the run's output
/// directory, which is removed (with the output file) when this is
/// dropped: after the build, whatever became of it.
#[derive(Debug)]
pub struct BootFiles {
    /// The chosen kernel, copied out of the guest's disk.
    pub kernel: Option<PathBuf>,
    /// The chosen ramdisk, if any.
    pub ramdisk: Option<PathBuf>,
    /// The chosen kernel command line, if any.
    pub args: Option<String>,
    output: PathBuf,
    output_dir: PathBuf,
}

impl BootFiles {
    /// Takes charge of a run's output file and directory (removing them
    /// when dropped), before anything was chosen.
    pub fn new(run: &BootloaderRun) -> BootFiles {
        BootFiles {
            kernel: None,
            ramdisk: None,
            args: None,
            output: run.output.clone(),
            output_dir: run.output_dir.clone(),
        }
    }

    /// Fills in the choice from the bootloader's `simple0` output.
    pub fn take_choice(&mut self, output: &[u8]) -> Result<(), String> {
        let choice = parse_simple0(output)?;
        let kernel = choice
            .kernel
            .ok_or_else(|| "the bootloader chose no kernel".to_string())?;
        self.kernel = Some(kernel.into());
        self.ramdisk = choice.ramdisk.map(PathBuf::from);
        self.args = choice.args;
        Ok(())
    }
}

impl Drop for BootFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.output);
        let _ = std::fs::remove_dir_all(&self.output_dir);
    }
}

/// The items of a `simple0` output.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Choice {
    /// `kernel`: the kernel's path inside the guest's file system.
    pub kernel: Option<String>,
    /// `ramdisk`: the ramdisk's path, if any.
    pub ramdisk: Option<String>,
    /// `args`: the kernel command line, if any.
    pub args: Option<String>,
}

/// Longest item libxl accepts (longer ones are skipped with a warning).
const MAX_ITEM: usize = 8192;

/// `key value` items separated by NULs; unknown keys and overlong items
/// are ignored, as libxl ignores them.
pub fn parse_simple0(bytes: &[u8]) -> Result<Choice, String> {
    let mut choice = Choice::default();
    for item in bytes.split(|b| *b == 0) {
        if item.is_empty() || item.len() >= MAX_ITEM {
            continue;
        }
        let text = std::str::from_utf8(item)
            .map_err(|_| "the bootloader's output is not text".to_string())?;
        let Some((key, value)) = text.split_once(|c: char| c.is_ascii_whitespace()) else {
            continue;
        };
        let value = value.trim_start().to_string();
        match key {
            "kernel" => choice.kernel = Some(value),
            "ramdisk" => choice.ramdisk = Some(value),
            "args" => choice.args = Some(value),
            _ => {}
        }
    }
    Ok(choice)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> BootloaderPlan {
        BootloaderPlan {
            program: "pygrub".into(),
            args: vec!["-q".into()],
            kernel: None,
            ramdisk: None,
            cmdline: Some("console=hvc0".into()),
            disk: Ok("/srv/guest.img".into()),
        }
    }

    #[test]
    fn argv_in_libxl_order() {
        let paths = HostPaths::xen();
        let run = BootloaderRun::new(&plan(), 7, &paths);
        assert_eq!(
            run.args("/srv/guest.img"),
            [
                "--args=console=hvc0",
                "--output=/var/lib/xen/bootloader.7.out",
                "--output-format=simple0",
                "--output-directory=/var/lib/xen/bootloader.7.d",
                "-q",
                "/srv/guest.img"
            ]
        );
        assert_eq!(run.log, Path::new("/var/log/xen/bootloader.7.log"));
    }

    #[test]
    fn names_resolve_in_xen_bin_then_path() {
        let dir = std::env::temp_dir().join(format!("xl-bl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("pygrub"), "").unwrap();
        assert_eq!(resolve("pygrub", &dir), dir.join("pygrub"));
        assert_eq!(resolve("other", &dir), PathBuf::from("other"));
        assert_eq!(resolve("/opt/bl", &dir), PathBuf::from("/opt/bl"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn simple0_items() {
        let out = b"kernel /var/lib/xen/bootloader.7.d/boot_kernel.x\0ramdisk /r\0args  root=/dev/xvda1 ro\0junk\0other x\0\0";
        assert_eq!(
            parse_simple0(out).unwrap(),
            Choice {
                kernel: Some("/var/lib/xen/bootloader.7.d/boot_kernel.x".into()),
                ramdisk: Some("/r".into()),
                args: Some("root=/dev/xvda1 ro".into()),
            }
        );
        // A last item without its NUL still counts; overlong ones do not.
        let long = format!("args {}", "a".repeat(MAX_ITEM));
        let out = format!("kernel /k\0{long}\0ramdisk /r");
        let c = parse_simple0(out.as_bytes()).unwrap();
        assert_eq!(
            (c.kernel.as_deref(), c.args, c.ramdisk.as_deref()),
            (Some("/k"), None, Some("/r"))
        );
    }

    #[test]
    fn files_go_when_dropped_and_a_kernel_is_required() {
        let dir = std::env::temp_dir().join(format!("xl-bl-files-{}", std::process::id()));
        let paths = HostPaths::under(&dir);
        let run = BootloaderRun::new(&plan(), 3, &paths);
        std::fs::create_dir_all(&run.output_dir).unwrap();
        std::fs::write(run.output_dir.join("boot_kernel.x"), "k").unwrap();
        std::fs::write(&run.output, "ramdisk /r\0").unwrap();
        let mut files = BootFiles::new(&run);
        assert!(files.take_choice(b"ramdisk /r\0").is_err());
        files.take_choice(b"kernel /k\0").unwrap();
        drop(files);
        assert!(!run.output.exists() && !run.output_dir.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
