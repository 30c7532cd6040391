//! The config path `xl create` runs before touching the host: every corpus
//! config parsed into a typed config, and that config printed as libxl's
//! JSON (what `xl -N create` and the stored userdata cost).

use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use xl_config::{Globals, Host, Report, parse_config_data};

fn corpus() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpus/cfg");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/corpus/cfg")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "cfg"))
        .collect();
    files.sort();
    files
        .into_iter()
        .filter_map(|p| {
            let text = std::fs::read(&p).ok()?;
            Some((
                p.display().to_string(),
                String::from_utf8_lossy(&text).into_owned(),
            ))
        })
        .collect()
}

fn host() -> Host {
    Host {
        max_cpus: 8,
        node_cpus: vec![(0..8).collect()],
        firmware_dir: "/usr/lib/xen-4.17/boot".into(),
    }
}

fn parse_all(c: &mut Criterion) {
    let cfgs = corpus();
    let (globals, host) = (Globals::default(), host());
    c.bench_function("parse the corpus (all configs)", |b| {
        b.iter(|| {
            for (name, text) in &cfgs {
                let mut r = Report::new();
                let _ =
                    std::hint::black_box(parse_config_data(name, text, &globals, &host, &mut r));
            }
        })
    });
    let parsed: Vec<_> = cfgs
        .iter()
        .filter_map(|(name, text)| {
            parse_config_data(name, text, &globals, &host, &mut Report::new()).ok()
        })
        .collect();
    c.bench_function("libxl JSON of the corpus (valid configs)", |b| {
        b.iter(|| {
            for cfg in &parsed {
                std::hint::black_box(cfg.to_json().to_yajl());
            }
        })
    });
}

criterion_group!(benches, parse_all);
criterion_main!(benches);
