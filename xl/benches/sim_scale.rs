//! How the toolstack scales on the simulator: create N domains, then time
//! `xl list` (the real binary, process start included). Target: `xl list`
//! of 10 000 domains under 100 ms. Sizes: XL_BENCH_SIZES (default
//! "1000,10000").
//!
//! Run: cargo bench -p xl --bench sim_scale

use std::process::Command;
use std::time::{Duration, Instant};

fn xl(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_xl"))
        .args(args)
        .env("XL_BACKEND", "sim")
        .env("XL_SIM_DIR", dir)
        .env("XL_CONF", "/dev/null")
        // Room for every domain (64 MiB each).
        .env("XL_SIM_MEMORY_MB", "2000000")
        .output()
        .expect("run xl")
}

/// Median time of 7 runs of `xl ARGS`, each checked to print a header,
/// dom0 and the `n` domains.
fn median_of_7(dir: &std::path::Path, args: &[&str], n: usize) -> Duration {
    let mut runs: Vec<Duration> = (0..7)
        .map(|_| {
            let t = Instant::now();
            let o = xl(dir, args);
            let took = t.elapsed();
            assert!(o.status.success());
            assert_eq!(o.stdout.split(|b| *b == b'\n').count(), n + 3);
            took
        })
        .collect();
    runs.sort();
    runs[runs.len() / 2]
}

fn main() {
    let sizes: Vec<usize> = std::env::var("XL_BENCH_SIZES")
        .unwrap_or_else(|_| "1000,10000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let kernel = std::env::temp_dir().join("xl-bench-vmlinuz");
    std::fs::write(&kernel, b"kernel").unwrap();
    for n in sizes {
        let dir = tempfile::tempdir().unwrap();
        // The first xl starts the simulated host (with the memory above).
        assert!(xl(dir.path(), &["list"]).status.success());
        let sim = xl_sim::SimHypervisor::open(dir.path()).unwrap();
        let host = xl::backend::sim_host(sim.clone());
        let xs = host.xenstore().unwrap();
        let cpus = xl_config::Host {
            max_cpus: 4,
            node_cpus: vec![(0..4).collect()],
            firmware_dir: "/usr/lib/xen/boot".into(),
        };
        let start = Instant::now();
        for i in 0..n {
            let text = format!(
                "name=\"bench{i}\"\ntype=\"pvh\"\nkernel=\"{}\"\nmemory=64\n",
                kernel.display()
            );
            let mut r = xl_config::Report::new();
            let cfg = xl_config::parse_config_data(
                "bench.cfg",
                &text,
                &xl_config::Globals::default(),
                &cpus,
                &mut r,
            )
            .expect("config parses");
            let domid = xl_toolstack::create::create(&host, &xs, &cfg).expect("create");
            host.hv.unpause(domid).unwrap();
        }
        let created = start.elapsed();
        let median = median_of_7(dir.path(), &["list"], n);
        println!(
            "{n} domains: create {:.1} s ({:.2} ms each); xl list median {:.1} ms (target < 100 ms: {})",
            created.as_secs_f64(),
            created.as_secs_f64() * 1000.0 / n as f64,
            median.as_secs_f64() * 1000.0,
            if median < Duration::from_millis(100) {
                "met"
            } else {
                "MISSED"
            }
        );
        // xl top -b -i 1: the same domains plus their devices' counters.
        let top = median_of_7(dir.path(), &["top", "-b", "-i", "1"], n);
        println!(
            "{n} domains: xl top -b -i 1 median {:.1} ms",
            top.as_secs_f64() * 1000.0
        );
        let _ = sim.quit();
    }
}
