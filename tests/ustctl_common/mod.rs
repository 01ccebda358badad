//! Shared rig of the ustctl end-to-end tests: the fixture app, a minimal
//! in-test session daemon (per-user socket under a private LTTNG_HOME)
//! speaking the protocol through the crate's wire codec and fd passing,
//! hand-written TSDL for the fixture's single event, and trace checks.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use ustd::engine::{PacketIndex, INDEX_ENTRY_LEN, INDEX_HEADER_LEN};
use ustd::io::fdpass::send_fds;
use ustd::ustctl::{ChannelHandOut, ChannelSpec, UstCtl};
use ustd::wire::cmd::{op, CmdMsg, LoglevelType, Reply, REPLY_LEN};
use ustd::wire::field::FieldType;
use ustd::wire::notify::{self, header_type, NotifyRequest};
use ustd::wire::reg::{RegMsg, SocketType, REG_MSG_LEN};

pub const EVENT_NAME: &str = "ustctl_test:value";
pub const IO_TIMEOUT: Duration = Duration::from_secs(20);
pub const SUBBUF: u64 = 4096;
pub const NUM_SUBBUF: u64 = 8;

/// Builds the fixture app once per test binary.
pub fn fixture_app() -> PathBuf {
    static BUILT: Mutex<Option<PathBuf>> = Mutex::new(None);
    let mut b = BUILT.lock().unwrap();
    if let Some(p) = b.as_ref() {
        return p.clone();
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/ustctl");
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ustctl_app");
    let st = Command::new("gcc")
        .args(["-O1", "-I"])
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .arg(src.join("app.c"))
        .args(["-llttng-ust", "-ldl"])
        .status()
        .expect("run gcc");
    assert!(st.success(), "building the fixture app failed");
    *b = Some(out.clone());
    out
}

/// A scratch directory with a short path (the socket path must fit
/// sun_path).
pub fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ustctl-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("home/.lttng")).unwrap();
    d
}

pub struct App {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<std::process::ChildStdout>,
}

impl App {
    pub fn spawn(home: &Path, n: usize, wait: bool) -> App {
        let mut cmd = Command::new(fixture_app());
        cmd.arg(n.to_string());
        if wait {
            cmd.arg("wait");
        }
        let mut child = cmd
            .env("LTTNG_HOME", home)
            .env("LTTNG_UST_REGISTER_TIMEOUT", "20000")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn fixture app");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        App {
            child,
            stdin,
            stdout,
        }
    }

    pub fn wait_emitted(&mut self, n: usize) {
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), format!("emitted {n}"));
    }

    pub fn finish(&mut self) {
        drop(self.stdin.take());
        let st = self.child.wait().unwrap();
        assert!(st.success(), "fixture app failed: {st}");
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The command side of one registered app.
pub struct Cmd {
    sock: UnixStream,
}

impl Cmd {
    pub fn send(&mut self, msg: &CmdMsg) {
        self.sock.write_all(&msg.bytes).unwrap();
    }

    pub fn reply(&mut self, msg: &CmdMsg) -> Reply {
        let mut b = [0u8; REPLY_LEN];
        if let Err(e) = self.sock.read_exact(&mut b) {
            panic!("reading the reply to {msg:?}: {e}");
        }
        let r = Reply::decode_for(&b, msg).unwrap();
        assert_eq!(r.ret_code, 0, "app refused {msg:?}");
        r
    }

    pub fn call(&mut self, msg: CmdMsg) -> Reply {
        self.send(&msg);
        self.reply(&msg)
    }
}

pub fn read_reg(sock: &mut UnixStream) -> RegMsg {
    let mut b = [0u8; REG_MSG_LEN];
    sock.read_exact(&mut b).unwrap();
    RegMsg::decode(&b).unwrap()
}

/// What the notify thread saw.
#[derive(Default, Debug)]
pub struct NotifyLog {
    pub channels: usize,
    pub events: Vec<String>,
}

/// Answers the app's notify requests: channel id 0 with LARGE headers, id 0
/// for the fixture's event (after checking its field layout).
pub fn serve_notify(mut sock: UnixStream, log: Arc<Mutex<NotifyLog>>) -> JoinHandle<()> {
    std::thread::spawn(move || loop {
        let mut hdr = [0u8; notify::HEADER_LEN];
        if sock.read_exact(&mut hdr).is_err() {
            return; // app gone
        }
        let cmd = notify::decode_header(&hdr).unwrap();
        let mut body = vec![0u8; notify::body_len(cmd).unwrap()];
        sock.read_exact(&mut body).unwrap();
        let mut tail = vec![0u8; notify::tail_len(cmd, &body).unwrap()];
        sock.read_exact(&mut tail).unwrap();
        let reply: Vec<u8> = match notify::decode_request(cmd, &body, &tail).unwrap() {
            NotifyRequest::Channel(c) => {
                assert!(c.ctx_fields.is_empty(), "no context was added");
                log.lock().unwrap().channels += 1;
                notify::encode_channel_reply(0, 0, header_type::LARGE).to_vec()
            }
            NotifyRequest::Event(e) => {
                let ok = e.name == EVENT_NAME
                    && e.fields.len() == 1
                    && e.fields[0].name == "v"
                    && matches!(&e.fields[0].ty, FieldType::Integer(t) if t.size_bits == 32 && t.signed);
                log.lock().unwrap().events.push(e.name.clone());
                notify::encode_event_reply(if ok { 0 } else { -22 }, 0).to_vec()
            }
            NotifyRequest::Enum(_) => notify::encode_enum_reply(-22, 0).to_vec(),
        };
        sock.write_all(&reply).unwrap();
    })
}

pub fn uuid_string(u: &[u8; 16]) -> String {
    let h: Vec<String> = u.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        h[0..4].concat(),
        h[4..6].concat(),
        h[6..8].concat(),
        h[8..10].concat(),
        h[10..].concat()
    )
}

/// Header part of the TSDL (what a registry writes at creation).
pub fn tsdl_statedump(uuid: &[u8; 16], scheme: &str, id: u32) -> String {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i128;
    let mono = {
        let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
        t.tv_sec as i128 * 1_000_000_000 + t.tv_nsec as i128
    };
    format!(
        r#"/* CTF 1.8 */

typealias integer {{ size = 8; align = 8; signed = false; }} := uint8_t;
typealias integer {{ size = 16; align = 8; signed = false; }} := uint16_t;
typealias integer {{ size = 32; align = 8; signed = false; }} := uint32_t;
typealias integer {{ size = 64; align = 8; signed = false; }} := uint64_t;
typealias integer {{ size = 64; align = 8; signed = false; }} := unsigned long;
typealias integer {{ size = 5; align = 1; signed = false; }} := uint5_t;
typealias integer {{ size = 27; align = 1; signed = false; }} := uint27_t;

trace {{
	major = 1;
	minor = 8;
	uuid = "{uuid}";
	byte_order = le;
	packet.header := struct {{
		uint32_t magic;
		uint8_t  uuid[16];
		uint32_t stream_id;
		uint64_t stream_instance_id;
	}};
}};

env {{
	domain = "ust";
	tracer_name = "lttng-ust";
	tracer_major = 2;
	tracer_minor = 13;
	tracer_buffering_scheme = "{scheme}";
	tracer_buffering_id = {id};
	architecture_bit_width = 64;
	trace_name = "ustctl-e2e";
}};

clock {{
	name = "monotonic";
	description = "Monotonic Clock";
	freq = 1000000000; /* Frequency, in Hz */
	/* clock value offset from Epoch is: offset * (1/freq) */
	offset = {offset};
}};

typealias integer {{
	size = 27; align = 1; signed = false;
	map = clock.monotonic.value;
}} := uint27_clock_monotonic_t;

typealias integer {{
	size = 32; align = 8; signed = false;
	map = clock.monotonic.value;
}} := uint32_clock_monotonic_t;

typealias integer {{
	size = 64; align = 8; signed = false;
	map = clock.monotonic.value;
}} := uint64_clock_monotonic_t;

struct packet_context {{
	uint64_clock_monotonic_t timestamp_begin;
	uint64_clock_monotonic_t timestamp_end;
	uint64_t content_size;
	uint64_t packet_size;
	uint64_t packet_seq_num;
	unsigned long events_discarded;
	uint32_t cpu_id;
}};

struct event_header_compact {{
	enum : uint5_t {{ compact = 0 ... 30, extended = 31 }} id;
	variant <id> {{
		struct {{
			uint27_clock_monotonic_t timestamp;
		}} compact;
		struct {{
			uint32_t id;
			uint64_clock_monotonic_t timestamp;
		}} extended;
	}} v;
}} align(8);

struct event_header_large {{
	enum : uint16_t {{ compact = 0 ... 65534, extended = 65535 }} id;
	variant <id> {{
		struct {{
			uint32_clock_monotonic_t timestamp;
		}} compact;
		struct {{
			uint32_t id;
			uint64_clock_monotonic_t timestamp;
		}} extended;
	}} v;
}} align(8);

"#,
        uuid = uuid_string(uuid),
        offset = now - mono,
    )
}

/// Stream and event blocks (what registrations append).
pub fn tsdl_stream_and_event() -> String {
    format!(
        r#"stream {{
	id = 0;
	event.header := struct event_header_large;
	packet.context := struct packet_context;
}};

event {{
	name = "{EVENT_NAME}";
	id = 0;
	stream_id = 0;
	loglevel = 13;
	fields := struct {{
		integer {{ size = 32; align = 8; signed = 1; encoding = none; base = 10; }} _v;
	}};
}};

"#
    )
}

/// One test trace: mini daemon + buffers + consumer.
pub struct Rig {
    pub cmd: Cmd,
    pub reg: RegMsg,
    notify: Option<JoinHandle<()>>,
    log: Arc<Mutex<NotifyLog>>,
    session: u32,
}

/// Accepts the app's two sockets.
pub fn accept_app(listener: &UnixListener) -> (Cmd, RegMsg, UnixStream) {
    let (mut a, _) = listener.accept().unwrap();
    let (mut b, _) = listener.accept().unwrap();
    for s in [&a, &b] {
        s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    }
    let (ra, rb) = (read_reg(&mut a), read_reg(&mut b));
    let ((cmd, reg), notify) = match (ra.socket_type, rb.socket_type) {
        (SocketType::Cmd, SocketType::Notify) => ((a, ra), b),
        (SocketType::Notify, SocketType::Cmd) => ((b, rb), a),
        other => panic!("unexpected socket types {other:?}"),
    };
    (Cmd { sock: cmd }, reg, notify)
}

impl Rig {
    /// Registers the app and creates its session (TRACER_VERSION, SESSION).
    pub fn register(listener: &UnixListener) -> Rig {
        let (mut cmd, reg, notify_sock) = accept_app(listener);
        let log = Arc::new(Mutex::new(NotifyLog::default()));
        let notify = Some(serve_notify(notify_sock, log.clone()));
        let v = cmd.call(CmdMsg::simple(0, op::TRACER_VERSION));
        assert_eq!(v.tracer_version().0, 2);
        let session = cmd.call(CmdMsg::simple(0, op::SESSION)).ret_val;
        Rig {
            cmd,
            reg,
            notify,
            log,
            session,
        }
    }

    /// Sends the channel and its streams, enables the event and the
    /// session, then REGISTER_DONE (which releases the app's main()).
    pub fn configure(&mut self, hand_out: &ChannelHandOut) {
        let objs = hand_out.app_objects().unwrap();
        let msg = CmdMsg::channel(self.session, objs.blob.len() as u64, false);
        self.cmd.send(&msg);
        self.cmd.sock.write_all(&objs.blob).unwrap();
        send_fds(self.cmd.sock.as_fd(), &[objs.wakeup.as_fd()]).unwrap();
        let chan = self.cmd.reply(&msg).ret_val;
        for s in &objs.streams {
            let msg = CmdMsg::stream(chan, s.shm_len, s.cpu);
            self.cmd.send(&msg);
            send_fds(self.cmd.sock.as_fd(), &[s.shm.as_fd(), s.wakeup.as_fd()]).unwrap();
            self.cmd.reply(&msg);
        }
        drop(objs); // the app holds its own copies now
        let ev = self
            .cmd
            .call(CmdMsg::event(chan, EVENT_NAME, LoglevelType::All, -1))
            .ret_val;
        self.cmd.call(CmdMsg::simple(ev, op::ENABLE));
        self.cmd.call(CmdMsg::simple(self.session, op::ENABLE));
        self.cmd.call(CmdMsg::simple(0, op::WAIT_QUIESCENT));
        // The app releases its constructor before replying: a short-lived
        // app may run main() and exit before the reply is written, so EOF
        // here means "registered, then gone".
        let done = CmdMsg::simple(0, op::REGISTER_DONE);
        self.cmd.send(&done);
        let mut b = [0u8; REPLY_LEN];
        if self.cmd.sock.read_exact(&mut b).is_ok() {
            assert_eq!(Reply::decode_for(&b, &done).unwrap().ret_code, 0);
        }
    }

    /// lttng's stop: DISABLE(session) + WAIT_QUIESCENT.
    pub fn stop(&mut self) {
        self.cmd.call(CmdMsg::simple(self.session, op::DISABLE));
        self.cmd.call(CmdMsg::simple(0, op::WAIT_QUIESCENT));
    }

    pub fn join_notify(&mut self) {
        if let Some(t) = self.notify.take() {
            t.join().unwrap();
        }
        let log = self.log.lock().unwrap();
        assert_eq!(log.channels, 1, "one REGISTER_CHANNEL expected");
        assert_eq!(log.events, vec![EVENT_NAME.to_owned()]);
    }
}

pub fn spec(uuid: [u8; 16]) -> ChannelSpec {
    ChannelSpec {
        subbuf_size: SUBBUF,
        num_subbuf: NUM_SUBBUF,
        overwrite: false,
        switch_timer_us: 0,
        read_timer_us: 0,
        blocking_timeout_us: 0,
        chan_id: 0,
        uuid,
    }
}

/// The `v` values babeltrace2 prints for the fixture event, in trace order.
pub fn babeltrace_values(dir: &Path) -> Vec<i64> {
    let out = Command::new("babeltrace2")
        .arg(dir)
        .output()
        .expect("run babeltrace2");
    assert!(
        out.status.success(),
        "babeltrace2 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines()
        .map(|l| {
            assert!(
                l.contains(&format!("{EVENT_NAME}:")),
                "unexpected event line: {l}"
            );
            let v = l.rsplit_once("v = ").expect("field v").1;
            v.trim_end_matches([' ', '}']).parse::<i64>().unwrap()
        })
        .collect()
}

/// Checks every index file against its stream file; returns the number of
/// packets over all data streams.
pub fn check_indexes(dir: &Path) -> usize {
    let mut packets = 0;
    for cpu in 0..UstCtl::load().unwrap().nr_streams_per_channel() {
        let data = std::fs::read(dir.join(format!("channel0_{cpu}"))).unwrap();
        let idx = std::fs::read(dir.join(format!("index/channel0_{cpu}.idx"))).unwrap();
        assert_eq!(&idx[..4], &[0xC1, 0xF1, 0xDC, 0xC1]);
        let entries = &idx[INDEX_HEADER_LEN..];
        assert_eq!(entries.len() % INDEX_ENTRY_LEN, 0);
        let mut expect_offset = 0u64;
        for (seq, e) in entries.chunks_exact(INDEX_ENTRY_LEN).enumerate() {
            let e = PacketIndex::decode(e.try_into().unwrap());
            assert_eq!(e.offset, expect_offset);
            assert_eq!(e.packet_size % 8, 0);
            assert!(e.content_size <= e.packet_size);
            assert_eq!(
                (e.stream_id, e.stream_instance_id, e.packet_seq_num),
                (0, u64::from(cpu), seq as u64)
            );
            assert!(e.timestamp_begin <= e.timestamp_end);
            assert_eq!(e.events_discarded, 0, "no event may be lost");
            // The packet header in the file agrees with the index.
            let p = &data[e.offset as usize..];
            assert_eq!(&p[..4], &0xC1FC1FC1u32.to_le_bytes());
            let u64_at = |o: usize| u64::from_le_bytes(p[o..o + 8].try_into().unwrap());
            assert_eq!(
                (u64_at(32), u64_at(48), u64_at(56)),
                (e.timestamp_begin, e.content_size, e.packet_size)
            );
            expect_offset += e.packet_size / 8;
            packets += 1;
        }
        assert_eq!(
            expect_offset,
            data.len() as u64,
            "index covers the whole stream file"
        );
    }
    packets
}

pub fn data_bytes(dir: &Path) -> u64 {
    (0..UstCtl::load().unwrap().nr_streams_per_channel())
        .map(|cpu| std::fs::metadata(dir.join(format!("channel0_{cpu}"))).map_or(0, |m| m.len()))
        .sum()
}
