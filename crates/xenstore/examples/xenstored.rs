//! Serves the in-process daemon on a socket until standard input closes.
//!
//! ```text
//! cargo run -p xenstore --example xenstored -- /tmp/xs.sock [--load FILE] [--save FILE]
//! XENSTORED_PATH=/tmp/xs.sock xenstore-ls -p
//! ```

use std::io::Read;
use std::process::ExitCode;

use xenstore::Daemon;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
    };
    let Some(socket) = args.first().filter(|a| !a.starts_with("--")) else {
        eprintln!("usage: xenstored SOCKET [--load FILE] [--save FILE]");
        return ExitCode::from(2);
    };
    let daemon = match flag("--load") {
        None => Daemon::new(),
        Some(file) => {
            let loaded = std::fs::read_to_string(file)
                .map_err(|e| e.to_string())
                .and_then(|t| Daemon::from_snapshot(&t).map_err(|e| e.to_string()));
            match loaded {
                Ok(d) => d,
                Err(e) => {
                    eprintln!("xenstored: {file}: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
    };
    let server = match daemon.serve(socket) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("xenstored: cannot listen on {socket}: {e}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!("xenstored: serving {socket}; close stdin to stop");
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    server.stop();
    if let Some(file) = flag("--save")
        && let Err(e) = std::fs::write(file, daemon.snapshot())
    {
        eprintln!("xenstored: {file}: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
