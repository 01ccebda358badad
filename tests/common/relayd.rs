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
use std::process::{Child, Stdio};
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

    pub fn signal(&self, sig: i32) {
        super::signal(self.child.id() as i32, sig);
    }
}

impl Drop for Relayd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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
