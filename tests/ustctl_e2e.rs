//! End to end through the real liblttng-ust-ctl.so.5 and a real
//! LTTng-UST app: buffers created and handed out by `ustd::ustctl`, the app
//! driven by a minimal in-test session daemon, the consumer writing the
//! trace, babeltrace2 reading it back.

mod ustctl_common;

use std::os::unix::net::UnixListener;
use std::time::{Duration, Instant, SystemTime};

use ustctl_common::*;
use ustd::ustctl::{
    pid_trace_dir, uid_trace_dir, BufferChannel, Consumer, MetadataChannel, UstCtl,
};

/// Per-UID layout; the app fills several sub-buffers (so the consumer
/// must drain them on wake-ups, before any flush) and exits before the
/// session stops: its events stay in the trace.
#[test]
fn per_uid_trace_of_an_app_that_exits_mid_session() {
    const N: usize = 2000;
    let root = scratch("uid");
    let listener = UnixListener::bind(root.join("home/.lttng/lttng-ust-sock-8")).unwrap();
    let mut app = App::spawn(&root.join("home"), N, false);

    let ctl = UstCtl::load().unwrap();
    let uuid = *b"ustd-e2e-uid-tst";
    let consumer = Consumer::start(ctl.clone(), "uid").unwrap();
    let mut rig = Rig::register(listener);
    let dir = uid_trace_dir(&root.join("out"), rig.reg.uid, rig.reg.bits_per_long);
    let trace = consumer
        .add_trace(&dir, MetadataChannel::create(&ctl, uuid).unwrap())
        .unwrap();
    let head = tsdl_statedump(&uuid, "uid", rig.reg.uid);
    consumer.push_metadata(trace, 0, head.as_bytes()).unwrap();
    let channel = BufferChannel::create(&ctl, &spec(uuid)).unwrap();
    let hand_out = channel.hand_out();
    consumer.add_channel(trace, "channel0", channel).unwrap();
    assert_eq!(hand_out.nr_streams() as u32, ctl.nr_streams_per_channel());

    rig.configure(&hand_out);
    app.wait_emitted(N);
    app.finish();
    rig.join_notify();

    // ~20 KB of events in 4 KiB sub-buffers: at least 4 were delivered by
    // the app, and the consumer writes them on its own.
    let deadline = Instant::now() + IO_TIMEOUT;
    while data_bytes(&dir) < 4 * SUBBUF && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        data_bytes(&dir) >= 4 * SUBBUF,
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
    consumer.close().unwrap();

    let values = babeltrace_values(&dir);
    assert_eq!(values, (0..N as i64).collect::<Vec<_>>());
    assert!(check_indexes(&dir) >= 5);
    let md = std::fs::read(dir.join("metadata")).unwrap();
    assert_eq!(
        &md[..4],
        &0x75D11D57u32.to_le_bytes(),
        "packetized metadata"
    );
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
    let mut rig = Rig::register(listener);
    let datetime = ustd::io::commands::local_datetime(SystemTime::now());
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
    consumer.remove_trace(trace).unwrap();
    consumer.close().unwrap();
    assert!(dir.starts_with(root.join("out/ust/pid")));
    assert_eq!(
        babeltrace_values(&dir).len(),
        N,
        "removing the trace keeps its files"
    );
}
