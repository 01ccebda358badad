//! Channels with switch and read timers: the library arms POSIX timers in
//! this process that raise SIGRTMIN..SIGRTMIN+2. Runs without the libtest
//! harness so that `main` can block those signals before any thread exists,
//! as the daemon must.
//!
//! With the signals blocked first, a timer channel works: the switch timer
//! closes partial sub-buffers and the read timer wakes the consumer, so a
//! live app's few events reach the files without any flush.
//!
//! (A thread that does not block them may be picked by the kernel for a
//! timer signal and die of it; which thread gets a process-directed signal
//! is not deterministic, so that case is not tested.)

mod ustctl_common;

use std::os::unix::net::UnixListener;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use ustctl_common::*;
use ustd::engine::{uid_trace_dir, Consumer};
use ustd::ustctl::{block_rt_signals, BufferChannel, ChannelSpec, MetadataChannel, UstCtl};

const TIMER_US: u32 = 20_000;

fn timer_spec(uuid: [u8; 16]) -> ChannelSpec {
    ChannelSpec {
        switch_timer_us: TIMER_US,
        read_timer_us: TIMER_US,
        ..spec(uuid)
    }
}

/// A thread like a runtime worker, alive while timers run.
fn spawn_idle_thread() {
    std::thread::spawn(|| std::thread::sleep(Duration::from_secs(3600)));
}

fn timers_deliver_without_flush() {
    const N: usize = 25;
    let root = scratch("timers");
    let listener = UnixListener::bind(root.join("home/.lttng/lttng-ust-sock-8")).unwrap();
    let mut app = App::spawn(&root.join("home"), N, true);
    let ctl = UstCtl::load().unwrap();
    let uuid = *b"ustd-e2e-timers!";
    let consumer = Consumer::start(ctl.clone(), "timers").unwrap();
    let mut rig = Rig::register(&listener);
    let dir = uid_trace_dir(&root.join("out"), rig.reg.uid, rig.reg.bits_per_long);
    let trace = consumer
        .add_trace(&dir, MetadataChannel::create(&ctl, uuid).unwrap())
        .unwrap();
    let text = tsdl_statedump(&uuid, "uid", rig.reg.uid) + &tsdl_stream_and_event();
    consumer.push_metadata(trace, 0, text.as_bytes()).unwrap();
    let channel = BufferChannel::create(&ctl, &timer_spec(uuid)).unwrap();
    let hand_out = consumer.add_channel(trace, "channel0", channel).unwrap();
    rig.configure(&hand_out);
    app.wait_emitted(N);

    // No flush: only the timers can bring the partial sub-buffer out.
    let want: Vec<i64> = (0..N as i64).collect();
    let deadline = Instant::now() + IO_TIMEOUT;
    let mut got = Vec::new();
    while Instant::now() < deadline {
        if data_bytes(&dir) > 0 {
            got = babeltrace_values(&dir);
            if got == want {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(got, want, "timer-delivered events");

    rig.stop();
    app.finish();
    rig.join_notify();
    consumer.close().unwrap();
    assert_eq!(babeltrace_values(&dir), want);
    check_indexes(&dir);
}

fn main() -> ExitCode {
    block_rt_signals().expect("block real-time signals");
    spawn_idle_thread();

    print!("test timers_deliver_without_flush ... ");
    timers_deliver_without_flush();
    println!("ok");

    ExitCode::SUCCESS
}
