//! Quick timings of the kernel path on a 60 MiB synthetic kernel: read whole then parsed
//! ([`parse_kernel`], what the simulator does) against streamed from the file
//! ([`parse_kernel_from`], what the toolstack does), each applied to a target whose
//! "guest memory" is one reused buffer (the builder's own cost, as with foreign mappings)
//! and to [`MemTarget`]. Run with
//! `cargo test --release -p xl-builder timing -- --ignored --nocapture`.

use std::time::Instant;

use crate::target::{FillFrames, GrantSeed, GuestFrames, PvTarget, PvVcpuContext, TargetError};
use crate::testutil::{self, ElfBuilder};
use crate::{MemTarget, PvRequest, ReadAt, apply_pv, parse_kernel, parse_kernel_from, plan_pv};

/// A file read at offsets, as the toolstack reads kernels.
struct FileAt(std::fs::File, u64);

impl ReadAt for FileAt {
    fn len(&self) -> u64 {
        self.1
    }
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(&self.0, buf, offset)
    }
}

const TEXT: usize = 60 << 20;

/// A target whose "mapped guest memory" is one reused buffer, like a
/// foreign mapping: the cost left is the builder's own.
struct Sink {
    mapped: Vec<u8>,
}

impl GuestFrames for Sink {
    fn write_frames_with(
        &mut self,
        mfns: &[u64],
        fill: &mut FillFrames<'_>,
    ) -> Result<(), TargetError> {
        fill(0, &mut self.mapped[..mfns.len() * 4096])
    }
}

impl PvTarget for Sink {
    fn populate(&mut self, nr_pages: u64) -> Result<Vec<u64>, TargetError> {
        Ok((0..nr_pages).collect())
    }
    fn shared_info_mfn(&mut self) -> Result<u64, TargetError> {
        Ok(0x8_0000)
    }
    fn hypercall_page(&mut self, _: u64) -> Result<(), TargetError> {
        Ok(())
    }
    fn pin_l4(&mut self, _: u64) -> Result<(), TargetError> {
        Ok(())
    }
    fn init_shared_info(&mut self) -> Result<(), TargetError> {
        Ok(())
    }
    fn set_vcpu_context(&mut self, _: &PvVcpuContext) -> Result<(), TargetError> {
        Ok(())
    }
    fn seed_grants(&mut self, _: &[GrantSeed]) -> Result<(), TargetError> {
        Ok(())
    }
}

fn big_kernel() -> Vec<u8> {
    let mut b = ElfBuilder::linux();
    b.loads[0].data = (0..TEXT).map(|i| (i % 251) as u8 + 1).collect();
    b.loads[0].memsz = TEXT as u64;
    b.loads[1].paddr = testutil::KERNEL_PADDR + TEXT as u64;
    b.loads[1].vaddr = testutil::KERNEL_VADDR + TEXT as u64;
    b.build()
}

fn request() -> PvRequest {
    PvRequest {
        nr_pages: 256 * 256,
        cmdline: "console=hvc0".into(),
        domid: 1,
        xen_version: (4, 19),
        ..Default::default()
    }
}

#[test]
#[ignore]
fn timing() {
    let path = std::env::temp_dir().join(format!("xl-builder-timing-{}", std::process::id()));
    std::fs::write(&path, big_kernel()).unwrap();
    for round in 0..3 {
        let t = Instant::now();
        let bytes = std::fs::read(&path).unwrap();
        let read = t.elapsed();
        let t = Instant::now();
        let k = parse_kernel(&bytes).unwrap();
        let plan = plan_pv(&k, &request()).unwrap();
        let parse = t.elapsed();
        let mut sink = Sink {
            mapped: vec![0; 4 << 20],
        };
        let t = Instant::now();
        apply_pv(&plan, &k, &[], &mut sink).unwrap();
        let apply_sink = t.elapsed();
        let t = Instant::now();
        apply_pv(&plan, &k, &[], &mut MemTarget::new()).unwrap();
        let apply_mem = t.elapsed();
        eprintln!(
            "round {round}: whole file: read {read:?} parse+plan {parse:?} apply(sink) \
             {apply_sink:?} apply(MemTarget) {apply_mem:?} total(sink) {:?}",
            read + parse + apply_sink
        );
        drop(bytes);
        let t = Instant::now();
        let file = std::fs::File::open(&path).unwrap();
        let len = file.metadata().unwrap().len();
        let src = FileAt(file, len);
        let k = parse_kernel_from(&src).unwrap();
        let plan = plan_pv(&k, &request()).unwrap();
        let parse = t.elapsed();
        let t = Instant::now();
        apply_pv(&plan, &k, &[], &mut sink).unwrap();
        let apply_sink = t.elapsed();
        let t = Instant::now();
        apply_pv(&plan, &k, &[], &mut MemTarget::new()).unwrap();
        let apply_mem = t.elapsed();
        eprintln!(
            "round {round}: streamed: open+parse+plan {parse:?} apply(sink) {apply_sink:?} \
             apply(MemTarget) {apply_mem:?} total(sink) {:?}",
            parse + apply_sink
        );
    }
    std::fs::remove_file(&path).unwrap();
}
