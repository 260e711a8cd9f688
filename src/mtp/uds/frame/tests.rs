//! Framing unit tests: no sockets, bytes in and frames out.

use super::*;

fn decode_all(bytes: &[u8]) -> Result<Vec<Frame>, FrameError> {
    let mut d = Decoder::new();
    d.push(bytes);
    let mut frames = Vec::new();
    while let Some(f) = d.next_frame()? {
        frames.push(f);
    }
    d.finish()?;
    Ok(frames)
}

#[test]
fn encodes_the_header_and_tlv_layout_of_the_spec() {
    let bytes = encode_one(Tlv::Handshake("os::1".into()));
    assert_eq!(
        bytes,
        b"_USP\x00\x00\x00\x0a\x01\x00\x00\x00\x05os::1".to_vec()
    );
}

#[test]
fn decodes_a_frame_fed_one_byte_at_a_time() {
    let bytes = encode(&[Tlv::Handshake("a".into()), Tlv::Record(vec![1, 2, 3])]);
    let mut d = Decoder::new();
    let mut got = Vec::new();
    for b in &bytes {
        d.push(std::slice::from_ref(b));
        if let Some(f) = d.next_frame().unwrap() {
            got.push(f);
        }
    }
    assert_eq!(
        got,
        vec![Frame {
            tlvs: vec![Tlv::Handshake("a".into()), Tlv::Record(vec![1, 2, 3])]
        }]
    );
    assert_eq!(d.finish(), Ok(()));
}

#[test]
fn decodes_several_frames_merged_in_one_read() {
    let mut bytes = encode_one(Tlv::Record(vec![9]));
    bytes.extend(encode_one(Tlv::Error("bye".into())));
    let frames = decode_all(&bytes).unwrap();
    assert_eq!(frames.len(), 2);
    assert_eq!(frames[1].tlvs, vec![Tlv::Error("bye".into())]);
}

#[test]
fn unknown_tlv_types_are_kept_aside_not_rejected() {
    // R-UDS.15: type 4 (OBUSPA's password) and 200 mean nothing here.
    let mut body = vec![4, 0, 0, 0, 2, b'p', b'w'];
    body.extend([200, 0, 0, 0, 0]);
    body.extend([3, 0, 0, 0, 1, 7]);
    let mut bytes = SYNC.to_vec();
    bytes.extend((body.len() as u32).to_be_bytes());
    bytes.extend(body);
    let frames = decode_all(&bytes).unwrap();
    assert_eq!(
        frames[0].tlvs,
        vec![
            Tlv::Unknown {
                tlv_type: 4,
                len: 2
            },
            Tlv::Unknown {
                tlv_type: 200,
                len: 0
            },
            Tlv::Record(vec![7]),
        ]
    );
}

#[test]
fn bad_sync_bytes_are_reported_from_the_first_byte() {
    let mut d = Decoder::new();
    d.push(b"_U");
    assert_eq!(d.next_frame(), Ok(None));
    d.push(b"x");
    assert_eq!(d.next_frame(), Err(FrameError::BadSync(b"_Ux".to_vec())));
    assert!(matches!(
        decode_all(b"GET / HTTP/1.1\r\n"),
        Err(FrameError::BadSync(_))
    ));
}

#[test]
fn oversize_length_is_refused_before_buffering_it() {
    let mut bytes = SYNC.to_vec();
    bytes.extend((MAX_FRAME_LEN + 1).to_be_bytes());
    assert_eq!(
        decode_all(&bytes),
        Err(FrameError::TooLong(MAX_FRAME_LEN + 1))
    );
}

#[test]
fn truncated_input_waits_then_is_an_error_at_end_of_stream() {
    let bytes = encode_one(Tlv::Record(vec![1, 2, 3, 4]));
    let mut d = Decoder::new();
    d.push(&bytes[..bytes.len() - 1]);
    assert_eq!(d.next_frame(), Ok(None));
    assert_eq!(d.finish(), Err(FrameError::Truncated(bytes.len() - 1)));
}

#[test]
fn malformed_bodies_are_errors() {
    let frame = |body: &[u8]| {
        let mut b = SYNC.to_vec();
        b.extend((body.len() as u32).to_be_bytes());
        b.extend(body);
        decode_all(&b)
    };
    assert_eq!(frame(&[]), Err(FrameError::Empty));
    assert_eq!(frame(&[3, 0, 0]), Err(FrameError::TrailingBytes(3)));
    assert_eq!(
        frame(&[3, 0, 0, 0, 9, 1]),
        Err(FrameError::TlvOverrun {
            tlv_type: 3,
            claimed: 9,
            left: 1
        })
    );
    assert_eq!(
        frame(&[1, 0, 0, 0, 1, 0xff]),
        Err(FrameError::HandshakeNotUtf8)
    );
}

/// A cheap deterministic generator, so the round trip covers many shapes
/// without a property-testing dependency.
struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn round_trip_over_random_frames_and_random_read_splits() {
    let mut rng = XorShift(0x5f55_5350);
    for _ in 0..300 {
        let frames: Vec<Vec<Tlv>> = (0..1 + rng.below(3))
            .map(|_| {
                (0..1 + rng.below(4))
                    .map(|_| {
                        let n = rng.below(64);
                        let text: String = (0..n)
                            .map(|_| (b'a' + rng.below(26) as u8) as char)
                            .collect();
                        match rng.below(3) {
                            0 => Tlv::Handshake(text),
                            1 => Tlv::Error(text),
                            _ => Tlv::Record((0..n).map(|_| rng.next() as u8).collect()),
                        }
                    })
                    .collect()
            })
            .collect();
        let wire: Vec<u8> = frames.iter().flat_map(|f| encode(f)).collect();
        let mut d = Decoder::new();
        let mut got = Vec::new();
        let mut at = 0;
        while at < wire.len() {
            let step = 1 + rng.below(20).min(wire.len() - at - 1);
            d.push(&wire[at..at + step]);
            at += step;
            while let Some(f) = d.next_frame().unwrap() {
                got.push(f.tlvs);
            }
        }
        assert_eq!(got, frames);
        assert_eq!(d.finish(), Ok(()));
    }
}
