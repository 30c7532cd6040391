#![no_main]

#[global_allocator]
static ALLOC: xl_fuzz_targets::LimitedAlloc = xl_fuzz_targets::LimitedAlloc;

libfuzzer_sys::fuzz_target!(|data: &[u8]| xl_fuzz_targets::vif_spec(data));
