use proptest::prelude::*;

use super::*;

fn sample() -> SaveFile {
    let mut page = vec![0u8; PAGE_SIZE];
    page[..5].copy_from_slice(b"hello");
    SaveFile {
        xl: XlHeader::with_json_config("{\n    \"c_info\": {}\n}\n"),
        libxc: LibxcImage {
            domain: DomainHeader {
                domain_type: DHDR_TYPE_X86_PV,
                xen_major: 4,
                xen_minor: 17,
            },
            records: vec![
                LibxcRecord::X86PvInfo {
                    guest_width: 8,
                    pt_levels: 4,
                },
                LibxcRecord::StaticDataEnd,
                LibxcRecord::PageData {
                    entries: vec![
                        7,
                        (page_type::XTAB << page_type::SHIFT) | 8,
                        (page_type::L4TAB << page_type::SHIFT) | 9,
                    ],
                    data: [page.clone(), page].concat(),
                },
                LibxcRecord::X86TscInfo {
                    mode: 0,
                    khz: 2_400_000,
                    nsec: 123_456_789,
                    incarnation: 1,
                },
                LibxcRecord::HvmParams(vec![(1, 2), (3, 4)]),
                LibxcRecord::Other {
                    rtype: libxc_rec::SHARED_INFO,
                    body: vec![1; 4096],
                },
                LibxcRecord::Other {
                    rtype: REC_TYPE_OPTIONAL | 0x5853,
                    body: b"odd length".to_vec(),
                },
            ],
        },
        tail: vec![
            LibxlRecord::EmulatorXenstoreData {
                emulator: EMULATOR_QEMU_UPSTREAM,
                index: 0,
                data: b"physmap\0x\0".to_vec(),
            },
            LibxlRecord::EmulatorContext {
                emulator: EMULATOR_QEMU_UPSTREAM,
                index: 0,
                data: vec![0xab; 13],
            },
            LibxlRecord::CheckpointEnd,
            LibxlRecord::CheckpointState(2),
        ],
    }
}

fn bytes(f: &SaveFile) -> Vec<u8> {
    let mut out = Vec::new();
    f.encode(&mut out).unwrap();
    out
}

fn decode(b: &[u8]) -> Result<SaveFile> {
    SaveFile::decode(&mut &b[..])
}

#[test]
fn a_save_file_round_trips() {
    let f = sample();
    let b = bytes(&f);
    assert_eq!(decode(&b).unwrap(), f);
    // Records stay 8-byte aligned whatever their body's length.
    let start = 48 + f.xl.optional_data_len() as usize;
    assert_eq!((b.len() - start) % 8, 0);
}

#[test]
fn the_xl_header_is_laid_out_as_xl_writes_it() {
    let b = bytes(&sample());
    assert_eq!(&b[..32], b"Xen saved domain, xl format\n \0 \r");
    assert_eq!(&b[32..36], &[4, 3, 2, 1]);
    assert_eq!(le_u32(&b, 36), FLAG_STREAM_V2 | FLAG_JSON);
    let config = "{\n    \"c_info\": {}\n}\n";
    assert_eq!(le_u32(&b, 44) as usize, 4 + config.len() + 1);
    assert_eq!(le_u32(&b, 48) as usize, config.len() + 1);
    let libxl = 52 + config.len() + 1;
    assert_eq!(&b[libxl..libxl + 8], b"LibxlFmt");
    assert_eq!(&b[libxl + 8..libxl + 16], &[0, 0, 0, 2, 0, 0, 0, 0]);
    // LIBXC_CONTEXT, empty, then libxc's big-endian image header.
    assert_eq!(&b[libxl + 16..libxl + 24], &[1, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(&b[libxl + 24..libxl + 32], &[0xff; 8]);
    assert_eq!(&b[libxl + 32..libxl + 40], b"XENF\0\0\0\x03");
}

#[test]
fn a_header_without_config_says_so() {
    let mut f = sample();
    f.xl = XlHeader {
        mandatory_flags: FLAG_STREAM_V2,
        optional_flags: 0,
        config: None,
    };
    let b = bytes(&f);
    assert_eq!(le_u32(&b, 44), 4);
    let back = decode(&b).unwrap();
    assert_eq!(back.xl.config, None);
    assert_eq!(back.xl.config_text(), None);
    assert_eq!(
        sample().xl.config_text(),
        Some(&b"{\n    \"c_info\": {}\n}\n"[..])
    );
}

#[test]
fn every_truncation_is_reported_as_such() {
    let b = bytes(&sample());
    for len in 0..b.len() {
        match decode(&b[..len]) {
            Err(FormatError::Truncated(_)) => {}
            other => panic!("cut at {len}: {other:?}"),
        }
    }
}

#[test]
fn foreign_files_are_refused_by_their_first_bytes() {
    let mut b = bytes(&sample());
    b[..8].copy_from_slice(b"\x7fELF\x02\x01\x01\0");
    assert!(matches!(decode(&b), Err(FormatError::WrongMagic)));
    let text = b"name = \"web\"\nmemory = 512\nvcpus = 2\nkernel = \"/boot/vmlinuz\"\n";
    assert!(matches!(decode(text), Err(FormatError::WrongMagic)));
    let msg = decode(text).unwrap_err().to_string();
    assert!(msg.contains("not an xl save file"), "{msg}");

    let mut b = bytes(&sample());
    b[32..36].copy_from_slice(&[1, 2, 3, 4]);
    assert!(matches!(decode(&b), Err(FormatError::WrongByteOrder(_))));
}

#[test]
fn unknown_mandatory_flags_are_visible_before_the_optional_data() {
    let mut b = bytes(&sample());
    b[36] |= 0x10;
    let p = read_xl_prefix(&mut &b[..]).unwrap();
    assert_eq!(p.unknown_mandatory_flags(), 0x10);
    assert_eq!(
        read_xl_prefix(&mut &bytes(&sample())[..])
            .unwrap()
            .unknown_mandatory_flags(),
        0
    );
}

#[test]
fn a_config_longer_than_the_optional_data_is_refused() {
    let mut b = bytes(&sample());
    let len = le_u32(&b, 48);
    b[48..52].copy_from_slice(&(len + 1).to_le_bytes());
    assert!(matches!(
        decode(&b),
        Err(FormatError::ConfigOutsideOptionalData { .. })
    ));
}

#[test]
fn lengths_past_the_limits_are_refused_before_reading() {
    // Optional data of 4 GiB - 1: refused by its length alone.
    let mut b = bytes(&sample());
    b[44..48].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        decode(&b),
        Err(FormatError::TooLong { len, .. }) if len == u64::from(u32::MAX)
    ));
    // A libxc record claiming 1 GiB.
    let mut rec = Vec::new();
    rec.extend_from_slice(&libxc_rec::PAGE_DATA.to_le_bytes());
    rec.extend_from_slice(&(1u32 << 30).to_le_bytes());
    assert!(matches!(
        read_libxc_record(&mut &rec[..]),
        Err(FormatError::TooLong { .. })
    ));
    // Within the limit but not backed by the input: truncated.
    rec[4..8].copy_from_slice(&(100u32 << 20).to_le_bytes());
    rec.extend_from_slice(&[0; 64]);
    assert!(matches!(
        read_libxc_record(&mut &rec[..]),
        Err(FormatError::Truncated(_))
    ));
}

#[test]
fn streams_of_other_kinds_or_versions_are_named() {
    let b = bytes(&sample());
    let libxl = 48 + sample().xl.optional_data_len() as usize;
    let mut x = b.clone();
    x[libxl..libxl + 8].copy_from_slice(b"QEVM\0\0\0\x03");
    assert!(matches!(decode(&x), Err(FormatError::LibxlIdent(_))));
    let mut x = b.clone();
    x[libxl + 11] = 3;
    assert!(matches!(decode(&x), Err(FormatError::LibxlVersion(3))));
    let mut x = b.clone();
    x[libxl + 15] = 1;
    assert!(matches!(decode(&x), Err(FormatError::BigEndian)));
    let mut x = b.clone();
    x[libxl + 39] = 4;
    assert!(matches!(decode(&x), Err(FormatError::ImageVersion(4))));
    let mut x = b.clone();
    x[libxl + 48] = 7;
    assert!(matches!(decode(&x), Err(FormatError::DomainType(7))));
}

#[test]
fn unknown_records_are_refused_unless_optional() {
    let mut rec = Vec::new();
    write_frame(&mut rec, 0x13, b"").unwrap();
    assert!(matches!(
        read_libxc_record(&mut &rec[..]),
        Err(FormatError::UnknownLibxcRecord(0x13))
    ));
    let mut rec = Vec::new();
    write_frame(&mut rec, REC_TYPE_OPTIONAL | 0x13, b"x").unwrap();
    assert!(matches!(
        read_libxc_record(&mut &rec[..]),
        Ok(LibxcRecord::Other { rtype, .. }) if rtype == REC_TYPE_OPTIONAL | 0x13
    ));
    let mut rec = Vec::new();
    write_frame(&mut rec, 9, b"").unwrap();
    assert!(matches!(
        read_libxl_record(&mut &rec[..]),
        Err(FormatError::UnknownLibxlRecord(9))
    ));
}

#[test]
fn malformed_known_records_are_refused() {
    let frame = |t: u32, body: &[u8]| {
        let mut v = Vec::new();
        write_frame(&mut v, t, body).unwrap();
        v
    };
    // PAGE_DATA: one page promised, no contents.
    let mut body = vec![1, 0, 0, 0, 0, 0, 0, 0];
    body.extend_from_slice(&5u64.to_le_bytes());
    let r = read_libxc_record(&mut &frame(libxc_rec::PAGE_DATA, &body)[..]);
    assert!(
        matches!(
            r,
            Err(FormatError::BadRecord {
                what: "PAGE_DATA",
                ..
            })
        ),
        "{r:?}"
    );
    // PAGE_DATA: a count that does not fit the record.
    let body = [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0];
    let r = read_libxc_record(&mut &frame(libxc_rec::PAGE_DATA, &body)[..]);
    assert!(matches!(r, Err(FormatError::BadRecord { .. })), "{r:?}");
    let r = read_libxc_record(&mut &frame(libxc_rec::X86_TSC_INFO, &[0; 8])[..]);
    assert!(matches!(r, Err(FormatError::BadRecord { .. })), "{r:?}");
    let r = read_libxc_record(&mut &frame(libxc_rec::HVM_PARAMS, &[2, 0, 0, 0, 0, 0, 0, 0])[..]);
    assert!(matches!(r, Err(FormatError::BadRecord { .. })), "{r:?}");
    let r = read_libxl_record(&mut &frame(3, &[1, 0, 0])[..]);
    assert!(matches!(r, Err(FormatError::BadRecord { .. })), "{r:?}");
    let r = read_libxl_record(&mut &frame(0, &[1])[..]);
    assert!(matches!(r, Err(FormatError::BadRecord { .. })), "{r:?}");
}

#[test]
fn a_stream_must_hand_over_to_libxc_first() {
    let mut b = Vec::new();
    write_libxl_header(&mut b).unwrap();
    write_libxl_record(&mut b, &LibxlRecord::End).unwrap();
    assert!(matches!(
        read_domain_stream_head(&mut &b[..]),
        Err(FormatError::BadRecord { .. })
    ));
}

fn record() -> impl Strategy<Value = LibxcRecord> {
    prop_oneof![
        (any::<u8>(), any::<u8>()).prop_map(|(guest_width, pt_levels)| LibxcRecord::X86PvInfo {
            guest_width,
            pt_levels
        }),
        (any::<u32>(), any::<u32>(), any::<u64>(), any::<u32>()).prop_map(
            |(mode, khz, nsec, incarnation)| LibxcRecord::X86TscInfo {
                mode,
                khz,
                nsec,
                incarnation
            }
        ),
        prop::collection::vec((any::<u64>(), any::<u64>()), 0..8).prop_map(LibxcRecord::HvmParams),
        (
            prop::collection::vec((0u64..16, 0u64..1 << 40), 1..4),
            any::<u8>()
        )
            .prop_map(|(pages, fill)| {
                let entries: Vec<u64> = pages
                    .iter()
                    .map(|(t, pfn)| (t << page_type::SHIFT) | pfn)
                    .collect();
                let n = entries
                    .iter()
                    .filter(|e| page_type::has_data(*e >> page_type::SHIFT))
                    .count();
                LibxcRecord::PageData {
                    entries,
                    data: vec![fill; n * PAGE_SIZE],
                }
            }),
        (
            prop_oneof![Just(libxc_rec::SHARED_INFO), REC_TYPE_OPTIONAL..=u32::MAX],
            prop::collection::vec(any::<u8>(), 0..40)
        )
            .prop_map(|(rtype, body)| LibxcRecord::Other { rtype, body }),
    ]
}

proptest! {
    #[test]
    fn any_image_round_trips(
        records in prop::collection::vec(record(), 0..6),
        config in prop::option::of(prop::collection::vec(1u8..=255, 0..64)),
        hvm in any::<bool>(),
        tail in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..20), 0..3),
    ) {
        let f = SaveFile {
            xl: XlHeader {
                mandatory_flags: FLAG_STREAM_V2,
                optional_flags: 0,
                config: config.filter(|c| !c.is_empty()),
            },
            libxc: LibxcImage {
                domain: DomainHeader {
                    domain_type: if hvm { DHDR_TYPE_X86_HVM } else { DHDR_TYPE_X86_PV },
                    xen_major: 4,
                    xen_minor: 17,
                },
                records,
            },
            tail: tail
                .into_iter()
                .enumerate()
                .map(|(i, data)| LibxlRecord::EmulatorContext { emulator: 2, index: i as u32, data })
                .collect(),
        };
        prop_assert_eq!(decode(&bytes(&f)).unwrap(), f);
    }

    #[test]
    fn arbitrary_bytes_never_panic(b in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode(&b);
        let mut x = bytes(&sample());
        let at = b.len() % x.len();
        x[at] ^= b.first().copied().unwrap_or(1) | 1;
        let _ = decode(&x);
    }
}
