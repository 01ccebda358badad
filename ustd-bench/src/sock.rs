//! Non-blocking socket helpers: exact-length reads, fd messages in the
//! lttng-ust shape (one dummy byte + SCM_RIGHTS), and buffered writes.

use std::io::{IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};

use rustix::io::Errno;
use rustix::net::{
    recv, recvmsg, send, sendmsg, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags,
    ReturnFlags, SendAncillaryBuffer, SendAncillaryMessage, SendFlags,
};

/// Most fds one lttng-ust fd message carries.
pub const MAX_FDS: usize = 4;

/// Result of a non-blocking read attempt.
#[derive(Debug)]
pub enum Read<T> {
    Done(T),
    /// Nothing more to read right now.
    Blocked,
    /// The peer closed or shut down the socket.
    Closed,
}

/// Reads into `buf[*have..]` until full, the socket would block or the
/// peer closes. Never reads past `buf`, so fd-carrying bytes that follow
/// stay in the socket for [`recv_fds`].
pub fn fill(fd: impl AsFd, buf: &mut [u8], have: &mut usize) -> Result<Read<()>, Errno> {
    while *have < buf.len() {
        match recv(&fd, &mut buf[*have..], RecvFlags::DONTWAIT) {
            Ok((0, _)) => return Ok(Read::Closed),
            Ok((n, _)) => *have += n,
            Err(Errno::AGAIN) => return Ok(Read::Blocked),
            Err(Errno::INTR) => {}
            Err(Errno::CONNRESET | Errno::PIPE) => return Ok(Read::Closed),
            Err(e) => return Err(e),
        }
    }
    Ok(Read::Done(()))
}

/// Why an fd message was refused.
#[derive(Debug, thiserror::Error)]
pub enum FdMsgError {
    #[error("fd message carried {got} fds, expected {want}")]
    WrongCount { want: usize, got: usize },
    #[error("fd message control data was truncated")]
    Truncated,
    #[error(transparent)]
    Sys(#[from] Errno),
}

/// Receives one message into `buf` with whatever fds ride on it (checked
/// for truncation). Returns the byte count and the fds.
pub fn recv_message(
    fd: impl AsFd,
    buf: &mut [u8],
) -> Result<Read<(usize, Vec<OwnedFd>)>, FdMsgError> {
    let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let msg = loop {
        match recvmsg(
            &fd,
            &mut [IoSliceMut::new(buf)],
            &mut control,
            RecvFlags::DONTWAIT | RecvFlags::CMSG_CLOEXEC,
        ) {
            Ok(m) => break m,
            Err(Errno::AGAIN) => return Ok(Read::Blocked),
            Err(Errno::INTR) => {}
            Err(Errno::CONNRESET | Errno::PIPE) => return Ok(Read::Closed),
            Err(e) => return Err(e.into()),
        }
    };
    // Take ownership of every fd first so none leaks on the error paths.
    let mut fds = Vec::new();
    for m in control.drain() {
        if let RecvAncillaryMessage::ScmRights(received) = m {
            fds.extend(received);
        }
    }
    if msg.flags.contains(ReturnFlags::CTRUNC) {
        return Err(FdMsgError::Truncated);
    }
    if msg.bytes == 0 && fds.is_empty() {
        return Ok(Read::Closed);
    }
    Ok(Read::Done((msg.bytes, fds)))
}

/// Receives one lttng-ust fd message: exactly one byte carrying exactly
/// `want` fds, as the app requires.
pub fn recv_fds(fd: impl AsFd, want: usize) -> Result<Read<Vec<OwnedFd>>, FdMsgError> {
    let mut byte = [0u8; 1];
    Ok(match recv_message(fd, &mut byte)? {
        Read::Done((_, fds)) if fds.len() == want => Read::Done(fds),
        Read::Done((_, fds)) => {
            return Err(FdMsgError::WrongCount {
                want,
                got: fds.len(),
            })
        }
        Read::Blocked => Read::Blocked,
        Read::Closed => Read::Closed,
    })
}

/// Sends `data` with `fds` attached in a single `sendmsg` (blocking socket).
/// Used by the connector processes, so it must not allocate.
pub fn send_with_fds(
    sock: impl AsFd,
    data: &[u8],
    fds: &[std::os::fd::BorrowedFd<'_>],
) -> Result<(), Errno> {
    let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !fds.is_empty() && !control.push(SendAncillaryMessage::ScmRights(fds)) {
        return Err(Errno::NOBUFS);
    }
    loop {
        match sendmsg(
            &sock,
            &[IoSlice::new(data)],
            &mut control,
            SendFlags::NOSIGNAL,
        ) {
            Ok(n) if n == data.len() => return Ok(()),
            // A seqpacket message is all or nothing.
            Ok(_) => return Err(Errno::MSGSIZE),
            Err(Errno::INTR) => {}
            Err(e) => return Err(e),
        }
    }
}

/// Writes all of `data` on a blocking socket (connector processes; no allocation).
pub fn send_all_blocking(sock: impl AsFd, mut data: &[u8]) -> Result<(), Errno> {
    while !data.is_empty() {
        match send(&sock, data, SendFlags::NOSIGNAL) {
            Ok(n) => data = &data[n..],
            Err(Errno::INTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Writes all of `data` to a blocking pipe.
pub fn write_all_blocking(fd: impl AsFd, mut data: &[u8]) -> Result<(), Errno> {
    while !data.is_empty() {
        match rustix::io::write(&fd, data) {
            Ok(n) => data = &data[n..],
            Err(Errno::INTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Bytes waiting to be written on a non-blocking socket, in order.
#[derive(Default)]
pub struct Outbox {
    buf: Vec<u8>,
    sent: usize,
}

impl Outbox {
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Writes as much as the socket takes. `Ok(false)` means the peer is gone.
    pub fn flush(&mut self, fd: impl AsFd) -> Result<bool, Errno> {
        while self.sent < self.buf.len() {
            match send(
                &fd,
                &self.buf[self.sent..],
                SendFlags::DONTWAIT | SendFlags::NOSIGNAL,
            ) {
                Ok(n) => self.sent += n,
                Err(Errno::AGAIN) => return Ok(true),
                Err(Errno::INTR) => {}
                Err(Errno::PIPE | Errno::CONNRESET) => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        self.buf.clear();
        self.sent = 0;
        Ok(true)
    }
}
