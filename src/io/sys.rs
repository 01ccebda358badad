//! The few raw syscalls ustd needs beyond what tokio and rustix wrap safely,
//! each behind a small typed function.

use std::io;
use std::os::fd::{AsFd, AsRawFd};

use crate::core::app::PeerCreds;

/// Kernel-reported credentials of the peer of a connected unix socket.
///
/// Read with libc rather than rustix because a peer in a non-descendant pid
/// namespace reports pid 0, which rustix's non-zero `Pid` cannot carry; we
/// want to see the 0 and refuse the app ourselves.
pub fn peer_creds(sock: impl AsFd) -> io::Result<PeerCreds> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` and `len` are valid for writes of the sizes passed, and
    // the fd is borrowed for the duration of the call.
    let rc = unsafe {
        libc::getsockopt(
            sock.as_fd().as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(PeerCreds {
        pid: cred.pid,
        uid: cred.uid,
        gid: cred.gid,
    })
}

/// Soft limit on open fds (RLIMIT_NOFILE), raised to the hard limit first.
pub fn raise_nofile_limit() -> usize {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut lim = getrlimit(Resource::Nofile);
    if lim.current != lim.maximum {
        lim.current = lim.maximum;
        let _ = setrlimit(Resource::Nofile, lim);
        lim = getrlimit(Resource::Nofile);
    }
    lim.current.map_or(1 << 20, |c| c.min(1 << 20) as usize)
}
