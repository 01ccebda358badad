//! Issue 11 (foundation): ustd's relayd client against a stock lttng-relayd
//! 2.13. A real trace recorded by ustd from the fixture app is replayed —
//! metadata, then every packet with its index entry — through
//! `ustd::relayd::RelaydSession`; babeltrace2 must read exactly the same
//! events from the relayd's copy, whose index files must be valid. Also the
//! faults: relayd unreachable, relayd killed or stalled mid-stream.
//! Needs root, gcc, liblttng-ust-dev, lttng-relayd and babeltrace2.

mod common;

use common::relayd::{addr, be_u64, check_index, free_port, read_trace, streams, Relayd};
use common::{ustd_bin, wait_until, World, GENEROUS};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use ustd::relayd::{RelaydError, RelaydSession};
use ustd::relayd_wire::{CreateSession, Index};

/// Per-call deadline given to the client.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

fn ustd_ok(w: &World, args: &[&str]) {
    let mut c = w.command_in(&ustd_bin());
    c.arg("--rundir")
        .arg(&w.rundir)
        .args(args)
        .env("LTTNG_HOME", &w.dir);
    let out =
        common::run_with_timeout(c, Duration::from_secs(120)).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "`ustd {}`: {}\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr),
        w.daemon_log()
    );
}

/// Records the fixture app with ustd (per-UID, several sub-buffers) and
/// returns the trace's buffer-set directory.
fn record(w: &World) -> PathBuf {
    let out = w.dir.join("local");
    let o = out.to_str().expect("UTF-8 path");
    ustd_ok(w, &["create", "s", "-o", o]);
    ustd_ok(
        w,
        &[
            "enable-channel",
            "-u",
            "chan",
            "--subbuf-size",
            "64k",
            "--num-subbuf",
            "4",
        ],
    );
    ustd_ok(w, &["enable-event", "-u", "-c", "chan", "ustd_fixture:*"]);
    ustd_ok(w, &["start"]);
    // Enough for several 64 KiB packets, few enough that 4 sub-buffers per
    // CPU hold them all even if they are only read at stop.
    let mut app = w.spawn_app_env(
        &["-n", "600"],
        &[("LTTNG_UST_REGISTER_TIMEOUT", Path::new("-1"))],
    );
    app.wait_line("emitted ", GENEROUS);
    assert!(app.wait_exit(GENEROUS).success());
    ustd_ok(w, &["stop", "s"]);
    ustd_ok(w, &["destroy", "s"]);
    out.join("ust/uid")
        .join(common::euid().to_string())
        .join("64-bit")
}

/// The index fields a local index entry gives a packet.
fn index_of(e: &[u8]) -> Index {
    Index {
        packet_size: be_u64(e, 8),
        content_size: be_u64(e, 16),
        timestamp_begin: be_u64(e, 24),
        timestamp_end: be_u64(e, 32),
        events_discarded: be_u64(e, 40),
        stream_id: be_u64(e, 48),
        stream_instance_id: be_u64(e, 56),
        packet_seq_num: be_u64(e, 64),
        ..Index::default()
    }
}

fn create_args(name: &str) -> CreateSession<'_> {
    CreateSession {
        session_name: name,
        hostname: "ustd-test",
        base_path: "",
        live_timer_us: 0,
        snapshot: false,
        name_contains_creation_time: false,
        sessiond_uuid: *b"ustd-relayd-test",
        session_id: 1,
        creation_time: 1_700_000_000,
        current_chunk_id: None,
    }
}

const PATH: &str = "ust/uid/0/64-bit";

#[test]
fn replayed_trace_reads_the_same_at_the_relayd() {
    let w = World::start();
    let local = record(&w);
    let relayd = Relayd::start(&w);
    let t0 = Instant::now();

    let mut s = RelaydSession::connect(relayd.ctrl, relayd.data, CALL_TIMEOUT).expect("connect");
    assert_eq!(s.minor(), 13);
    let info = s
        .create_session(&create_args("replay"))
        .expect("create session");
    assert!(
        info.output_path.starts_with("ustd-test/replay-"),
        "{info:?}"
    );
    s.create_trace_chunk(0, 1_700_000_000, "")
        .expect("create trace chunk");
    let names = streams(&local);
    let mut data: Vec<_> = names
        .iter()
        .map(|n| s.add_stream(n, PATH, 0).expect("add stream"))
        .collect();
    let meta = s
        .add_stream("metadata", PATH, 0)
        .expect("add metadata stream");
    s.streams_sent().expect("streams sent");
    s.send_metadata(
        &meta,
        &fs::read(local.join("metadata")).expect("read metadata"),
        0,
    )
    .expect("send metadata");
    let mut packets = 0;
    for (name, stream) in names.iter().zip(&mut data) {
        let bytes = fs::read(local.join(name)).expect("read stream");
        let entries = check_index(
            &local.join(name),
            &local.join("index").join(format!("{name}.idx")),
        );
        for e in &entries {
            let i = index_of(e);
            let at = be_u64(e, 0) as usize;
            let content = &bytes[at..at + i.content_size.div_ceil(8) as usize];
            s.send_packet(stream, content, i).expect("send packet");
            packets += 1;
        }
    }
    assert!(packets >= 2, "{packets} packets: expected several");
    let all: Vec<_> = data.iter().collect();
    wait_until("relayd holds every packet", GENEROUS, || {
        (!s.data_pending(&all, &[&meta]).expect("data pending")).then_some(())
    });
    for d in data {
        s.close_stream(d).expect("close stream");
    }
    s.close_stream(meta).expect("close metadata");
    let chunk = s
        .close_trace_chunk(0, 1_700_000_100)
        .expect("close trace chunk");
    assert!(!chunk.is_empty());
    drop(s);
    eprintln!("replayed {packets} packets in {:?}", t0.elapsed());

    let remote = relayd.out.join(&info.output_path).join(PATH);
    let want = read_trace(&local);
    assert!(want.len() >= 1800, "{} events recorded", want.len());
    assert_eq!(
        read_trace(&remote),
        want,
        "the relayd's copy reads differently"
    );
    for name in &names {
        let idx =
            |d: &Path| check_index(&d.join(name), &d.join("index").join(format!("{name}.idx")));
        assert_eq!(idx(&remote), idx(&local), "{name}: index entries");
    }
}

#[test]
fn unreachable_relayd_is_a_connect_error() {
    let (c, d) = (addr(free_port()), addr(free_port()));
    let t0 = Instant::now();
    let err = RelaydSession::connect(c, d, CALL_TIMEOUT)
        .err()
        .expect("nobody listens");
    match &err {
        RelaydError::Connect {
            which: "control",
            addr,
            source,
        } => {
            assert_eq!(*addr, c);
            assert_eq!(source.kind(), std::io::ErrorKind::ConnectionRefused);
        }
        e => panic!("expected a control connect error, got {e:?}"),
    }
    assert!(err.to_string().contains(&c.to_string()), "{err}");
    assert!(t0.elapsed() < CALL_TIMEOUT);
}

/// A session with one data stream, ready for packets.
fn ready_session(relayd: &Relayd) -> (RelaydSession, ustd::relayd::RelaydStream) {
    live_session(relayd, "fault", 0)
}

/// A session (live if `live_timer_us` > 0) with one data stream, published.
fn live_session(
    relayd: &Relayd,
    name: &str,
    live_timer_us: u32,
) -> (RelaydSession, ustd::relayd::RelaydStream) {
    let mut s = RelaydSession::connect(relayd.ctrl, relayd.data, CALL_TIMEOUT).expect("connect");
    let args = CreateSession {
        live_timer_us,
        ..create_args(name)
    };
    s.create_session(&args).expect("create session");
    s.create_trace_chunk(0, 1_700_000_000, "")
        .expect("create trace chunk");
    let st = s.add_stream("chan_0", PATH, 0).expect("add stream");
    s.streams_sent().expect("streams sent");
    (s, st)
}

fn packet_index() -> Index {
    Index {
        packet_size: 4096 * 8,
        content_size: 4096 * 8,
        ..Index::default()
    }
}

#[test]
fn relayd_killed_mid_stream_is_an_error_not_a_hang() {
    let w = World::builder().without_daemon();
    let mut relayd = Relayd::start(&w);
    let (mut s, mut st) = ready_session(&relayd);
    let page = vec![0u8; 4096];
    s.send_packet(&mut st, &page, packet_index())
        .expect("first packet");
    relayd.child.kill().expect("kill relayd");
    relayd.child.wait().expect("reap relayd");
    let t0 = Instant::now();
    let err = (0..1000)
        .find_map(|_| s.send_packet(&mut st, &page, packet_index()).err())
        .expect("sending to a dead relayd must fail");
    assert!(
        matches!(err, RelaydError::Io { .. } | RelaydError::Closed { .. }),
        "{err:?}"
    );
    // The kernel resets the connections at once; the deadline is the bound.
    assert!(t0.elapsed() < CALL_TIMEOUT, "{:?}", t0.elapsed());
}

#[test]
fn stalled_relayd_hits_the_call_deadline() {
    let w = World::builder().without_daemon();
    let relayd = Relayd::start(&w);
    let (mut s, st) = ready_session(&relayd);
    relayd.signal(libc::SIGSTOP);
    let t0 = Instant::now();
    let err = s.data_pending(&[&st], &[]).err();
    let took = t0.elapsed();
    relayd.signal(libc::SIGCONT);
    assert!(matches!(err, Some(RelaydError::Timeout { .. })), "{err:?}");
    // One deadline, not more: 3x margin for a loaded machine.
    assert!(took >= CALL_TIMEOUT && took < 3 * CALL_TIMEOUT, "{took:?}");
}

#[test]
fn live_session_is_listed_to_viewers_and_takes_beacons() {
    let w = World::builder().without_daemon();
    let relayd = Relayd::start(&w);
    let (mut s, st) = live_session(&relayd, "livess", 1_000_000);
    s.send_beacon(&st, 0, 12_345).expect("beacon");
    let mut c = Command::new("babeltrace2");
    c.args(["--input-format=lttng-live"])
        .arg(format!("net://{}", relayd.live));
    let out = common::run_with_timeout(c, Duration::from_secs(60)).expect("babeltrace2");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("/host/ustd-test/livess (timer = 1000000, 1 stream(s)"),
        "lttng-live listing: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
