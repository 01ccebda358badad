//! Short-lived connector processes.
//!
//! A daemon pairs an app's command and notify sockets by the peer pid the
//! kernel recorded at `connect`, so every fake app must connect from its own
//! process. Each connector is forked, connects both sockets, sends the two
//! registration messages exactly as lttng-ust does (command first, then the
//! notify connect), hands both sockets to the generator over SCM_RIGHTS and
//! exits. The kernel keeps the credentials from the moment of connect.
//!
//! With a start gate, connectors are forked ahead and each waits for one
//! byte on a shared pipe before connecting, so a storm is not paced by the
//! generator's serial forks: [`Connectors::open_gate`] releases them all.
//!
//! Each connector stamps CLOCK_MONOTONIC just before its first `connect`
//! and reports it, so per-app latencies exclude fork and scheduling delays
//! on the generator side.
//!
//! By default a connector then lingers (closed fds, paused, killed with the
//! generator) instead of exiting: `lttng list -u` reads
//! `/proc/<pid>/cmdline` of every app and fails on a pid that is gone.

use std::os::fd::{AsFd, OwnedFd};

use rustix::io::Errno;
use rustix::net::{
    connect, socket_with, socketpair, AddressFamily, SocketAddrUnix, SocketFlags, SocketType,
};
use rustix::process::{getgid, getpid, getuid};
use ustd::wire::reg::{RegMsg, SocketType as RegSocketType};

use crate::sock::{self, FdMsgError, Read};

/// Alignments (in bits) an x86_64 lttng-ust 2.13 app reports.
const X86_64_ALIGNMENTS: [u32; 5] = [8; 5];
/// Size of a connector's report: app index (u32), errno (u32, 0 = ok),
/// then the CLOCK_MONOTONIC nanoseconds of its first connect (u64).
const REPORT_LEN: usize = 16;

/// What a connector reports back.
pub struct Report {
    pub index: u32,
    /// CLOCK_MONOTONIC ns just before the connector's first connect.
    pub connect_ns: u64,
    pub result: Result<(OwnedFd, OwnedFd), Errno>,
}

/// CLOCK_MONOTONIC in nanoseconds (async-signal-safe: usable after fork).
pub fn mono_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    (t.tv_sec as u64) * 1_000_000_000 + t.tv_nsec as u64
}

/// The pipe gated connectors wait on: one byte releases one connector.
struct Gate {
    read: OwnedFd,
    write: OwnedFd,
}

pub struct Connectors {
    addr: SocketAddrUnix,
    /// Our end of the report channel (non-blocking, in the event loop).
    parent: OwnedFd,
    /// The connectors' end, inherited by every fork.
    child: OwnedFd,
    name: String,
    /// Keep each connector process alive (paused) after the hand-off.
    linger: bool,
    gate: Option<Gate>,
}

impl Connectors {
    /// `gated`: connectors wait for [`Connectors::open_gate`] before connecting.
    pub fn new(
        socket_path: &std::path::Path,
        name: &str,
        linger: bool,
        gated: bool,
    ) -> Result<Self, Errno> {
        let addr = SocketAddrUnix::new(socket_path)?;
        // Seqpacket keeps each connector's report one atomic message even
        // when many connectors write concurrently.
        let (parent, child) = socketpair(
            AddressFamily::UNIX,
            SocketType::SEQPACKET,
            SocketFlags::CLOEXEC,
            None,
        )?;
        rustix::io::ioctl_fionbio(&parent, true)?;
        // Blocking on both ends: connectors sleep in read() until released.
        let gate = if gated {
            let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
            Some(Gate { read, write })
        } else {
            None
        };
        Ok(Self {
            addr,
            parent,
            child,
            name: name.to_owned(),
            linger,
            gate,
        })
    }

    /// Releases `n` gated connectors at once (one byte each).
    pub fn open_gate(&self, n: usize) -> Result<(), Errno> {
        let Some(gate) = &self.gate else {
            return Ok(());
        };
        // Pipes hold 64 KiB by default; larger counts go out in a few writes
        // as connectors drain the pipe.
        let bytes = vec![0u8; n];
        sock::write_all_blocking(&gate.write, &bytes)
    }

    pub fn report_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.parent.as_fd()
    }

    /// Forks a connector for app `index` and returns its pid.
    pub fn spawn(&self, index: u32) -> Result<i32, Errno> {
        // Everything the child needs is built here: after fork it may only
        // make system calls (no allocation, no locks).
        let parent = getpid().as_raw_nonzero().get();
        let mut cmd_template = RegMsg {
            major: 9,
            minor: 0,
            pid: 0, // the child's own pid, set after fork
            ppid: parent,
            uid: getuid().as_raw(),
            gid: getgid().as_raw(),
            bits_per_long: 64,
            alignments: X86_64_ALIGNMENTS,
            socket_type: RegSocketType::Cmd,
            name: self.name.clone(),
        };
        let mut notify_template = RegMsg {
            socket_type: RegSocketType::Notify,
            ..cmd_template.clone()
        };

        // SAFETY: the generator is single-threaded (it never spawns threads),
        // so the child inherits no lock held by another thread; the child runs
        // only `connect_and_report`, which makes system calls on stack data
        // and memory prepared above, then `_exit`s without running
        // destructors or atexit handlers (or lingers in `linger`).
        let pid = unsafe { libc::fork() };
        match pid {
            -1 => {
                Err(Errno::from_io_error(&std::io::Error::last_os_error()).unwrap_or(Errno::AGAIN))
            }
            0 => {
                let me = getpid().as_raw_nonzero().get();
                cmd_template.pid = me;
                notify_template.pid = me;
                let status = match self.connect_and_report(index, &cmd_template, &notify_template) {
                    Ok(()) => 0,
                    Err(_) => 1,
                };
                if self.linger && status == 0 {
                    linger(parent);
                }
                // SAFETY: `_exit` ends the child immediately; nothing of the
                // parent's state is flushed or dropped twice.
                unsafe { libc::_exit(status) }
            }
            child => Ok(child),
        }
    }

    /// Child side: connect both sockets, register, pass them to the parent.
    fn connect_and_report(
        &self,
        index: u32,
        cmd_reg: &RegMsg,
        notify_reg: &RegMsg,
    ) -> Result<(), Errno> {
        let connect_one = |reg: &RegMsg| -> Result<OwnedFd, Errno> {
            let s = socket_with(
                AddressFamily::UNIX,
                SocketType::STREAM,
                SocketFlags::CLOEXEC,
                None,
            )?;
            connect(&s, &self.addr)?;
            sock::send_all_blocking(&s, &reg.encode())?;
            Ok(s)
        };
        if let Some(gate) = &self.gate {
            let mut byte = [0u8; 1];
            loop {
                match rustix::io::read(&gate.read, &mut byte) {
                    Ok(1) => break,
                    Err(Errno::INTR) => {}
                    Ok(_) => return Err(Errno::PIPE),
                    Err(e) => return Err(e),
                }
            }
        }
        let mut report = [0u8; REPORT_LEN];
        report[0..4].copy_from_slice(&index.to_le_bytes());
        report[8..16].copy_from_slice(&mono_ns().to_le_bytes());
        // lttng-ust order: cmd connect + registration, then notify.
        let result = connect_one(cmd_reg).and_then(|cmd| Ok((cmd, connect_one(notify_reg)?)));
        match result {
            Ok((cmd, notify)) => {
                sock::send_with_fds(&self.child, &report, &[cmd.as_fd(), notify.as_fd()])
            }
            Err(e) => {
                report[4..8].copy_from_slice(&(e.raw_os_error() as u32).to_le_bytes());
                sock::send_with_fds(&self.child, &report, &[])
            }
        }
    }

    /// Next pending report, if any.
    pub fn receive(&self) -> Result<Option<Report>, FdMsgError> {
        let mut buf = [0u8; REPORT_LEN];
        let (n, fds) = match sock::recv_message(&self.parent, &mut buf)? {
            Read::Done(r) => r,
            Read::Blocked | Read::Closed => return Ok(None),
        };
        if n != REPORT_LEN {
            return Err(FdMsgError::WrongCount {
                want: REPORT_LEN,
                got: n,
            });
        }
        let mut word = [0u8; 4];
        word.copy_from_slice(&buf[0..4]);
        let index = u32::from_le_bytes(word);
        word.copy_from_slice(&buf[4..8]);
        let errno = u32::from_le_bytes(word);
        let mut stamp = [0u8; 8];
        stamp.copy_from_slice(&buf[8..16]);
        let connect_ns = u64::from_le_bytes(stamp);
        let result = if errno != 0 {
            Err(Errno::from_raw_os_error(errno as i32))
        } else {
            let mut it = fds.into_iter();
            match (it.next(), it.next(), it.next()) {
                (Some(cmd), Some(notify), None) => Ok((cmd, notify)),
                _ => return Err(FdMsgError::WrongCount { want: 2, got: 0 }),
            }
        };
        Ok(Some(Report {
            index,
            connect_ns,
            result,
        }))
    }
}

/// Connector child: drop every inherited fd (copies of other apps' sockets
/// would hide their hang-ups from the daemon), then sleep until the
/// generator dies. Only async-signal-safe calls.
fn linger(parent: i32) {
    // SAFETY: plain syscalls on the calling process with constant arguments;
    // none touches memory owned by Rust code. Closing fds 3.. is sound
    // because the child never uses an fd again before `_exit`.
    unsafe {
        libc::close_range(3, libc::c_uint::MAX, 0);
        libc::signal(libc::SIGINT, libc::SIG_DFL);
        libc::signal(libc::SIGTERM, libc::SIG_DFL);
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        // The generator may have died before the prctl took effect.
        if libc::getppid() != parent {
            return;
        }
        loop {
            libc::pause();
        }
    }
}
