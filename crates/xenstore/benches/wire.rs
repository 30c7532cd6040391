//! The xenstore wire codec on what `xl list` sends and reads: a batch of
//! name reads for 100 domains encoded, and their replies decoded from one
//! buffer as the client's reader sees them.

use criterion::{Criterion, criterion_group, criterion_main};
use xenstore::wire::{Message, Op};

fn batch() -> Vec<Message> {
    (0..100u32)
        .map(|d| {
            let path = format!("/local/domain/{d}/name\0");
            Message::new(Op::Read, d, 0, path.into_bytes())
        })
        .collect()
}

fn codec(c: &mut Criterion) {
    let requests = batch();
    c.bench_function("encode 100 reads", |b| {
        b.iter(|| {
            for m in &requests {
                std::hint::black_box(m.encode().expect("small message"));
            }
        })
    });
    let replies: Vec<u8> = (0..100u32)
        .flat_map(|d| {
            Message::new(Op::Read, d, 0, format!("guest-{d}").into_bytes())
                .encode()
                .expect("small message")
        })
        .collect();
    c.bench_function("decode 100 replies from one buffer", |b| {
        b.iter(|| {
            let mut at = 0;
            while let Ok(Some((m, used))) = Message::decode(&replies[at..]) {
                std::hint::black_box(m);
                at += used;
            }
        })
    });
}

criterion_group!(benches, codec);
criterion_main!(benches);
