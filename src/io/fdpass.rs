//! File-descriptor passing exactly as lttng-ust expects it: each transfer is
//! its own message of one 0x00 byte carrying an SCM_RIGHTS message with
//! exactly the expected number of fds (at most 4). [`send_many`] sends
//! several such messages, and the commands between them, in one syscall.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{BorrowedFd, OwnedFd};

use rustix::net::{
    recvmsg, sendmmsg, MMsgHdr, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags,
    SendAncillaryBuffer, SendAncillaryMessage, SendFlags,
};

/// The protocol never sends more than this many fds in one message.
pub const MAX_FDS: usize = 4;

/// Sends one fd message (`fds` with the one dummy byte). A non-blocking
/// socket may return `WouldBlock`; callers retry when writable.
pub fn send_fds(sock: BorrowedFd<'_>, fds: &[BorrowedFd<'_>]) -> io::Result<()> {
    match send_many(sock, &[Msg::Fds(fds)])? {
        (1, _) => Ok(()),
        _ => Err(io::Error::new(
            io::ErrorKind::WriteZero,
            "fd message not sent",
        )),
    }
}

/// One message of a [`send_many`] batch.
pub enum Msg<'a> {
    /// Plain bytes (a command, its payload).
    Bytes(&'a [u8]),
    /// Fds (1 to [`MAX_FDS`]), in a 1-byte message of their own (as
    /// [`send_fds`]).
    Fds(&'a [BorrowedFd<'a>]),
}

/// Sends `msgs` in order with one `sendmmsg` (a non-blocking socket may
/// return `WouldBlock`: callers retry when writable): each is its own message on
/// the stream, so each fd set stays attached to its own byte, and the
/// peer is not scheduled between two of them by our syscalls. Returns how
/// many went out whole, and the bytes sent of the next one, if the socket
/// took only part of it (the rest is the caller's to send). A partial
/// message followed by another one would scramble the stream: an error.
pub fn send_many(sock: BorrowedFd<'_>, msgs: &[Msg<'_>]) -> io::Result<(usize, usize)> {
    const SPACE: usize = rustix::cmsg_space!(ScmRights(MAX_FDS));
    let mut spaces = vec![[MaybeUninit::<u8>::uninit(); SPACE]; msgs.len()];
    let mut ancs = Vec::with_capacity(msgs.len());
    let mut iovs = Vec::with_capacity(msgs.len());
    for (m, space) in msgs.iter().zip(spaces.iter_mut()) {
        let mut anc = SendAncillaryBuffer::new(space);
        match m {
            Msg::Bytes(b) => iovs.push([io::IoSlice::new(b)]),
            Msg::Fds(fds) => {
                if fds.is_empty()
                    || fds.len() > MAX_FDS
                    || !anc.push(SendAncillaryMessage::ScmRights(fds))
                {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "1 to 4 fds per message",
                    ));
                }
                iovs.push([io::IoSlice::new(&[0u8])]);
            }
        }
        ancs.push(anc);
    }
    let mut hdrs: Vec<MMsgHdr<'_>> = iovs
        .iter()
        .zip(ancs.iter_mut())
        .map(|(iov, anc)| MMsgHdr::new(iov, anc))
        .collect();
    let n = sendmmsg(sock, &mut hdrs, SendFlags::NOSIGNAL)?;
    let len = |m: &Msg<'_>| match m {
        Msg::Bytes(b) => b.len(),
        Msg::Fds(_) => 1,
    };
    match (0..n).find(|&i| hdrs[i].bytes_sent() < len(&msgs[i])) {
        None => Ok((n, 0)),
        Some(i) if i + 1 == n => Ok((i, hdrs[i].bytes_sent())),
        Some(_) => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "a message was sent in part before the next one",
        )),
    }
}

/// Receives one fd message carrying exactly `n` fds.
pub fn recv_fds(sock: BorrowedFd<'_>, n: usize) -> io::Result<Vec<OwnedFd>> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
    let mut anc = RecvAncillaryBuffer::new(&mut space);
    let mut byte = [0u8; 1];
    let msg = recvmsg(
        sock,
        &mut [io::IoSliceMut::new(&mut byte)],
        &mut anc,
        RecvFlags::CMSG_CLOEXEC,
    )?;
    if msg.bytes == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    let mut fds = Vec::new();
    for m in anc.drain() {
        if let RecvAncillaryMessage::ScmRights(rights) = m {
            fds.extend(rights);
        }
    }
    if msg.bytes != 1 || msg.flags.contains(rustix::net::ReturnFlags::CTRUNC) || fds.len() != n {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "expected 1 byte with {n} fds, got {} bytes with {} fds",
                msg.bytes,
                fds.len()
            ),
        ));
    }
    Ok(fds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixStream;

    #[test]
    fn round_trip_two_fds() {
        let (a, b) = UnixStream::pair().unwrap();
        let (r, w) = rustix::pipe::pipe().unwrap();
        send_fds(a.as_fd(), &[r.as_fd(), w.as_fd()]).unwrap();
        let got = recv_fds(b.as_fd(), 2).unwrap();
        assert_eq!(got.len(), 2);
        rustix::io::write(&got[1], b"x").unwrap();
        let mut buf = [0u8; 1];
        rustix::io::read(&r, &mut buf).unwrap();
        assert_eq!(&buf, b"x");
    }

    /// Commands and fd sets sent together arrive as separate messages:
    /// each fd set with its own byte, read apart from the bytes around it.
    #[test]
    fn send_many_keeps_each_fd_set_on_its_byte() {
        let (a, b) = UnixStream::pair().unwrap();
        let (r, w) = rustix::pipe::pipe().unwrap();
        let (r2, w2) = rustix::pipe::pipe().unwrap();
        let fds1 = [r.as_fd(), w.as_fd()];
        let fds2 = [w2.as_fd()];
        let msgs = [
            Msg::Bytes(b"one"),
            Msg::Fds(&fds1),
            Msg::Bytes(b"two"),
            Msg::Fds(&fds2),
        ];
        assert_eq!(send_many(a.as_fd(), &msgs).unwrap(), (4, 0));
        let mut buf = [0u8; 3];
        rustix::io::read(&b, &mut buf).unwrap();
        assert_eq!(&buf, b"one");
        assert_eq!(recv_fds(b.as_fd(), 2).unwrap().len(), 2);
        rustix::io::read(&b, &mut buf).unwrap();
        assert_eq!(&buf, b"two");
        let got = recv_fds(b.as_fd(), 1).unwrap();
        rustix::io::write(&got[0], b"x").unwrap();
        let mut x = [0u8; 1];
        rustix::io::read(&r2, &mut x).unwrap();
        assert_eq!(&x, b"x");
    }

    #[test]
    fn wrong_count_is_an_error() {
        let (a, b) = UnixStream::pair().unwrap();
        let (r, _w) = rustix::pipe::pipe().unwrap();
        send_fds(a.as_fd(), &[r.as_fd()]).unwrap();
        assert!(recv_fds(b.as_fd(), 2).is_err());
    }
}
