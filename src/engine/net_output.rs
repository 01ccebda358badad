//! A session's network output: the consumer thread hands packets and
//! metadata to a per-session relayd worker thread, which owns the
//! [`RelaydSession`] (see ARCHITECTURE.md, "Network output").
//!
//! * Data packets (and live beacons) go over a **bounded** channel. While
//!   it is full the consumer leaves the session's ring buffers alone (the
//!   apps then discard events and count them, as with lttng-consumerd,
//!   instead of whole packets being dropped here) and the worker wakes it
//!   once half the queue is free ([`NetSink::has_room`], `core::room`). Only a flush
//!   (stop, rotation, clear) waits for room, each packet at most
//!   [`CALL_TIMEOUT`]; a packet that still finds no room, or no worker, is
//!   counted lost. Metadata and stream announcements go over an unbounded
//!   channel: they are small, bounded by the registry's text, and a trace
//!   without them is unreadable.
//! * The worker serves the control channel first, and again after taking
//!   each data packet, so a stream is announced and the metadata that
//!   precedes a packet reaches the relayd before that packet's index.
//!   Barriers (close stream, sync, close) first send every packet already
//!   queued.
//! * A relayd error ends the conversation: the worker drops the
//!   connections and counts everything that still arrives as lost. Every
//!   call is bounded by the client's per-call deadline, so nothing hangs.

use std::collections::{HashMap, HashSet};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, select, unbounded, Receiver, SendTimeoutError, Sender};

use super::output::{FileOwner, FileSplit, PacketIndex, StreamFile};
use crate::core::net_output::{NetOutput, NetStats};
use crate::core::room::Room;
use crate::relayd::{RelaydError, RelaydSession, RelaydStream};
use crate::relayd_wire::{CreateSession, Index, CHUNK_DELETE, CHUNK_MOVE_TO_COMPLETED};
use crate::ustctl::UstCtlResult;

/// Data packets queued for the relayd per session: enough to keep its
/// socket busy while the consumer is woken (at half). Past it, packets
/// wait in the apps' ring buffers, whose size the user chose; with lttng's
/// default 512 KiB sub-buffers this is at most 8 MiB of copies, all sent
/// before `stop` returns.
pub const DATA_QUEUE: usize = 16;
/// Deadline of each relayd call (connect, each command, each packet).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// How long `stop` waits for the relayd to hold everything.
pub const SYNC_TIMEOUT: Duration = Duration::from_secs(30);
/// Pause between two data-pending rounds.
const PENDING_POLL: Duration = Duration::from_millis(50);
/// Packet buffers the worker hands back for the consumer's next copies.
/// Without them each copy was a fresh allocation whose pages the
/// allocator had given back: a quarter of the consumer's CPU in a relayd
/// flood went to page faults. At most this many packets stay allocated
/// once the flow stops.
const SPARE_BUFFERS: usize = 4;

struct Counters {
    packets_sent: AtomicU64,
    bytes_sent: AtomicU64,
    packets_lost: AtomicU64,
    metadata_bytes_lost: AtomicU64,
    error: Mutex<Option<String>>,
    /// Room in the data queue (`core::room`): the consumer's request for
    /// a wake-up and the worker's takes.
    room: Room,
    /// Packets and beacons the consumer put into the data queue (it is
    /// the only sender).
    sent: AtomicU64,
    /// The consumer thread's wake-up eventfd.
    waker: OnceLock<Arc<OwnedFd>>,
    /// Sent packets' buffers, for the next copies ([`SPARE_BUFFERS`]).
    spares: (Sender<Vec<u8>>, Receiver<Vec<u8>>),
}

impl Default for Counters {
    fn default() -> Self {
        Self {
            packets_sent: AtomicU64::new(0),
            bytes_sent: AtomicU64::new(0),
            packets_lost: AtomicU64::new(0),
            metadata_bytes_lost: AtomicU64::new(0),
            error: Mutex::new(None),
            room: Room::new(DATA_QUEUE),
            sent: AtomicU64::new(0),
            waker: OnceLock::new(),
            spares: bounded(SPARE_BUFFERS),
        }
    }
}

impl Counters {
    fn lost(&self) {
        self.packets_lost.fetch_add(1, Ordering::Relaxed);
    }

    /// A copy of `bytes` in a spare buffer when there is one.
    fn copy(&self, bytes: &[u8]) -> Vec<u8> {
        let mut v = self.spares.1.try_recv().unwrap_or_default();
        v.clear();
        v.extend_from_slice(bytes);
        v
    }

    /// Keeps a sent packet's buffer for a later copy (dropped when enough
    /// are kept).
    fn spare(&self, v: Vec<u8>) {
        let _ = self.spares.0.try_send(v);
    }
}

enum Ctrl {
    AddStream {
        id: u64,
        name: String,
        path: String,
        lost: Arc<AtomicU64>,
    },
    StreamsSent,
    Metadata {
        id: u64,
        bytes: Vec<u8>,
    },
    /// `regenerate metadata`: the stream starts again, empty, for the
    /// text of `version`, which follows whole.
    ResetMetadata {
        id: u64,
        version: u64,
    },
    CloseStream {
        id: u64,
    },
    /// Reply once the relayd holds everything queued before this.
    Sync {
        deadline: Instant,
        reply: Sender<Result<(), String>>,
    },
    /// Chunk rotation: the relayd holds everything queued before this,
    /// then the next trace chunk takes every stream and the current one is
    /// closed with `command` (archived, or deleted by `clear`). Replies
    /// the closed chunk's path at the relayd.
    Rotate {
        command: u32,
        reply: Sender<Result<String, String>>,
    },
    Close {
        reply: Sender<Result<Option<String>, String>>,
    },
}

impl Ctrl {
    /// Must come after every packet queued before it.
    fn is_barrier(&self) -> bool {
        matches!(
            self,
            Ctrl::CloseStream { .. } | Ctrl::Sync { .. } | Ctrl::Rotate { .. } | Ctrl::Close { .. }
        )
    }
}

enum Data {
    Packet {
        id: u64,
        content: Vec<u8>,
        index: PacketIndex,
    },
    Beacon {
        id: u64,
        stream_class: u64,
        now: u64,
    },
}

/// The consumer's handle on the network output (cloned into its thread).
#[derive(Clone)]
pub struct NetSink {
    ctrl: Sender<Ctrl>,
    data: Sender<Data>,
    counters: Arc<Counters>,
    next_id: Arc<AtomicU64>,
    live: Option<Duration>,
}

impl NetSink {
    /// The live timer period, for a live session.
    pub(crate) fn live_period(&self) -> Option<Duration> {
        self.live
    }

    fn stream(&self, dir: &Path, name: &str) -> NetStream {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let path = dir.to_string_lossy().into_owned();
        let lost = Arc::new(AtomicU64::new(0));
        let _ = self.ctrl.send(Ctrl::AddStream {
            id,
            name: name.to_owned(),
            path: path.clone(),
            lost: lost.clone(),
        });
        NetStream {
            id,
            lost,
            sink: self.clone(),
            metadata: name == "metadata",
            shown: PathBuf::from(format!("relayd:{path}/{name}")),
        }
    }

    /// The consumer thread's eventfd, written when the data queue has room
    /// again after [`NetSink::has_room`] found none.
    pub(crate) fn set_waker(&self, fd: Arc<OwnedFd>) {
        let _ = self.counters.waker.set(fd);
    }

    /// Whether the data queue takes a packet now. When it does not, the
    /// worker wakes the consumer once half of it is free (`core::room`).
    /// Only the consumer thread sends, so room found here is still there
    /// when it sends.
    pub(crate) fn has_room(&self) -> bool {
        let c = &self.counters;
        c.room.has_room(c.sent.load(Ordering::Relaxed))
    }

    /// Whether the data queue is full (no wake-up asked for).
    pub(crate) fn is_full(&self) -> bool {
        let c = &self.counters;
        c.room.full(c.sent.load(Ordering::Relaxed))
    }

    /// Counts a packet or beacon the data queue accepted.
    fn sent_one(&self) {
        self.counters.sent.fetch_add(1, Ordering::Relaxed);
    }

    /// Publishes the streams announced so far (live viewers see them).
    pub(crate) fn streams_sent(&self) {
        let _ = self.ctrl.send(Ctrl::StreamsSent);
    }

    /// Queues a chunk rotation after every packet queued so far (`clear`:
    /// the closed chunk is deleted, else archived). The consumer thread
    /// calls it right after its last drain into the old chunk, so the
    /// boundary is exact; the caller waits on the answer.
    pub(crate) fn rotate(&self, clear: bool) -> Receiver<Result<String, String>> {
        let (reply, answer) = bounded(1);
        let command = if clear {
            CHUNK_DELETE
        } else {
            CHUNK_MOVE_TO_COMPLETED
        };
        if self.ctrl.send(Ctrl::Rotate { command, reply }).is_err() {
            let (tx, rx) = bounded(1);
            let _ = tx.send(Err("relayd worker gone".into()));
            return rx;
        }
        answer
    }
}

/// Waits for a chunk rotation's answer ([`NetSink::rotate`]).
pub(crate) fn rotation_answer(a: &Receiver<Result<String, String>>) -> Result<String, String> {
    // The worker's own steps are bounded; the margin covers one call.
    a.recv_timeout(SYNC_TIMEOUT * 2 + CALL_TIMEOUT * 4)
        .unwrap_or_else(|_| Err("relayd worker did not answer".into()))
}

/// One stream at the relayd, as the consumer writes it.
pub(crate) struct NetStream {
    id: u64,
    /// Its packets that never reached the relayd.
    lost: Arc<AtomicU64>,
    sink: NetSink,
    metadata: bool,
    shown: PathBuf,
}

impl NetStream {
    fn write_packet(&mut self, bytes: &[u8], index: PacketIndex) {
        let c = &self.sink.counters;
        if self.metadata {
            if self
                .sink
                .ctrl
                .send(Ctrl::Metadata {
                    id: self.id,
                    bytes: bytes.to_vec(),
                })
                .is_err()
            {
                c.metadata_bytes_lost
                    .fetch_add(bytes.len() as u64, Ordering::Relaxed);
            }
            return;
        }
        // The relayd pads the content to the packet size itself.
        let len = (index.content_size.div_ceil(8) as usize).min(bytes.len());
        let d = Data::Packet {
            id: self.id,
            content: c.copy(&bytes[..len]),
            index,
        };
        // Room was checked before the sub-buffer was taken, except in a
        // flush, which waits for it (bounded: the relayd is slow or stuck).
        match self.sink.data.send_timeout(d, CALL_TIMEOUT) {
            Ok(()) => self.sink.sent_one(),
            Err(SendTimeoutError::Timeout(_) | SendTimeoutError::Disconnected(_)) => {
                c.lost();
                self.lost.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Queues RESET_METADATA after the metadata queued so far: the text
    /// of `version` comes next, from its first byte.
    pub(crate) fn reset_metadata(&self, version: u64) {
        let _ = self.sink.ctrl.send(Ctrl::ResetMetadata {
            id: self.id,
            version,
        });
    }

    /// Its packets lost so far (queue full, relayd gone).
    pub(crate) fn lost(&self) -> u64 {
        self.lost.load(Ordering::Relaxed)
    }

    /// A live beacon: the idle stream reached `now`. Dropped (not a loss)
    /// when the queue is full: the next tick sends another.
    pub(crate) fn beacon(&self, stream_class: u64, now: u64) {
        let beacon = Data::Beacon {
            id: self.id,
            stream_class,
            now,
        };
        if self.sink.data.try_send(beacon).is_ok() {
            self.sink.sent_one();
        }
    }
}

impl Drop for NetStream {
    fn drop(&mut self) {
        let _ = self.sink.ctrl.send(Ctrl::CloseStream { id: self.id });
    }
}

/// Where the consumer writes a stream: a file, or the relayd.
pub(crate) enum StreamOut {
    File(StreamFile),
    Net(NetStream),
}

impl StreamOut {
    /// Data stream `<dir>/<name>` (with its index), locally or at the relayd
    /// (`dir` is then relative: `ust/uid/UID/64-bit`).
    /// Local files go to `owner` and are split as `split` says; a relayd
    /// stream is neither (the relayd owns and names its files).
    pub(crate) fn data(
        net: Option<&NetSink>,
        dir: &Path,
        name: &str,
        owner: Option<FileOwner>,
        split: FileSplit,
    ) -> UstCtlResult<Self> {
        Ok(match net {
            Some(n) => StreamOut::Net(n.stream(dir, name)),
            None => StreamOut::File(StreamFile::data(dir, name, owner, split)?),
        })
    }

    pub(crate) fn metadata(
        net: Option<&NetSink>,
        dir: &Path,
        owner: Option<FileOwner>,
    ) -> UstCtlResult<Self> {
        Ok(match net {
            Some(n) => StreamOut::Net(n.stream(dir, "metadata")),
            None => StreamOut::File(StreamFile::metadata(dir, owner)?),
        })
    }

    /// Held back by a full queue to the relayd (a stream waiting for
    /// room, not a stalled one).
    pub(crate) fn backpressured(&self) -> bool {
        match self {
            StreamOut::File(_) => false,
            StreamOut::Net(n) => n.sink.is_full(),
        }
    }

    pub(crate) fn net(&self) -> Option<&NetStream> {
        match self {
            StreamOut::Net(n) => Some(n),
            StreamOut::File(_) => None,
        }
    }

    /// Empties a local stream's files (`clear`). What a relayd already
    /// received stays there: only the buffers are cleared for it.
    pub(crate) fn truncate(&mut self) -> UstCtlResult<()> {
        match self {
            StreamOut::File(f) => f.truncate(),
            StreamOut::Net(_) => Ok(()),
        }
    }

    /// Deletes a local stream's files; a relayd stream is just closed.
    pub(crate) fn remove(self) -> UstCtlResult<()> {
        match self {
            StreamOut::File(f) => f.remove(),
            StreamOut::Net(_) => Ok(()),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        match self {
            StreamOut::File(f) => f.path(),
            StreamOut::Net(n) => &n.shown,
        }
    }
}

/// What the consumer copies packets into.
pub(crate) trait PacketSink {
    fn write_packet(&mut self, bytes: &[u8], index: PacketIndex) -> UstCtlResult<()>;
    fn has_index(&self) -> bool;
    /// Whether a packet may be taken from the ring buffer now.
    fn has_room(&self) -> bool {
        true
    }
}

impl PacketSink for StreamFile {
    fn write_packet(&mut self, bytes: &[u8], index: PacketIndex) -> UstCtlResult<()> {
        StreamFile::write_packet(self, bytes, index)
    }
    fn has_index(&self) -> bool {
        StreamFile::has_index(self)
    }
}

impl PacketSink for StreamOut {
    fn write_packet(&mut self, bytes: &[u8], index: PacketIndex) -> UstCtlResult<()> {
        match self {
            StreamOut::File(f) => f.write_packet(bytes, index),
            StreamOut::Net(n) => {
                n.write_packet(bytes, index);
                Ok(())
            }
        }
    }
    fn has_index(&self) -> bool {
        match self {
            StreamOut::File(f) => f.has_index(),
            StreamOut::Net(n) => !n.metadata,
        }
    }
    /// Always, for a file; see [`NetSink::has_room`].
    fn has_room(&self) -> bool {
        match self {
            StreamOut::File(_) => true,
            StreamOut::Net(n) => n.sink.has_room(),
        }
    }
}

/// One stream's packets as a snapshot copied them: content only (the
/// relayd pads each to its packet size).
#[derive(Default)]
pub(crate) struct PacketCopy {
    /// (content, packet size in bytes)
    packets: Vec<(Vec<u8>, u64)>,
}

impl PacketSink for PacketCopy {
    fn write_packet(&mut self, bytes: &[u8], index: PacketIndex) -> UstCtlResult<()> {
        let len = (index.content_size.div_ceil(8) as usize).min(bytes.len());
        self.packets
            .push((bytes[..len].to_vec(), index.packet_size / 8));
        Ok(())
    }
    /// The index gives the content size; it is not sent.
    fn has_index(&self) -> bool {
        true
    }
}

/// A snapshot of one trace (buffer set): its metadata and each stream's
/// packets, by stream name (`<channel>_<cpu>`).
pub(crate) struct SnapshotCopy {
    pub metadata: Vec<u8>,
    pub streams: Vec<(String, PacketCopy)>,
}

/// One `snapshot record` to a relayd, as lttng-sessiond 2.13.9 and its
/// consumerd do it: a relayd session of its own (snapshot flag, the
/// session's name and creation time, so every record lands in the same
/// `<host>/<name>-<date>-<time>/` directory), one trace chunk `n` named
/// `chunk_name` (the record's directory), then per set (`rel_dir`, its
/// copy) each data stream added and its packets sent without index, and
/// the metadata stream. Unlike lttng, the streams are closed only once a
/// data-pending round says the relayd holds everything, so the record is
/// complete when this returns. Returns the chunk's path at the relayd.
pub(crate) fn send_snapshot(
    out: &NetOutput,
    s: &NetSession<'_>,
    n: u64,
    chunk_name: &str,
    sets: &[(String, SnapshotCopy)],
) -> Result<String, RelaydError> {
    let mut relay = RelaydSession::connect(out.control, out.data, CALL_TIMEOUT)?;
    relay.create_session(&CreateSession {
        session_name: s.name,
        hostname: s.hostname,
        base_path: &out.subdir,
        live_timer_us: 0,
        snapshot: true,
        name_contains_creation_time: false,
        sessiond_uuid: s.daemon_uuid,
        session_id: s.id,
        creation_time: s.created,
        current_chunk_id: None,
    })?;
    relay.create_trace_chunk(n, epoch_now(), chunk_name)?;
    let mut data = Vec::new();
    let mut meta = Vec::new();
    for (rel_dir, copy) in sets {
        for (name, c) in &copy.streams {
            let mut st = relay.add_stream(name, rel_dir, n)?;
            for (content, size) in &c.packets {
                relay.send_data(&mut st, content, *size)?;
            }
            data.push(st);
        }
        let md = relay.add_stream("metadata", rel_dir, n)?;
        relay.send_metadata(&md, &copy.metadata, 0)?;
        meta.push(md);
    }
    let deadline = Instant::now() + SYNC_TIMEOUT;
    loop {
        let d: Vec<&RelaydStream> = data.iter().collect();
        let m: Vec<&RelaydStream> = meta.iter().collect();
        if !relay.data_pending(&d, &m)? {
            break;
        }
        if Instant::now() >= deadline {
            return Err(RelaydError::Pending);
        }
        std::thread::sleep(PENDING_POLL);
    }
    for st in data.into_iter().chain(meta) {
        relay.close_stream(st)?;
    }
    relay.close_trace_chunk(n, epoch_now())
}

fn epoch_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Connects to the relayd and negotiates the version (each step within
/// [`CALL_TIMEOUT`]), then hangs up: is it there, and a 2.11+ relayd?
pub fn probe(out: &NetOutput) -> Result<(), RelaydError> {
    RelaydSession::connect(out.control, out.data, CALL_TIMEOUT).map(drop)
}

/// Who the session is at the relayd.
pub struct NetSession<'a> {
    pub name: &'a str,
    pub hostname: &'a str,
    pub id: u64,
    /// Epoch seconds.
    pub created: u64,
    pub daemon_uuid: [u8; 16],
}

/// A session's relayd worker thread; owned by the session's trace.
pub struct NetRelay {
    sink: NetSink,
    thread: Mutex<Option<JoinHandle<()>>>,
    output_path: String,
    /// The last chunk's archive at the relayd, once closed after rotations.
    last_archive: Mutex<Option<String>>,
}

impl NetRelay {
    /// Connects, negotiates, creates the session and its first trace chunk
    /// (each step within [`CALL_TIMEOUT`]), then starts the worker.
    pub fn start(out: &NetOutput, s: &NetSession<'_>) -> Result<NetRelay, RelaydError> {
        let mut relay = RelaydSession::connect(out.control, out.data, CALL_TIMEOUT)?;
        let info = relay.create_session(&CreateSession {
            session_name: s.name,
            hostname: s.hostname,
            base_path: &out.subdir,
            live_timer_us: out.live_timer_us,
            snapshot: false,
            name_contains_creation_time: false,
            sessiond_uuid: s.daemon_uuid,
            session_id: s.id,
            creation_time: s.created,
            current_chunk_id: None,
        })?;
        relay.create_trace_chunk(0, s.created, "")?;
        let (ctrl_tx, ctrl_rx) = unbounded();
        let (data_tx, data_rx) = bounded(DATA_QUEUE);
        let counters = Arc::new(Counters::default());
        let worker = Worker {
            relay: Some(relay),
            ctrl: ctrl_rx,
            data: data_rx,
            counters: counters.clone(),
            streams: HashMap::new(),
            lost: HashMap::new(),
            metadata: HashSet::new(),
            texts: HashMap::new(),
            chunk: 0,
            archived: false,
            session: s.name.to_owned(),
        };
        let thread = std::thread::Builder::new()
            .name(format!("ustd-relayd-s{}", s.id))
            .spawn(move || worker.run())
            .map_err(|source| RelaydError::Io {
                which: "control",
                op: "spawn worker",
                source,
            })?;
        tracing::info!(session = s.name, path = %info.output_path, "streaming to lttng-relayd");
        Ok(NetRelay {
            sink: NetSink {
                ctrl: ctrl_tx,
                data: data_tx,
                counters,
                next_id: Arc::new(AtomicU64::new(0)),
                live: (out.live_timer_us > 0)
                    .then(|| Duration::from_micros(out.live_timer_us.into())),
            },
            thread: Mutex::new(Some(thread)),
            output_path: info.output_path,
            last_archive: Mutex::new(None),
        })
    }

    pub fn sink(&self) -> NetSink {
        self.sink.clone()
    }

    /// The session's directory under the relayd's output (`host/name-DATE`).
    pub fn output_path(&self) -> &str {
        &self.output_path
    }

    pub fn stats(&self) -> NetStats {
        let c = &self.sink.counters;
        NetStats {
            packets_sent: c.packets_sent.load(Ordering::Relaxed),
            bytes_sent: c.bytes_sent.load(Ordering::Relaxed),
            packets_lost: c.packets_lost.load(Ordering::Relaxed),
            metadata_bytes_lost: c.metadata_bytes_lost.load(Ordering::Relaxed),
            error: c.error.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        }
    }

    /// Returns once the relayd holds everything queued so far, or with why
    /// not (relayd gone, or still pending after `timeout`).
    pub fn sync(&self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        let (reply, answer) = bounded(1);
        self.sink
            .ctrl
            .send(Ctrl::Sync { deadline, reply })
            .map_err(|_| "relayd worker gone".to_owned())?;
        // The worker's own steps are bounded; the margin covers one call.
        answer
            .recv_timeout(timeout + CALL_TIMEOUT * 2)
            .map_err(|_| "relayd worker did not answer".to_owned())?
    }

    /// Sends what is queued, closes every stream and the trace chunk, and
    /// ends the worker. After rotations the last chunk is archived too:
    /// returns its path at the relayd.
    pub fn close(&self) -> Result<Option<String>, String> {
        let Some(t) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() else {
            return Ok(None);
        };
        let (reply, answer) = bounded(1);
        let r = match self.sink.ctrl.send(Ctrl::Close { reply }) {
            Ok(()) => answer
                .recv_timeout(SYNC_TIMEOUT)
                .unwrap_or_else(|_| Err("relayd worker did not answer".into())),
            Err(_) => Err("relayd worker gone".into()),
        };
        if r.is_ok() && t.join().is_err() {
            tracing::error!("relayd worker panicked");
        }
        if let Ok(Some(a)) = &r {
            *self.last_archive.lock().unwrap_or_else(|p| p.into_inner()) = Some(a.clone());
        }
        r
    }

    /// The last chunk's archive at the relayd (after rotations), once closed.
    pub fn last_archive(&self) -> Option<String> {
        self.last_archive
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl Drop for NetRelay {
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            tracing::warn!(error = %e, "closing the relayd session failed");
        }
    }
}

struct Worker {
    /// None once the relayd failed: everything after is counted lost.
    relay: Option<RelaydSession>,
    ctrl: Receiver<Ctrl>,
    data: Receiver<Data>,
    counters: Arc<Counters>,
    streams: HashMap<u64, RelaydStream>,
    /// Each stream's loss counter, shared with its `NetStream`.
    lost: HashMap<u64, Arc<AtomicU64>>,
    /// Ids of the metadata streams (no data packets to wait for).
    metadata: HashSet<u64>,
    /// Each metadata stream's whole text so far: a new chunk gets it again.
    texts: HashMap<u64, Vec<u8>>,
    /// The current trace chunk's id.
    chunk: u64,
    /// A chunk was archived: the last one is archived at close too.
    archived: bool,
    session: String,
}

impl Worker {
    fn run(mut self) {
        loop {
            select! {
                recv(self.ctrl) -> m => match m {
                    Ok(m) => if !self.on_ctrl(m) { return },
                    Err(_) => break,
                },
                recv(self.data) -> d => match d {
                    Ok(d) => {
                        self.took_one();
                        if !self.serve_ctrl_then(d) { return }
                    }
                    Err(_) => break,
                },
            }
        }
        // Every handle is gone without a close: send what is left.
        self.flush_data();
    }

    /// Serves the control messages queued before packet `d` (a stream
    /// announcement, metadata its index may need), then `d`. A barrier met
    /// on the way comes after `d`, which was queued before it. False when
    /// the worker must end.
    fn serve_ctrl_then(&mut self, d: Data) -> bool {
        let mut d = Some(d);
        while let Ok(m) = self.ctrl.try_recv() {
            if m.is_barrier() {
                if let Some(d) = d.take() {
                    self.on_data(d);
                }
            }
            if !self.on_ctrl(m) {
                return false;
            }
        }
        if let Some(d) = d {
            self.on_data(d);
        }
        true
    }

    /// After every take from the data queue: counts it, and wakes the
    /// consumer if it is held back and half the queue is free.
    fn took_one(&self) {
        let c = &self.counters;
        if c.room.taken(self.data.len()) {
            if let Some(fd) = c.waker.get() {
                let _ = rustix::io::write(fd.as_ref(), &1u64.to_ne_bytes());
            }
        }
    }

    fn flush_data(&mut self) {
        while let Ok(d) = self.data.try_recv() {
            self.took_one();
            self.on_data(d);
        }
    }

    fn fail(&mut self, e: RelaydError) {
        if self.relay.take().is_some() {
            tracing::error!(session = %self.session, error = %e, "lttng-relayd connection lost: packets are counted lost from now on");
            *self
                .counters
                .error
                .lock()
                .unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
        }
    }

    /// Runs `f` on the live connection; a failure ends it.
    fn with<T>(
        &mut self,
        f: impl FnOnce(&mut RelaydSession, &mut HashMap<u64, RelaydStream>) -> Result<T, RelaydError>,
    ) -> Option<T> {
        let relay = self.relay.as_mut()?;
        match f(relay, &mut self.streams) {
            Ok(v) => Some(v),
            Err(e) => {
                self.fail(e);
                None
            }
        }
    }

    fn on_data(&mut self, d: Data) {
        match d {
            Data::Packet { id, content, index } => {
                let len = content.len() as u64;
                let sent = self.with(|r, streams| {
                    let Some(s) = streams.get_mut(&id) else {
                        return Ok(false);
                    };
                    r.send_packet(s, &content, relayd_index(&index))?;
                    Ok(true)
                });
                self.counters.spare(content);
                if sent == Some(true) {
                    self.counters.packets_sent.fetch_add(1, Ordering::Relaxed);
                    self.counters.bytes_sent.fetch_add(len, Ordering::Relaxed);
                } else {
                    self.counters.lost();
                    if let Some(l) = self.lost.get(&id) {
                        l.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            Data::Beacon {
                id,
                stream_class,
                now,
            } => {
                self.with(|r, streams| match streams.get(&id) {
                    Some(s) => r.send_beacon(s, stream_class, now),
                    None => Ok(()),
                });
            }
        }
    }

    /// Serves one control message; false ends the worker.
    fn on_ctrl(&mut self, m: Ctrl) -> bool {
        match m {
            Ctrl::AddStream {
                id,
                name,
                path,
                lost,
            } => {
                self.lost.insert(id, lost);
                let chunk = self.chunk;
                if let Some(s) = self.with(|r, _| r.add_stream(&name, &path, chunk)) {
                    if name == "metadata" {
                        self.metadata.insert(id);
                    }
                    self.streams.insert(id, s);
                }
            }
            Ctrl::StreamsSent => {
                self.with(|r, _| r.streams_sent());
            }
            Ctrl::Metadata { id, bytes } => {
                let sent = self.with(|r, streams| match streams.get(&id) {
                    Some(s) => r.send_metadata(s, &bytes, 0).map(|_| true),
                    None => Ok(false),
                });
                if sent == Some(true) {
                    self.texts.entry(id).or_default().extend_from_slice(&bytes);
                } else {
                    self.counters
                        .metadata_bytes_lost
                        .fetch_add(bytes.len() as u64, Ordering::Relaxed);
                }
            }
            Ctrl::ResetMetadata { id, version } => {
                // A later rotation resends only the new text.
                self.texts.remove(&id);
                self.with(|r, streams| match streams.get(&id) {
                    Some(s) => r.reset_metadata(s, version),
                    None => Ok(()),
                });
            }
            Ctrl::CloseStream { id } => {
                self.flush_data();
                self.lost.remove(&id);
                self.texts.remove(&id);
                if let Some(s) = self.streams.remove(&id) {
                    self.with(|r, _| r.close_stream(s));
                }
            }
            Ctrl::Sync { deadline, reply } => {
                self.flush_data();
                let _ = reply.send(self.wait_pending(deadline));
            }
            Ctrl::Rotate { command, reply } => {
                self.flush_data();
                let _ = reply.send(self.rotate(command));
            }
            Ctrl::Close { reply } => {
                self.flush_data();
                let r = self.wait_pending(Instant::now() + SYNC_TIMEOUT);
                // As lttng: after rotations the last chunk is archived too,
                // its streams rotated to no chunk first.
                let archive = if self.archived {
                    let chunk = self.chunk;
                    let (data, md) = self.partition();
                    self.with(|rl, streams| {
                        let (d, m) = (pick(streams, &data), pick(streams, &md));
                        rl.rotate_streams(None, &d)?;
                        rl.rotate_streams(None, &m)?;
                        rl.close_trace_chunk_with(chunk, epoch_now(), Some(CHUNK_MOVE_TO_COMPLETED))
                    })
                } else {
                    None
                };
                let streams: Vec<RelaydStream> = self.streams.drain().map(|(_, s)| s).collect();
                for s in streams {
                    self.with(|rl, _| rl.close_stream(s));
                }
                let mut r = r.map(|_| archive.clone());
                if !self.archived {
                    if let Some(relay) = self.relay.as_mut() {
                        if let Err(e) = relay.close_trace_chunk(self.chunk, epoch_now()) {
                            r = Err(e.to_string());
                        }
                    }
                }
                self.relay = None;
                let _ = reply.send(r);
                return false;
            }
        }
        true
    }

    /// Ids of the data and of the metadata streams.
    fn partition(&self) -> (Vec<u64>, Vec<u64>) {
        self.streams
            .keys()
            .partition(|id| !self.metadata.contains(id))
    }

    /// See [`Ctrl::Rotate`]. lttng-consumerd 2.13.9's order: CREATE the next
    /// chunk, ROTATE_STREAMS (data streams at their next sequence number,
    /// then metadata), the whole metadata again into the new chunk, CLOSE
    /// the old chunk with `command`, then TRACE_CHUNK_EXISTS until the
    /// relayd let it go. Unlike lttng, a data-pending round first, so the
    /// old chunk is complete (and archived) when this returns.
    fn rotate(&mut self, command: u32) -> Result<String, String> {
        self.wait_pending(Instant::now() + SYNC_TIMEOUT)?;
        let (old, next) = (self.chunk, self.chunk + 1);
        let (data, md) = self.partition();
        let texts = std::mem::take(&mut self.texts);
        let path = self.with(|r, streams| {
            r.create_trace_chunk(next, epoch_now(), "")?;
            let (d, m) = (pick(streams, &data), pick(streams, &md));
            if !d.is_empty() {
                r.rotate_streams(Some(next), &d)?;
            }
            if !m.is_empty() {
                r.rotate_streams(Some(next), &m)?;
            }
            for id in &md {
                if let (Some(s), Some(t)) = (streams.get(id), texts.get(id)) {
                    r.send_metadata(s, t, 0)?;
                }
            }
            let path = r.close_trace_chunk_with(old, epoch_now(), Some(command))?;
            let deadline = Instant::now() + SYNC_TIMEOUT;
            while r.trace_chunk_exists(old)? {
                if Instant::now() >= deadline {
                    return Err(RelaydError::Pending);
                }
                std::thread::sleep(PENDING_POLL);
            }
            Ok(path)
        });
        self.texts = texts;
        match path {
            Some(p) => {
                self.chunk = next;
                self.archived |= command == CHUNK_MOVE_TO_COMPLETED;
                Ok(p)
            }
            None => Err(self.lost_error()),
        }
    }

    fn lost_error(&self) -> String {
        let c = &self.counters;
        let e = c.error.lock().unwrap_or_else(|p| p.into_inner()).clone();
        format!(
            "lttng-relayd connection lost ({}): {} packets lost",
            e.unwrap_or_default(),
            c.packets_lost.load(Ordering::Relaxed)
        )
    }

    /// Data-pending rounds until the relayd holds everything sent.
    fn wait_pending(&mut self, deadline: Instant) -> Result<(), String> {
        let meta = self.metadata.clone();
        loop {
            let pending = self.with(|r, streams| {
                let (md, data): (Vec<_>, Vec<_>) =
                    streams.iter().partition(|(id, _)| meta.contains(id));
                let data: Vec<&RelaydStream> = data.into_iter().map(|(_, s)| s).collect();
                let md: Vec<&RelaydStream> = md.into_iter().map(|(_, s)| s).collect();
                r.data_pending(&data, &md)
            });
            match pending {
                Some(false) => return Ok(()),
                Some(true) if Instant::now() < deadline => std::thread::sleep(PENDING_POLL),
                Some(true) => return Err("lttng-relayd still misses data at the deadline".into()),
                None => return Err(self.lost_error()),
            }
        }
    }
}

/// The streams of `ids` that are still open.
fn pick<'a>(streams: &'a HashMap<u64, RelaydStream>, ids: &[u64]) -> Vec<&'a RelaydStream> {
    ids.iter().filter_map(|id| streams.get(id)).collect()
}

fn relayd_index(i: &PacketIndex) -> Index {
    Index {
        packet_size: i.packet_size,
        content_size: i.content_size,
        timestamp_begin: i.timestamp_begin,
        timestamp_end: i.timestamp_end,
        events_discarded: i.events_discarded,
        stream_id: i.stream_id,
        stream_instance_id: i.stream_instance_id,
        packet_seq_num: i.packet_seq_num,
        ..Index::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sent_packets_buffers_serve_the_next_copies() {
        let c = Counters::default();
        // A sent 1 MiB packet's buffer, handed back by the worker.
        c.spare(Vec::with_capacity(1 << 20));
        let next = c.copy(b"next packet");
        assert_eq!(next, b"next packet");
        assert_eq!(next.capacity(), 1 << 20, "the copy took a fresh buffer");
    }

    #[test]
    fn spares_are_bounded() {
        let c = Counters::default();
        for _ in 0..SPARE_BUFFERS + 3 {
            c.spare(vec![0; 16]);
        }
        assert_eq!(c.spares.1.len(), SPARE_BUFFERS);
    }
}
