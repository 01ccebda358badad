//! End to end through the real liblttng-ust-ctl.so.5 and a real
//! LTTng-UST app: buffers created and handed out by `ustd::ustctl`, the app
//! driven by a minimal in-test session daemon, the consumer writing the
//! trace, babeltrace2 reading it back.

mod ustctl_common;

use std::os::unix::net::UnixListener;
use std::time::{Duration, Instant, SystemTime};

use ustctl_common::*;
use ustd::engine::{pid_trace_dir, uid_trace_dir, Consumer};
use ustd::ustctl::{BufferChannel, ChannelSpec, MetadataChannel, UstCtl};

/// Per-UID layout: two apps of the UID write into the same buffers. The
/// second one fills several sub-buffers (so the consumer must drain them on
/// wake-ups, before any flush) and exits before the session stops: its
/// events stay in the trace.
#[test]
fn per_uid_buffers_shared_by_two_apps_one_exiting_mid_session() {
    const N: usize = 2000;
    let root = scratch("uid");
    let home = root.join("home");
    let listener = UnixListener::bind(home.join(".lttng/lttng-ust-sock-8")).unwrap();
    let ctl = UstCtl::load().unwrap();
    let uuid = *b"ustd-e2e-uid-tst";
    let consumer = Consumer::start(ctl.clone(), "uid").unwrap();

    let mut stays = App::spawn(&home, N, true);
    let mut rig_stays = Rig::register(&listener);
    let dir = uid_trace_dir(
        &root.join("out"),
        rig_stays.reg.uid,
        rig_stays.reg.bits_per_long,
    );
    let trace = consumer
        .add_trace(&dir, MetadataChannel::create(&ctl, uuid).unwrap())
        .unwrap();
    let head = tsdl_statedump(&uuid, "uid", rig_stays.reg.uid);
    consumer.push_metadata(trace, 0, head.as_bytes()).unwrap();
    let channel = BufferChannel::create(&ctl, &spec(uuid)).unwrap();
    let hand_out = consumer.add_channel(trace, "channel0", channel).unwrap();
    assert_eq!(hand_out.nr_streams() as u32, ctl.nr_streams_per_channel());
    rig_stays.configure(&hand_out);
    stays.wait_emitted(N);

    let mut leaves = App::spawn(&home, N, false);
    let mut rig_leaves = Rig::register(&listener);
    assert_eq!(rig_leaves.reg.uid, rig_stays.reg.uid);
    rig_leaves.configure(&hand_out);
    leaves.wait_emitted(N);
    leaves.finish();
    rig_leaves.join_notify();

    // ~40 KB of events in 4 KiB sub-buffers: many were delivered by the
    // apps, and the consumer writes them on its own.
    let deadline = Instant::now() + IO_TIMEOUT;
    while data_bytes(&dir) < 8 * SUBBUF && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        data_bytes(&dir) >= 8 * SUBBUF,
        "consumer did not drain on wake-ups"
    );

    // Registration order: stream + event blocks after the header; pushed
    // with an overlapping fragment like a racing sessiond would.
    let tail = tsdl_stream_and_event();
    let overlap = 10;
    let mut frag = head.as_bytes()[head.len() - overlap..].to_vec();
    frag.extend_from_slice(tail.as_bytes());
    consumer
        .push_metadata(trace, (head.len() - overlap) as u64, &frag)
        .unwrap();
    rig_stays.stop();
    consumer.flush_and_drain().unwrap();

    // Each app's events, in its own order, with none lost.
    let mut values = babeltrace_values(&dir);
    let first_app: Vec<i64> = values.drain(..N).collect();
    assert_eq!(first_app, (0..N as i64).collect::<Vec<_>>());
    assert_eq!(values, (0..N as i64).collect::<Vec<_>>());
    assert!(check_indexes(&dir) >= 10);
    let md = std::fs::read(dir.join("metadata")).unwrap();
    assert_eq!(
        &md[..4],
        &0x75D11D57u32.to_le_bytes(),
        "packetized metadata"
    );

    stays.finish();
    rig_stays.join_notify();
    consumer.close().unwrap();
}

/// Per-PID layout; the app stays alive with a few events (less than a
/// sub-buffer, so nothing is delivered until stop); stop flushes them.
#[test]
fn per_pid_trace_flushed_at_stop() {
    const N: usize = 25;
    let root = scratch("pid");
    let listener = UnixListener::bind(root.join("home/.lttng/lttng-ust-sock-8")).unwrap();
    let mut app = App::spawn(&root.join("home"), N, true);

    let ctl = UstCtl::load().unwrap();
    let uuid = *b"ustd-e2e-pid-tst";
    let consumer = Consumer::start(ctl.clone(), "pid").unwrap();
    let mut rig = Rig::register(&listener);
    let datetime = ustd::io::host::local_datetime(SystemTime::now());
    let dir = pid_trace_dir(&root.join("out"), &rig.reg.name, rig.reg.pid, &datetime);
    let trace = consumer
        .add_trace(&dir, MetadataChannel::create(&ctl, uuid).unwrap())
        .unwrap();
    let channel = BufferChannel::create(&ctl, &spec(uuid)).unwrap();
    rig.configure(&channel.hand_out());
    consumer.add_channel(trace, "channel0", channel).unwrap();
    app.wait_emitted(N);

    rig.stop();
    let text = tsdl_statedump(&uuid, "pid", rig.reg.pid as u32) + &tsdl_stream_and_event();
    consumer.push_metadata(trace, 0, text.as_bytes()).unwrap();
    consumer.flush_trace(trace).unwrap();
    // Everything is on disk now, while the app still runs.
    assert_eq!(babeltrace_values(&dir), (0..N as i64).collect::<Vec<_>>());
    assert_eq!(check_indexes(&dir), ctl.nr_streams_per_channel() as usize);

    app.finish();
    rig.join_notify();
    consumer.remove_trace(trace, Vec::new()).unwrap();
    consumer.close().unwrap();
    assert!(dir.starts_with(root.join("out/ust/pid")));
    assert_eq!(
        babeltrace_values(&dir).len(),
        N,
        "removing the trace keeps its files"
    );
}

/// Snapshot mode: an overwrite channel nobody drains; `snapshot` copies
/// the latest events (older ones were overwritten) without consuming.
#[test]
fn snapshot_of_an_overwrite_channel_holds_the_latest_events() {
    const N: usize = 5000;
    let root = scratch("snap");
    let listener = UnixListener::bind(root.join("home/.lttng/lttng-ust-sock-8")).unwrap();
    let mut app = App::spawn(&root.join("home"), N, true);

    let ctl = UstCtl::load().unwrap();
    let uuid = *b"ustd-e2e-snapsht";
    let consumer = Consumer::start(ctl.clone(), "snap").unwrap();
    let mut rig = Rig::register(&listener);
    let trace = consumer.add_snapshot_trace().unwrap();
    let text = tsdl_statedump(&uuid, "uid", rig.reg.uid) + &tsdl_stream_and_event();
    consumer.push_metadata(trace, 0, text.as_bytes()).unwrap();
    let channel = BufferChannel::create(
        &ctl,
        &ChannelSpec {
            overwrite: true,
            num_subbuf: 4,
            ..spec(uuid)
        },
    )
    .unwrap();
    let hand_out = consumer
        .add_snapshot_channel(trace, "channel0", channel)
        .unwrap();
    rig.configure(&hand_out);
    app.wait_emitted(N);
    rig.stop();

    let snap = |seq: u32| {
        let dest = uid_trace_dir(&root.join(format!("out/snapshot-1-{seq}")), rig.reg.uid, 64);
        consumer.snapshot(trace, &dest).unwrap();
        assert_eq!(std::fs::read_dir(dest.join("index")).unwrap().count(), 0);
        babeltrace_values(&dest)
    };
    let values = snap(0);
    assert_eq!(values.last(), Some(&(N as i64 - 1)), "latest event present");
    assert!(values.windows(2).all(|w| w[0] < w[1]), "trace order");
    assert!(
        values.len() >= 500 && values.len() < N,
        "kept {} of {N}",
        values.len()
    );
    // Not consumed: a second snapshot sees the same events.
    assert_eq!(snap(1), values);

    app.finish();
    rig.join_notify();
    consumer.close().unwrap();
}
