//! Tests on bytes captured from the stock lttng 2.13.9 CLI and lttng-sessiond 2.13.9
//! (tests/data/lttng_wire, made by its capture.py): requests decode to what the CLI
//! was asked, and ustd's encoders reproduce the daemon's replies byte for byte.

use super::channel::{decode_channels, encode_channels, ChannelAttr};
use super::context::Context;
use super::event::{
    decode_events, decode_fields, encode_events, encode_fields, FieldType, LoglevelType,
};
use super::header::{BufferType, DomainType, FILTER_MAX_LEN};
use super::session::{
    encode_domains, encode_sessions, OutputType, SessionDescriptor, SessionInfo, SessionKind,
    UriDest,
};
use super::tests_support::{capture, Conn};
use super::tracker::{encode_inclusion_set, encode_policy, AttrValue, ProcessAttr, TrackingPolicy};
use super::*;

fn one(name: &str) -> Conn {
    let mut c = capture(name);
    assert_eq!(c.len(), 1, "{name}: connections");
    c.pop().unwrap()
}

/// The connections of a capture carrying command `cmd`.
fn with_cmd(name: &str, cmd: Command) -> Vec<Conn> {
    capture(name)
        .into_iter()
        .filter(|c| c.header().cmd_id == cmd as u32)
        .collect()
}

#[test]
fn create_named_session_and_reply_descriptor() {
    let c = &with_cmd("create_named", Command::CreateSessionExt)[0];
    let Request::CreateSession {
        home_dir,
        descriptor,
    } = c.request()
    else {
        panic!()
    };
    assert_eq!(home_dir.as_deref(), Some("/run/lttng/h"));
    assert_eq!(descriptor.kind, SessionKind::Regular);
    assert_eq!(descriptor.output, OutputType::Local);
    assert_eq!(descriptor.name.as_deref(), Some("s"));
    assert!(descriptor.uris.is_empty());
    // The reply names the session and its default output as one PATH URI.
    let reply = SessionDescriptor::decode(c.data()).unwrap();
    assert_eq!(reply.name.as_deref(), Some("s"));
    assert_eq!(reply.uris.len(), 1);
    assert_eq!(reply.uris[0].dest, UriDest::Path);
    assert!(
        reply.uris[0]
            .dst
            .starts_with("/run/lttng/h/lttng-traces/s-"),
        "{}",
        reply.uris[0].dst
    );
    let mut ours = Vec::new();
    reply.encode(&mut ours);
    c.assert_reply(&Reply::ok(ours));
}

#[test]
fn create_auto_output_snapshot_live_network() {
    let d = |name| match with_cmd(name, Command::CreateSessionExt)[0].request() {
        Request::CreateSession {
            home_dir,
            descriptor,
        } => (home_dir, descriptor),
        r => panic!("{r:?}"),
    };
    let (home, auto) = d("create_auto");
    assert_eq!(home.as_deref(), Some("/run/lttng/h"));
    assert_eq!(auto.name, None);
    let auto_reply =
        SessionDescriptor::decode(with_cmd("create_auto", Command::CreateSessionExt)[0].data())
            .unwrap();
    let name = auto_reply.name.unwrap();
    assert!(name.starts_with("auto-"), "{name}");
    // An auto-named session's default path has no second timestamp.
    assert_eq!(
        auto_reply.uris[0].dst,
        format!("/run/lttng/h/lttng-traces/{name}")
    );

    let (home, out) = d("create_output");
    assert_eq!(home, None);
    assert_eq!(out.uris.len(), 1);
    assert_eq!(out.uris[0].dst, "/run/lttng/h/out");
    assert_eq!(d("create_snapshot").1.kind, SessionKind::Snapshot);
    assert_eq!(
        d("create_live").1.kind,
        SessionKind::Live {
            timer_us: 2_000_000
        }
    );
    let net = d("create_net").1;
    assert_eq!(net.output, OutputType::Network);
    assert_eq!(net.uris.len(), 2);
    assert_eq!((net.uris[0].port, net.uris[1].port), (5342, 5343));
    assert_eq!(net.uris[0].dest, UriDest::Ipv4);
}

#[test]
fn enable_channel_defaults_and_options() {
    let c = one("enable_channel");
    let Request::EnableChannel { target, channel } = c.request() else {
        panic!()
    };
    assert_eq!(target.session, "s");
    assert_eq!(target.domain.kind, DomainType::Ust);
    assert_eq!(
        BufferType::from_raw(target.domain.buf_type),
        Ok(BufferType::PerUid)
    );
    assert_eq!(channel.name, "c");
    assert_eq!(
        (channel.overwrite, channel.subbuf_size, channel.num_subbuf),
        (-1, 524288, 4)
    );
    assert_eq!(
        (
            channel.monitor_timer_us,
            channel.live_timer_us,
            channel.output
        ),
        (1_000_000, u32::MAX, 1)
    );
    // The request record and the list record share one layout.
    let mut ours = Vec::new();
    channel.encode(&mut ours);
    assert_eq!(ours, c.req[HEADER_LEN..]);

    let Request::EnableChannel { channel, .. } = one("enable_channel_uid").request() else {
        panic!()
    };
    assert_eq!(
        (channel.overwrite, channel.subbuf_size, channel.num_subbuf),
        (1, 16384, 8)
    );
    assert_eq!(
        (
            channel.switch_timer_us,
            channel.read_timer_us,
            channel.monitor_timer_us
        ),
        (100_000, 200_000, 300_000)
    );
    assert_eq!(
        (channel.tracefile_size, channel.tracefile_count),
        (1 << 20, 3)
    );

    let pid = one("enable_channel_pid");
    let Request::EnableChannel { target, channel } = pid.request() else {
        panic!()
    };
    assert_eq!(
        BufferType::from_raw(target.domain.buf_type),
        Ok(BufferType::PerPid)
    );
    assert_eq!(channel.blocking_timeout_us, -1);
    // Per-PID after per-UID in one session: the daemon refused with BUFFER_TYPE_MISMATCH.
    assert_eq!(pid.reply_code(), ErrorCode::BufferTypeMismatch.as_u32());
    pid.assert_reply(&Reply::error(ErrorCode::BufferTypeMismatch));
}

#[test]
fn enable_event_filter_bytecode() {
    let c = one("enable_event_filter");
    let Request::EnableEvent { channel, event, .. } = c.request() else {
        panic!()
    };
    assert_eq!(channel, "c");
    assert_eq!(event.name, "x*");
    assert_eq!(
        (event.event_type, event.loglevel_type, event.loglevel),
        (0, LoglevelType::All, -1)
    );
    let f = event.filter.unwrap();
    assert_eq!(f.expression, "a > 1");
    let b = f.bytecode.unwrap();
    assert_eq!((b.reloc_offset, b.seqnum, b.data.len()), (14, 0, 18));
    assert_eq!(
        &b.data[14..],
        b"\0\0a\0",
        "relocation entry: offset 0, field a"
    );
    c.assert_reply(&Reply::ok(Vec::new()));

    let Request::EnableEvent { event, .. } = one("enable_event_filter_rich").request() else {
        panic!()
    };
    let f = event.filter.unwrap();
    assert_eq!(f.expression, r#"i >= 2 && s == "h*" && d > 1.25"#);
    let b = f.bytecode.unwrap();
    assert!(b.reloc_offset as usize <= b.data.len());
}

#[test]
fn enable_event_loglevels_all_and_exclusions() {
    let ev = |name| match one(name).request() {
        Request::EnableEvent { event, .. } => event,
        r => panic!("{r:?}"),
    };
    let e = ev("enable_event_loglevel");
    assert_eq!(
        (e.name.as_str(), e.loglevel_type, e.loglevel),
        ("ll", LoglevelType::Range, 6)
    );
    let e = ev("enable_event_loglevel_only");
    assert_eq!(
        (e.name.as_str(), e.loglevel_type, e.loglevel),
        ("llo", LoglevelType::Single, 14)
    );
    assert_eq!(ev("enable_event_all").name, "*");
    let e = ev("enable_event_exclusion");
    assert_eq!(e.name, "rich:*");
    assert_eq!(e.exclusions, ["rich:simple", "rich:zz"]);
    assert_eq!(e.filter, None);

    // Without -c while a non-default channel exists: NEED_CHANNEL_NAME.
    let c = one("enable_event_no_channel");
    let Request::EnableEvent { channel, .. } = c.request() else {
        panic!()
    };
    assert_eq!(channel, "");
    c.assert_reply(&Reply::error(ErrorCode::NeedChannelName));

    let Request::DisableEvent { channel, event, .. } = one("disable_event").request() else {
        panic!()
    };
    assert_eq!(
        (channel.as_str(), event.name.as_str(), event.event_type),
        ("c", "ll", -1)
    );
    let Request::DisableChannel { channel, .. } = one("disable_channel").request() else {
        panic!()
    };
    assert_eq!(channel, "c3");
}

#[test]
fn add_context_records() {
    let ctx = |name| {
        capture(name)
            .iter()
            .map(|c| match c.request() {
                Request::AddContext {
                    channel, context, ..
                } => (channel, context),
                r => panic!("{r:?}"),
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(ctx("add_context"), [("c".to_owned(), Context::Simple(5))]);
    assert_eq!(
        ctx("add_context_app"),
        [(
            "c".to_owned(),
            Context::App {
                provider: "prov".into(),
                name: "ctx".into()
            }
        )]
    );
    assert_eq!(
        ctx("add_context_multi"),
        [
            ("c3".to_owned(), Context::Simple(2)),
            ("c3".to_owned(), Context::Simple(7))
        ]
    );
}

#[test]
fn trackers_requests_and_replies() {
    let conns = capture("track_vpid");
    let reqs: Vec<_> = conns.iter().map(Conn::request).collect();
    assert!(matches!(
        &reqs[0],
        Request::TrackerGetPolicy {
            attr: ProcessAttr::Vpid,
            ..
        }
    ));
    assert!(matches!(
        &reqs[2],
        Request::TrackerSetPolicy {
            attr: ProcessAttr::Vpid,
            policy: TrackingPolicy::IncludeSet,
            ..
        }
    ));
    assert!(matches!(
        &reqs[3],
        Request::TrackerAdd {
            attr: ProcessAttr::Vpid,
            value: AttrValue::Pid(123),
            ..
        }
    ));
    assert!(matches!(
        &reqs[4],
        Request::TrackerAdd {
            value: AttrValue::Pid(456),
            ..
        }
    ));
    conns[0].assert_reply(&Reply::ok(encode_policy(TrackingPolicy::IncludeAll)));

    let vuid = capture("track_vuid");
    assert!(vuid.iter().any(|c| matches!(
        c.request(),
        Request::TrackerAdd {
            attr: ProcessAttr::Vuid,
            value: AttrValue::Uid(0),
            ..
        }
    )));
    let untrack = capture("untrack_vpid");
    assert!(untrack.iter().any(|c| matches!(
        c.request(),
        Request::TrackerRemove {
            attr: ProcessAttr::Vpid,
            value: AttrValue::Pid(123),
            ..
        }
    )));

    // `lttng list s`: policies and inclusion sets as the daemon answered them.
    let list = capture("list_session");
    let sets: Vec<_> = list
        .iter()
        .filter(|c| c.header().cmd_id == Command::TrackerGetInclusionSet as u32)
        .collect();
    sets[0].assert_reply(&Reply::ok(encode_inclusion_set(&[
        AttrValue::Pid(123),
        AttrValue::Pid(456),
    ])));
    sets[1].assert_reply(&Reply::ok(encode_inclusion_set(&[AttrValue::Uid(0)])));
    // INCLUDE_ALL: no set, error 163, which the CLI prints as "all".
    sets[2].assert_reply(&Reply::error(ErrorCode::TrackerInvalidPolicy));
    let pol: Vec<_> = list
        .iter()
        .filter(|c| c.header().cmd_id == Command::TrackerGetPolicy as u32)
        .collect();
    pol[0].assert_reply(&Reply::ok(encode_policy(TrackingPolicy::IncludeSet)));
}

/// An inclusion set holding a name: the reply data lttng-sessiond 2.13.9 sent
/// after `lttng track -u --vuid root,5` (`lttng list s`, read with strace).
#[test]
fn inclusion_set_with_names() {
    let captured: &[u8] = b"\x02\x00\x00\x00\x01\x00\x00\x00\x05\x00\x00\x00\x00\x00\x00\x00\
        \x02\x00\x00\x00\x05\x00\x00\x00\x00\x00\x00\x00root\x00";
    assert_eq!(
        encode_inclusion_set(&[AttrValue::Uid(5), AttrValue::UserName("root".into())]),
        captured
    );
}

#[test]
fn list_session_replies_reencode_byte_exact() {
    let list = capture("list_session");
    let get = |cmd: Command| list.iter().filter(move |c| c.header().cmd_id == cmd as u32);

    let sessions = get(Command::ListSessions).next().unwrap();
    let d = sessions.data();
    assert_eq!(d.len(), 4385);
    let path = super::cursor::fixed_str(&d[255..255 + 4096], "path").unwrap();
    let info = SessionInfo {
        name: "s".into(),
        path,
        enabled: true,
        snapshot_mode: false,
        live_timer_interval: 0,
        creation_time: Some(u64::from_le_bytes(d[4376..4384].try_into().unwrap())),
    };
    sessions.assert_reply(&Reply::ok(encode_sessions(&[info])));

    get(Command::ListDomains)
        .next()
        .unwrap()
        .assert_reply(&Reply::ok(encode_domains(&[(
            DomainType::Ust,
            BufferType::PerUid,
        )])));
    get(Command::SessionListRotationSchedules)
        .next()
        .unwrap()
        .assert_reply(&Reply::no_rotation_schedules());

    let chans = get(Command::ListChannels).next().unwrap();
    let channels = decode_channels(chans.cmd_header(), chans.data()).unwrap();
    assert_eq!(
        channels.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        ["c3", "c"]
    );
    let (h, data) = encode_channels(&channels);
    chans.assert_reply(&Reply::ok_with_header(h, data));

    for ev in get(Command::ListEvents) {
        let events = decode_events(ev.cmd_header(), ev.data()).unwrap();
        let (h, data) = encode_events(&events);
        ev.assert_reply(&Reply::ok_with_header(h, data));
    }
    let c_events = get(Command::ListEvents).nth(1).unwrap();
    let events = decode_events(c_events.cmd_header(), c_events.data()).unwrap();
    let names: Vec<_> = events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["ll", "llo", "x*", "rich:all"]);
    assert_eq!(events[2].filter.as_ref().unwrap().expression, "a > 1");
    assert!(events
        .iter()
        .all(|e| e.filter.as_ref().map_or(true, |f| f.bytecode.is_none())));
}

#[test]
fn tracepoint_and_field_listings_reencode_byte_exact() {
    let tp = one("list_ust");
    let events = decode_events(tp.cmd_header(), tp.data()).unwrap();
    let all = events.iter().find(|e| e.name == "rich:all").unwrap();
    assert_eq!((all.loglevel, all.enabled, all.event_type), (6, -1, 0));
    assert!(all.pid > 0);
    let (h, data) = encode_events(&events);
    tp.assert_reply(&Reply::ok_with_header(h, data));

    let f = one("list_ust_fields");
    let fields = decode_fields(f.cmd_header(), f.data()).unwrap();
    let hidden = fields.iter().find(|x| x.name == "hidden").unwrap();
    assert_eq!(
        (hidden.kind, hidden.nowrite, hidden.event.name.as_str()),
        (FieldType::Integer, true, "rich:all")
    );
    assert!(fields
        .iter()
        .any(|x| x.name == "s" && x.kind == FieldType::String));
    let (h, data) = encode_fields(&fields);
    f.assert_reply(&Reply::ok_with_header(h, data));
}

#[test]
fn stop_destroy_save_replies() {
    let destroy = capture("destroy");
    let d = destroy
        .iter()
        .find(|c| c.header().cmd_id == Command::DestroySession as u32)
        .unwrap();
    assert!(matches!(d.request(), Request::DestroySession(ref t) if t.session == "s"));
    d.assert_reply(&Reply::destroyed());
    let stop = destroy
        .iter()
        .find(|c| c.header().cmd_id == Command::StopTrace as u32)
        .unwrap();
    stop.assert_reply(&Reply::error(ErrorCode::TraceAlreadyStopped));
    let pending = destroy
        .iter()
        .find(|c| c.header().cmd_id == Command::DataPending as u32)
        .unwrap();
    pending.assert_reply(&Reply::data_pending(false));

    let save = one("save");
    let Request::SaveSession(attr) = save.request() else {
        panic!()
    };
    assert_eq!(
        (attr.session_name.as_str(), attr.config_url.as_str()),
        ("s", "/run/lttng/h/saved")
    );
    assert!(!attr.overwrite);
    save.assert_reply(&Reply::ok(Vec::new()));
}

#[test]
fn every_captured_request_decodes() {
    let dir = format!("{}/tests/data/lttng_wire", env!("CARGO_MANIFEST_DIR"));
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "bin") {
            for c in capture(p.file_stem().unwrap().to_str().unwrap()) {
                c.request();
                n += 1;
            }
        }
    }
    assert!(n > 100, "{n} requests");
}

// ---- malformed input ----

#[test]
fn truncated_payloads_fail_typed_never_panic() {
    for name in [
        "enable_event_filter_rich",
        "enable_event_exclusion",
        "enable_channel_uid",
        "add_context_app",
        "create_output",
    ] {
        let c = one_or_first(name);
        let h = c.header();
        let payload = &c.req[HEADER_LEN..];
        for cut in 0..payload.len() {
            assert!(
                Request::decode(&h, &payload[..cut]).is_err(),
                "{name} cut at {cut}"
            );
        }
        // Decoders below the framing check: every prefix fails typed.
        for cut in 0..payload.len() {
            let r = match h.command().unwrap() {
                Command::EnableEvent => super::event::EventRule::decode(&payload[..cut]).map(drop),
                Command::EnableChannel => ChannelAttr::decode(&payload[..cut]).map(drop),
                Command::AddContext => Context::decode(&payload[..cut]).map(drop),
                _ => SessionDescriptor::decode(&payload[..cut]).map(drop),
            };
            assert!(r.is_err(), "{name} record cut at {cut}");
        }
    }
    assert!(matches!(
        Header::decode(&[0; 100]),
        Err(WireError::Truncated { .. })
    ));
}

fn one_or_first(name: &str) -> Conn {
    capture(name)
        .into_iter()
        .find(|c| c.req.len() > HEADER_LEN)
        .unwrap()
}

#[test]
fn unknown_command_is_und() {
    let mut req = one("save").req;
    for id in [1u32, 7, 8, 22, 23, 29, 30, 37, 53, u32::MAX] {
        req[..4].copy_from_slice(&id.to_le_bytes());
        let h = Header::decode(&req).unwrap();
        let e = h.payload_len().unwrap_err();
        assert_eq!(e, WireError::UnknownCommand(id));
        assert_eq!(e.reply_code(), ErrorCode::Und);
    }
}

#[test]
fn declared_lengths_beyond_bounds_are_refused_before_reading() {
    let c = one("enable_event_filter");
    let mut req = c.req[..HEADER_LEN].to_vec();
    // u.enable.length at 4688 + 256.
    req[4944..4948].copy_from_slice(&u32::MAX.to_le_bytes());
    let e = Header::decode(&req).unwrap().payload_len().unwrap_err();
    assert!(matches!(e, WireError::TooLong { .. }), "{e:?}");
    let mut req = with_cmd("create_named", Command::CreateSessionExt)[0].req[..HEADER_LEN].to_vec();
    req[4690..4698].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(matches!(
        Header::decode(&req).unwrap().payload_len(),
        Err(WireError::TooLong { .. })
    ));
}

/// Rewrites the captured filter event so its bytecode has `data_len` data bytes.
fn event_with_bytecode(data_len: usize) -> Vec<u8> {
    let c = one("enable_event_filter");
    let p = &c.req[HEADER_LEN..];
    let bc_len = u32::from_le_bytes(p[27..31].try_into().unwrap()) as usize;
    let mut out = p[..p.len() - bc_len].to_vec();
    out[27..31].copy_from_slice(&((48 + data_len) as u32).to_le_bytes());
    let mut bc = p[p.len() - bc_len..p.len() - bc_len + 48].to_vec();
    bc[..4].copy_from_slice(&(data_len as u32).to_le_bytes());
    bc[4..8].copy_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&bc);
    out.resize(out.len() + data_len, 0);
    out
}

#[test]
fn bytecode_bounds() {
    assert!(super::event::EventRule::decode(&event_with_bytecode(FILTER_MAX_LEN)).is_ok());
    let e = super::event::EventRule::decode(&event_with_bytecode(FILTER_MAX_LEN + 1)).unwrap_err();
    assert_eq!(e.reply_code(), ErrorCode::FilterInval, "{e:?}");
    // Declared data length disagreeing with the record length.
    let mut p = event_with_bytecode(64);
    let at = p.len() - 64 - 48;
    p[at..at + 4].copy_from_slice(&65u32.to_le_bytes());
    assert!(matches!(
        super::event::EventRule::decode(&p),
        Err(WireError::BytecodeMismatch { .. })
    ));
}

#[test]
fn hostile_counts_fail_without_allocating() {
    let c = one("enable_event_exclusion");
    let mut p = c.req[HEADER_LEN..].to_vec();
    p[19..23].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        super::event::EventRule::decode(&p),
        Err(WireError::TooLong { .. })
    ));
    assert!(decode_events(&u32::MAX.to_le_bytes(), &[]).is_err());
    assert!(decode_channels(&[1, 0], &[]).is_err());
}

#[test]
fn snapshot_commands_decode_and_replies_match_lttng_sessiond() {
    use super::snapshot::{encode_output_id, encode_outputs, SnapshotOutput};
    let Request::SnapshotRecord { output, .. } = one("snap_record_named").request() else {
        panic!()
    };
    assert_eq!((output.name.as_str(), output.max_size), ("named", None));
    let Request::SnapshotRecord { output, .. } = one("snap_record_max").request() else {
        panic!()
    };
    assert_eq!(output.max_size, Some(1 << 20));
    let Request::SnapshotRecord { output, .. } = one("snap_record_url").request() else {
        panic!()
    };
    assert_eq!(output.ctrl_url, "/run/lttng/h/other");
    let c = one("snap_add_output_2");
    let Request::SnapshotAddOutput { output, .. } = c.request() else {
        panic!()
    };
    assert_eq!(
        (output.ctrl_url.as_str(), output.max_size),
        ("/run/lttng/h/fourth", None)
    );
    c.assert_reply(&Reply::ok(encode_output_id(2)));
    let Request::SnapshotDelOutput { output, .. } = one("snap_del_output_1").request() else {
        panic!()
    };
    assert_eq!(output.id, 1);
    let Request::SnapshotDelOutput { output, .. } = one("snap_del_output_name").request() else {
        panic!()
    };
    assert_eq!((output.id, output.name.as_str()), (0, "extra"));
    let listed = SnapshotOutput {
        id: 1,
        max_size: None,
        name: "snapshot-1".into(),
        ctrl_url: "/run/lttng/h/snapout".into(),
        data_url: String::new(),
    };
    one("snap_list_output").assert_reply(&Reply::ok(encode_outputs(&[listed])));
    assert_eq!(
        one("snap_add_output").reply_code(),
        ErrorCode::SnapshotOutputExist as u32
    );
    assert_eq!(
        one("snap_record_max_small").reply_code(),
        ErrorCode::MaxSizeInvalid as u32
    );
    assert_eq!(
        one("snap_del_output_missing").reply_code(),
        ErrorCode::Invalid as u32
    );
    assert_eq!(
        one("snap_record_regular").reply_code(),
        ErrorCode::NotSnapshotSession as u32
    );
}

#[test]
fn clear_session_decodes_and_is_answered_without_data() {
    let c = &with_cmd("clear_started", Command::ClearSession)[0];
    let Request::ClearSession(t) = c.request() else {
        panic!()
    };
    assert_eq!(t.session, "reg");
    assert!(c.cmd_header().is_empty() && c.data().is_empty());
    c.assert_reply(&Reply::ok(Vec::new()));
}

#[test]
fn rotate_answers_the_rotation_id_and_get_info_the_archive() {
    use super::rotation::{encode_rotation_id, encode_rotation_info, RotationState};
    let conns = capture("rot_rotate");
    let Request::RotateSession(t) = conns[0].request() else {
        panic!()
    };
    assert_eq!(t.session, "ro");
    conns[0].assert_reply(&Reply::ok(encode_rotation_id(0)));
    let done = conns.last().unwrap();
    let Request::RotationGetInfo { target, id } = done.request() else {
        panic!()
    };
    assert_eq!((target.session.as_str(), id), ("ro", 0));
    let path = "/run/lttng/h/rotout/archives/20261201T165919+0000-20261201T165919+0000-0";
    done.assert_reply(&Reply::ok(encode_rotation_info(
        RotationState::Completed,
        Some(path),
    )));
    conns[1].assert_reply(&Reply::ok(encode_rotation_info(
        RotationState::Ongoing,
        None,
    )));
    let second = &capture("rot_rotate_no_wait")[0];
    second.assert_reply(&Reply::ok(encode_rotation_id(1)));
    for (label, code) in [
        ("rot_before_start", ErrorCode::StartSessionOnce),
        ("rot_rotate_stopped_2", ErrorCode::RotationMultipleAfterStop),
    ] {
        assert_eq!(capture(label)[0].reply_code(), code as u32, "{label}");
    }
}

#[test]
fn destroy_after_rotations_reports_the_last_archive() {
    let conns = with_cmd("rot_destroy_2", Command::DestroySession);
    let c = conns.last().unwrap();
    let path = "/run/lttng/h/rot2/archives/20261201T165925+0000-20261201T165926+0000-1";
    let ours = Reply::destroyed_with_archive(path).encode(c.reply_u32(0), 0);
    let mut theirs = c.rep.clone();
    theirs[8..12].copy_from_slice(&ours[8..12]);
    // lttng-sessiond leaves the unused 9 bytes of the location union
    // uninitialised; ustd sends zeros.
    let union = 24 + 4 + 5..24 + 4 + 14;
    theirs[union.clone()].fill(0);
    assert_eq!(ours, theirs);
}
