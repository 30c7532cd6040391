//! Project chores: `cargo xtask gen` regenerates the man page and shell
//! completions from the clap definition; `cargo xtask lab ...` runs the
//! Xen-in-QEMU lab (lab/lab).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

mod generate;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("gen") => {
            for (path, content) in generate::all()? {
                let full = root().join(&path);
                std::fs::create_dir_all(full.parent().expect("file in a folder"))?;
                std::fs::write(&full, content).with_context(|| format!("writing {path}"))?;
                println!("wrote {path}");
            }
            Ok(())
        }
        Some("lab") => {
            let status = std::process::Command::new(root().join("lab/lab"))
                .args(&args[1..])
                .status()
                .context("running lab/lab")?;
            std::process::exit(status.code().unwrap_or(1));
        }
        _ => bail!("usage: cargo xtask gen | cargo xtask lab [--xen 4.17|4.20] [SUITE...]"),
    }
}
