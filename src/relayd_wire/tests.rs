//! Checked against bytes stock lttng-sessiond/consumerd 2.13.9 exchanged with
//! a stock lttng-relayd 2.13.9 (tests/data/relayd/capture.sh).

use super::*;

const CTRL: &[u8] = include_bytes!("../../tests/data/relayd/ctrl-0.c2s");
const CTRL_REPLIES: &[u8] = include_bytes!("../../tests/data/relayd/ctrl-0.s2c");
const DATA: &[u8] = include_bytes!("../../tests/data/relayd/data-0.c2s");

/// The captured control frames, whole (header + payload).
fn frames(mut b: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let len = HEADER_LEN + u64_at(b, 8) as usize;
        out.push(&b[..len]);
        b = &b[len..];
    }
    out
}

fn cmd_of(f: &[u8]) -> u32 {
    u32_at(f, 16)
}

fn payload(f: &[u8]) -> &[u8] {
    &f[HEADER_LEN..]
}

#[test]
fn encoders_reproduce_the_captured_control_stream() {
    let f = frames(CTRL);
    let cmds: Vec<u32> = f.iter().map(|f| cmd_of(f)).collect();
    // VERSION, GET_CONFIGURATION, CREATE_SESSION, CREATE_TRACE_CHUNK, 3 x
    // ADD_STREAM (data streams first, metadata last), STREAMS_SENT, metadata,
    // an index per packet, then stop's data-pending rounds.
    assert_eq!(&cmds[..11], &[5, 22, 2, 19, 1, 1, 1, 16, 6, 13, 13]);
    assert_eq!(&cmds[11..16], &[10, 8, 8, 9, 11]);
    assert_eq!(f[0], version(2, 13).as_slice());
    assert_eq!(f[1], get_configuration(0).as_slice());

    let p = payload(f[2]);
    let uuid: [u8; 16] = p[18..34].try_into().unwrap();
    assert_ne!(uuid, [0; 16], "upstream sends a non-zero sessiond uuid");
    let cs = CreateSession {
        session_name: "cap",
        hostname: "vm",
        base_path: "",
        live_timer_us: 0,
        snapshot: false,
        name_contains_creation_time: false,
        sessiond_uuid: uuid,
        session_id: u64_at(p, 34),
        creation_time: u64_at(p, 42),
        current_chunk_id: None,
    };
    assert_eq!(f[2], create_session(&cs).unwrap().as_slice());

    let ts = u64_at(payload(f[3]), 8);
    assert_eq!(f[3], create_trace_chunk(0, ts, "").unwrap().as_slice());
    assert_eq!(
        f[4],
        add_stream("chan_0", "ust/uid/0/64-bit", 0)
            .unwrap()
            .as_slice()
    );
    assert_eq!(
        f[5],
        add_stream("chan_1", "ust/uid/0/64-bit", 0)
            .unwrap()
            .as_slice()
    );
    assert_eq!(
        f[6],
        add_stream("metadata", "ust/uid/0/64-bit", 0)
            .unwrap()
            .as_slice()
    );
    assert_eq!(f[7], streams_sent().as_slice());

    let m = payload(f[8]);
    let (stream, pad) = (u64_at(m, 0), u32_at(m, 8));
    assert_eq!(
        f[8],
        send_metadata(stream, pad, &m[12..]).unwrap().as_slice()
    );
    // UST metadata is packetized: each packet starts with the CTF magic.
    assert!(m[12..].starts_with(&0x75D1_1D57u32.to_le_bytes()));

    for &fi in &f[9..11] {
        let q = payload(fi);
        let v = |k: usize| u64_at(q, 8 * k);
        let i = Index {
            relay_stream: v(0),
            net_seq: v(1),
            packet_size: v(2),
            content_size: v(3),
            timestamp_begin: v(4),
            timestamp_end: v(5),
            events_discarded: v(6),
            stream_id: v(7),
            stream_instance_id: v(8),
            packet_seq_num: v(9),
        };
        assert_eq!(fi, send_index(&i).as_slice());
    }
    assert_eq!(f[11], begin_data_pending(1).as_slice());
    assert_eq!(f[12], data_pending(1, 0).as_slice());
    assert_eq!(f[14], quiescent_control(3).as_slice());
    assert_eq!(f[15], end_data_pending(1).as_slice());

    let n = f.len();
    assert_eq!(cmd_of(f[n - 5]), Cmd::CloseTraceChunk as u32);
    let close_ts = u64_at(payload(f[n - 5]), 8);
    assert_eq!(f[n - 5], close_trace_chunk(0, close_ts, None).as_slice());
    assert_eq!(f[n - 3], close_stream(3, u64::MAX).as_slice());
    assert_eq!(f[n - 2], close_stream(1, 0).as_slice());
}

#[test]
fn data_headers_and_indexes_agree() {
    // Upstream sends each sub-buffer's content, and padding up to its size.
    let f = frames(CTRL);
    let h = &DATA[..DATA_HEADER_LEN];
    let (stream, seq, size, pad) = (u64_at(h, 8), u64_at(h, 16), u32_at(h, 24), u32_at(h, 28));
    assert_eq!(h, data_header(stream, seq, size, pad));
    let idx = payload(f[9]);
    assert_eq!((u64_at(idx, 0), u64_at(idx, 8)), (stream, seq));
    assert_eq!(
        u64_at(idx, 16),
        8 * (size + pad) as u64,
        "packet_size is in bits"
    );
    assert_eq!(u64_at(idx, 24), 8 * size as u64, "content_size is in bits");
}

#[test]
fn decoders_read_the_captured_replies() {
    let mut r = CTRL_REPLIES;
    let mut take = |n: usize| {
        let (a, b) = r.split_at(n);
        r = b;
        a
    };
    assert_eq!(decode_version(take(VERSION_REPLY_LEN)), Ok((2, 13)));
    assert_eq!(decode_configuration(take(CONFIGURATION_REPLY_LEN)), Ok(1));
    let (sid, len) = decode_create_session_head(take(CREATE_SESSION_REPLY_LEN)).unwrap();
    assert_eq!(sid, 1);
    let path = decode_path(Cmd::CreateSession, take(len as usize)).unwrap();
    assert!(path.starts_with("vm/cap-"), "{path}");
    decode_status(Cmd::CreateTraceChunk, take(STATUS_LEN)).unwrap();
    for h in 1..=3 {
        assert_eq!(decode_add_stream(take(ADD_STREAM_REPLY_LEN)), Ok(h));
    }
    for cmd in [
        Cmd::StreamsSent,
        Cmd::SendIndex,
        Cmd::SendIndex,
        Cmd::BeginDataPending,
    ] {
        decode_status(cmd, take(STATUS_LEN)).unwrap();
    }
    assert_eq!(decode_pending(Cmd::DataPending, take(4)), Ok(false));
    assert_eq!(decode_pending(Cmd::DataPending, take(4)), Ok(false));
    decode_status(Cmd::QuiescentControl, take(STATUS_LEN)).unwrap();
    assert_eq!(decode_pending(Cmd::EndDataPending, take(4)), Ok(false));
}

#[test]
fn malformed_replies_are_typed_errors() {
    // Any length of garbage, and every wrong length of a good reply, is an
    // error, never a panic.
    for n in 0..64 {
        let b = vec![0xff; n];
        assert!(decode_version(&b).is_err());
        assert!(decode_configuration(&b).is_err());
        assert!(decode_create_session_head(&b).is_err());
        assert!(decode_close_chunk_head(&b).is_err());
        assert!(decode_add_stream(&b).is_err());
        assert!(decode_status(Cmd::SendIndex, &b).is_err());
        assert!(decode_pending(Cmd::DataPending, &b).is_err());
        assert!(decode_path(Cmd::CreateSession, &b).is_err() || n == 0);
        if n != CREATE_SESSION_REPLY_LEN {
            let mut g = CTRL_REPLIES[20..36].to_vec();
            g.resize(n, 0);
            assert!(matches!(
                decode_create_session_head(&g),
                Err(RelaydWireError::Length { .. })
            ));
        }
    }
    assert_eq!(
        decode_status(Cmd::AddStream, &11u32.to_be_bytes()),
        Err(RelaydWireError::Refused {
            cmd: Cmd::AddStream,
            code: 11
        })
    );
    let mut v = [0u8; 8];
    v[..4].copy_from_slice(&3u32.to_be_bytes());
    assert!(matches!(
        decode_version(&v),
        Err(RelaydWireError::Version { major: 3, .. })
    ));
    v[..4].copy_from_slice(&2u32.to_be_bytes());
    v[4..].copy_from_slice(&4u32.to_be_bytes());
    assert!(matches!(
        decode_version(&v),
        Err(RelaydWireError::Version { minor: 4, .. })
    ));
    let mut h = [0u8; 16];
    h[8..12].copy_from_slice(&RET_OK.to_be_bytes());
    h[12..].copy_from_slice(&u32::MAX.to_be_bytes());
    assert!(matches!(
        decode_create_session_head(&h),
        Err(RelaydWireError::PathLength { .. })
    ));
    assert!(decode_path(Cmd::CreateSession, b"no-nul").is_err());
    assert!(decode_path(Cmd::CreateSession, b"a\0b\0").is_err());
    assert!(decode_path(Cmd::CreateSession, b"\xff\0").is_err());
    assert!(decode_pending(Cmd::DataPending, &7u32.to_be_bytes()).is_err());
}

#[test]
fn requests_refuse_what_the_relayd_would() {
    let long = "x".repeat(300);
    assert!(matches!(
        add_stream(&long, "p", 0),
        Err(RelaydWireError::TooLong { .. })
    ));
    assert!(matches!(
        add_stream("a\0b", "p", 0),
        Err(RelaydWireError::Nul { .. })
    ));
    let b = Index::beacon(7, 0, 123);
    let f = send_index(&b);
    assert_eq!(
        (u64_at(&f, 24), u64_at(&f, 24 + 16)),
        (7, 0),
        "beacon: packet_size 0"
    );
    assert_eq!(u64_at(&f, 24 + 40), 123);
}

#[test]
fn rotation_frames_reproduce_the_capture() {
    let f = frames(CTRL);
    // At destroy, lttng-consumerd 2.13.9 rotates the data streams, then the
    // metadata stream, to no chunk; then TRACE_CHUNK_EXISTS.
    let rot: Vec<&[u8]> = f.iter().copied().filter(|f| cmd_of(f) == 18).collect();
    assert_eq!(rot.len(), 2);
    for r in rot {
        let p = payload(r);
        let n = u32::from_be_bytes(p[..4].try_into().unwrap()) as usize;
        let new = (p[4] != 0).then(|| u64_at(p, 12));
        let pos: Vec<(u64, u64)> = (0..n)
            .map(|i| (u64_at(p, 20 + 16 * i), u64_at(p, 28 + 16 * i)))
            .collect();
        let mut want = r.to_vec();
        // Upstream leaves the 7 padding bytes after `is_set` uninitialised.
        want[HEADER_LEN + 5..HEADER_LEN + 12].fill(0);
        assert_eq!(rotate_streams(new, &pos), want);
    }
    let ex = f.iter().find(|f| cmd_of(f) == 21).unwrap();
    assert_eq!(*ex, trace_chunk_exists(0).as_slice());
    assert!(!decode_chunk_exists(&[0, 0, 0, 10, 0]).unwrap());
    assert!(decode_chunk_exists(&[0, 0, 0, 10, 1]).unwrap());
    assert!(decode_chunk_exists(&[0, 0, 0, 10]).is_err());
    assert!(decode_chunk_exists(&[0, 0, 0, 9, 0]).is_err());
}

#[test]
fn reset_metadata_reproduces_the_capture() {
    // lttng-consumerd 2.13.9 at the first `regenerate metadata` of a
    // network session whose metadata stream is relayd stream 3.
    let captured: [u8; 40] = [
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0, 0, 17, 0, 0, 0, 0, //
        0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 1,
    ];
    assert_eq!(reset_metadata(3, 1), captured);
}
