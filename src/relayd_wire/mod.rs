//! Pure codec (no I/O) of the producer side of the lttng-relayd protocol, as
//! lttng-sessiond/consumerd 2.13 speak it: every integer big-endian, the 2.11+
//! command forms. Requests are built as whole frames (header + payload);
//! replies are decoded from exactly the bytes the I/O layer read, with typed
//! errors: a malformed reply is an error, never a panic.

#[cfg(test)]
mod tests;

use thiserror::Error;

/// `lttcomm_relayd_hdr`: circuit id, payload size, command, command version.
pub const HEADER_LEN: usize = 24;
/// `lttcomm_relayd_data_hdr` on the data socket.
pub const DATA_HEADER_LEN: usize = 32;
/// `lttcomm_relayd_index` for protocol >= 2.8.
pub const INDEX_LEN: usize = 80;
/// The relayd refuses control payloads over this (128 MiB).
pub const MAX_CTRL_PAYLOAD: usize = 128 << 20;
/// Protocol version ustd speaks (that of lttng-tools 2.13).
pub const VERSION_MAJOR: u32 = 2;
pub const VERSION_MINOR: u32 = 13;
/// `LTTNG_OK`: the relayd's success code.
pub const RET_OK: u32 = 10;
/// The relayd's `session_name_len` bound (incl. NUL).
const MAX_SESSION_NAME: usize = 255;
const MAX_HOSTNAME: usize = 256;
const MAX_CHANNEL_NAME: usize = 264;
const MAX_PATHNAME: usize = 255;
/// Longest output path a reply may announce (PATH_MAX).
const MAX_REPLY_PATH: u32 = 4096;

/// `enum lttcomm_relayd_command` (the ids ustd sends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Cmd {
    AddStream = 1,
    CreateSession = 2,
    Version = 5,
    SendMetadata = 6,
    CloseStream = 7,
    DataPending = 8,
    QuiescentControl = 9,
    BeginDataPending = 10,
    EndDataPending = 11,
    SendIndex = 13,
    StreamsSent = 16,
    ResetMetadata = 17,
    RotateStreams = 18,
    CreateTraceChunk = 19,
    CloseTraceChunk = 20,
    TraceChunkExists = 21,
    GetConfiguration = 22,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum RelaydWireError {
    #[error("relayd reply to {cmd:?}: {got} bytes, expected {need}")]
    Length { cmd: Cmd, need: usize, got: usize },
    #[error("relayd refused {cmd:?} with code {code}")]
    Refused { cmd: Cmd, code: u32 },
    #[error("relayd speaks protocol {major}.{minor}, ustd needs 2.11 or later")]
    Version { major: u32, minor: u32 },
    #[error("relayd reply to {cmd:?} announces a {len}-byte path")]
    PathLength { cmd: Cmd, len: u32 },
    #[error("relayd reply to {cmd:?}: path is not NUL-terminated UTF-8")]
    Path { cmd: Cmd },
    #[error("{what} is {len} bytes (limit {max})")]
    TooLong {
        what: &'static str,
        len: usize,
        max: usize,
    },
    #[error("{what} contains a NUL byte")]
    Nul { what: &'static str },
}

pub type Result<T> = std::result::Result<T, RelaydWireError>;

// ---------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------

/// A control frame: header then payload.
fn frame(cmd: Cmd, payload: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(HEADER_LEN + payload.len());
    b.extend_from_slice(&0u64.to_be_bytes());
    b.extend_from_slice(&(payload.len() as u64).to_be_bytes());
    b.extend_from_slice(&(cmd as u32).to_be_bytes());
    b.extend_from_slice(&0u32.to_be_bytes());
    b.extend_from_slice(payload);
    b
}

fn be64s(fields: &[u64]) -> Vec<u8> {
    fields.iter().flat_map(|v| v.to_be_bytes()).collect()
}

/// `s` NUL-terminated, checked against the relayd's bound (which counts the NUL).
fn cstr(what: &'static str, s: &str, max: usize) -> Result<Vec<u8>> {
    if s.as_bytes().contains(&0) {
        return Err(RelaydWireError::Nul { what });
    }
    let mut v = Vec::with_capacity(s.len() + 1);
    v.extend_from_slice(s.as_bytes());
    v.push(0);
    if v.len() > max {
        return Err(RelaydWireError::TooLong {
            what,
            len: v.len(),
            max,
        });
    }
    Ok(v)
}

pub fn version(major: u32, minor: u32) -> Vec<u8> {
    let mut p = major.to_be_bytes().to_vec();
    p.extend_from_slice(&minor.to_be_bytes());
    frame(Cmd::Version, &p)
}

/// GET_CONFIGURATION with the flags the peer wants to know about (upstream: 0).
pub fn get_configuration(flags: u64) -> Vec<u8> {
    frame(Cmd::GetConfiguration, &flags.to_be_bytes())
}

/// The fields of `lttcomm_relayd_create_session_2_11`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateSession<'a> {
    pub session_name: &'a str,
    pub hostname: &'a str,
    /// "" = not user-specified: the relayd names the directory itself.
    pub base_path: &'a str,
    /// Live timer period in µs; 0 = not live.
    pub live_timer_us: u32,
    pub snapshot: bool,
    pub name_contains_creation_time: bool,
    /// Must not be all zero: the relayd keys trace chunks by it.
    pub sessiond_uuid: [u8; 16],
    pub session_id: u64,
    /// Epoch seconds.
    pub creation_time: u64,
    pub current_chunk_id: Option<u64>,
}

pub fn create_session(c: &CreateSession<'_>) -> Result<Vec<u8>> {
    let name = cstr("session name", c.session_name, MAX_SESSION_NAME)?;
    let host = cstr("hostname", c.hostname, MAX_HOSTNAME)?;
    let base = cstr("base path", c.base_path, MAX_PATHNAME)?;
    let mut p = Vec::with_capacity(59 + name.len() + host.len() + base.len());
    for len in [name.len(), host.len(), base.len()] {
        p.extend_from_slice(&(len as u32).to_be_bytes());
    }
    p.extend_from_slice(&c.live_timer_us.to_be_bytes());
    p.push(c.snapshot as u8);
    p.push(c.name_contains_creation_time as u8);
    p.extend_from_slice(&c.sessiond_uuid);
    p.extend_from_slice(&be64s(&[c.session_id, c.creation_time]));
    push_opt_u64(&mut p, c.current_chunk_id);
    p.extend_from_slice(&name);
    p.extend_from_slice(&host);
    p.extend_from_slice(&base);
    Ok(frame(Cmd::CreateSession, &p))
}

/// `LTTNG_OPTIONAL` u64: u8 is_set then the value (0 when unset).
fn push_opt_u64(p: &mut Vec<u8>, v: Option<u64>) {
    p.push(v.is_some() as u8);
    p.extend_from_slice(&v.unwrap_or(0).to_be_bytes());
}

pub fn create_trace_chunk(chunk_id: u64, creation_ts: u64, override_name: &str) -> Result<Vec<u8>> {
    let mut p = be64s(&[chunk_id, creation_ts]);
    // Upstream sends length 0 (no name at all) when there is no override.
    let name = if override_name.is_empty() {
        Vec::new()
    } else {
        cstr("trace chunk name", override_name, MAX_PATHNAME)?
    };
    p.extend_from_slice(&(name.len() as u32).to_be_bytes());
    p.extend_from_slice(&name);
    Ok(frame(Cmd::CreateTraceChunk, &p))
}

/// CLOSE_TRACE_CHUNK; `close_command` is an `lttng_trace_chunk_command_type`.
pub fn close_trace_chunk(chunk_id: u64, close_ts: u64, close_command: Option<u32>) -> Vec<u8> {
    let mut p = be64s(&[chunk_id, close_ts]);
    p.push(close_command.is_some() as u8);
    p.extend_from_slice(&close_command.unwrap_or(0).to_be_bytes());
    frame(Cmd::CloseTraceChunk, &p)
}

/// `lttng_trace_chunk_command_type` values a CLOSE_TRACE_CHUNK carries.
pub const CHUNK_MOVE_TO_COMPLETED: u32 = 0;
pub const CHUNK_DELETE: u32 = 2;

/// ROTATE_STREAMS: each (stream handle, sequence number of its first packet
/// in the new chunk) moves to chunk `new_chunk` (none: the session ends).
/// Captured from lttng-consumerd 2.13.9: u32 count, then the optional
/// chunk id as u8 `is_set` + 7 padding bytes + u64, then the positions.
pub fn rotate_streams(new_chunk: Option<u64>, positions: &[(u64, u64)]) -> Vec<u8> {
    let mut p = Vec::with_capacity(20 + 16 * positions.len());
    p.extend_from_slice(&(positions.len() as u32).to_be_bytes());
    p.push(new_chunk.is_some() as u8);
    p.extend_from_slice(&[0; 7]);
    p.extend_from_slice(&new_chunk.unwrap_or(0).to_be_bytes());
    for &(stream, seq) in positions {
        p.extend_from_slice(&be64s(&[stream, seq]));
    }
    frame(Cmd::RotateStreams, &p)
}

pub fn trace_chunk_exists(chunk_id: u64) -> Vec<u8> {
    frame(Cmd::TraceChunkExists, &chunk_id.to_be_bytes())
}

/// ADD_STREAM, 2.11 form. `name` is `<channel>_<cpu>` or `metadata` (the
/// relayd tells metadata streams by that name alone); `path` is e.g.
/// `ust/uid/1000/64-bit`. Tracefile rotation is off (size and count 0).
pub fn add_stream(name: &str, path: &str, chunk_id: u64) -> Result<Vec<u8>> {
    let n = cstr("stream name", name, MAX_CHANNEL_NAME)?;
    let pa = cstr("stream path", path, MAX_PATHNAME)?;
    let mut p = Vec::with_capacity(32 + n.len() + pa.len());
    p.extend_from_slice(&(n.len() as u32).to_be_bytes());
    p.extend_from_slice(&(pa.len() as u32).to_be_bytes());
    p.extend_from_slice(&be64s(&[0, 0, chunk_id]));
    p.extend_from_slice(&n);
    p.extend_from_slice(&pa);
    Ok(frame(Cmd::AddStream, &p))
}

pub fn streams_sent() -> Vec<u8> {
    frame(Cmd::StreamsSent, &[])
}

/// SEND_METADATA: the relayd appends `bytes` then `padding` zeros. No reply.
pub fn send_metadata(stream: u64, padding: u32, bytes: &[u8]) -> Result<Vec<u8>> {
    if 12 + bytes.len() > MAX_CTRL_PAYLOAD {
        return Err(RelaydWireError::TooLong {
            what: "metadata chunk",
            len: bytes.len(),
            max: MAX_CTRL_PAYLOAD - 12,
        });
    }
    let mut p = Vec::with_capacity(12 + bytes.len());
    p.extend_from_slice(&stream.to_be_bytes());
    p.extend_from_slice(&padding.to_be_bytes());
    p.extend_from_slice(bytes);
    Ok(frame(Cmd::SendMetadata, &p))
}

/// RESET_METADATA: the relayd empties the metadata stream's file; the
/// whole text of metadata `version` follows as SEND_METADATA.
pub fn reset_metadata(stream: u64, version: u64) -> Vec<u8> {
    frame(Cmd::ResetMetadata, &be64s(&[stream, version]))
}

/// Header of one data packet on the data socket: `data_size` content bytes
/// follow; the relayd writes `padding` zeros after them.
pub fn data_header(
    stream: u64,
    net_seq: u64,
    data_size: u32,
    padding: u32,
) -> [u8; DATA_HEADER_LEN] {
    let mut b = [0u8; DATA_HEADER_LEN];
    b[8..16].copy_from_slice(&stream.to_be_bytes());
    b[16..24].copy_from_slice(&net_seq.to_be_bytes());
    b[24..28].copy_from_slice(&data_size.to_be_bytes());
    b[28..32].copy_from_slice(&padding.to_be_bytes());
    b
}

/// `lttcomm_relayd_index` (sizes in bits, as in the packet context).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Index {
    pub relay_stream: u64,
    pub net_seq: u64,
    pub packet_size: u64,
    pub content_size: u64,
    pub timestamp_begin: u64,
    pub timestamp_end: u64,
    pub events_discarded: u64,
    /// CTF stream class id.
    pub stream_id: u64,
    pub stream_instance_id: u64,
    pub packet_seq_num: u64,
}

impl Index {
    /// A live beacon: an empty index saying the idle stream reached `now`.
    pub fn beacon(relay_stream: u64, stream_id: u64, now: u64) -> Self {
        Index {
            relay_stream,
            stream_id,
            timestamp_end: now,
            ..Index::default()
        }
    }

    fn encode(&self) -> [u8; INDEX_LEN] {
        let mut b = [0u8; INDEX_LEN];
        let f = [
            self.relay_stream,
            self.net_seq,
            self.packet_size,
            self.content_size,
            self.timestamp_begin,
            self.timestamp_end,
            self.events_discarded,
            self.stream_id,
            self.stream_instance_id,
            self.packet_seq_num,
        ];
        for (dst, v) in b.chunks_exact_mut(8).zip(f) {
            dst.copy_from_slice(&v.to_be_bytes());
        }
        b
    }
}

pub fn send_index(i: &Index) -> Vec<u8> {
    frame(Cmd::SendIndex, &i.encode())
}

pub fn close_stream(stream: u64, last_net_seq: u64) -> Vec<u8> {
    frame(Cmd::CloseStream, &be64s(&[stream, last_net_seq]))
}

pub fn begin_data_pending(relayd_session: u64) -> Vec<u8> {
    frame(Cmd::BeginDataPending, &relayd_session.to_be_bytes())
}

pub fn data_pending(stream: u64, last_net_seq: u64) -> Vec<u8> {
    frame(Cmd::DataPending, &be64s(&[stream, last_net_seq]))
}

pub fn quiescent_control(stream: u64) -> Vec<u8> {
    frame(Cmd::QuiescentControl, &stream.to_be_bytes())
}

pub fn end_data_pending(relayd_session: u64) -> Vec<u8> {
    frame(Cmd::EndDataPending, &relayd_session.to_be_bytes())
}

// ---------------------------------------------------------------------------
// Replies. Each decoder takes exactly the bytes of one reply; the `*_LEN`
// constants and `*_path_len` tell the I/O layer how many to read.
// ---------------------------------------------------------------------------

/// Replies that are a bare u32 status.
pub const STATUS_LEN: usize = 4;
pub const VERSION_REPLY_LEN: usize = 8;
pub const CONFIGURATION_REPLY_LEN: usize = 12;
pub const ADD_STREAM_REPLY_LEN: usize = 12;
/// Fixed part of the create-session reply; the path follows.
pub const CREATE_SESSION_REPLY_LEN: usize = 16;
/// Fixed part of the close-trace-chunk reply; the path follows.
pub const CLOSE_CHUNK_REPLY_LEN: usize = 8;
/// TRACE_CHUNK_EXISTS: u32 status, u8 exists.
pub const CHUNK_EXISTS_REPLY_LEN: usize = 5;

fn exact<const N: usize>(cmd: Cmd, b: &[u8]) -> Result<[u8; N]> {
    b.try_into().map_err(|_| RelaydWireError::Length {
        cmd,
        need: N,
        got: b.len(),
    })
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().expect("caller checked length"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(b[at..at + 8].try_into().expect("caller checked length"))
}

fn ok(cmd: Cmd, code: u32) -> Result<()> {
    if code == RET_OK {
        Ok(())
    } else {
        Err(RelaydWireError::Refused { cmd, code })
    }
}

/// Negotiated (major, minor): equal majors, then the smaller minor. ustd
/// needs the 2.11+ forms it sends.
pub fn decode_version(b: &[u8]) -> Result<(u32, u32)> {
    let b = exact::<VERSION_REPLY_LEN>(Cmd::Version, b)?;
    let (major, minor) = (u32_at(&b, 0), u32_at(&b, 4));
    let minor = minor.min(VERSION_MINOR);
    if major != VERSION_MAJOR || minor < 11 {
        return Err(RelaydWireError::Version { major, minor });
    }
    Ok((major, minor))
}

/// A bare status reply that must be `LTTNG_OK`.
pub fn decode_status(cmd: Cmd, b: &[u8]) -> Result<()> {
    let b = exact::<STATUS_LEN>(cmd, b)?;
    ok(cmd, u32_at(&b, 0))
}

/// GET_CONFIGURATION: the relayd's feature flags (bit 0: clear allowed).
pub fn decode_configuration(b: &[u8]) -> Result<u64> {
    let b = exact::<CONFIGURATION_REPLY_LEN>(Cmd::GetConfiguration, b)?;
    ok(Cmd::GetConfiguration, u32_at(&b, 0))?;
    Ok(u64_at(&b, 4))
}

/// ADD_STREAM: the relayd-global stream handle.
pub fn decode_add_stream(b: &[u8]) -> Result<u64> {
    let b = exact::<ADD_STREAM_REPLY_LEN>(Cmd::AddStream, b)?;
    ok(Cmd::AddStream, u32_at(&b, 8))?;
    Ok(u64_at(&b, 0))
}

/// DATA_PENDING and END_DATA_PENDING answer a boolean, not a status code.
pub fn decode_pending(cmd: Cmd, b: &[u8]) -> Result<bool> {
    let b = exact::<STATUS_LEN>(cmd, b)?;
    match u32_at(&b, 0) {
        0 => Ok(false),
        1 => Ok(true),
        code => Err(RelaydWireError::Refused { cmd, code }),
    }
}

/// TRACE_CHUNK_EXISTS: whether the relayd still holds the chunk open.
pub fn decode_chunk_exists(b: &[u8]) -> Result<bool> {
    let b = exact::<CHUNK_EXISTS_REPLY_LEN>(Cmd::TraceChunkExists, b)?;
    ok(Cmd::TraceChunkExists, u32_at(&b, 0))?;
    Ok(b[4] != 0)
}

/// Fixed part of CREATE_SESSION's reply: (relayd session id, path length).
pub fn decode_create_session_head(b: &[u8]) -> Result<(u64, u32)> {
    let b = exact::<CREATE_SESSION_REPLY_LEN>(Cmd::CreateSession, b)?;
    ok(Cmd::CreateSession, u32_at(&b, 8))?;
    Ok((u64_at(&b, 0), path_len(Cmd::CreateSession, u32_at(&b, 12))?))
}

/// Fixed part of CLOSE_TRACE_CHUNK's reply: the path length. The path
/// follows even when the status is an error, so the caller must read it
/// before acting on the status: it is returned apart.
pub fn decode_close_chunk_head(b: &[u8]) -> Result<(Result<()>, u32)> {
    let b = exact::<CLOSE_CHUNK_REPLY_LEN>(Cmd::CloseTraceChunk, b)?;
    let len = path_len(Cmd::CloseTraceChunk, u32_at(&b, 4))?;
    Ok((ok(Cmd::CloseTraceChunk, u32_at(&b, 0)), len))
}

fn path_len(cmd: Cmd, len: u32) -> Result<u32> {
    if len > MAX_REPLY_PATH {
        return Err(RelaydWireError::PathLength { cmd, len });
    }
    Ok(len)
}

/// A NUL-terminated path that follows a reply head (empty when length 0).
pub fn decode_path(cmd: Cmd, b: &[u8]) -> Result<String> {
    match b.split_last() {
        None => Ok(String::new()),
        Some((0, s)) if !s.contains(&0) => std::str::from_utf8(s)
            .map(str::to_owned)
            .map_err(|_| RelaydWireError::Path { cmd }),
        _ => Err(RelaydWireError::Path { cmd }),
    }
}
