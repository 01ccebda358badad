//! A stock lttng-relayd for tests, on loopback ports of its own.
//!
//! Ports: a relayd cannot be told to bind port 0 and report it, so the
//! harness picks them. Ports handed out by `bind(":0")` come from the
//! kernel's ephemeral range, where any outgoing connection of a parallel
//! test may take one between our probe and the relayd's bind; the relayd
//! then fails to listen while another test's relayd (or nothing) answers
//! on the port. So ports come from below the ephemeral range, from a
//! counter unique within this test process, and `start` checks that the
//! listening sockets belong to the child it spawned, not merely that
//! something answers.

use super::{wait_until, World, GENEROUS};
use std::fs;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};

/// Below Linux's default ephemeral range (32768–60999): no outgoing
/// connection takes these.
const PORT_BASE: u16 = 20_000;
const PORT_SPAN: u16 = 12_000;

/// A loopback port nobody listens on right now and no other relayd of this
/// process was given.
pub fn free_port() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    // Spread test binaries (run one after another, but a rerun may overlap
    // a leftover) over the range by pid.
    let seed = (std::process::id() % u32::from(PORT_SPAN)) as u16;
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = PORT_BASE + (seed.wrapping_add(n.wrapping_mul(7))) % PORT_SPAN;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

pub fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// A stock lttng-relayd in the world's mount namespace, writing under `out`.
pub struct Relayd {
    pub child: Child,
    pub ctrl: SocketAddr,
    pub data: SocketAddr,
    pub live: SocketAddr,
    pub out: PathBuf,
}

/// This machine's name, as the relayd files sessions under it.
pub fn hostname() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .expect("hostname")
        .trim()
        .to_owned()
}

impl Relayd {
    pub fn start(w: &World) -> Relayd {
        let out = w.dir.join("relayd-out");
        let (c, d, l) = (free_port(), free_port(), free_port());
        let mut cmd = w.command_in(Path::new("lttng-relayd"));
        cmd.arg("-C")
            .arg(format!("tcp://127.0.0.1:{c}"))
            .arg("-D")
            .arg(format!("tcp://127.0.0.1:{d}"))
            .arg("-L")
            .arg(format!("tcp://127.0.0.1:{l}"))
            .arg("-o")
            .arg(&out)
            .env("LTTNG_HOME", &w.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(w.dir.join("relayd.log")).expect("relayd log"));
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn lttng-relayd ({e}); is lttng-tools installed?"));
        let mut r = Relayd {
            child,
            ctrl: addr(c),
            data: addr(d),
            live: addr(l),
            out,
        };
        wait_until("lttng-relayd listening", GENEROUS, || {
            if let Ok(Some(st)) = r.child.try_wait() {
                let log = fs::read_to_string(w.dir.join("relayd.log")).unwrap_or_default();
                panic!("lttng-relayd exited with {st}: {log}");
            }
            let pid = r.child.id();
            [c, d, l].iter().all(|&p| listens_in(pid, p)).then_some(())
        });
        assert!(TcpStream::connect(r.ctrl).is_ok() && TcpStream::connect(r.data).is_ok());
        r
    }

    /// Sends `sig`; for SIGSTOP, returns once every thread of the relayd
    /// is stopped (a group stop completes asynchronously: a thread running
    /// on the other CPU could still answer a request sent right after
    /// `kill` returned).
    pub fn signal(&self, sig: i32) {
        let pid = self.child.id();
        super::signal(pid as i32, sig);
        if sig == libc::SIGSTOP {
            wait_until("every relayd thread stopped", GENEROUS, || {
                all_threads_stopped(pid).then_some(())
            });
        }
    }
}

impl Relayd {
    /// `net://127.0.0.1:CTRL:DATA`, the URL of this relayd.
    pub fn url(&self) -> String {
        format!("net://127.0.0.1:{}:{}", self.ctrl.port(), self.data.port())
    }

    /// A session's directory here: `<out>/<host>/<name>-<date>-<time>`.
    pub fn session_dir(&self, name: &str) -> PathBuf {
        let host = self.out.join(hostname());
        let prefix = format!("{name}-");
        fs::read_dir(&host)
            .unwrap_or_else(|e| panic!("{}: {e}", host.display()))
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&prefix))
            })
            .unwrap_or_else(|| panic!("no {prefix}* under {}", host.display()))
    }
}

impl Drop for Relayd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether every thread of `pid` is in the stopped state (`T`).
fn all_threads_stopped(pid: u32) -> bool {
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.flatten().all(|t| {
        fs::read_to_string(t.path().join("stat")).is_ok_and(|stat| {
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next())
                == Some("T")
        })
    })
}

/// Whether process `pid` holds the socket listening on 127.0.0.1:`port`.
fn listens_in(pid: u32, port: u16) -> bool {
    let Some(inode) = listening_inode(port) else {
        return false;
    };
    let want = format!("socket:[{inode}]");
    let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten()
        .any(|e| fs::read_link(e.path()).is_ok_and(|l| l.as_os_str() == want.as_str()))
}

/// The inode of the socket in LISTEN state on 127.0.0.1:`port`, from
/// /proc/net/tcp (`local_address` is `0100007F:PORT` in hex, state `0A`).
fn listening_inode(port: u16) -> Option<u64> {
    let table = fs::read_to_string("/proc/net/tcp").ok()?;
    let local = format!("0100007F:{port:04X}");
    table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        (f.len() > 9 && f[1] == local && f[3] == "0A")
            .then(|| f[9].parse().ok())
            .flatten()
    })
}

pub fn be_u32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

pub fn be_u64(b: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// babeltrace2's text output for a trace directory.
pub fn read_trace(dir: &Path) -> Vec<String> {
    let out = Command::new("babeltrace2")
        .args(["--no-delta", "--clock-seconds"])
        .arg(dir)
        .output()
        .expect("run babeltrace2");
    assert!(
        out.status.success(),
        "babeltrace2 {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Stream files (`<channel>_<cpu>`) of a buffer-set directory.
pub fn streams(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .expect("read trace dir")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|n| n != "metadata" && n != "index")
        .collect();
    v.sort();
    v
}

/// Checks an index file: header (magic, 1.1, entry length), then entries
/// whose offsets and packet sizes tile the stream file. Returns the entries.
pub fn check_index(stream: &Path, index: &Path) -> Vec<Vec<u8>> {
    let idx = fs::read(index).unwrap_or_else(|e| panic!("read {}: {e}", index.display()));
    let len = fs::metadata(stream).expect("stat stream").len();
    assert!(idx.len() >= 16, "{}: no header", index.display());
    assert_eq!(
        (be_u32(&idx, 0), be_u32(&idx, 4), be_u32(&idx, 8)),
        (0xC1F1_DCC1, 1, 1)
    );
    let entry = be_u32(&idx, 12) as usize;
    assert_eq!(entry, 72, "{}: entry length", index.display());
    assert_eq!(
        (idx.len() - 16) % entry,
        0,
        "{}: partial entry",
        index.display()
    );
    let mut offset = 0;
    let entries: Vec<Vec<u8>> = idx[16..].chunks_exact(entry).map(<[u8]>::to_vec).collect();
    for (n, e) in entries.iter().enumerate() {
        assert_eq!(
            be_u64(e, 0),
            offset,
            "{}: packet {n} offset",
            index.display()
        );
        assert!(be_u64(e, 16) <= be_u64(e, 8) && be_u64(e, 8) % 8 == 0);
        offset += be_u64(e, 8) / 8;
    }
    assert_eq!(
        offset,
        len,
        "{}: packets do not tile the stream",
        index.display()
    );
    entries
}
