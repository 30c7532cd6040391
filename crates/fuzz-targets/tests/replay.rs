//! Every seed and every past finding through its fuzz target, under the
//! slow-input rule: no input may take more than a second or hold more than
//! 256 MB of heap (the allocator aborts the test past that).

use std::path::{Path, PathBuf};
use std::time::Instant;

use xl_fuzz_targets::{LimitedAlloc, MEMORY_LIMIT, TARGETS, TIME_LIMIT, peak_bytes, reset_peak};

#[global_allocator]
static ALLOC: LimitedAlloc = LimitedAlloc;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The inputs of a target: hand-made seeds, past findings, and for the
/// config targets the conformance corpus.
fn inputs(target: &str) -> Vec<PathBuf> {
    let r = root();
    let mut dirs = vec![
        r.join("fuzz/seeds").join(target),
        r.join("fuzz/regressions").join(target),
    ];
    if matches!(target, "config_text" | "domain_config") {
        dirs.push(r.join("tests/corpus/cfg"));
        dirs.push(r.join("fuzz/seeds/config_text"));
        dirs.push(r.join("fuzz/regressions/config_text"));
        dirs.push(r.join("fuzz/regressions/domain_config"));
    }
    let mut files: Vec<PathBuf> = dirs
        .iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flatten()
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files.dedup();
    files
}

#[test]
fn seeds_and_findings_pass_within_the_limits() {
    // An unoptimised build is several times slower than the fuzzers'
    // release build; the rule is for the latter.
    let time_limit = if cfg!(debug_assertions) {
        TIME_LIMIT * 10
    } else {
        TIME_LIMIT
    };
    // A panic on another thread (the xenstored's) fails the run, as it
    // does under libFuzzer.
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default(info);
        std::process::abort();
    }));
    // One thread: the heap counters are process-wide.
    for (name, target) in TARGETS {
        let files = inputs(name);
        assert!(files.len() >= 5, "{name}: only {} inputs", files.len());
        for f in files {
            let data = std::fs::read(&f).unwrap();
            reset_peak();
            let start = Instant::now();
            target(&data);
            let took = start.elapsed();
            assert!(took <= time_limit, "{name}: {} took {took:?}", f.display());
            assert!(peak_bytes() <= MEMORY_LIMIT, "{name}: {}", f.display());
        }
    }
}

#[test]
fn the_allocator_refuses_what_would_pass_the_limit() {
    // Reserving (not touching) more than the limit must fail, not succeed
    // lazily as the kernel's overcommit would let it.
    let mut v: Vec<u8> = Vec::new();
    assert!(v.try_reserve_exact(MEMORY_LIMIT + 1).is_err());
    assert!(v.try_reserve_exact(1 << 20).is_ok());
}

#[test]
fn every_target_has_a_libfuzzer_binary_and_back() {
    let manifest = std::fs::read_to_string(root().join("fuzz/Cargo.toml")).unwrap();
    let mut bins: Vec<&str> = manifest
        .lines()
        .filter_map(|l| l.strip_prefix("name = \""))
        .filter_map(|l| l.strip_suffix('"'))
        .filter(|n| *n != "xl-fuzz")
        .collect();
    bins.sort();
    let mut names: Vec<&str> = TARGETS.iter().map(|t| t.0).collect();
    names.sort();
    assert_eq!(bins, names);
    for n in names {
        let src =
            std::fs::read_to_string(root().join(format!("fuzz/fuzz_targets/{n}.rs"))).unwrap();
        assert!(src.contains(&format!("xl_fuzz_targets::{n}(data)")), "{n}");
    }
}
