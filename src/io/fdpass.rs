//! File-descriptor passing exactly as lttng-ust expects it: each transfer is
//! its own `sendmsg` of one 0x00 byte carrying an SCM_RIGHTS message with
//! exactly the expected number of fds (at most 4).

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{BorrowedFd, OwnedFd};

use rustix::net::{
    recvmsg, sendmsg, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};

/// The protocol never sends more than this many fds in one message.
pub const MAX_FDS: usize = 4;

/// Sends `fds` with the one dummy byte. Non-blocking sockets may return
/// `WouldBlock`; callers retry when writable.
pub fn send_fds(sock: BorrowedFd<'_>, fds: &[BorrowedFd<'_>]) -> io::Result<()> {
    if fds.is_empty() || fds.len() > MAX_FDS {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "1 to 4 fds per message",
        ));
    }
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
    let mut anc = SendAncillaryBuffer::new(&mut space);
    if !anc.push(SendAncillaryMessage::ScmRights(fds)) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "ancillary buffer too small",
        ));
    }
    let n = sendmsg(
        sock,
        &[io::IoSlice::new(&[0u8])],
        &mut anc,
        SendFlags::NOSIGNAL,
    )?;
    if n != 1 {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            "fd message not sent",
        ));
    }
    Ok(())
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

    #[test]
    fn wrong_count_is_an_error() {
        let (a, b) = UnixStream::pair().unwrap();
        let (r, _w) = rustix::pipe::pipe().unwrap();
        send_fds(a.as_fd(), &[r.as_fd()]).unwrap();
        assert!(recv_fds(b.as_fd(), 2).is_err());
    }
}
