//! `--daemonize`, as liblttng-ctl's auto-spawn expects of a session daemon
//! (`lttng create` runs `$LTTNG_SESSIOND_PATH --daemonize` and waits for it to
//! exit): the parent exits 0 only once the child's sockets listen, and
//! non-zero if the child fails first.

use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};

/// Forks. In the parent, waits for the child's readiness and exits; in the
/// child (new session, detached), returns the pipe end to pass to
/// [`announce_ready`]. Must run before any thread is started.
pub fn fork_and_wait() -> std::io::Result<OwnedFd> {
    let (rd, wr) = rustix::pipe::pipe()?;
    // SAFETY: called from main before the runtime or any other thread
    // exists, so the child inherits no lock held by another thread.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(std::io::Error::last_os_error());
    }
    if pid > 0 {
        drop(wr);
        let mut byte = [0u8; 1];
        let ready = std::fs::File::from(rd)
            .read(&mut byte)
            .is_ok_and(|n| n == 1);
        std::process::exit(if ready { 0 } else { 1 });
    }
    drop(rd);
    let _ = rustix::process::setsid();
    Ok(wr)
}

/// Called once the sockets listen: wakes the waiting parent, and detaches
/// stdio (lttng's auto-spawned daemon is quiet; errors before this point
/// still reach the terminal).
pub fn announce_ready(ready: OwnedFd) {
    let _ = rustix::io::write(&ready, b"1");
    drop(ready);
    if let Ok(null) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        for fd in 0..=2 {
            // SAFETY: dup2 onto the standard descriptors with a valid open fd;
            // no Rust object owns fds 0-2 exclusively.
            unsafe {
                libc::dup2(null.as_raw_fd(), fd);
            }
        }
    }
}
