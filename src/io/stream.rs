//! Exact-length reads and writes on a shared `&UnixStream`, each bounded by
//! the per-app deadline. Both the command actor and the notify task use a
//! stream through a shared lease, so everything here takes `&UnixStream`.

use std::io;
use std::time::Duration;

use tokio::net::UnixStream;

use crate::io::fdpass;
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

    /// Bounds `fut` by the deadline. Not an `async fn`: one would keep
    /// `fut` twice in its state (the argument, then inside the timeout),
    /// and every exchange's future nests these.
    pub fn run<T, F>(self, fut: F) -> Timed<F>
    where
        F: std::future::Future<Output = Result<T, AppIoError>>,
    {
        match self.0 {
            Some(limit) => Timed::Bounded {
                inner: tokio::time::timeout(limit, fut),
                limit,
            },
            None => Timed::Unbounded { inner: fut },
        }
    }
}

pin_project_lite::pin_project! {
    /// A future bounded by a [`Deadline`]; its expiry is [`AppIoError::Timeout`].
    #[project = TimedProj]
    pub enum Timed<F> {
        Bounded { #[pin] inner: tokio::time::Timeout<F>, limit: Duration },
        Unbounded { #[pin] inner: F },
    }
}

impl<T, F> std::future::Future for Timed<F>
where
    F: std::future::Future<Output = Result<T, AppIoError>>,
{
    type Output = Result<T, AppIoError>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        match self.project() {
            TimedProj::Bounded { inner, limit } => {
                let limit = *limit;
                inner
                    .poll(cx)
                    .map(|r| r.unwrap_or(Err(AppIoError::Timeout(limit))))
            }
            TimedProj::Unbounded { inner } => inner.poll(cx),
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

/// Reads a message after which the peer must stay silent until we write
/// again (a registration, a command reply): exactly `buf.len()` bytes, each
/// read with one spare byte behind them. A read that leaves the spare byte
/// empty drained the socket, so its readiness is cleared right there (tokio
/// clears it only if no new event came in since the read began): the next
/// wait goes straight to the reactor instead of paying a read that would
/// return EAGAIN. A byte in the spare slot is a protocol violation.
pub async fn read_last(s: &UnixStream, buf: &mut [u8]) -> Result<(), AppIoError> {
    use std::io::IoSliceMut;
    let mut got = 0;
    let mut spare = [0u8; 1];
    while got < buf.len() {
        s.readable().await?;
        let mut n = 0;
        let want = buf.len() - got + 1;
        let r = s.try_io(tokio::io::Interest::READABLE, || {
            let mut iov = [
                IoSliceMut::new(&mut buf[got..]),
                IoSliceMut::new(&mut spare),
            ];
            n = rustix::io::readv(s, &mut iov)?;
            if n > 0 && n < want {
                // Drained: report WouldBlock so tokio clears the readiness.
                return Err(io::ErrorKind::WouldBlock.into());
            }
            Ok(())
        });
        match r {
            Ok(()) if n == 0 => return Err(AppIoError::Eof),
            Ok(()) => return Err(AppIoError::Unsolicited),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => got += n,
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
pub(crate) fn map_hangup(e: io::Error) -> AppIoError {
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
    refusal(msg, &reply).map_or(Ok(reply), Err)
}

/// Commands (each with the payload lttng-ust reads right after it, if
/// any) written back to back, then their replies, read in order and
/// unchecked (see [`refusal`]). lttng-ust reads one command at a time and
/// answers it before it reads the next, so commands that need nothing from
/// each other's replies cost one round trip together. Every reply is read,
/// so the socket stays in step whatever the app answered.
pub async fn exchange_all(
    s: &UnixStream,
    deadline: Deadline,
    cmds: &[(&CmdMsg, &[u8])],
) -> Result<Vec<Reply>, AppIoError> {
    let mut replies = Vec::with_capacity(cmds.len());
    // The app blocks writing replies we do not read yet, and then reads
    // no more commands: a group's replies must fit in the socket's buffer.
    for group in cmds.chunks(CMDS_PER_WRITE) {
        let bytes: Vec<u8> = group
            .iter()
            .flat_map(|(m, payload)| m.bytes.iter().chain(payload.iter()))
            .copied()
            .collect();
        deadline.run(write_all(s, &bytes)).await?;
        let msgs: Vec<&CmdMsg> = group.iter().map(|(m, _)| *m).collect();
        replies.extend(read_replies(s, deadline, &msgs).await?);
    }
    Ok(replies)
}

/// Commands written before their replies are read, at most: 64 replies
/// (324 bytes each, about 1 KiB each as the kernel counts a message) fit
/// well within a Unix socket's default 208 KiB send buffer.
pub const CMDS_PER_WRITE: usize = 64;

/// The replies to `msgs`, already written, in order and unchecked.
pub async fn read_replies(
    s: &UnixStream,
    deadline: Deadline,
    msgs: &[&CmdMsg],
) -> Result<Vec<Reply>, AppIoError> {
    let mut replies = Vec::with_capacity(msgs.len());
    for (i, msg) in msgs.iter().enumerate() {
        let mut buf = [0u8; REPLY_LEN];
        if i + 1 < msgs.len() {
            // The next reply may be behind it already.
            deadline.run(read_exact(s, &mut buf)).await?;
        } else {
            deadline.run(read_last(s, &mut buf)).await?;
        }
        replies.push(Reply::decode_for(&buf, msg)?);
    }
    Ok(replies)
}

/// The app's refusal of `msg`, if `reply` is one.
pub fn refusal(msg: &CmdMsg, reply: &Reply) -> Option<AppIoError> {
    (reply.ret_code != 0).then(|| AppIoError::Refused {
        cmd: msg.cmd(),
        code: reply.ret_code,
    })
}

/// The first refusal among the replies to `cmds`.
pub fn first_refusal(cmds: &[(&CmdMsg, &[u8])], replies: &[Reply]) -> Option<AppIoError> {
    cmds.iter()
        .zip(replies)
        .find_map(|((m, _), r)| refusal(m, r))
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
    match msg.cmd() {
        // The one reply a field entry follows (lttng-ust sends it apart).
        crate::wire::cmd::op::TRACEPOINT_FIELD_LIST_GET => {
            deadline.run(read_exact(s, &mut buf)).await?
        }
        _ => deadline.run(read_last(s, &mut buf)).await?,
    }
    Ok(Reply::decode_for(&buf, msg)?)
}

/// Sends `msgs` (commands, payloads and fd sets) in order, with as few
/// syscalls as the socket allows (see [`fdpass::send_many`]).
pub async fn send_many(s: &UnixStream, msgs: &[fdpass::Msg<'_>]) -> Result<(), AppIoError> {
    use std::os::fd::AsFd;
    let mut next = 0;
    while next < msgs.len() {
        s.writable().await?;
        let r = s.try_io(tokio::io::Interest::WRITABLE, || {
            fdpass::send_many(s.as_fd(), &msgs[next..])
        });
        match r {
            Ok((whole, 0)) => next += whole,
            Ok((whole, part)) => {
                // The socket took part of a message: the rest goes next.
                let fdpass::Msg::Bytes(b) = msgs[next + whole] else {
                    unreachable!("a 1-byte fd message is sent whole or not at all");
                };
                write_all(s, &b[part..]).await?;
                next += whole + 1;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(map_hangup(e)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn pair() -> (UnixStream, std::os::unix::net::UnixStream) {
        let (a, b) = std::os::unix::net::UnixStream::pair().expect("socketpair");
        a.set_nonblocking(true).expect("nonblocking");
        (UnixStream::from_std(a).expect("register"), b)
    }

    /// The syscall cut of registration: after a message read with
    /// `read_last`, tokio knows the socket is drained, so the next wait
    /// makes no read at all (`try_io` runs its closure only while the
    /// socket is marked readable).
    #[tokio::test]
    async fn read_last_leaves_a_drained_socket_unready() {
        let (s, mut peer) = pair();
        peer.write_all(&[7u8; 10]).expect("send");
        let mut buf = [0u8; 10];
        read_last(&s, &mut buf).await.expect("read");
        assert_eq!(buf, [7u8; 10]);
        let next = s.try_io(tokio::io::Interest::READABLE, || -> io::Result<()> {
            panic!("a read was attempted on a socket known to be drained")
        });
        assert_eq!(next.map_err(|e| e.kind()), Err(io::ErrorKind::WouldBlock));
    }

    #[tokio::test]
    async fn read_last_assembles_a_split_message() {
        let (s, mut peer) = pair();
        peer.write_all(&[1u8; 4]).expect("send");
        let sender = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            peer.write_all(&[2u8; 6]).expect("send");
            peer
        });
        let mut buf = [0u8; 10];
        read_last(&s, &mut buf).await.expect("read");
        assert_eq!(buf, [1, 1, 1, 1, 2, 2, 2, 2, 2, 2]);
        drop(sender.join());
    }

    #[tokio::test]
    async fn read_last_refuses_bytes_after_the_message() {
        let (s, mut peer) = pair();
        peer.write_all(&[0u8; 11]).expect("send");
        let mut buf = [0u8; 10];
        let r = read_last(&s, &mut buf).await;
        assert!(matches!(r, Err(AppIoError::Unsolicited)), "{r:?}");
    }

    #[tokio::test]
    async fn read_last_reports_eof() {
        let (s, mut peer) = pair();
        peer.write_all(&[0u8; 3]).expect("send");
        drop(peer);
        let mut buf = [0u8; 10];
        let r = read_last(&s, &mut buf).await;
        assert!(matches!(r, Err(AppIoError::Eof)), "{r:?}");
    }

    /// Gone: a closed socket, or an app saying it exits (sent negated);
    /// a stalled app or any other refusal is a failure.
    #[test]
    fn only_a_closed_socket_or_an_exiting_app_is_gone() {
        use crate::wire::cmd::ust_err;
        assert!(AppIoError::Eof.is_gone());
        let refused = |code| AppIoError::Refused { cmd: 0x80, code };
        assert!(refused(-ust_err::EXITING).is_gone());
        assert!(!refused(-ust_err::ERR).is_gone());
        assert!(!AppIoError::Timeout(Duration::from_secs(5)).is_gone());
        assert!(!AppIoError::Unsolicited.is_gone());
    }
}
