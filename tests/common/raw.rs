//! Raw app-protocol clients run from the test process itself: hand-built
//! registration messages (through `ustd::wire::reg::RegMsg`) and a minimal
//! fake app that answers the daemon's commands.

use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ustd::wire::cmd::{op, CMD_MSG_LEN, REPLY_LEN};
use ustd::wire::reg::{RegMsg, SocketType};

/// The name fake apps register with.
pub const FAKE_NAME: &str = "ustd-rawclient";

/// A registration message as lttng-ust 2.13.5 on x86_64 sends it, claiming
/// the given pid/uid.
pub fn reg_msg(socket_type: SocketType, pid: i32, uid: u32, gid: u32) -> RegMsg {
    RegMsg {
        major: 9,
        minor: 0,
        pid,
        ppid: std::os::unix::process::parent_id() as i32,
        uid,
        gid,
        bits_per_long: 64,
        alignments: [8; 5],
        socket_type,
        name: FAKE_NAME.into(),
    }
}

/// A registration message telling the truth about the test process.
pub fn honest_reg(socket_type: SocketType) -> RegMsg {
    reg_msg(
        socket_type,
        std::process::id() as i32,
        super::euid(),
        super::egid(),
    )
}

pub fn connect(path: &Path) -> UnixStream {
    UnixStream::connect(path).unwrap_or_else(|e| panic!("connect {}: {e}", path.display()))
}

/// Reads (and discards) until the peer closes the connection. Errs if it is
/// still open after `timeout`.
pub fn wait_closed(s: &UnixStream, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    let mut buf = [0u8; 4096];
    let mut s = s;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("connection still open after {timeout:?}"));
        }
        s.set_read_timeout(Some(left.min(Duration::from_millis(200))))
            .map_err(|e| e.to_string())?;
        match s.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            // ECONNRESET / EPIPE: closed by the daemon.
            Err(_) => return Ok(()),
        }
    }
}

/// How a [`FakeApp`] answers the daemon's commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Success for everything (TRACER_VERSION: 2.13.5).
    Honest,
    /// Reads commands, never replies.
    Mute,
    /// Replies with a handle the command did not carry.
    WrongHandle,
    /// Answers TRACER_VERSION, then reads commands and never replies: the
    /// daemon's notify task serves it while the handshake waits.
    VersionOnly,
}

/// A test-process "app" that registers both sockets and answers commands
/// as told.
pub struct FakeApp {
    pub cmd: UnixStream,
    pub notify: UnixStream,
    /// Command numbers received, in order.
    pub commands: Arc<Mutex<Vec<u32>>>,
    cmd_closed: Arc<AtomicBool>,
    responder: Option<JoinHandle<()>>,
}

impl FakeApp {
    /// Connects and registers both sockets like lttng-ust does (cmd first),
    /// answering honestly.
    pub fn register(app_socket: &Path, cmd_reg: &RegMsg, notify_reg: &RegMsg) -> FakeApp {
        Self::register_answering(app_socket, cmd_reg, notify_reg, Answer::Honest)
    }

    pub fn register_answering(
        app_socket: &Path,
        cmd_reg: &RegMsg,
        notify_reg: &RegMsg,
        answer: Answer,
    ) -> FakeApp {
        let mut cmd = connect(app_socket);
        cmd.write_all(&cmd_reg.encode())
            .expect("send cmd registration");
        let mut notify = connect(app_socket);
        notify
            .write_all(&notify_reg.encode())
            .expect("send notify registration");

        let commands = Arc::new(Mutex::new(Vec::new()));
        let cmd_closed = Arc::new(AtomicBool::new(false));
        let mut rd = cmd.try_clone().expect("clone cmd socket");
        let (seen, closed) = (commands.clone(), cmd_closed.clone());
        let responder = std::thread::spawn(move || {
            let mut msg = [0u8; CMD_MSG_LEN];
            while rd.read_exact(&mut msg).is_ok() {
                seen.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(u32_at(&msg, 4));
                let mut reply = reply_for(&msg);
                match answer {
                    Answer::Honest => {}
                    Answer::Mute => continue,
                    Answer::VersionOnly if u32_at(&msg, 4) != op::TRACER_VERSION => continue,
                    Answer::VersionOnly => {}
                    Answer::WrongHandle => {
                        let bad = u32_at(&msg, 0).wrapping_add(77);
                        reply[0..4].copy_from_slice(&bad.to_le_bytes());
                    }
                }
                if rd.write_all(&reply).is_err() {
                    break;
                }
            }
            closed.store(true, Ordering::SeqCst);
        });
        FakeApp {
            cmd,
            notify,
            commands,
            cmd_closed,
            responder: Some(responder),
        }
    }

    pub fn saw(&self, cmd: u32) -> bool {
        self.commands
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&cmd)
    }

    /// Whether the daemon closed the command socket.
    pub fn cmd_closed(&self) -> bool {
        self.cmd_closed.load(Ordering::SeqCst)
    }
}

impl Drop for FakeApp {
    fn drop(&mut self) {
        let _ = self.cmd.shutdown(Shutdown::Both);
        let _ = self.notify.shutdown(Shutdown::Both);
        if let Some(h) = self.responder.take() {
            let _ = h.join();
        }
    }
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

/// A 324-byte success reply echoing the command's handle and number.
fn reply_for(msg: &[u8; CMD_MSG_LEN]) -> [u8; REPLY_LEN] {
    let mut r = [0u8; REPLY_LEN];
    r[0..8].copy_from_slice(&msg[0..8]); // handle, cmd
    if u32_at(msg, 4) == op::TRACER_VERSION {
        for (i, v) in [2u32, 13, 5].iter().enumerate() {
            r[48 + 4 * i..52 + 4 * i].copy_from_slice(&v.to_le_bytes());
        }
    }
    r
}

/// Whether the peer still holds `s` open: no EOF and no error is pending
/// (the daemon never writes to a socket it has not registered).
pub fn is_open(s: &UnixStream) -> bool {
    let mut buf = [0u8; 1];
    s.set_nonblocking(true).expect("set_nonblocking");
    let open = matches!((&*s).read(&mut buf), Err(e) if e.kind() == ErrorKind::WouldBlock);
    s.set_nonblocking(false).expect("set_nonblocking");
    open
}

/// The handshake steps a [`run_child`] process stops at, in protocol order.
pub const CHILD_STEPS: [&str; 5] = [
    "connected",
    "cmd-registered",
    "registered",
    "tracer-version",
    "register-done",
];

/// The body of a raw app *process* (see `registration.rs`'s
/// `raw_app_child`): goes through the handshake like lttng-ust, answering
/// honestly, stops right after `step`, prints `at-step <step>` and then
/// waits to be killed with everything open.
pub fn run_child(app_socket: &Path, step: &str) -> ! {
    assert!(CHILD_STEPS.contains(&step), "unknown step {step}");
    let stop = |held: Vec<UnixStream>| -> ! {
        // A line of its own: libtest has printed "test NAME ... " before.
        println!("\nat-step {step}");
        std::io::stdout().flush().expect("flush stdout");
        let _held = held;
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    };
    let mut cmd = connect(app_socket);
    if step == "connected" {
        stop(vec![cmd]);
    }
    cmd.write_all(&honest_reg(SocketType::Cmd).encode())
        .expect("send cmd registration");
    if step == "cmd-registered" {
        stop(vec![cmd]);
    }
    let mut notify = connect(app_socket);
    notify
        .write_all(&honest_reg(SocketType::Notify).encode())
        .expect("send notify registration");
    if step == "registered" {
        stop(vec![cmd, notify]);
    }
    let mut msg = [0u8; CMD_MSG_LEN];
    loop {
        cmd.read_exact(&mut msg).expect("read a command");
        cmd.write_all(&reply_for(&msg)).expect("reply");
        let done = match u32_at(&msg, 4) {
            op::TRACER_VERSION => step == "tracer-version",
            op::REGISTER_DONE => step == "register-done",
            _ => false,
        };
        if done {
            stop(vec![cmd, notify]);
        }
    }
}
