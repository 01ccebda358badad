//! Exact-length reads and writes on a shared `&UnixStream`, each bounded by
//! the per-app deadline. Both the command actor and the notify task use a
//! stream through a shared lease, so everything here takes `&UnixStream`.

use std::io;
use std::time::Duration;

use tokio::net::UnixStream;

use crate::wire::cmd::{CmdMsg, Reply, REPLY_LEN};
use crate::wire::WireError;

/// Why an exchange with an app failed. Every variant means the stream can no
/// longer be trusted: the app is torn down, never resynchronised.
#[derive(Debug, thiserror::Error)]
pub enum AppIoError {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("peer closed the socket")]
    Eof,
    #[error("socket error: {0}")]
    Io(#[from] io::Error),
    #[error("protocol violation: {0}")]
    Protocol(#[from] WireError),
    #[error("unsolicited bytes on a socket the app must keep quiet")]
    Unsolicited,
    #[error("app answered command {cmd:#x} with error {code}")]
    Refused { cmd: u32, code: i32 },
}

impl AppIoError {
    /// Whether the app is gone rather than at fault: it closed its socket
    /// (it exited or was killed) or said it is exiting. lttng-sessiond
    /// skips such an app silently (-EPIPE, -LTTNG_UST_ERR_EXITING); ustd
    /// reports it apart from the failures.
    pub fn is_gone(&self) -> bool {
        match self {
            AppIoError::Eof => true,
            AppIoError::Refused { code, .. } => {
                code.unsigned_abs() == crate::wire::cmd::ust_err::EXITING as u32
            }
            _ => false,
        }
    }
}

/// The per-app deadline applied to every step of an exchange:
/// `LTTNG_APP_SOCKET_TIMEOUT` seconds (default 5; negative means none).
#[derive(Debug, Clone, Copy)]
pub struct Deadline(pub Option<Duration>);

impl Deadline {
    pub fn from_env() -> Self {
        let secs = std::env::var("LTTNG_APP_SOCKET_TIMEOUT")
            .ok()
            .and_then(|v| v.trim().parse::<i64>().ok())
            .unwrap_or(5);
        Self((secs >= 0).then(|| Duration::from_secs(secs as u64)))
    }

    pub async fn run<T>(
        self,
        fut: impl std::future::Future<Output = Result<T, AppIoError>>,
    ) -> Result<T, AppIoError> {
        match self.0 {
            Some(d) => tokio::time::timeout(d, fut)
                .await
                .map_err(|_| AppIoError::Timeout(d))?,
            None => fut.await,
        }
    }
}

pub async fn read_exact(s: &UnixStream, buf: &mut [u8]) -> Result<(), AppIoError> {
    let mut got = 0;
    while got < buf.len() {
        s.readable().await?;
        match s.try_read(&mut buf[got..]) {
            Ok(0) => return Err(AppIoError::Eof),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(map_hangup(e)),
        }
    }
    Ok(())
}

pub async fn write_all(s: &UnixStream, buf: &[u8]) -> Result<(), AppIoError> {
    let mut sent = 0;
    while sent < buf.len() {
        s.writable().await?;
        match s.try_write(&buf[sent..]) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(map_hangup(e)),
        }
    }
    Ok(())
}

/// EPIPE and ECONNRESET are the app going away, like EOF.
fn map_hangup(e: io::Error) -> AppIoError {
    match e.kind() {
        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset => AppIoError::Eof,
        _ => AppIoError::Io(e),
    }
}

/// Waits until an idle socket (one the app never writes to unprompted)
/// becomes readable, and reports why: a hang-up, or unsolicited bytes.
pub async fn idle_watch(s: &UnixStream) -> AppIoError {
    let mut b = [0u8; 1];
    loop {
        if let Err(e) = s.readable().await {
            return AppIoError::Io(e);
        }
        match s.try_read(&mut b) {
            Ok(0) => return AppIoError::Eof,
            Ok(_) => return AppIoError::Unsolicited,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return map_hangup(e),
        }
    }
}

/// One command round trip: the 612-byte message, then the 324-byte reply,
/// each step under `deadline`. A reply with an error code is an error.
pub async fn exchange(
    s: &UnixStream,
    deadline: Deadline,
    msg: &CmdMsg,
) -> Result<Reply, AppIoError> {
    let reply = exchange_any(s, deadline, msg).await?;
    if reply.ret_code != 0 {
        return Err(AppIoError::Refused {
            cmd: msg.cmd(),
            code: reply.ret_code,
        });
    }
    Ok(reply)
}

/// Like [`exchange`] but hands back replies carrying an error code too
/// (list iterations end on one).
pub async fn exchange_any(
    s: &UnixStream,
    deadline: Deadline,
    msg: &CmdMsg,
) -> Result<Reply, AppIoError> {
    deadline.run(write_all(s, &msg.bytes)).await?;
    let mut buf = [0u8; REPLY_LEN];
    deadline.run(read_exact(s, &mut buf)).await?;
    Ok(Reply::decode_for(&buf, msg)?)
}

/// Sends fds in their own 1-byte message (see `fdpass`), waiting for
/// writability on the non-blocking socket.
pub async fn send_fds(
    s: &UnixStream,
    fds: &[std::os::fd::BorrowedFd<'_>],
) -> Result<(), AppIoError> {
    use std::os::fd::AsFd;
    loop {
        s.writable().await?;
        match s.try_io(tokio::io::Interest::WRITABLE, || {
            crate::io::fdpass::send_fds(s.as_fd(), fds)
        }) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(map_hangup(e)),
        }
    }
}

#[cfg(test)]
mod gone_tests {
    use super::*;
    use crate::wire::cmd::ust_err;

    /// Gone: a closed socket, or an app saying it exits (sent negated);
    /// a stalled app or any other refusal is a failure.
    #[test]
    fn only_a_closed_socket_or_an_exiting_app_is_gone() {
        assert!(AppIoError::Eof.is_gone());
        assert!(AppIoError::Refused {
            cmd: 0x80,
            code: -ust_err::EXITING
        }
        .is_gone());
        assert!(!AppIoError::Refused {
            cmd: 0x80,
            code: -ust_err::ERR
        }
        .is_gone());
        assert!(!AppIoError::Timeout(Duration::from_secs(5)).is_gone());
        assert!(!AppIoError::Unsolicited.is_gone());
    }
}
