use std::borrow::Cow;

use super::decompress::decompress_capped;
use super::*;
use crate::testutil::{self, Desc, ElfBuilder, NotePlace};

/// `parse_kernel` for tests that build the image in a temporary.
fn parse_kernel(bytes: &[u8]) -> Result<Kernel<'static>, ImageError> {
    super::parse_kernel(bytes).and_then(Kernel::into_owned)
}

const ALL: [Compression; 7] = [
    Compression::Gzip,
    Compression::Bzip2,
    Compression::Xz,
    Compression::Lzma,
    Compression::Lzo,
    Compression::Lz4,
    Compression::Zstd,
];

fn parse(b: &ElfBuilder) -> Result<Kernel<'static>, ImageError> {
    parse_kernel(&b.build())
}

fn segments_of(k: &Kernel) -> Vec<(u64, Vec<u8>, u64)> {
    k.segments()
        .map(|s| (s.paddr, k.segment_data(&s).unwrap(), s.memsz))
        .collect()
}

#[test]
fn linux_like_kernel_notes_and_addresses() {
    let k = parse(&ElfBuilder::linux()).unwrap();
    assert_eq!(k.format(), KernelFormat::Elf);
    assert!(k.is_64bit());
    assert_eq!(k.machine(), 62);
    let n = k.notes();
    assert_eq!(n.guest_os.as_deref(), Some("linux"));
    assert_eq!(n.guest_version.as_deref(), Some("2.6"));
    assert_eq!(n.xen_version.as_deref(), Some("xen-3.0"));
    assert_eq!(n.loader.as_deref(), Some("generic"));
    assert_eq!(n.pae_mode.as_deref(), Some("yes"));
    assert_eq!(n.virt_base, Some(testutil::VIRT_BASE));
    assert_eq!(n.paddr_offset, Some(0));
    assert_eq!(n.entry, Some(testutil::ENTRY));
    assert_eq!(n.hypercall_page, Some(testutil::HYPERCALL));
    assert_eq!(n.init_p2m, Some(testutil::INIT_P2M));
    assert_eq!(n.mod_start_pfn, Some(1));
    assert_eq!(n.suspend_cancel, Some(1));
    assert_eq!(n.supported_features, Some(0x801));
    assert_eq!(n.features.as_deref(), Some("!writable_page_tables"));
    assert!(n.requires(feature::WRITABLE_PAGE_TABLES));
    assert!(!n.requires(feature::DOM0));
    // SUPPORTED_FEATURES 0x801 = writable_page_tables | dom0 (supported, not required).
    assert!(n.supports(feature::DOM0));
    assert_eq!(k.virt_base(), 0xffff_ffff_8000_0000);
    assert_eq!(k.paddr_offset(), 0);
    assert_eq!(k.virt_kstart(), 0xffff_ffff_8100_0000);
    assert_eq!(k.virt_kend(), 0xffff_ffff_8100_5000);
    assert_eq!(k.entry(), testutil::ENTRY);
    assert!(k.unmapped_initrd());
    let segs = segments_of(&k);
    let b = ElfBuilder::linux();
    assert_eq!(segs.len(), 2);
    assert_eq!(segs[0], (0x100_0000, b.loads[0].data.clone(), 0x3000));
    assert_eq!(segs[1], (0x100_3000, b.loads[1].data.clone(), 0x2000));
}

#[test]
fn notes_from_sections_when_no_note_segment() {
    for place in [NotePlace::Section, NotePlace::ZeroOffsetSegmentAndSection] {
        let mut b = ElfBuilder::linux();
        b.note_place = place;
        let k = parse(&b).unwrap();
        assert_eq!(k.notes().virt_base, Some(testutil::VIRT_BASE), "{place:?}");
        assert_eq!(k.virt_kstart(), 0xffff_ffff_8100_0000);
    }
}

#[test]
fn paddr_offset_shifts_the_kernel_range() {
    // Old kernels: paddr = vaddr, PADDR_OFFSET = VIRT_BASE.
    let mut b = ElfBuilder::linux().with_note(4, Desc::Num(testutil::VIRT_BASE));
    for l in &mut b.loads {
        l.paddr = l.vaddr;
    }
    let k = parse(&b).unwrap();
    assert_eq!(k.virt_kstart(), 0xffff_ffff_8100_0000);
    assert_eq!(k.virt_kend(), 0xffff_ffff_8100_5000);
}

#[test]
fn entry_defaults_to_e_entry() {
    let mut b = ElfBuilder::linux().without_note(1);
    b.entry = testutil::KERNEL_VADDR + 0x123;
    assert_eq!(parse(&b).unwrap().entry(), testutil::KERNEL_VADDR + 0x123);
}

#[test]
fn kernel_without_xen_notes_is_refused() {
    let mut b = ElfBuilder::linux();
    b.notes.retain(|(name, _, _)| *name != "Xen");
    let err = parse(&b).unwrap_err();
    assert_eq!(err, ImageError::NoXenNotes);
    assert!(err.to_string().contains("is CONFIG_XEN enabled?"));
}

#[test]
fn missing_xen_version_is_named() {
    let err = parse(&ElfBuilder::linux().without_note(5)).unwrap_err();
    assert_eq!(
        err,
        ImageError::MissingNote {
            note: "XEN_VERSION",
            hint: "expected \"xen-3.0\""
        }
    );
    assert_eq!(
        err.to_string(),
        "not a Xen PV kernel: the XEN_VERSION ELF note is missing (expected \"xen-3.0\")"
    );
}

#[test]
fn wrong_xen_version_is_refused() {
    let err = parse(&ElfBuilder::linux().with_note(5, Desc::Str("xen-2.0"))).unwrap_err();
    assert!(
        matches!(
            err,
            ImageError::BadNote {
                note: "XEN_VERSION",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("\"xen-2.0\""));
}

#[test]
fn guest_os_or_loader_is_required() {
    let neither = ElfBuilder::linux().without_note(6).without_note(8);
    assert!(matches!(
        parse(&neither).unwrap_err(),
        ImageError::MissingNote {
            note: "GUEST_OS",
            ..
        }
    ));
    let netbsd = ElfBuilder::linux()
        .without_note(8)
        .with_note(6, Desc::Str("NetBSD"));
    let err = parse(&netbsd).unwrap_err();
    assert!(matches!(err, ImageError::Unsupported(_)), "{err}");
    assert!(err.to_string().contains("\"NetBSD\""));
    // Either one suffices.
    parse(&ElfBuilder::linux().without_note(6)).unwrap();
    parse(&ElfBuilder::linux().without_note(8)).unwrap();
}

#[test]
fn pvh_only_kernel_is_sent_to_pvh() {
    let mut b = ElfBuilder::linux();
    b.notes = vec![("Xen", 18, Desc::Num32(0x100_0040))];
    let err = parse(&b).unwrap_err();
    assert!(err.to_string().contains("type=\"pvh\""), "{err}");
}

#[test]
fn dom0_only_kernel_is_refused() {
    for features in ["!dom0", "writable_page_tables|!dom0"] {
        let err = parse(&ElfBuilder::linux().with_note(10, Desc::Str(features))).unwrap_err();
        assert!(
            matches!(err, ImageError::Unsupported(_)),
            "{features}: {err}"
        );
        assert!(err.to_string().contains("\"dom0\""), "{err}");
    }
    // Merely supporting dom0 is fine.
    parse(&ElfBuilder::linux().with_note(10, Desc::Str("writable_page_tables|dom0"))).unwrap();
}

#[test]
fn auto_translated_kernel_is_refused() {
    let b = ElfBuilder::linux().with_note(10, Desc::Str("!auto_translated_physmap"));
    let err = parse(&b).unwrap_err();
    assert!(err.to_string().contains("auto_translated_physmap"), "{err}");
}

#[test]
fn unknown_required_feature_is_refused_unknown_optional_ignored() {
    let err = parse(&ElfBuilder::linux().with_note(10, Desc::Str("!frobnicate"))).unwrap_err();
    assert!(
        matches!(
            err,
            ImageError::BadNote {
                note: "FEATURES",
                ..
            }
        ),
        "{err}"
    );
    let k = parse(&ElfBuilder::linux().with_note(10, Desc::Str("frobnicate"))).unwrap();
    assert_eq!(k.notes().features_required, 0);
}

#[test]
fn malformed_note_values_are_named() {
    let err = parse(&ElfBuilder::linux().with_note(3, Desc::Raw(vec![1, 2, 3]))).unwrap_err();
    assert!(
        matches!(
            err,
            ImageError::BadNote {
                note: "VIRT_BASE",
                ..
            }
        ),
        "{err}"
    );
    // Linux writes FEATURES with .ascii: no NUL inside the descriptor.
    let ascii = ElfBuilder::linux().with_note(10, Desc::Raw(b"!writable_page_tables".to_vec()));
    let k = parse(&ascii).unwrap();
    assert_eq!(k.notes().features.as_deref(), Some("!writable_page_tables"));
    assert!(k.notes().requires(feature::WRITABLE_PAGE_TABLES));
    let unterminated_dom0 = ElfBuilder::linux().with_note(10, Desc::Raw(b"!dom0".to_vec()));
    assert!(matches!(
        parse(&unterminated_dom0).unwrap_err(),
        ImageError::Unsupported(_)
    ));
    // 4-byte numeric notes are read like 8-byte ones.
    let k = parse(&ElfBuilder::linux().with_note(16, Desc::Num32(0))).unwrap();
    assert!(!k.unmapped_initrd());
}

#[test]
fn inconsistent_addresses_are_refused() {
    let entry_outside = ElfBuilder::linux().with_note(1, Desc::Num(testutil::VIRT_BASE));
    let err = parse(&entry_outside).unwrap_err();
    assert!(matches!(err, ImageError::Addresses(_)), "{err}");
    assert!(err.to_string().contains("entry point"));
    let p2m_inside = ElfBuilder::linux().with_note(15, Desc::Num(testutil::KERNEL_VADDR));
    assert!(
        parse(&p2m_inside)
            .unwrap_err()
            .to_string()
            .contains("INIT_P2M")
    );
    let offset_no_base = ElfBuilder::linux()
        .without_note(3)
        .with_note(4, Desc::Num(0));
    assert!(
        parse(&offset_no_base)
            .unwrap_err()
            .to_string()
            .contains("VIRT_BASE is not")
    );
    // Same kernel addresses, but VIRT_BASE above the kernel start.
    let base_above = ElfBuilder::linux()
        .with_note(3, Desc::Num(testutil::KERNEL_VADDR + 0x1000))
        .with_note(4, Desc::Num(testutil::KERNEL_PADDR + 0x1000));
    let err = parse(&base_above).unwrap_err();
    assert!(
        err.to_string()
            .contains("VIRT_BASE 0xffffffff81001000 lies above"),
        "{err}"
    );
}

#[test]
fn elf32_parses_with_its_class() {
    let mut b = ElfBuilder::linux()
        .with_note(3, Desc::Num32(0xc000_0000))
        .with_note(1, Desc::Num32(0xc100_0040))
        .with_note(2, Desc::Num32(0xc100_1000))
        .without_note(15);
    b.class64 = false;
    b.machine = 3;
    b.entry = 0xc100_0040;
    for l in &mut b.loads {
        l.vaddr = l.paddr + 0xc000_0000;
    }
    let k = parse(&b).unwrap();
    assert!(!k.is_64bit());
    assert_eq!(k.machine(), 3);
    assert_eq!(k.virt_kstart(), 0xc100_0000);
}

#[test]
fn non_x86_elf_is_refused() {
    let mut b = ElfBuilder::linux();
    b.machine = 183; // AArch64
    assert!(parse(&b).unwrap_err().to_string().contains("not x86"));
}

#[test]
fn segment_past_end_of_file_is_refused() {
    let bytes = ElfBuilder::linux().build();
    let err = parse_kernel(&bytes[..bytes.len() - 1]).unwrap_err();
    assert!(matches!(err, ImageError::Elf(_)), "{err}");
    assert!(err.to_string().contains("truncated"), "{err}");
}

#[test]
fn every_truncation_fails_cleanly() {
    let bytes = ElfBuilder::linux().build();
    for len in 0..bytes.len() {
        assert!(
            parse_kernel(&bytes[..len]).is_err(),
            "prefix of {len} bytes"
        );
    }
}

#[test]
fn corrupted_headers_never_panic() {
    let bytes = ElfBuilder::linux().build();
    let header_area = 64 + 3 * 56 + 400; // ELF header, phdrs and notes
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut accepted = 0;
    for _ in 0..3000 {
        let mut b = bytes.clone();
        for _ in 0..3 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let at = (seed % header_area as u64) as usize;
            b[at] = (seed >> 32) as u8;
        }
        accepted += usize::from(parse_kernel(&b).is_ok());
    }
    // Some mutations hit padding or note payloads and still parse; most must not.
    assert!(accepted < 3000);
}

#[test]
fn gzip_wrapped_elf_is_accepted() {
    let elf = ElfBuilder::linux().build();
    let gz = testutil::compress(Compression::Gzip, &elf);
    let k = parse_kernel(&gz).unwrap();
    assert_eq!(k.format(), KernelFormat::GzipElf);
    assert_eq!(k.elf_bytes(), Some(&elf[..]));
}

#[test]
fn bzimage_with_every_compressor() {
    let elf = ElfBuilder::linux().build();
    let reference = segments_of(&parse_kernel(&elf).unwrap());
    for format in ALL {
        let payload = testutil::compress(format, &elf);
        assert_eq!(super::decompress::detect(&payload), Some(format));
        let k = parse_kernel(&testutil::bzimage(&payload, 0x020f))
            .unwrap_or_else(|e| panic!("{format}: {e}"));
        assert_eq!(k.format(), KernelFormat::BzImage(format));
        assert_eq!(k.elf_bytes(), Some(&elf[..]), "{format}");
        assert_eq!(segments_of(&k), reference, "{format}");
    }
}

#[test]
fn xz_payload_uses_the_x86_bcj_filter() {
    // The fixture text holds E8/E9 bytes, which BCJ rewrites; a decoder without the
    // filter would not reproduce them.
    let elf = ElfBuilder::linux().build();
    assert!(elf.contains(&0xe8));
    let payload = testutil::compress(Compression::Xz, &elf);
    // Block header: size byte, flags (1 = two filters), then filter id 0x04 (x86 BCJ).
    assert_eq!(payload[12 + 2], 0x04, "fixture is not BCJ-filtered");
    assert_eq!(
        decompress::decompress(Compression::Xz, &payload, "x").unwrap(),
        elf
    );
}

#[test]
fn each_decompressor_honours_the_cap() {
    let data = vec![0x5au8; 64 * 1024];
    for format in ALL {
        let payload = testutil::compress(format, &data);
        let out = decompress_capped(format, &payload, "bzImage payload", 64 * 1024).unwrap();
        assert_eq!(out, data, "{format}");
        let err = decompress_capped(format, &payload, "bzImage payload", 1000).unwrap_err();
        assert_eq!(
            err,
            ImageError::TooLarge {
                what: "bzImage payload",
                format
            }
        );
        assert!(err.to_string().contains("1 GiB"));
    }
}

#[test]
fn corrupt_payloads_name_their_compressor() {
    let elf = ElfBuilder::linux().build();
    for format in ALL {
        let mut payload = testutil::compress(format, &elf);
        // Keep the magic, destroy the stream.
        let len = payload.len();
        let keep = match format {
            Compression::Lzo => 40,
            _ => 8,
        };
        for b in &mut payload[keep..len - 4] {
            *b = !*b;
        }
        let err = parse_kernel(&testutil::bzimage(&payload, 0x020f)).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("bzImage payload is compressed with {format}")),
            "{format}: {text}"
        );
    }
}

#[test]
fn truncated_payloads_fail_cleanly() {
    let elf = ElfBuilder::linux().build();
    for format in ALL {
        let payload = testutil::compress(format, &elf);
        for len in [0, 1, 2, 5, 12, payload.len() / 2, payload.len() - 5] {
            let r = parse_kernel(&testutil::bzimage(&payload[..len], 0x020f));
            assert!(r.is_err(), "{format} cut at {len}");
        }
    }
}

#[test]
fn bzimage_header_bounds() {
    let payload = testutil::compress(Compression::Gzip, &ElfBuilder::linux().build());
    let good = testutil::bzimage(&payload, 0x0208);
    parse_kernel(&good).unwrap();

    let old = testutil::bzimage(&payload, 0x0207);
    let err = parse_kernel(&old).unwrap_err();
    assert!(err.to_string().contains("boot protocol 2.07"), "{err}");

    let short = &good[..0x240];
    let err = parse_kernel(short).unwrap_err();
    assert!(err.to_string().contains("too short"), "{err}");

    let mut offset_past = good.clone();
    offset_past[0x248..0x24c].copy_from_slice(&0x0100_0000u32.to_le_bytes());
    let err = parse_kernel(&offset_past).unwrap_err();
    assert!(err.to_string().contains("payload offset"), "{err}");

    let mut length_past = good.clone();
    let len = payload.len() as u32 + 17; // the fixture has 16 trailing bytes
    length_past[0x24c..0x250].copy_from_slice(&len.to_le_bytes());
    let err = parse_kernel(&length_past).unwrap_err();
    assert!(err.to_string().contains("runs past the end"), "{err}");

    let mut huge = good;
    huge[0x1f1] = 0xff;
    huge[0x248..0x24c].copy_from_slice(&u32::MAX.to_le_bytes());
    huge[0x24c..0x250].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        parse_kernel(&huge).unwrap_err(),
        ImageError::BzImage(_)
    ));
}

#[test]
fn bzimage_payload_must_be_known_and_elf() {
    let err = parse_kernel(&testutil::bzimage(b"PK\x03\x04junk", 0x020f)).unwrap_err();
    assert!(
        matches!(err, ImageError::UnknownCompression { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("50 4b 03 04"));
    let not_elf = testutil::compress(Compression::Zstd, b"just some text, not an ELF");
    let err = parse_kernel(&testutil::bzimage(&not_elf, 0x020f)).unwrap_err();
    assert!(err.to_string().contains("not an ELF image"), "{err}");
}

#[test]
fn unrecognised_files() {
    let err = parse_kernel(b"#!/bin/sh\necho hi\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "not a kernel image: neither ELF, gzip-compressed ELF nor bzImage \
         (it starts with 23 21 2f 62 69 6e 2f 73)"
    );
    assert!(parse_kernel(&[]).unwrap_err().to_string().contains("empty"));
}

#[test]
fn lzop_block_with_a_match() {
    // "abc" as a literal run, then an M3 match of 9 bytes at distance 3, then the end.
    let block = [20, b'a', b'b', b'c', 39, 8, 0, 17, 0, 0];
    let want = b"abcabcabcabc";
    let mut file = testutil::lzop_header(0x0001);
    file.extend((want.len() as u32).to_be_bytes());
    file.extend((block.len() as u32).to_be_bytes());
    file.extend(lzop_adler32(want).to_be_bytes());
    file.extend(block);
    file.extend(0u32.to_be_bytes());
    file.extend(0xdead_beefu32.to_le_bytes()); // appended size: ignored
    let out = decompress::decompress(Compression::Lzo, &file, "x").unwrap();
    assert_eq!(out, want);

    // The same block with a wrong checksum is caught.
    let at = file.len() - 8 - block.len() - 4;
    file[at] ^= 1;
    let err = decompress::decompress(Compression::Lzo, &file, "x").unwrap_err();
    assert!(err.to_string().contains("Adler-32"), "{err}");
}

#[test]
fn lzop_stored_blocks_and_crc32() {
    // F_CRC32_D | F_ADLER32_C: one CRC per block, and a compressed-data checksum only
    // for compressed blocks.
    let stored = b"stored block, not compressed";
    let repeated = b"0123456789".repeat(8);
    let crc = |d: &[u8]| {
        let mut c = flate2::Crc::new();
        c.update(d);
        c.sum()
    };
    let mut file = testutil::lzop_header(0x0100 | 0x0002);
    file.extend((stored.len() as u32).to_be_bytes());
    file.extend((stored.len() as u32).to_be_bytes());
    file.extend(crc(stored).to_be_bytes());
    file.extend(stored);
    let packed = testutil::lzo1x_compress(&repeated);
    assert!(packed.len() < repeated.len());
    file.extend((repeated.len() as u32).to_be_bytes());
    file.extend((packed.len() as u32).to_be_bytes());
    file.extend(crc(&repeated).to_be_bytes());
    file.extend(0u32.to_be_bytes()); // compressed-data checksum: not verified
    file.extend(&packed);
    file.extend(0u32.to_be_bytes());
    let out = decompress::decompress(Compression::Lzo, &file, "x").unwrap();
    assert_eq!(out, [&stored[..], &repeated[..]].concat());

    let at = 38 + 12 + stored.len() + 8; // CRC of the second block
    file[at] ^= 0x10;
    let err = decompress::decompress(Compression::Lzo, &file, "x").unwrap_err();
    assert!(err.to_string().contains("CRC-32"), "{err}");
}

#[test]
fn lzo_literal_runs_of_every_encoding_length() {
    // n unique bytes (a literal run: first-instruction form, short form, or length
    // extension), then a repetitive tail that makes the block worth compressing.
    let mut seed = 0x9e37_79b9u32;
    for n in [1usize, 3, 4, 18, 19, 238, 239, 273, 274, 5000] {
        let mut data: Vec<u8> = (0..n)
            .map(|_| {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (seed >> 24) as u8
            })
            .collect();
        data.extend(b"abcd".repeat(200));
        data.extend(b"xyz");
        assert!(testutil::lzo1x_compress(&data).len() < data.len(), "{n}");
        let file = testutil::lzop_file(&data);
        let out = decompress::decompress(Compression::Lzo, &file, "x").unwrap();
        assert_eq!(out, data, "{n} literals");
    }
}

#[test]
fn lz4_frame_with_several_blocks_and_restarted_magic() {
    let parts: [&[u8]; 2] = [b"first block first block first block", b"second block"];
    let mut frame = 0x184C_2102u32.to_le_bytes().to_vec();
    for (i, p) in parts.iter().enumerate() {
        if i == 1 {
            frame.extend(0x184C_2102u32.to_le_bytes());
        }
        let block = lz4_flex::block::compress(p);
        frame.extend((block.len() as u32).to_le_bytes());
        frame.extend(block);
    }
    let want = [parts[0], parts[1]].concat();
    assert_eq!(
        decompress::decompress(Compression::Lz4, &frame, "x").unwrap(),
        want
    );
    frame.extend((want.len() as u32).to_le_bytes());
    assert_eq!(
        decompress::decompress(Compression::Lz4, &frame, "x").unwrap(),
        want
    );
}

fn gzip(data: &[u8]) -> Vec<u8> {
    testutil::compress(Compression::Gzip, data)
}

fn initrd(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i % 253) as u8 ^ (i / 4096) as u8)
        .collect()
}

/// Up to 4.19 a gzip ramdisk is gunzipped into a buffer 16 bytes larger than its trailer
/// says, which is what the guest gets; from 4.20 it is loaded as it is.
#[test]
fn gzip_ramdisk_is_gunzipped_before_4_20() {
    let data = initrd(50_000);
    let gz = gzip(&data);
    for version in [(4, 17), (4, 18), (4, 19)] {
        let loaded = load_ramdisk(&gz, version).unwrap();
        assert_eq!(loaded.len(), data.len() + 16, "{version:?}");
        assert_eq!(&loaded[..data.len()], &data[..]);
        assert_eq!(&loaded[data.len()..], &[0; 16]);
    }
    for version in [(4, 20), (4, 21), (4, 22), (5, 0)] {
        let loaded = load_ramdisk(&gz, version).unwrap();
        assert!(matches!(loaded, Cow::Borrowed(_)), "{version:?}");
        assert_eq!(&loaded[..], &gz[..]);
    }
}

#[test]
fn other_ramdisks_are_loaded_as_they_are() {
    let data = initrd(10_000);
    let xz = testutil::compress(Compression::Xz, &data);
    for bytes in [&data[..], &xz[..], b"", b"\x1f\x8b\x08\x00\x00"] {
        let loaded = load_ramdisk(bytes, (4, 17)).unwrap();
        assert!(matches!(loaded, Cow::Borrowed(_)));
        assert_eq!(&loaded[..], bytes);
    }
}

/// A gzip file that does not gunzip into its buffer is loaded raw, but into the segment
/// sized for that buffer, zero-filled.
#[test]
fn broken_gzip_ramdisk_falls_back_to_the_file() {
    let data = initrd(30_000);
    let good = gzip(&data);
    let padded_to = |mut v: Vec<u8>, len: usize| {
        v.resize(len, 0);
        v
    };
    // A corrupt checksum: the buffer is right, the contents are the file.
    let mut bad_crc = good.clone();
    let crc_at = bad_crc.len() - 8;
    bad_crc[crc_at] ^= 0xff;
    let loaded = load_ramdisk(&bad_crc, (4, 17)).unwrap();
    assert_eq!(loaded.to_vec(), padded_to(bad_crc.clone(), data.len() + 16));
    // A trailer claiming less than the stream holds: the output does not fit.
    let mut short = good.clone();
    let at = short.len() - 4;
    short[at..].copy_from_slice(&1000u32.to_le_bytes());
    let loaded = load_ramdisk(&short, (4, 17)).unwrap();
    assert_eq!(
        loaded.to_vec(),
        padded_to(short.clone(), short.len().max(1016))
    );
    // Padding after the stream (as archivers add): the trailer read is the padding.
    let mut padded = good.clone();
    padded.resize(good.len().next_multiple_of(512) + 512, 0);
    let loaded = load_ramdisk(&padded, (4, 17)).unwrap();
    assert_eq!(loaded.to_vec(), padded);
}

/// Only the first gzip member is gunzipped; the size comes from the last 4 bytes.
#[test]
fn concatenated_gzip_ramdisk_keeps_the_first_member() {
    let (a, b) = (initrd(3000), initrd(8000));
    let both = [gzip(&a), gzip(&b)].concat();
    let loaded = load_ramdisk(&both, (4, 19)).unwrap();
    assert_eq!(loaded.len(), b.len() + 16);
    assert_eq!(&loaded[..a.len()], &a[..]);
    assert!(loaded[a.len()..].iter().all(|&x| x == 0));
}

/// Sizes past 1 GiB: a trailer claiming more is not believed (raw file); a segment that
/// would pass 1 GiB drops the gunzip; a larger file is refused.
#[test]
fn ramdisk_size_limits() {
    let mut huge_claim = gzip(b"abc");
    let at = huge_claim.len() - 4;
    huge_claim[at..].copy_from_slice(&((1u32 << 30) + 1).to_le_bytes());
    let loaded = load_ramdisk(&huge_claim, (4, 17)).unwrap();
    assert!(matches!(loaded, Cow::Borrowed(_)));
    huge_claim[at..].copy_from_slice(&((1u32 << 30) - 8).to_le_bytes());
    let loaded = load_ramdisk(&huge_claim, (4, 17)).unwrap();
    assert!(matches!(loaded, Cow::Borrowed(_)));
    // calloc'd: the pages are never touched.
    let too_big = vec![0u8; (1 << 30) + 1];
    let err = load_ramdisk(&too_big, (4, 22)).unwrap_err();
    assert_eq!(err, ImageError::RamdiskTooLarge { len: (1 << 30) + 1 });
    assert!(err.to_string().contains("at most 1 GiB"), "{err}");
}

/// The length known before unpacking is the loaded length, for every case above.
#[test]
fn loaded_ramdisk_len_is_the_loaded_length() {
    let data = initrd(30_000);
    let good = gzip(&data);
    let mut bad_crc = good.clone();
    let crc_at = bad_crc.len() - 8;
    bad_crc[crc_at] ^= 0xff;
    let mut short = good.clone();
    let at = short.len() - 4;
    short[at..].copy_from_slice(&1000u32.to_le_bytes());
    let mut padded = good.clone();
    padded.resize(good.len().next_multiple_of(512) + 512, 0);
    let mut huge_claim = gzip(b"abc");
    let at = huge_claim.len() - 4;
    huge_claim[at..].copy_from_slice(&((1u32 << 30) - 8).to_le_bytes());
    let both = [gzip(&initrd(3000)), gzip(&initrd(8000))].concat();
    let xz = testutil::compress(Compression::Xz, &data);
    let cases: [&[u8]; 10] = [
        &good,
        &bad_crc,
        &short,
        &padded,
        &huge_claim,
        &both,
        &xz,
        &data,
        b"",
        b"\x1f\x8b\x08\x00\x00",
    ];
    for bytes in cases {
        for version in [(4, 17), (4, 19), (4, 20), (4, 22)] {
            let loaded = load_ramdisk(bytes, version).unwrap();
            assert_eq!(
                loaded_ramdisk_len(bytes, version),
                Ok(loaded.len() as u64),
                "{} bytes, {version:?}",
                bytes.len()
            );
        }
    }
    let too_big = vec![0u8; (1 << 30) + 1];
    assert_eq!(
        loaded_ramdisk_len(&too_big, (4, 17)),
        Err(ImageError::RamdiskTooLarge { len: (1 << 30) + 1 })
    );
}

/// Everything parsing found, for comparing the streamed and in-memory paths.
fn summary(k: &Kernel) -> String {
    format!(
        "{:?} 64={} m={} {:?} {:?} {:#x}-{:#x} entry {:#x}",
        k.format(),
        k.is_64bit(),
        k.machine(),
        k.notes(),
        segments_of(k),
        k.virt_kstart(),
        k.virt_kend(),
        k.entry()
    )
}

fn note_fixtures() -> Vec<ElfBuilder> {
    let mut section = ElfBuilder::linux();
    section.note_place = NotePlace::Section;
    let mut zero_offset = ElfBuilder::linux();
    zero_offset.note_place = NotePlace::ZeroOffsetSegmentAndSection;
    let mut elf32 = ElfBuilder::linux()
        .with_note(3, Desc::Num32(0xc000_0000))
        .with_note(1, Desc::Num32(0xc100_0040))
        .with_note(2, Desc::Num32(0xc100_1000))
        .without_note(15);
    elf32.class64 = false;
    elf32.machine = 3;
    elf32.entry = 0xc100_0040;
    vec![ElfBuilder::linux(), section, zero_offset, elf32]
}

#[test]
fn streamed_elf_parses_as_in_memory() {
    for b in note_fixtures() {
        let bytes = b.build();
        let in_memory = parse_kernel(&bytes).unwrap();
        let src = testutil::Streamed::new(bytes.clone());
        let streamed = parse_kernel_from(&src).unwrap();
        assert_eq!(
            summary(&streamed),
            summary(&in_memory),
            "{:?}",
            b.note_place
        );
        assert_eq!(streamed.elf_bytes(), None);
        assert_eq!(streamed.elf_len(), bytes.len() as u64);
        let owned = streamed.into_owned().unwrap();
        assert_eq!(owned.elf_bytes(), Some(&bytes[..]));
    }
}

/// Of a plain ELF only the first kilobyte, the headers and the notes are read, however
/// large its segments.
#[test]
fn streamed_elf_reads_only_headers_and_notes() {
    for mut b in note_fixtures() {
        b.loads[0].data = vec![0x90; 4 << 20];
        b.loads[0].memsz = 4 << 20;
        b.loads[1].paddr += 4 << 20;
        let src = testutil::Streamed::new(b.build());
        parse_kernel_from(&src).unwrap();
        assert!(src.bytes_read() < 4096, "{} bytes read", src.bytes_read());
        assert!(src.largest_read() <= 1024);
    }
}

#[test]
fn streamed_compressed_kernels_are_read_whole() {
    let elf = ElfBuilder::linux().build();
    let reference = summary(&parse_kernel(&elf).unwrap());
    let gz = testutil::compress(Compression::Gzip, &elf);
    let bz = testutil::bzimage(&testutil::compress(Compression::Xz, &elf), 0x020f);
    for (file, format) in [
        (gz, KernelFormat::GzipElf),
        (bz, KernelFormat::BzImage(Compression::Xz)),
    ] {
        let src = testutil::Streamed::new(file.clone());
        let k = parse_kernel_from(&src).unwrap();
        assert_eq!(k.format(), format);
        assert_eq!(k.elf_bytes(), Some(&elf[..]));
        assert_eq!(summary(&k).split_once(' ').unwrap().1, {
            reference.split_once(' ').unwrap().1
        });
        assert_eq!(
            src.bytes_read(),
            0x400.min(file.len() as u64) + file.len() as u64
        );
    }
}

/// Every prefix of a kernel, streamed, fails as it does in memory, never reading past
/// its end.
#[test]
fn streamed_truncations_fail_as_in_memory() {
    for b in note_fixtures() {
        let bytes = b.build();
        for len in 0..bytes.len() {
            let src = testutil::Streamed::new(bytes[..len].to_vec());
            let streamed = parse_kernel_from(&src).unwrap_err();
            assert_eq!(streamed, parse_kernel(&bytes[..len]).unwrap_err(), "{len}");
        }
    }
}

/// A source holding less than it claims (a file that shrank) fails with a read error.
#[test]
fn source_shorter_than_it_claims_fails_cleanly() {
    let bytes = ElfBuilder::linux().build();
    for cut in [0, 3, 64, 100, 300] {
        let src = testutil::Streamed::new(bytes.clone());
        src.readable.set(cut);
        let err = parse_kernel_from(&src).unwrap_err();
        assert!(matches!(err, ImageError::Read { .. }), "{cut}: {err}");
        assert!(err.to_string().contains("the file shrank"), "{err}");
    }
}

#[test]
fn streamed_corrupted_headers_fail_as_in_memory() {
    let bytes = ElfBuilder::linux().build();
    let header_area = 64 + 3 * 56 + 400;
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..2000 {
        let mut b = bytes.clone();
        for _ in 0..3 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            b[(seed % header_area as u64) as usize] = (seed >> 32) as u8;
        }
        let src = testutil::Streamed::new(b.clone());
        let streamed = parse_kernel_from(&src).map(|k| summary(&k));
        let in_memory = parse_kernel(&b).map(|k| summary(&k));
        assert_eq!(streamed, in_memory);
    }
}

fn put(b: &mut [u8], at: usize, v: &[u8]) {
    b[at..at + v.len()].copy_from_slice(v);
}

/// Header fields claiming huge tables or note areas make errors, not huge reads; so does
/// a compressed file larger than any kernel.
#[test]
fn header_fields_cannot_make_huge_reads() {
    const E_PHNUM: usize = 56;
    const E_SHNUM: usize = 60;
    const NOTE_PHDR: usize = 64 + 2 * 56;
    const P_FILESZ: usize = 32;
    let mut sections = ElfBuilder::linux();
    sections.note_place = NotePlace::Section;
    let sections = sections.build();
    let shoff = u64::from_le_bytes(sections[40..48].try_into().unwrap()) as usize;
    let plain = ElfBuilder::linux().build();
    let len = |b: &[u8]| b.len() as u64;

    // Extended program header count in section 0 (sh_info).
    let mut xnum = sections.clone();
    put(&mut xnum, E_PHNUM, &0xffffu16.to_le_bytes());
    put(&mut xnum, shoff + 44, &u32::MAX.to_le_bytes());
    // Extended section count in section 0 (sh_size).
    let mut shnum = sections.clone();
    put(&mut shnum, E_SHNUM, &0u16.to_le_bytes());
    put(&mut shnum, shoff + 32, &u64::MAX.to_le_bytes());
    // A note segment larger than the file.
    let mut note = plain.clone();
    put(&mut note, NOTE_PHDR + P_FILESZ, &u64::MAX.to_le_bytes());
    // One inside a file that claims a terabyte.
    let mut note_tb = plain.clone();
    put(
        &mut note_tb,
        NOTE_PHDR + P_FILESZ,
        &(1u64 << 39).to_le_bytes(),
    );
    // A gzip "kernel" of 2 GiB.
    let mut gz = testutil::compress(Compression::Gzip, &plain);
    gz.resize(4096, 0);

    let cases = [
        (xnum.clone(), len(&xnum), "more than any kernel has"),
        (shnum.clone(), len(&shnum), "more than any kernel has"),
        (note.clone(), len(&note), "lies outside the file"),
        (note_tb, 1 << 40, "more than 16 MiB"),
        (gz, 2 << 30, "more than the 1 GiB"),
    ];
    for (bytes, claimed, want) in cases {
        let src = testutil::Streamed::claiming(bytes, claimed);
        let err = parse_kernel_from(&src).unwrap_err();
        assert!(err.to_string().contains(want), "{want}: {err}");
        assert!(src.largest_read() <= 1024, "{want}: {}", src.largest_read());
    }
    // The same refusals in memory.
    for bytes in [xnum, shnum, note] {
        assert!(parse_kernel(&bytes).is_err());
    }
}

#[test]
fn streamed_garbage_reads_only_its_head() {
    let src = testutil::Streamed::new(b"#!/bin/sh\n".repeat(100_000));
    let err = parse_kernel_from(&src).unwrap_err();
    assert!(err.to_string().starts_with("not a kernel image"), "{err}");
    assert_eq!(src.bytes_read(), 0x400);
    let empty = testutil::Streamed::new(Vec::new());
    let err = parse_kernel_from(&empty).unwrap_err();
    assert!(err.to_string().contains("empty"), "{err}");
}
