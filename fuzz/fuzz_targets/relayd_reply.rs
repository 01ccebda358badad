//! A relayd's replies as `relayd::RelaydSession` reads them: each fixed-size
//! reply head, then (for CREATE_SESSION and CLOSE_TRACE_CHUNK) the path whose
//! length the head announced. First the order of a session's handshake and
//! stop (the captured stream, `tests/data/relayd/ctrl-0.s2c`, is the seed),
//! then any decoder picked by a byte, on whatever follows.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ustd::relayd_wire::{
    decode_add_stream, decode_close_chunk_head, decode_configuration, decode_create_session_head,
    decode_path, decode_pending, decode_status, decode_version, Cmd, RelaydWireError,
    ADD_STREAM_REPLY_LEN, CLOSE_CHUNK_REPLY_LEN, CONFIGURATION_REPLY_LEN, CREATE_SESSION_REPLY_LEN,
    STATUS_LEN, VERSION_REPLY_LEN,
};

/// The replies left to read, taken as the I/O layer does: exactly `n` bytes
/// or a failed read.
struct Stream<'a>(&'a [u8]);

impl<'a> Stream<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (a, b) = (self.0.get(..n)?, &self.0[n..]);
        self.0 = b;
        Some(a)
    }
}

type R<T> = Result<T, RelaydWireError>;

/// A path of the announced length: at most PATH_MAX, never more.
fn path(s: &mut Stream<'_>, cmd: Cmd, len: u32) -> Option<R<String>> {
    assert!(
        len <= 4096,
        "a path length over PATH_MAX was accepted: {len}"
    );
    Some(decode_path(cmd, s.take(len as usize)?))
}

/// One reply of the handshake order; `None` when the stream ends, `Some(Err)`
/// where the session would give up.
fn handshake(s: &mut Stream<'_>) -> Option<R<()>> {
    if let Err(e) = decode_version(s.take(VERSION_REPLY_LEN)?) {
        return Some(Err(e));
    }
    if let Err(e) = decode_configuration(s.take(CONFIGURATION_REPLY_LEN)?) {
        return Some(Err(e));
    }
    match decode_create_session_head(s.take(CREATE_SESSION_REPLY_LEN)?) {
        Ok((_, len)) => {
            if let Err(e) = path(s, Cmd::CreateSession, len)? {
                return Some(Err(e));
            }
        }
        Err(e) => return Some(Err(e)),
    }
    if let Err(e) = decode_status(Cmd::CreateTraceChunk, s.take(STATUS_LEN)?) {
        return Some(Err(e));
    }
    for _ in 0..3 {
        if let Err(e) = decode_add_stream(s.take(ADD_STREAM_REPLY_LEN)?) {
            return Some(Err(e));
        }
    }
    Some(Ok(()))
}

const STATUS_CMDS: [Cmd; 6] = [
    Cmd::CreateTraceChunk,
    Cmd::StreamsSent,
    Cmd::SendIndex,
    Cmd::BeginDataPending,
    Cmd::QuiescentControl,
    Cmd::CloseStream,
];

/// Any reply, picked by one byte.
fn any(s: &mut Stream<'_>) -> Option<()> {
    let pick = s.take(1)?[0];
    let cmd = STATUS_CMDS[usize::from(pick >> 4) % STATUS_CMDS.len()];
    match pick % 9 {
        0 => drop(decode_version(s.take(VERSION_REPLY_LEN)?)),
        1 => drop(decode_configuration(s.take(CONFIGURATION_REPLY_LEN)?)),
        2 => drop(decode_add_stream(s.take(ADD_STREAM_REPLY_LEN)?)),
        3 => drop(decode_status(cmd, s.take(STATUS_LEN)?)),
        4 => drop(decode_pending(Cmd::DataPending, s.take(STATUS_LEN)?)),
        5 => drop(decode_pending(Cmd::EndDataPending, s.take(STATUS_LEN)?)),
        6 => {
            if let Ok((_, len)) = decode_create_session_head(s.take(CREATE_SESSION_REPLY_LEN)?) {
                drop(path(s, Cmd::CreateSession, len)?);
            }
        }
        7 => {
            if let Ok((_, len)) = decode_close_chunk_head(s.take(CLOSE_CHUNK_REPLY_LEN)?) {
                drop(path(s, Cmd::CloseTraceChunk, len)?);
            }
        }
        _ => {
            // A reply of any length to a fixed-size decoder is refused.
            let n = usize::from(s.take(1)?[0] % 32);
            let b = s.take(n)?;
            if n != STATUS_LEN {
                assert!(
                    decode_status(cmd, b).is_err(),
                    "a {n}-byte status was accepted"
                );
            }
        }
    }
    Some(())
}

fuzz_target!(|data: &[u8]| {
    let mut s = Stream(data);
    if let Some(Ok(())) = handshake(&mut s) {
        while any(&mut s).is_some() {}
    }
});
