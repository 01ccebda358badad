//! A producer session at a stock lttng-relayd (2.11+ protocol, 2.13
//! negotiated): one control and one data TCP connection, driven through
//! `relayd_wire`.
//!
//! Blocking `std::net`, not tokio: a relayd conversation is strictly
//! sequential (each control command waits for its reply before the next), so
//! it belongs on one worker thread per session, off the registration and
//! command paths, where a blocked socket delays only that session. Every call
//! has a deadline (`timeout` from its start, re-armed as the socket timeout
//! before each read and write), so a dead or stalled relayd yields
//! `Timeout`/`Io` instead of a hang. Buffers are bounded: packets and
//! metadata are written from the caller's slices (no queue here), and replies
//! are read into fixed-size heads plus paths the codec caps at 4096 bytes.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use thiserror::Error;

use crate::relayd_wire::{self as wire, Cmd, CreateSession, Index, RelaydWireError};

#[derive(Debug, Error)]
pub enum RelaydError {
    #[error("cannot connect to lttng-relayd {which} port {addr}: {source}")]
    Connect {
        which: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("lttng-relayd {which} connection: {op} did not finish within {timeout:?}")]
    Timeout {
        which: &'static str,
        op: &'static str,
        timeout: Duration,
    },
    #[error("lttng-relayd closed the {which} connection during {op}")]
    Closed {
        which: &'static str,
        op: &'static str,
    },
    #[error("lttng-relayd {which} connection: {op}: {source}")]
    Io {
        which: &'static str,
        op: &'static str,
        source: std::io::Error,
    },
    #[error(transparent)]
    Wire(#[from] RelaydWireError),
    #[error("packet of {packet} bytes cannot hold {content} content bytes")]
    PacketSize { packet: u64, content: usize },
    #[error("no session created on this relayd connection yet")]
    NoSession,
    #[error("lttng-relayd still misses data at the deadline")]
    Pending,
}

pub type Result<T> = std::result::Result<T, RelaydError>;

/// A stream the relayd accepted: its relayd-global handle and the next
/// network sequence number (per stream, from 0, one per data packet).
#[derive(Debug)]
pub struct RelaydStream {
    handle: u64,
    next_seq: u64,
    metadata: bool,
}

impl RelaydStream {
    pub fn handle(&self) -> u64 {
        self.handle
    }
    /// Sequence number of the last packet sent; `u64::MAX` ("all") when
    /// none was, or for metadata, as upstream closes them.
    pub fn last_seq(&self) -> u64 {
        if self.metadata {
            return u64::MAX;
        }
        self.next_seq.checked_sub(1).unwrap_or(u64::MAX)
    }
}

/// One socket with its per-call deadline.
struct Conn {
    sock: TcpStream,
    which: &'static str,
}

impl Conn {
    fn connect(which: &'static str, addr: SocketAddr, timeout: Duration) -> Result<Self> {
        let sock =
            TcpStream::connect_timeout(&addr, timeout).map_err(|source| RelaydError::Connect {
                which,
                addr,
                source,
            })?;
        // Small control messages must not wait for Nagle.
        let _ = sock.set_nodelay(true);
        Ok(Conn { sock, which })
    }

    fn arm(
        &self,
        op: &'static str,
        deadline: Instant,
        timeout: Duration,
        read: bool,
    ) -> Result<()> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(RelaydError::Timeout {
                which: self.which,
                op,
                timeout,
            });
        }
        let r = if read {
            self.sock.set_read_timeout(Some(left))
        } else {
            self.sock.set_write_timeout(Some(left))
        };
        r.map_err(|source| RelaydError::Io {
            which: self.which,
            op,
            source,
        })
    }

    fn error(&self, op: &'static str, timeout: Duration, e: std::io::Error) -> RelaydError {
        match e.kind() {
            ErrorKind::WouldBlock | ErrorKind::TimedOut => RelaydError::Timeout {
                which: self.which,
                op,
                timeout,
            },
            ErrorKind::UnexpectedEof | ErrorKind::WriteZero => RelaydError::Closed {
                which: self.which,
                op,
            },
            _ => RelaydError::Io {
                which: self.which,
                op,
                source: e,
            },
        }
    }

    fn write_all(
        &mut self,
        op: &'static str,
        bufs: &[&[u8]],
        deadline: Instant,
        timeout: Duration,
    ) -> Result<()> {
        for mut b in bufs.iter().copied() {
            while !b.is_empty() {
                self.arm(op, deadline, timeout, false)?;
                match self.sock.write(b) {
                    Ok(0) => {
                        return Err(RelaydError::Closed {
                            which: self.which,
                            op,
                        })
                    }
                    Ok(n) => b = &b[n..],
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) => return Err(self.error(op, timeout, e)),
                }
            }
        }
        Ok(())
    }

    fn read_exact(
        &mut self,
        op: &'static str,
        mut b: &mut [u8],
        deadline: Instant,
        timeout: Duration,
    ) -> Result<()> {
        while !b.is_empty() {
            self.arm(op, deadline, timeout, true)?;
            match self.sock.read(b) {
                Ok(0) => {
                    return Err(RelaydError::Closed {
                        which: self.which,
                        op,
                    })
                }
                Ok(n) => b = &mut b[n..],
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(self.error(op, timeout, e)),
            }
        }
        Ok(())
    }
}

/// Where the relayd put the session, as it answered CREATE_SESSION.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelaydSessionInfo {
    /// The relayd's own session id (for the data-pending commands).
    pub id: u64,
    /// Relative to the relayd's output directory, e.g. `host/name-DATE`.
    pub output_path: String,
}

/// A producer session at one relayd.
pub struct RelaydSession {
    ctrl: Conn,
    data: Conn,
    timeout: Duration,
    minor: u32,
    session: Option<RelaydSessionInfo>,
}

impl RelaydSession {
    /// Connects the control and data ports and negotiates the protocol
    /// version (2.13, or the relayd's lower 2.11+ minor). Each step is
    /// bounded by `timeout`.
    pub fn connect(control: SocketAddr, data: SocketAddr, timeout: Duration) -> Result<Self> {
        let ctrl = Conn::connect("control", control, timeout)?;
        let data = Conn::connect("data", data, timeout)?;
        let mut s = RelaydSession {
            ctrl,
            data,
            timeout,
            minor: 0,
            session: None,
        };
        let r = s.call(
            "version",
            &wire::version(wire::VERSION_MAJOR, wire::VERSION_MINOR),
            wire::VERSION_REPLY_LEN,
        )?;
        s.minor = wire::decode_version(&r)?.1;
        Ok(s)
    }

    /// The negotiated minor version.
    pub fn minor(&self) -> u32 {
        self.minor
    }

    /// One control command and its fixed-size reply, within one deadline.
    fn call(&mut self, op: &'static str, req: &[u8], reply_len: usize) -> Result<Vec<u8>> {
        let deadline = Instant::now() + self.timeout;
        self.ctrl.write_all(op, &[req], deadline, self.timeout)?;
        let mut r = vec![0; reply_len];
        self.ctrl.read_exact(op, &mut r, deadline, self.timeout)?;
        Ok(r)
    }

    /// A reply's trailing path, read with the rest of the call's time.
    fn read_path(&mut self, op: &'static str, cmd: Cmd, len: u32) -> Result<String> {
        let deadline = Instant::now() + self.timeout;
        let mut p = vec![0; len as usize];
        self.ctrl.read_exact(op, &mut p, deadline, self.timeout)?;
        Ok(wire::decode_path(cmd, &p)?)
    }

    fn status(&mut self, op: &'static str, cmd: Cmd, req: &[u8]) -> Result<()> {
        let r = self.call(op, req, wire::STATUS_LEN)?;
        Ok(wire::decode_status(cmd, &r)?)
    }

    /// CREATE_SESSION (2.11 form). One per connection.
    pub fn create_session(&mut self, c: &CreateSession<'_>) -> Result<RelaydSessionInfo> {
        let r = self.call(
            "create session",
            &wire::create_session(c)?,
            wire::CREATE_SESSION_REPLY_LEN,
        )?;
        let (id, len) = wire::decode_create_session_head(&r)?;
        let output_path = self.read_path("create session", Cmd::CreateSession, len)?;
        let info = RelaydSessionInfo { id, output_path };
        self.session = Some(info.clone());
        Ok(info)
    }

    /// CREATE_TRACE_CHUNK, needed before any stream. With no name, the first
    /// chunk writes straight into the session directory; a snapshot record
    /// names its chunk (`<name>-<date>-<time>-<N>`).
    pub fn create_trace_chunk(
        &mut self,
        chunk_id: u64,
        creation_ts: u64,
        name: &str,
    ) -> Result<()> {
        let req = wire::create_trace_chunk(chunk_id, creation_ts, name)?;
        self.status("create trace chunk", Cmd::CreateTraceChunk, &req)
    }

    /// ADD_STREAM: `name` is `<channel>_<cpu>` or `metadata`, `path` e.g.
    /// `ust/uid/1000/64-bit`.
    pub fn add_stream(&mut self, name: &str, path: &str, chunk_id: u64) -> Result<RelaydStream> {
        let r = self.call(
            "add stream",
            &wire::add_stream(name, path, chunk_id)?,
            wire::ADD_STREAM_REPLY_LEN,
        )?;
        let handle = wire::decode_add_stream(&r)?;
        Ok(RelaydStream {
            handle,
            next_seq: 0,
            metadata: name == "metadata",
        })
    }

    /// STREAMS_SENT: publishes the streams added so far to live viewers.
    pub fn streams_sent(&mut self) -> Result<()> {
        self.status("streams sent", Cmd::StreamsSent, &wire::streams_sent())
    }

    /// Appends metadata bytes (then `padding` zeros) to the metadata stream.
    /// The relayd does not answer; a refusal shows as a closed connection on
    /// the next call.
    pub fn send_metadata(
        &mut self,
        stream: &RelaydStream,
        bytes: &[u8],
        padding: u32,
    ) -> Result<()> {
        let req = wire::send_metadata(stream.handle, padding, bytes)?;
        let deadline = Instant::now() + self.timeout;
        self.ctrl
            .write_all("send metadata", &[&req], deadline, self.timeout)
    }

    /// RESET_METADATA: the metadata stream starts again, empty, for text
    /// `version` (`regenerate metadata`).
    pub fn reset_metadata(&mut self, stream: &RelaydStream, version: u64) -> Result<()> {
        self.status(
            "reset metadata",
            Cmd::ResetMetadata,
            &wire::reset_metadata(stream.handle, version),
        )
    }

    /// One packet: its `content` on the data connection (the relayd pads it to
    /// `index.packet_size` bits with zeros), then its index on the control
    /// connection. `index.relay_stream` and `index.net_seq` are filled here.
    pub fn send_packet(
        &mut self,
        stream: &mut RelaydStream,
        content: &[u8],
        mut index: Index,
    ) -> Result<()> {
        let seq = self.send_data(stream, content, index.packet_size / 8)?;
        index.relay_stream = stream.handle;
        index.net_seq = seq;
        self.status("send index", Cmd::SendIndex, &wire::send_index(&index))
    }

    /// A packet's `content` on the data connection alone (padded by the
    /// relayd to `packet` bytes), without an index: snapshot records send
    /// none, as lttng-consumerd does. Returns its sequence number.
    pub fn send_data(
        &mut self,
        stream: &mut RelaydStream,
        content: &[u8],
        packet: u64,
    ) -> Result<u64> {
        let padding = packet
            .checked_sub(content.len() as u64)
            .and_then(|p| u32::try_from(p).ok())
            .filter(|_| u32::try_from(content.len()).is_ok())
            .ok_or(RelaydError::PacketSize {
                packet,
                content: content.len(),
            })?;
        let seq = stream.next_seq;
        let hdr = wire::data_header(stream.handle, seq, content.len() as u32, padding);
        let deadline = Instant::now() + self.timeout;
        self.data
            .write_all("send packet", &[&hdr, content], deadline, self.timeout)?;
        stream.next_seq += 1;
        Ok(seq)
    }

    /// A live beacon for an idle stream: it reached `now` (clock cycles)
    /// without a new packet. `stream_class_id` is the CTF stream class id.
    pub fn send_beacon(
        &mut self,
        stream: &RelaydStream,
        stream_class_id: u64,
        now: u64,
    ) -> Result<()> {
        let mut b = Index::beacon(stream.handle, stream_class_id, now);
        b.net_seq = stream.last_seq();
        self.status("send beacon", Cmd::SendIndex, &wire::send_index(&b))
    }

    /// Whether the relayd still misses data already sent on `streams` (the
    /// BEGIN / DATA_PENDING per stream / QUIESCENT_CONTROL / END round that
    /// `lttng stop` runs). `quiescent` are the metadata streams: the relayd
    /// counts every stream of the session not asked about as pending.
    pub fn data_pending(
        &mut self,
        streams: &[&RelaydStream],
        quiescent: &[&RelaydStream],
    ) -> Result<bool> {
        let sid = self.session.as_ref().ok_or(RelaydError::NoSession)?.id;
        self.status(
            "begin data pending",
            Cmd::BeginDataPending,
            &wire::begin_data_pending(sid),
        )?;
        let mut pending = false;
        for s in streams {
            let r = self.call(
                "data pending",
                &wire::data_pending(s.handle, s.last_seq()),
                wire::STATUS_LEN,
            )?;
            pending |= wire::decode_pending(Cmd::DataPending, &r)?;
        }
        for m in quiescent {
            self.status(
                "quiescent control",
                Cmd::QuiescentControl,
                &wire::quiescent_control(m.handle),
            )?;
        }
        let r = self.call(
            "end data pending",
            &wire::end_data_pending(sid),
            wire::STATUS_LEN,
        )?;
        Ok(wire::decode_pending(Cmd::EndDataPending, &r)? || pending)
    }

    /// CLOSE_STREAM: the relayd closes it once everything up to its last
    /// sequence number has arrived.
    pub fn close_stream(&mut self, stream: RelaydStream) -> Result<()> {
        self.status(
            "close stream",
            Cmd::CloseStream,
            &wire::close_stream(stream.handle, stream.last_seq()),
        )
    }

    /// ROTATE_STREAMS: each stream moves to `new_chunk` from its next
    /// packet on (none: the last chunk ends).
    pub fn rotate_streams(
        &mut self,
        new_chunk: Option<u64>,
        streams: &[&RelaydStream],
    ) -> Result<()> {
        let pos: Vec<(u64, u64)> = streams.iter().map(|s| (s.handle, s.next_seq)).collect();
        let req = wire::rotate_streams(new_chunk, &pos);
        self.status("rotate streams", Cmd::RotateStreams, &req)
    }

    /// TRACE_CHUNK_EXISTS: whether the relayd still holds chunk `chunk_id`.
    pub fn trace_chunk_exists(&mut self, chunk_id: u64) -> Result<bool> {
        let req = wire::trace_chunk_exists(chunk_id);
        let r = self.call("trace chunk exists", &req, wire::CHUNK_EXISTS_REPLY_LEN)?;
        Ok(wire::decode_chunk_exists(&r)?)
    }

    /// CLOSE_TRACE_CHUNK; returns the chunk's path at the relayd.
    pub fn close_trace_chunk(&mut self, chunk_id: u64, close_ts: u64) -> Result<String> {
        self.close_trace_chunk_with(chunk_id, close_ts, None)
    }

    /// CLOSE_TRACE_CHUNK with a close command (`wire::CHUNK_*`): move the
    /// chunk into `archives/`, or delete it (`clear`).
    pub fn close_trace_chunk_with(
        &mut self,
        chunk_id: u64,
        close_ts: u64,
        command: Option<u32>,
    ) -> Result<String> {
        let req = wire::close_trace_chunk(chunk_id, close_ts, command);
        let r = self.call("close trace chunk", &req, wire::CLOSE_CHUNK_REPLY_LEN)?;
        let (status, len) = wire::decode_close_chunk_head(&r)?;
        let path = self.read_path("close trace chunk", Cmd::CloseTraceChunk, len)?;
        status?;
        Ok(path)
    }
}
