//! The consumer: one thread that drains ring buffers into trace directories.
//!
//! It sleeps in `epoll_wait` on the data streams' wait fds (apps write one
//! byte there each time they deliver a sub-buffer) plus an eventfd for
//! requests, with no timeout. All library calls on streams happen on this
//! thread, so no stream is ever read concurrently.
//!
//! A *trace* is one output directory with its metadata stream (per-UID:
//! `ust/uid/<uid>/64-bit`; per-PID: one per app). Its channels' streams go
//! to `<dir>/<channel>_<cpu>` with `<dir>/index/<channel>_<cpu>.idx`.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, unbounded, Receiver, Sender};
use rustix::event::epoll;
use rustix::io::Errno;

use super::net_output::{NetSink, PacketCopy, PacketSink, SnapshotCopy, StreamOut};
use super::output::{create_dir, create_file, FileOwner, FileSplit, PacketIndex, StreamFile};
use super::schedule::SizeWatch;
use crate::core::metadata::MetadataRegistry;
use crate::ustctl::channel::{BufferChannel, Buffers, ChannelHandOut, MetadataChannel};
use crate::ustctl::sys::RawStream;
use crate::ustctl::{block_rt_signals, check, UstCtl, UstCtlError, UstCtlResult};

/// How often the worker looks for streams that stopped making progress.
const WATCH_PERIOD: Duration = Duration::from_millis(250);
/// A stream whose sub-buffer at the read position is closed but cannot be
/// read for this long (and still not after a read attempt) is *stalled*:
/// far above any reserve-to-commit window of a running writer.
pub const STALL_AFTER: Duration = Duration::from_secs(1);
/// Least time between two read attempts on a stalled stream.
const PROBE_STALLED: Duration = Duration::from_millis(100);

/// What a channel of a trace lost, summed over its streams.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ChannelLoss {
    /// Events the writers dropped (buffer full), from the packet headers
    /// read (the per-stream running count of the last packet).
    pub discarded_events: u64,
    /// Gaps in the sequence numbers of the packets written.
    pub lost_packets: u64,
    /// Sub-buffers that could not be read at teardown (commit count never
    /// completed: a writer died between reserve and commit).
    pub unreadable_subbufs: u64,
    /// Streams stalled now (see [`STALL_AFTER`]).
    pub stalled_streams: u64,
}

impl ChannelLoss {
    pub fn add(&mut self, o: &ChannelLoss) {
        self.discarded_events += o.discarded_events;
        self.lost_packets += o.lost_packets;
        self.unreadable_subbufs += o.unreadable_subbufs;
        self.stalled_streams += o.stalled_streams;
    }
}

/// Loss figures by channel file name (`<name>` of `<name>_<cpu>`).
pub type TraceLoss = Vec<(String, ChannelLoss)>;

/// Identifies a trace (output directory) inside one consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceKey(u64);

type Reply<T> = Sender<UstCtlResult<T>>;

enum Request {
    AddTrace {
        key: u64,
        /// None for a snapshot-only trace.
        live: Option<(PathBuf, MetadataChannel)>,
        reply: Reply<()>,
    },
    AddChannel {
        trace: u64,
        name: String,
        buffers: Buffers,
        /// Drained live into files split so (None: snapshots only).
        monitor: Option<FileSplit>,
        reply: Reply<()>,
    },
    PushMetadata {
        trace: u64,
        offset: u64,
        bytes: Vec<u8>,
        reply: Reply<()>,
    },
    /// Flush and drain one trace, or all of them.
    Flush {
        trace: Option<u64>,
        reply: Reply<()>,
    },
    /// Close the current sub-buffer of every stream of a trace that holds
    /// events, as lttng's switch timer does (safe with live writers).
    Switch {
        trace: u64,
        reply: Reply<()>,
    },
    RemoveTrace {
        trace: u64,
        /// Channels whose files are deleted rather than kept.
        discard: Vec<String>,
        reply: Reply<TraceLoss>,
    },
    Loss {
        trace: u64,
        reply: Reply<TraceLoss>,
    },
    Snapshot {
        trace: u64,
        dest: PathBuf,
        /// Latest sub-buffers kept per stream; 0: all.
        max_subbufs: u64,
        reply: Reply<()>,
    },
    /// A snapshot copied into memory (for a relayd output).
    SnapshotCopy {
        trace: u64,
        max_subbufs: u64,
        reply: Reply<SnapshotCopy>,
    },
    /// `lttng clear`: discard the buffers' content and the files written.
    Clear {
        trace: u64,
        reply: Reply<()>,
    },
    /// `regenerate metadata`: forget the metadata text and empty its file
    /// (at a relayd: RESET_METADATA to `version`).
    ResetMetadata {
        trace: u64,
        version: u64,
        reply: Reply<()>,
    },
    /// Rotation: every live trace goes on in the chunk rooted at `root`.
    Rotate {
        output: PathBuf,
        root: PathBuf,
        reply: Reply<()>,
    },
    /// Before draining a packet of `trace`, take what its registry gained.
    SyncMetadataFrom {
        trace: u64,
        registry: Arc<MetadataRegistry>,
        reply: Reply<()>,
    },
    /// A network session's chunk rotation (`clear`: the closed chunk is
    /// deleted, every buffer cleared first; else every stream drained into
    /// it). Answers the worker's receiver, queued right after the last
    /// packet of the old chunk.
    NetChunk {
        clear: bool,
        reply: Reply<Receiver<Result<String, String>>>,
    },
    /// Stop the thread, flushing first unless `close` already did.
    Shutdown {
        flush: bool,
    },
}

/// Handle to a consumer thread. Dropping it flushes every trace and stops
/// the thread.
pub struct Consumer {
    tx: Sender<Request>,
    wake: Arc<OwnedFd>,
    thread: Mutex<Option<JoinHandle<()>>>,
    next_trace: AtomicU64,
    size: Arc<SizeWatch>,
}

const WAKE_TOKEN: u64 = u64::MAX;

impl Consumer {
    /// Starts the consumer thread (named `ustd-consumer-<label>`).
    pub fn start(ctl: Arc<UstCtl>, label: &str) -> UstCtlResult<Consumer> {
        Self::start_with(ctl, label, None, None)
    }

    /// Starts a consumer whose traces stream to a relayd through `net`
    /// (trace directories are then paths at the relayd, e.g.
    /// `ust/uid/0/64-bit`), with its live timer if the session is live;
    /// every local directory and file it creates is given to `owner` (a
    /// user's session in the root daemon).
    pub fn start_with(
        ctl: Arc<UstCtl>,
        label: &str,
        net: Option<NetSink>,
        owner: Option<FileOwner>,
    ) -> UstCtlResult<Consumer> {
        let wake = rustix::event::eventfd(
            0,
            rustix::event::EventfdFlags::CLOEXEC | rustix::event::EventfdFlags::NONBLOCK,
        )
        .map_err(|e| UstCtlError::io("eventfd")(e.into()))?;
        let wake = Arc::new(wake);
        let ep = epoll::create(epoll::CreateFlags::CLOEXEC)
            .map_err(|e| UstCtlError::io("epoll_create")(e.into()))?;
        epoll::add(
            &ep,
            wake.as_fd(),
            epoll::EventData::new_u64(WAKE_TOKEN),
            epoll::EventFlags::IN,
        )
        .map_err(|e| UstCtlError::io("epoll_ctl")(e.into()))?;
        if let Some(n) = &net {
            n.set_waker(wake.clone());
        }
        let (tx, rx) = unbounded();
        let size = Arc::new(SizeWatch::default());
        let worker = Worker {
            size: size.clone(),
            ctl,
            owner,
            epoll: ep,
            wake: wake.clone(),
            rx,
            traces: HashMap::new(),
            chunk: None,
            slots: Vec::new(),
            free: Vec::new(),
            net,
            held_back: false,
            busy: Vec::new(),
        };
        let thread = std::thread::Builder::new()
            .name(format!("ustd-consumer-{label}"))
            .spawn(move || worker.run())
            .map_err(UstCtlError::io("spawn consumer thread"))?;
        Ok(Consumer {
            tx,
            wake,
            thread: Mutex::new(Some(thread)),
            next_trace: AtomicU64::new(1),
            size,
        })
    }

    /// The data bytes it wrote, for the size rotation schedule.
    pub(crate) fn size_watch(&self) -> &Arc<SizeWatch> {
        &self.size
    }

    fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Request) -> UstCtlResult<T> {
        let (reply, answer) = bounded(1);
        self.tx
            .send(make(reply))
            .map_err(|_| UstCtlError::ConsumerGone)?;
        self.poke();
        answer.recv().map_err(|_| UstCtlError::ConsumerGone)?
    }

    fn poke(&self) {
        // A full counter (impossible in practice) still leaves it readable,
        // which is all the wake-up needs.
        let _ = rustix::io::write(self.wake.as_fd(), &1u64.to_ne_bytes());
    }

    /// Adds a trace directory; its metadata stream goes to `<dir>/metadata`.
    pub fn add_trace(&self, dir: &Path, metadata: MetadataChannel) -> UstCtlResult<TraceKey> {
        self.new_trace(Some((dir.to_owned(), metadata)))
    }

    /// Adds a trace that writes nothing until [`Consumer::snapshot`]
    /// (snapshot sessions): metadata is only kept in memory.
    pub fn add_snapshot_trace(&self) -> UstCtlResult<TraceKey> {
        self.new_trace(None)
    }

    fn new_trace(&self, live: Option<(PathBuf, MetadataChannel)>) -> UstCtlResult<TraceKey> {
        let key = self.next_trace.fetch_add(1, Ordering::Relaxed);
        self.call(|reply| Request::AddTrace { key, live, reply })?;
        Ok(TraceKey(key))
    }

    /// Starts draining `channel` into `<trace dir>/<name>_<cpu>`. Returns the
    /// app hand-out, to keep for every app that maps this channel.
    pub fn add_channel(
        &self,
        trace: TraceKey,
        name: &str,
        channel: BufferChannel,
    ) -> UstCtlResult<Arc<ChannelHandOut>> {
        self.add_split_channel(trace, name, channel, FileSplit::default())
    }

    /// [`Consumer::add_channel`] with each stream split in files
    /// `<name>_<cpu>_<N>` (lttng's tracefile size and count).
    pub fn add_split_channel(
        &self,
        trace: TraceKey,
        name: &str,
        channel: BufferChannel,
        split: FileSplit,
    ) -> UstCtlResult<Arc<ChannelHandOut>> {
        self.attach(trace, name, channel, Some(split))
    }

    /// Keeps `channel` for snapshots only: nothing is read until
    /// [`Consumer::snapshot`] (use overwrite mode: a discard channel that is
    /// never read stops recording once full).
    pub fn add_snapshot_channel(
        &self,
        trace: TraceKey,
        name: &str,
        channel: BufferChannel,
    ) -> UstCtlResult<Arc<ChannelHandOut>> {
        self.attach(trace, name, channel, None)
    }

    fn attach(
        &self,
        trace: TraceKey,
        name: &str,
        channel: BufferChannel,
        monitor: Option<FileSplit>,
    ) -> UstCtlResult<Arc<ChannelHandOut>> {
        let hand_out = channel.hand_out();
        let buffers = channel.buffers;
        self.call(|reply| Request::AddChannel {
            trace: trace.0,
            name: name.to_owned(),
            buffers,
            monitor,
            reply,
        })?;
        Ok(hand_out)
    }

    /// Writes the current content of every stream of `trace` (live or
    /// snapshot channels) to `dest/<channel>_<cpu>`, with the metadata as
    /// plain-text `dest/metadata` and an empty `dest/index/`, as lttng's
    /// `snapshot record` does. Buffers are not consumed.
    pub fn snapshot(&self, trace: TraceKey, dest: &Path) -> UstCtlResult<()> {
        self.snapshot_bounded(trace, dest, 0)
    }

    /// [`Consumer::snapshot`] keeping at most the latest `max_subbufs`
    /// sub-buffers of each stream (0: all), as `snapshot record -m` does.
    pub fn snapshot_bounded(
        &self,
        trace: TraceKey,
        dest: &Path,
        max_subbufs: u64,
    ) -> UstCtlResult<()> {
        self.call(|reply| Request::Snapshot {
            trace: trace.0,
            dest: dest.to_owned(),
            max_subbufs,
            reply,
        })
    }

    /// [`Consumer::snapshot_bounded`] into memory: the metadata and each
    /// stream's packet contents, for a relayd. Its size is bounded by the
    /// trace's buffers.
    pub(crate) fn snapshot_copy(
        &self,
        trace: TraceKey,
        max_subbufs: u64,
    ) -> UstCtlResult<SnapshotCopy> {
        self.call(|reply| Request::SnapshotCopy {
            trace: trace.0,
            max_subbufs,
            reply,
        })
    }

    /// A network session's trace: before draining any of its data streams,
    /// the consumer appends what `registry` has beyond its cache, so the
    /// metadata a packet may need is queued to the relayd before the packet
    /// and its index (lttng-consumerd asks lttng-sessiond instead). The
    /// registry's lock is held only to copy that tail.
    pub(crate) fn sync_metadata_from(
        &self,
        trace: TraceKey,
        registry: Arc<MetadataRegistry>,
    ) -> UstCtlResult<()> {
        self.call(|reply| Request::SyncMetadataFrom {
            trace: trace.0,
            registry,
            reply,
        })
    }

    /// See [`Request::NetChunk`]; the caller waits on the answer with
    /// `net_output::rotation_answer`, off the consumer thread.
    pub(crate) fn net_chunk(&self, clear: bool) -> UstCtlResult<Receiver<Result<String, String>>> {
        self.call(|reply| Request::NetChunk { clear, reply })
    }

    /// Stores TSDL text at byte `offset` of the trace's metadata and writes
    /// it to `<dir>/metadata` before returning. Fragments may overlap what
    /// was already pushed but must not leave a gap.
    pub fn push_metadata(&self, trace: TraceKey, offset: u64, bytes: &[u8]) -> UstCtlResult<()> {
        let bytes = bytes.to_vec();
        self.call(|reply| Request::PushMetadata {
            trace: trace.0,
            offset,
            bytes,
            reply,
        })
    }

    /// Closes the current trace chunk: every stream of every live trace
    /// closes its current sub-buffer, drains what is readable into its
    /// file, then writes on into the same path under `root` instead of
    /// under the previous chunk root (`output`, the session output, at
    /// first); each trace's metadata is written whole into the new chunk.
    /// Traces added later go under `root` too. Once this returns, no file
    /// of the previous chunk is open.
    pub fn rotate(&self, output: &Path, root: &Path) -> UstCtlResult<()> {
        self.call(|reply| Request::Rotate {
            output: output.to_owned(),
            root: root.to_owned(),
            reply,
        })
    }

    /// Stop-time flush: every stream of every trace delivers its current
    /// sub-buffer (even empty), then everything is written out.
    pub fn flush_and_drain(&self) -> UstCtlResult<()> {
        self.call(|reply| Request::Flush { trace: None, reply })
    }

    /// Same as [`Consumer::flush_and_drain`] for one trace.
    pub fn flush_trace(&self, trace: TraceKey) -> UstCtlResult<()> {
        self.call(|reply| Request::Flush {
            trace: Some(trace.0),
            reply,
        })
    }

    /// Flushes, drains, then destroys a trace's buffers: per-PID buffers
    /// of an app that exited, or session destroy. Files are kept, except
    /// those of the channels named in `discard` (channels the metadata does
    /// not describe), which are deleted.
    ///
    /// Sub-buffers left behind a wedged one (a writer died between reserve
    /// and commit) are read at their positions; those that cannot be read
    /// are counted. Returns the trace's final loss figures.
    pub fn remove_trace(&self, trace: TraceKey, discard: Vec<String>) -> UstCtlResult<TraceLoss> {
        self.call(|reply| Request::RemoveTrace {
            trace: trace.0,
            discard,
            reply,
        })
    }

    /// Closes the current sub-buffer of each stream of `trace` that holds
    /// events, with writers still active, and drains. After a writer left,
    /// a commit it never made then shows as a stalled stream at once
    /// instead of in whatever the next writer puts in that sub-buffer.
    pub fn switch_trace(&self, trace: TraceKey) -> UstCtlResult<()> {
        self.call(|reply| Request::Switch {
            trace: trace.0,
            reply,
        })
    }

    /// Discards what every stream of `trace` holds (lttng-ust's
    /// `clear_buffer`: switch, then the reader jumps to the write
    /// position; safe with active writers) and empties the stream and
    /// index files written so far. The metadata stays: events recorded
    /// after the clear still need it.
    pub fn clear_trace(&self, trace: TraceKey) -> UstCtlResult<()> {
        self.call(|reply| Request::Clear {
            trace: trace.0,
            reply,
        })
    }

    /// Forgets the trace's metadata text and empties its metadata file
    /// (`regenerate metadata`); the next push starts again at offset 0.
    /// The caller holds the set's `pushing` lock, so no push is in flight.
    /// A relayd is told to expect text `version` from its start.
    pub fn reset_metadata(&self, trace: TraceKey, version: u64) -> UstCtlResult<()> {
        self.call(|reply| Request::ResetMetadata {
            trace: trace.0,
            version,
            reply,
        })
    }

    /// The trace's loss figures so far, and its stalled streams.
    pub fn loss(&self, trace: TraceKey) -> UstCtlResult<TraceLoss> {
        self.call(|reply| Request::Loss {
            trace: trace.0,
            reply,
        })
    }

    /// Flushes everything and stops the thread.
    pub fn close(self) -> UstCtlResult<()> {
        let r = self.flush_and_drain();
        self.stop(false);
        r
    }

    fn stop(&self, flush: bool) {
        let Some(t) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() else {
            return;
        };
        if self.tx.send(Request::Shutdown { flush }).is_ok() {
            self.poke();
        }
        if t.join().is_err() {
            tracing::error!("consumer thread panicked");
        }
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        self.stop(true);
    }
}

struct DataStream {
    trace: u64,
    /// File name of its channel.
    channel: String,
    stream: NonNull<RawStream>,
    /// Owned by the library (closed by destroy_stream).
    wait_fd: RawFd,
    out: StreamOut,
    polled: bool,
    /// Wake-up bytes not yet matched by a read (see [`drain_streams`]).
    credits: u64,
    subbuf: u64,
    stats: StreamStats,
    watch: Watch,
}

#[derive(Default)]
struct StreamStats {
    /// The session's count of data bytes written (None: metadata).
    size: Option<Arc<SizeWatch>>,
    discarded: u64,
    last_seq: Option<u64>,
    lost_packets: u64,
    unreadable: u64,
}

impl StreamStats {
    fn account(&mut self, ix: &PacketIndex) {
        self.discarded = self.discarded.max(ix.events_discarded);
        if let Some(last) = self.last_seq {
            if ix.packet_seq_num > last.saturating_add(1) {
                self.lost_packets += ix.packet_seq_num - last - 1;
            }
        }
        self.last_seq = Some(
            self.last_seq
                .map_or(ix.packet_seq_num, |l| l.max(ix.packet_seq_num)),
        );
    }
}

/// Progress of a stream's read position, for stall detection.
struct Watch {
    consumed: u64,
    since: Instant,
    probed: Instant,
    stalled: bool,
}

impl Watch {
    fn new(consumed: u64, now: Instant) -> Self {
        Self {
            consumed,
            since: now,
            probed: now,
            stalled: false,
        }
    }
}

struct Trace {
    /// TSDL text pushed so far (contiguous from 0).
    cache: Vec<u8>,
    /// Output directory and metadata ring buffer; None for snapshot-only.
    live: Option<LiveMetadata>,
    channels: Vec<TraceChannel>,
    /// A network session's registry (see [`Consumer::sync_metadata_from`]).
    source: Option<Arc<MetadataRegistry>>,
}

struct TraceChannel {
    name: String,
    buffers: Buffers,
    /// Slots of its streams when monitored (drained live), else empty.
    tokens: Vec<usize>,
}

struct LiveMetadata {
    dir: PathBuf,
    buffers: MetadataChannel,
    /// Bytes of the cache already written into the ring buffer.
    written: usize,
    out: StreamOut,
}

struct Worker {
    ctl: Arc<UstCtl>,
    owner: Option<FileOwner>,
    epoll: OwnedFd,
    wake: Arc<OwnedFd>,
    rx: Receiver<Request>,
    traces: HashMap<u64, Trace>,
    /// After a rotation: (session output, current chunk root). Trace
    /// directories given under the output are placed under the root.
    chunk: Option<(PathBuf, PathBuf)>,
    /// Data streams by epoll token.
    slots: Vec<Option<DataStream>>,
    free: Vec<usize>,
    /// The relayd output, for a network session.
    net: Option<NetSink>,
    size: Arc<SizeWatch>,
    /// A drain left streams for want of room in the relayd queue: they are
    /// drained again on the next wake-up (the relayd worker's, when half
    /// the queue is free).
    held_back: bool,
    /// Streams a live drain left with credit (it stops after
    /// [`LIVE_BATCH`] packets): drained again right after the next
    /// zero-timeout `epoll_wait`, with whatever else became ready, so a
    /// stream its writers keep full starves neither the other streams nor
    /// the requests.
    busy: Vec<usize>,
}

// SAFETY: the stream pointers inside `DataStream` belong to `Buffers` held
// by the same worker, which is moved once into its thread and used only
// there.
unsafe impl Send for Worker {}

impl Worker {
    fn run(mut self) {
        // Inherited from the creating thread already; checked again because
        // an unblocked thread is killed by the library's timer signals.
        if let Err(e) = block_rt_signals() {
            tracing::error!(error = %e, "consumer thread cannot block real-time signals");
        }
        let mut events: Vec<epoll::Event> = Vec::with_capacity(64);
        let mut ready: Vec<(usize, epoll::EventFlags)> = Vec::with_capacity(64);
        let period = rustix::time::Timespec {
            tv_sec: 0,
            tv_nsec: WATCH_PERIOD.as_nanos() as _,
        };
        let mut next_watch = Instant::now() + WATCH_PERIOD;
        let live = self.net.as_ref().and_then(NetSink::live_period);
        let period = match live {
            Some(l) if l < WATCH_PERIOD => rustix::time::Timespec {
                tv_sec: 0,
                tv_nsec: l.as_nanos() as _,
            },
            _ => period,
        };
        let mut next_live = live.map(|l| Instant::now() + l);
        let now_only = rustix::time::Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        loop {
            events.clear();
            let timeout = if self.busy.is_empty() {
                &period
            } else {
                &now_only
            };
            match epoll::wait(
                &self.epoll,
                rustix::buffer::spare_capacity(&mut events),
                Some(timeout),
            ) {
                Ok(_) => {}
                Err(Errno::INTR) => continue,
                Err(e) => {
                    tracing::error!(error = %e, "consumer epoll_wait failed; stopping");
                    break;
                }
            }
            ready.clear();
            for ev in &events {
                let token = ev.data.u64();
                if token == WAKE_TOKEN {
                    let mut b = [0u8; 8];
                    let _ = rustix::io::read(self.wake.as_fd(), &mut b);
                } else {
                    ready.push((token as usize, ev.flags));
                }
            }
            let again: Vec<usize> = if std::mem::take(&mut self.held_back) {
                self.busy.clear();
                (0..self.slots.len()).collect()
            } else {
                std::mem::take(&mut self.busy)
            };
            if !again.is_empty() {
                let known = ready.iter().map(|&(t, _)| t).collect::<HashSet<_>>();
                let empty = epoll::EventFlags::empty();
                ready.extend(
                    again
                        .into_iter()
                        .filter(|t| {
                            matches!(self.slots.get(*t), Some(Some(_))) && !known.contains(t)
                        })
                        .map(|t| (t, empty)),
                );
            }
            if !ready.is_empty() {
                self.on_streams_ready(&ready);
            }
            loop {
                match self.rx.try_recv() {
                    Ok(Request::Shutdown { flush }) => return self.shutdown(flush),
                    Ok(req) => self.handle(req),
                    Err(crossbeam_channel::TryRecvError::Empty) => break,
                    Err(crossbeam_channel::TryRecvError::Disconnected) => {
                        return self.shutdown(true)
                    }
                }
            }
            if Instant::now() >= next_watch {
                self.watch();
                next_watch = Instant::now() + WATCH_PERIOD;
            }
            if let (Some(at), Some(l)) = (next_live, live) {
                if Instant::now() >= at {
                    self.live_tick();
                    next_live = Some(Instant::now() + l);
                }
            }
        }
        self.shutdown(true);
    }

    fn shutdown(mut self, flush: bool) {
        if flush {
            if let Err(e) = self.flush(None) {
                tracing::warn!(error = %e, "final flush failed");
            }
        }
        let keys: Vec<u64> = self.traces.keys().copied().collect();
        for k in keys {
            if let Err(e) = self.drop_trace(k, &[]) {
                tracing::warn!(error = %e, "dropping a trace failed");
            }
        }
    }

    fn handle(&mut self, req: Request) {
        match req {
            Request::AddTrace { key, live, reply } => {
                let _ = reply.send(self.add_trace(key, live));
            }
            Request::AddChannel {
                trace,
                name,
                buffers,
                monitor,
                reply,
            } => {
                let _ = reply.send(self.add_channel(trace, name, buffers, monitor));
            }
            Request::Snapshot {
                trace,
                dest,
                max_subbufs,
                reply,
            } => {
                let _ = reply.send(self.snapshot(trace, &dest, max_subbufs));
            }
            Request::SnapshotCopy {
                trace,
                max_subbufs,
                reply,
            } => {
                let _ = reply.send(self.snapshot_copy(trace, max_subbufs));
            }
            Request::PushMetadata {
                trace,
                offset,
                bytes,
                reply,
            } => {
                let _ = reply.send(self.push_metadata(trace, offset, &bytes));
            }
            Request::Flush { trace, reply } => {
                let _ = reply.send(self.flush(trace));
            }
            Request::RemoveTrace {
                trace,
                discard,
                reply,
            } => {
                let r = self.flush(Some(trace));
                self.salvage(trace);
                let loss = self.loss(trace);
                let removed = self.drop_trace(trace, &discard);
                let _ = reply.send(r.and(removed).map(|_| loss));
            }
            Request::Switch { trace, reply } => {
                let _ = reply.send(self.switch(trace));
            }
            Request::Loss { trace, reply } => {
                let _ = reply.send(Ok(self.loss(trace)));
            }
            Request::Clear { trace, reply } => {
                let _ = reply.send(self.clear(trace));
            }
            Request::ResetMetadata {
                trace,
                version,
                reply,
            } => {
                let _ = reply.send(self.reset_metadata(trace, version));
            }
            Request::Rotate {
                output,
                root,
                reply,
            } => {
                let _ = reply.send(self.rotate(output, root));
            }
            Request::SyncMetadataFrom {
                trace,
                registry,
                reply,
            } => {
                let r = match self.traces.get_mut(&trace) {
                    Some(t) => {
                        t.source = Some(registry);
                        Ok(())
                    }
                    None => Err(UstCtlError::UnknownTrace(trace)),
                };
                let _ = reply.send(r);
            }
            Request::NetChunk { clear, reply } => {
                let _ = reply.send(self.net_chunk(clear));
            }
            Request::Shutdown { .. } => unreachable!("handled by the loop"),
        }
    }

    fn add_trace(
        &mut self,
        key: u64,
        live: Option<(PathBuf, MetadataChannel)>,
    ) -> UstCtlResult<()> {
        let live = match live {
            Some((dir, buffers)) => {
                // A local chunk after a rotation lives under its own root.
                let dir = match (&self.net, &self.chunk) {
                    (None, Some((output, root))) => match dir.strip_prefix(output) {
                        Ok(rel) => root.join(rel),
                        Err(_) => dir,
                    },
                    _ => dir,
                };
                let out = StreamOut::metadata(self.net.as_ref(), &dir, self.owner)?;
                Some(LiveMetadata {
                    dir,
                    buffers,
                    written: 0,
                    out,
                })
            }
            None => None,
        };
        let trace = Trace {
            cache: Vec::new(),
            live,
            channels: Vec::new(),
            source: None,
        };
        self.traces.insert(key, trace);
        Ok(())
    }

    fn add_channel(
        &mut self,
        trace: u64,
        name: String,
        buffers: Buffers,
        monitor: Option<FileSplit>,
    ) -> UstCtlResult<()> {
        let t = self
            .traces
            .get(&trace)
            .ok_or(UstCtlError::UnknownTrace(trace))?;
        let dir = match (&t.live, monitor) {
            (Some(live), Some(split)) => Some((live.dir.clone(), split)),
            (None, Some(_)) => {
                return Err(UstCtlError::InvalidSpec(
                    "a snapshot-only trace cannot drain channels live".into(),
                ))
            }
            (_, None) => None,
        };
        let mut tokens = Vec::new();
        let mut result = Ok(());
        if let Some((dir, split)) = dir {
            for (cpu, s) in buffers.streams.iter().enumerate() {
                match self.add_stream(trace, (&dir, split), &name, cpu, *s) {
                    Ok(t) => tokens.push(t),
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                }
            }
        }
        if let (Some(n), false) = (&self.net, tokens.is_empty()) {
            n.streams_sent();
        }
        // Kept even on error so that the streams already in epoll are
        // removed before their buffers are destroyed.
        if let Some(t) = self.traces.get_mut(&trace) {
            t.channels.push(TraceChannel {
                name,
                buffers,
                tokens,
            });
        }
        result
    }

    // c_ulong is u32 on 32-bit targets.
    #[allow(clippy::useless_conversion)]
    fn add_stream(
        &mut self,
        trace: u64,
        (dir, split): (&Path, FileSplit),
        channel: &str,
        cpu: usize,
        stream: NonNull<RawStream>,
    ) -> UstCtlResult<usize> {
        let file = &format!("{channel}_{cpu}");
        let mut subbuf: libc::c_ulong = 0;
        // SAFETY: live stream; `subbuf` is a valid out-pointer.
        check("get_max_subbuf_size", unsafe {
            (self.ctl.api.get_max_subbuf_size)(stream.as_ptr(), &mut subbuf)
        })?;
        // SAFETY: `stream` is live (owned by Buffers kept with the trace).
        let wait_fd = check("stream_get_wait_fd", unsafe {
            (self.ctl.api.stream_get_wait_fd)(stream.as_ptr())
        })?;
        // SAFETY: the wait fd stays open until destroy_stream, which only
        // happens after this slot is removed.
        let fd = unsafe { BorrowedFd::borrow_raw(wait_fd) };
        // Wake-ups are drained with non-blocking reads.
        let flags =
            rustix::fs::fcntl_getfl(fd).map_err(|e| UstCtlError::io("fcntl(F_GETFL)")(e.into()))?;
        rustix::fs::fcntl_setfl(fd, flags | rustix::fs::OFlags::NONBLOCK)
            .map_err(|e| UstCtlError::io("fcntl(F_SETFL)")(e.into()))?;
        let out = StreamOut::data(self.net.as_ref(), dir, file, self.owner, split)?;
        let token = self.free.pop().unwrap_or_else(|| {
            self.slots.push(None);
            self.slots.len() - 1
        });
        epoll::add(
            &self.epoll,
            fd,
            epoll::EventData::new_u64(token as u64),
            epoll::EventFlags::IN,
        )
        .map_err(|e| UstCtlError::io("epoll_ctl")(e.into()))?;
        self.slots[token] = Some(DataStream {
            trace,
            channel: channel.to_owned(),
            stream,
            wait_fd,
            out,
            polled: true,
            credits: 0,
            subbuf: u64::from(subbuf),
            stats: StreamStats {
                size: Some(self.size.clone()),
                ..StreamStats::default()
            },
            watch: Watch::new(0, Instant::now()),
        });
        Ok(token)
    }

    fn on_streams_ready(&mut self, ready: &[(usize, epoll::EventFlags)]) {
        // Metadata first: a packet may use what an app registered just
        // before writing it (a relayd must have it before the packet).
        for &(token, _) in ready {
            if let Some(Some(ds)) = self.slots.get(token) {
                self.sync_metadata(ds.trace);
            }
        }
        let now = Instant::now();
        let mut chosen = Vec::with_capacity(ready.len());
        for &(token, _) in ready {
            let Some(Some(ds)) = self.slots.get_mut(token) else {
                continue;
            };
            // SAFETY: see add_stream.
            let fd = unsafe { BorrowedFd::borrow_raw(ds.wait_fd) };
            let mut buf = [0u8; 64];
            while let Ok(n) = rustix::io::read(fd, &mut buf) {
                ds.credits += n as u64;
                if n < buf.len() {
                    break;
                }
            }
            // A stalled stream blocks each read ~50 ms in the library's
            // retries, and every other writer's delivery wakes us: probe it
            // at most every PROBE_STALLED (the stopped writer may have resumed).
            if !ds.watch.stalled || now.duration_since(ds.watch.probed) >= PROBE_STALLED {
                if ds.watch.stalled {
                    ds.watch.probed = now;
                }
                chosen.push(token);
            }
        }
        // Errors are logged; the stream is retried on its next wake-up.
        let live = LiveDrain {
            held_back: &mut self.held_back,
            busy: &mut self.busy,
        };
        let _ = drain_streams(&self.ctl, &mut self.slots, &chosen, Some(live));
        for &(token, flags) in ready {
            let Some(Some(ds)) = self.slots.get_mut(token) else {
                continue;
            };
            if flags.intersects(epoll::EventFlags::HUP | epoll::EventFlags::ERR) && ds.polled {
                // Every writer is gone: nothing will wake us again. The
                // stream stays for the final flush.
                // SAFETY: see add_stream.
                let fd = unsafe { BorrowedFd::borrow_raw(ds.wait_fd) };
                let _ = epoll::delete(&self.epoll, fd);
                ds.polled = false;
            }
        }
    }

    fn push_metadata(&mut self, trace: u64, offset: u64, bytes: &[u8]) -> UstCtlResult<()> {
        let t = self
            .traces
            .get_mut(&trace)
            .ok_or(UstCtlError::UnknownTrace(trace))?;
        let have = t.cache.len() as u64;
        if offset > have {
            return Err(UstCtlError::MetadataGap { offset, have });
        }
        // Overlapping bytes are the same text (pushes may race); only what
        // lies beyond the cache is new.
        let skip = (have - offset) as usize;
        if skip < bytes.len() {
            t.cache.extend_from_slice(&bytes[skip..]);
        }
        t.pump_metadata(&self.ctl)
    }

    fn flush(&mut self, trace: Option<u64>) -> UstCtlResult<()> {
        if let Some(k) = trace {
            if !self.traces.contains_key(&k) {
                return Err(UstCtlError::UnknownTrace(k));
            }
        }
        let mut first_err = None;
        let mut flushed = Vec::new();
        for (token, ds) in self.slots.iter_mut().enumerate() {
            let Some(ds) = ds.as_mut().filter(|d| trace.map_or(true, |k| d.trace == k)) else {
                continue;
            };
            // SAFETY: the stream is live; producer_active = 0 delivers the
            // current sub-buffer even when empty (apps are stopped).
            let r = check("flush_buffer", unsafe {
                (self.ctl.api.flush_buffer)(ds.stream.as_ptr(), 0)
            });
            match r {
                Ok(_) => flushed.push(token),
                Err(e) => {
                    tracing::warn!(file = %ds.out.path().display(), error = %e, "flush failed");
                    first_err.get_or_insert(e);
                }
            }
        }
        // Every stream now ends with a delivered packet: drained.
        if let Some(e) = drain_streams(&self.ctl, &mut self.slots, &flushed, None) {
            first_err.get_or_insert(e);
        }
        for (_, t) in self
            .traces
            .iter_mut()
            .filter(|(k, _)| trace.map_or(true, |x| **k == x))
        {
            if let Err(e) = t.pump_metadata(&self.ctl) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    fn switch(&mut self, trace: u64) -> UstCtlResult<()> {
        let mut first_err = None;
        for ds in self.slots.iter_mut().flatten().filter(|d| d.trace == trace) {
            // Not a barrier: what finds no room waits in the ring.
            if let Err(e) = switch_stream(&self.ctl, ds, Take::room(&mut self.held_back)) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Live timer: each stream delivers what it holds; an idle one sends a
    /// beacon instead, so live viewers can move past it.
    /// See [`Consumer::sync_metadata_from`]; a no-op for local traces.
    fn sync_metadata(&mut self, trace: u64) {
        let Some(t) = self.traces.get(&trace) else {
            return;
        };
        let have = t.cache.len();
        let Some(tail) = t.source.as_ref().and_then(|r| r.text_since(have)) else {
            return;
        };
        if let Err(e) = self.push_metadata(trace, have as u64, &tail) {
            tracing::warn!(error = %e, "metadata sync before a packet failed");
        }
    }

    fn live_tick(&mut self) {
        let keys: Vec<u64> = self.traces.keys().copied().collect();
        for k in keys {
            self.sync_metadata(k);
        }
        let now = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
        let now = (now.tv_sec as u64) * 1_000_000_000 + now.tv_nsec as u64;
        for ds in self.slots.iter_mut().flatten().filter(|d| !d.watch.stalled) {
            if !ds.out.has_room() {
                // Packets wait in the ring: no beacon may claim the stream
                // idle up to now.
                self.held_back = true;
                continue;
            }
            let s = ds.stream.as_ptr();
            let held = Take::room(&mut self.held_back);
            // SAFETY: live stream; producer_active = 1 closes the current
            // sub-buffer only if it holds events (writers may be active).
            let r = check("flush_buffer", unsafe { (self.ctl.api.flush_buffer)(s, 1) })
                .and_then(|_| drain(&self.ctl, ds.stream, &mut ds.out, &mut ds.stats, held));
            match (r, ds.out.net()) {
                (Ok(0), Some(n)) => {
                    let mut class = 0u64;
                    // SAFETY: live stream; the stream id is the channel's,
                    // no sub-buffer needs to be held.
                    if check("get_stream_id", unsafe {
                        (self.ctl.api.get_stream_id)(s, &mut class)
                    })
                    .is_ok()
                    {
                        n.beacon(class, now);
                    }
                }
                (Err(e), _) => {
                    tracing::warn!(file = %ds.out.path().display(), error = %e, "live flush failed")
                }
                _ => {}
            }
        }
    }

    /// Marks streams stalled: the sub-buffer at the read position is
    /// closed (the write position is a whole sub-buffer ahead) yet nothing
    /// was read for [`STALL_AFTER`], not even on a read attempt. That is
    /// what a writer killed between reserve and commit leaves (its commit
    /// never completes the sub-buffer), but also a writer stopped there, so
    /// the trace decides what it means.
    fn watch(&mut self) {
        let now = Instant::now();
        for ds in self.slots.iter_mut().flatten() {
            let Ok((consumed, produced)) = positions(&self.ctl, ds.stream) else {
                continue;
            };
            let pending = produced.wrapping_sub(consumed) as i64 >= ds.subbuf as i64;
            // Held back by the relayd queue is not stalled.
            if !pending || consumed != ds.watch.consumed || ds.out.backpressured() {
                if ds.watch.stalled {
                    tracing::info!(file = %ds.out.path().display(), "stalled stream moves again");
                }
                ds.watch = Watch::new(consumed, now);
                continue;
            }
            if now.duration_since(ds.watch.probed) < STALL_AFTER {
                continue;
            }
            ds.watch.probed = now;
            // The wake-up may only be late: read what can be read.
            let held = Take::room(&mut self.held_back);
            if let Err(e) = drain(&self.ctl, ds.stream, &mut ds.out, &mut ds.stats, held) {
                tracing::warn!(file = %ds.out.path().display(), error = %e, "draining stream failed");
            }
            match positions(&self.ctl, ds.stream) {
                Ok((c, _)) if c != consumed => ds.watch = Watch::new(c, now),
                _ if !ds.watch.stalled => {
                    ds.watch.stalled = true;
                    tracing::warn!(
                        file = %ds.out.path().display(),
                        stuck_for = ?now.duration_since(ds.watch.since),
                        "stream stalled: its oldest sub-buffer never completes"
                    );
                }
                _ => {}
            }
        }
    }

    /// Teardown of a trace whose streams may be wedged: every whole
    /// sub-buffer between the read and write positions is read at its
    /// position (in-order reading stops at a wedged one); those that cannot
    /// be read are counted as lost.
    fn salvage(&mut self, trace: u64) {
        for ds in self.slots.iter_mut().flatten().filter(|d| d.trace == trace) {
            if let Err(e) = salvage_stream(&self.ctl, ds) {
                tracing::warn!(file = %ds.out.path().display(), error = %e, "salvaging stream failed");
            }
        }
    }

    fn loss(&self, trace: u64) -> TraceLoss {
        let mut out: TraceLoss = Vec::new();
        for ds in self.slots.iter().flatten().filter(|d| d.trace == trace) {
            let l = ChannelLoss {
                discarded_events: ds.stats.discarded,
                lost_packets: ds.stats.lost_packets + ds.out.net().map_or(0, |n| n.lost()),
                unreadable_subbufs: ds.stats.unreadable,
                stalled_streams: u64::from(ds.watch.stalled),
            };
            match out.iter_mut().find(|(n, _)| *n == ds.channel) {
                Some((_, sum)) => sum.add(&l),
                None => out.push((ds.channel.clone(), l)),
            }
        }
        out
    }

    fn snapshot(&mut self, trace: u64, dest: &Path, max_subbufs: u64) -> UstCtlResult<()> {
        let t = self
            .traces
            .get(&trace)
            .ok_or(UstCtlError::UnknownTrace(trace))?;
        create_dir(&dest.join("index"), self.owner)?;
        let md = dest.join("metadata");
        create_file(&md, self.owner)?
            .write_all(&t.cache)
            .map_err(UstCtlError::file(&md))?;
        for ch in &t.channels {
            for (cpu, s) in ch.buffers.streams.iter().enumerate() {
                let mut out = StreamFile::plain(dest, &format!("{}_{cpu}", ch.name), self.owner)?;
                snapshot_stream(&self.ctl, *s, &mut out, max_subbufs)?;
            }
        }
        Ok(())
    }

    fn snapshot_copy(&mut self, trace: u64, max_subbufs: u64) -> UstCtlResult<SnapshotCopy> {
        let t = self
            .traces
            .get(&trace)
            .ok_or(UstCtlError::UnknownTrace(trace))?;
        let mut copy = SnapshotCopy {
            metadata: t.cache.clone(),
            streams: Vec::new(),
        };
        for ch in &t.channels {
            for (cpu, s) in ch.buffers.streams.iter().enumerate() {
                let mut out = PacketCopy::default();
                snapshot_stream(&self.ctl, *s, &mut out, max_subbufs)?;
                copy.streams.push((format!("{}_{cpu}", ch.name), out));
            }
        }
        Ok(copy)
    }

    /// See [`Consumer::rotate`]. Data first (each packet lands in exactly
    /// one chunk: the one whose file is open when it is drained), then the
    /// metadata, complete in both chunks.
    fn rotate(&mut self, output: PathBuf, root: PathBuf) -> UstCtlResult<()> {
        let from = self.chunk.as_ref().map_or(&output, |(_, r)| r).clone();
        let moved = |dir: &Path| root.join(dir.strip_prefix(&from).unwrap_or(dir));
        let mut first_err = None;
        for ds in self.slots.iter_mut().flatten() {
            if let Err(e) = switch_stream(&self.ctl, ds, Take::All) {
                first_err.get_or_insert(e);
            }
        }
        for t in self.traces.values_mut() {
            let r = t.pump_metadata(&self.ctl).and_then(|_| {
                let Some(m) = t.live.as_mut() else {
                    return Ok(());
                };
                m.dir = moved(&m.dir);
                m.out = StreamOut::File(StreamFile::metadata(&m.dir, self.owner)?);
                m.written = 0;
                t.pump_metadata(&self.ctl)
            });
            if let Err(e) = r {
                first_err.get_or_insert(e);
            }
        }
        for ds in self.slots.iter_mut().flatten() {
            let Some(dir) = self.traces.get(&ds.trace).and_then(|t| t.live.as_ref()) else {
                continue;
            };
            // Network sessions are not rotated (refused by the command).
            let StreamOut::File(f) = &ds.out else {
                continue;
            };
            match f.moved_to(&dir.dir) {
                Ok(out) => ds.out = StreamOut::File(out),
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        self.chunk = Some((output, root));
        first_err.map_or(Ok(()), Err)
    }

    /// All in this thread, so no packet is drained between the last one of
    /// the old chunk and the rotation's barrier: with `clear`, every
    /// buffer is cleared (what follows is after the clear); else every
    /// stream switched and drained, and every metadata ring pumped.
    fn net_chunk(&mut self, clear: bool) -> UstCtlResult<Receiver<Result<String, String>>> {
        let Some(net) = self.net.clone() else {
            return Err(UstCtlError::Call {
                op: "net chunk rotation without a relayd",
                code: 0,
            });
        };
        let mut first_err = None;
        if clear {
            let keys: Vec<u64> = self.traces.keys().copied().collect();
            for k in keys {
                if let Err(e) = self.clear(k) {
                    first_err.get_or_insert(e);
                }
            }
        }
        // Every stream ends the old chunk with a packet, empty if need be
        // (as lttng-consumerd does): the relayd moves a stream to the next
        // chunk only once it holds the packet before the rotation point.
        for ds in self.slots.iter_mut().flatten() {
            // SAFETY: live stream, used only by this thread; producer_active
            // = 0 also closes an empty sub-buffer (a switch, safe with
            // concurrent writers).
            let r = check("flush_buffer", unsafe {
                (self.ctl.api.flush_buffer)(ds.stream.as_ptr(), 0)
            })
            .and_then(|_| drain(&self.ctl, ds.stream, &mut ds.out, &mut ds.stats, Take::All));
            if let Err(e) = r {
                first_err.get_or_insert(e);
            }
        }
        for t in self.traces.values_mut() {
            if let Err(e) = t.pump_metadata(&self.ctl) {
                first_err.get_or_insert(e);
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(net.rotate(clear)),
        }
    }

    /// See [`Consumer::reset_metadata`]. Every push is pumped through the
    /// ring at once, so nothing of the old text is left in it; a tail of
    /// the new text a sync took at the old length goes out before the
    /// reset, so it is discarded with the old text.
    fn reset_metadata(&mut self, trace: u64, version: u64) -> UstCtlResult<()> {
        let t = self
            .traces
            .get_mut(&trace)
            .ok_or(UstCtlError::UnknownTrace(trace))?;
        t.pump_metadata(&self.ctl)?;
        t.cache.clear();
        if let Some(m) = t.live.as_mut() {
            m.out.truncate()?;
            if let Some(n) = m.out.net() {
                n.reset_metadata(version);
            }
            m.written = 0;
        }
        Ok(())
    }

    fn clear(&mut self, trace: u64) -> UstCtlResult<()> {
        let t = self
            .traces
            .get(&trace)
            .ok_or(UstCtlError::UnknownTrace(trace))?;
        for s in t.channels.iter().flat_map(|c| c.buffers.streams.iter()) {
            // SAFETY: live stream, used only by this thread.
            check("clear_buffer", unsafe {
                (self.ctl.api.clear_buffer)(s.as_ptr())
            })?;
        }
        for ds in self.slots.iter_mut().flatten().filter(|d| d.trace == trace) {
            ds.out.truncate()?;
            // The packets discarded are not lost: no gap to count.
            ds.stats.last_seq = None;
        }
        Ok(())
    }

    /// Forgets a trace: its streams leave epoll, then its buffers are
    /// destroyed (streams before channels, by `Buffers::drop`). The files
    /// of the channels named in `discard` are deleted.
    fn drop_trace(&mut self, trace: u64, discard: &[String]) -> UstCtlResult<()> {
        let Some(t) = self.traces.remove(&trace) else {
            return Ok(());
        };
        let mut first_err = None;
        for ch in &t.channels {
            for &tok in &ch.tokens {
                if let Some(ds) = self.slots[tok].take() {
                    if ds.polled {
                        // SAFETY: see add_stream; the fd is still open.
                        let _ = epoll::delete(&self.epoll, unsafe {
                            BorrowedFd::borrow_raw(ds.wait_fd)
                        });
                    }
                    self.free.push(tok);
                    if discard.contains(&ch.name) {
                        if let Err(e) = ds.out.remove() {
                            first_err.get_or_insert(e);
                        }
                    }
                }
            }
        }
        drop(t);
        first_err.map_or(Ok(()), Err)
    }
}

impl Trace {
    /// Writes the not-yet-written part of the metadata cache into the
    /// metadata ring buffer one packet at a time, closing and draining each
    /// packet so the (2-sub-buffer) ring never fills.
    fn pump_metadata(&mut self, ctl: &UstCtl) -> UstCtlResult<()> {
        let Some(m) = self.live.as_mut() else {
            return Ok(());
        };
        let stream = m
            .buffers
            .buffers
            .streams
            .first()
            .copied()
            .ok_or(UstCtlError::Call {
                op: "create_stream",
                code: 0,
            })?;
        while m.written < self.cache.len() {
            let rest = &self.cache[m.written..];
            // SAFETY: the channel is live; `rest` is valid for `rest.len()`
            // bytes and is copied by the call.
            let n = unsafe {
                (ctl.api.write_one_packet_to_channel)(
                    m.buffers.buffers.chan(),
                    rest.as_ptr().cast(),
                    rest.len(),
                )
            };
            if n <= 0 {
                return Err(UstCtlError::Call {
                    op: "write_one_packet_to_channel",
                    code: n as i64,
                });
            }
            m.written += n as usize;
            // SAFETY: live stream; producer_active = 1 closes the packet
            // just written without adding an empty one.
            check("flush_buffer", unsafe {
                (ctl.api.flush_buffer)(stream.as_ptr(), 1)
            })?;
            drain(
                ctl,
                stream,
                &mut m.out,
                &mut StreamStats::default(),
                Take::All,
            )?;
        }
        Ok(())
    }
}

/// The stream's consumed and produced positions, sampled without the
/// commit checks of `snapshot` (which fail on a wedged sub-buffer).
// c_ulong is u32 on 32-bit targets.
#[allow(clippy::useless_conversion)]
fn positions(ctl: &UstCtl, stream: NonNull<RawStream>) -> UstCtlResult<(u64, u64)> {
    let s = stream.as_ptr();
    let (mut c, mut p): (libc::c_ulong, libc::c_ulong) = (0, 0);
    // SAFETY: live stream used only by this thread; out-pointers valid.
    unsafe {
        check(
            "snapshot_sample_positions",
            (ctl.api.snapshot_sample_positions)(s),
        )?;
        check(
            "snapshot_get_consumed",
            (ctl.api.snapshot_get_consumed)(s, &mut c),
        )?;
        check(
            "snapshot_get_produced",
            (ctl.api.snapshot_get_produced)(s, &mut p),
        )?;
    }
    Ok((u64::from(c), u64::from(p)))
}

/// Closes the stream's current sub-buffer if it holds data (safe with
/// live writers) and drains what is readable, unless the stream is stalled.
fn switch_stream(ctl: &UstCtl, ds: &mut DataStream, take: Take<'_>) -> UstCtlResult<usize> {
    // SAFETY: live stream; producer_active = 1 switches only a sub-buffer
    // holding data, concurrently with writers.
    check("flush_buffer", unsafe {
        (ctl.api.flush_buffer)(ds.stream.as_ptr(), 1)
    })?;
    if ds.watch.stalled {
        return Ok(0);
    }
    drain(ctl, ds.stream, &mut ds.out, &mut ds.stats, take)
}

/// See [`Worker::salvage`].
fn salvage_stream(ctl: &UstCtl, ds: &mut DataStream) -> UstCtlResult<()> {
    let (consumed, produced) = positions(ctl, ds.stream)?;
    let s = ds.stream.as_ptr();
    let mut pos = consumed;
    while ds.subbuf > 0 && produced.wrapping_sub(pos) as i64 >= ds.subbuf as i64 {
        let mut at = pos as libc::c_ulong;
        // SAFETY: live stream used only by this thread; `at` is a valid
        // in/out position.
        let rc = unsafe { (ctl.api.get_subbuf)(s, &mut at) };
        if rc == -libc::EAGAIN {
            ds.stats.unreadable += 1;
        } else {
            check("get_subbuf", rc)?;
            let written = copy_subbuf(ctl, s, &mut ds.out);
            // SAFETY: the sub-buffer taken by get_subbuf is held.
            let put = check("put_subbuf", unsafe { (ctl.api.put_subbuf)(s) });
            ds.stats.account(&written?.0);
            put?;
        }
        pos = pos.wrapping_add(ds.subbuf);
    }
    if ds.stats.unreadable > 0 {
        tracing::warn!(file = %ds.out.path().display(), unreadable = ds.stats.unreadable, "sub-buffers lost to a writer that died mid-event");
    }
    Ok(())
}

/// How much [`drain`] takes.
enum Take<'a> {
    /// Every readable packet, waiting for room in a full relayd queue (a
    /// flush: the writers are stopped or the caller needs everything).
    All,
    /// At most `max` packets, and none once the output has no room: then
    /// `held_back` is set and the rest waits in the ring (see
    /// [`Worker::held_back`]).
    Room { held_back: &'a mut bool, max: usize },
}

impl<'a> Take<'a> {
    /// What the output has room for, however many.
    fn room(held_back: &'a mut bool) -> Self {
        Take::Room {
            held_back,
            max: usize::MAX,
        }
    }
}

/// Reads the available sub-buffers of `stream` into `out`, as many as
/// `take` allows; returns how many.
fn drain(
    ctl: &UstCtl,
    stream: NonNull<RawStream>,
    out: &mut impl PacketSink,
    stats: &mut StreamStats,
    mut take: Take<'_>,
) -> UstCtlResult<usize> {
    let s = stream.as_ptr();
    let mut packets = 0;
    loop {
        if let Take::Room { held_back, max } = &mut take {
            if packets == *max {
                return Ok(packets);
            }
            if !out.has_room() {
                **held_back = true;
                return Ok(packets);
            }
        }
        // SAFETY: `s` is a live stream used only by this thread.
        let rc = unsafe { (ctl.api.get_next_subbuf)(s) };
        if rc == -libc::EAGAIN || rc == -libc::ENODATA {
            return Ok(packets);
        }
        check("get_next_subbuf", rc)?;
        let written = copy_subbuf(ctl, s, out).map(|(ix, n)| {
            stats.account(&ix);
            n
        });
        // SAFETY: a sub-buffer is held (get_next_subbuf succeeded).
        let put = check("put_next_subbuf", unsafe { (ctl.api.put_next_subbuf)(s) });
        let n = written?;
        put?;
        if let Some(size) = &stats.size {
            size.add(n as u64);
        }
        packets += 1;
    }
}

/// Drains the streams at `tokens` in turn. Returns the first error (each
/// is logged).
///
/// A `live` drain reads a stream only with credit: one packet per wake-up
/// byte, which a writer writes when the sub-buffer at the read position
/// is delivered. Without, the read may find a sub-buffer a writer moved
/// past with a commit still in flight, and the library then retries,
/// sleeping 10 ms at a time (1.6 s of a 10 s flood, measured). It takes
/// at most [`LIVE_BATCH`] packets of each stream and lists the streams it
/// left with credit in `busy`: a stream its writers keep full cannot hold
/// the thread, and the others, and requests, are served between its
/// batches. Without `live`, everything readable is taken (a flush).
fn drain_streams(
    ctl: &UstCtl,
    slots: &mut [Option<DataStream>],
    tokens: &[usize],
    mut live: Option<LiveDrain<'_>>,
) -> Option<UstCtlError> {
    let mut first_err = None;
    for &token in tokens {
        let Some(Some(ds)) = slots.get_mut(token) else {
            continue;
        };
        let max = LIVE_BATCH.min(ds.credits as usize);
        let take = match live.as_mut() {
            Some(_) if max == 0 => continue,
            Some(l) => Take::Room {
                held_back: &mut *l.held_back,
                max,
            },
            None => Take::All,
        };
        match drain(ctl, ds.stream, &mut ds.out, &mut ds.stats, take) {
            Ok(n) => {
                ds.credits = ds.credits.saturating_sub(n as u64);
                if let Some(l) = live.as_mut() {
                    if n == max && ds.credits > 0 {
                        l.busy.push(token);
                    } else if n < max && ds.out.has_room() {
                        // Read up to the writers: no credit is owed.
                        ds.credits = 0;
                    }
                }
            }
            Err(e) => {
                tracing::warn!(file = %ds.out.path().display(), error = %e, "draining stream failed");
                first_err.get_or_insert(e);
            }
        }
    }
    first_err
}

/// Packets per stream in one live drain (see [`drain_streams`]).
const LIVE_BATCH: usize = 8;

/// Where a live drain reports what it left (see [`drain_streams`]).
struct LiveDrain<'a> {
    held_back: &'a mut bool,
    busy: &'a mut Vec<usize>,
}

/// Copies every sub-buffer between the consumed and produced positions
/// without consuming them (only the latest `max_subbufs` when not 0).
/// Sub-buffers the writer overwrote meanwhile are skipped.
fn snapshot_stream(
    ctl: &UstCtl,
    stream: NonNull<RawStream>,
    out: &mut impl PacketSink,
    max_subbufs: u64,
) -> UstCtlResult<()> {
    let s = stream.as_ptr();
    let api = &ctl.api;
    let pos_of =
        |op: &'static str, f: unsafe extern "C" fn(*mut RawStream, *mut libc::c_ulong) -> i32| {
            let mut v: libc::c_ulong = 0;
            // SAFETY: live stream used only by this thread; `v` is a valid
            // out-pointer.
            check(op, unsafe { f(s, &mut v) }).map(|_| v)
        };
    // SAFETY: live stream used only by this thread. The flush closes the
    // current sub-buffer only if it holds events, so repeated snapshots add
    // no empty packets (and writers may be active).
    check("flush_buffer", unsafe { (api.flush_buffer)(s, 1) })?;
    // SAFETY: live stream used only by this thread.
    check("snapshot", unsafe { (api.snapshot)(s) })?;
    let mut pos = pos_of("snapshot_get_consumed", api.snapshot_get_consumed)?;
    let produced = pos_of("snapshot_get_produced", api.snapshot_get_produced)?;
    let step = pos_of("get_max_subbuf_size", api.get_max_subbuf_size)?;
    if step == 0 {
        return Err(UstCtlError::Call {
            op: "get_max_subbuf_size",
            code: 0,
        });
    }
    if max_subbufs > 0 {
        // The flush left `produced` on a sub-buffer boundary.
        let span = (max_subbufs as libc::c_ulong).saturating_mul(step);
        if produced.wrapping_sub(pos) > span {
            pos = produced.wrapping_sub(span);
        }
    }
    // Positions are free-running counters: compare by wrapping distance.
    while produced.wrapping_sub(pos) as libc::c_long > 0 {
        let mut at = pos;
        // SAFETY: as above; `at` is a valid in/out position.
        let rc = unsafe { (api.get_subbuf)(s, &mut at) };
        if rc != -libc::EAGAIN {
            check("get_subbuf", rc)?;
            let written = copy_subbuf(ctl, s, out).map(drop);
            // SAFETY: the sub-buffer taken by get_subbuf is held.
            let put = check("put_subbuf", unsafe { (api.put_subbuf)(s) });
            written?;
            put?;
        }
        pos = pos.wrapping_add(step);
    }
    Ok(())
}

/// Copies the held sub-buffer (padded to the page size, as lttng writes
/// local traces) and its index entry; returns the entry and the bytes written.
fn copy_subbuf(
    ctl: &UstCtl,
    s: *mut RawStream,
    out: &mut impl PacketSink,
) -> UstCtlResult<(PacketIndex, usize)> {
    let (index, bytes) = held_packet(ctl, s, out.has_index())?;
    out.write_packet(bytes, index)?;
    Ok((index, bytes.len()))
}

/// The held sub-buffer of `s` (padded to the page size) and its index entry
/// (default when `with_index` is false). The bytes stay valid until the
/// sub-buffer is put back.
fn held_packet<'a>(
    ctl: &UstCtl,
    s: *mut RawStream,
    with_index: bool,
) -> UstCtlResult<(PacketIndex, &'a [u8])> {
    let api = &ctl.api;
    let u64_of = |op: &'static str, f: unsafe extern "C" fn(*mut RawStream, *mut u64) -> i32| {
        let mut v = 0u64;
        // SAFETY: live stream with a held sub-buffer; `v` is a valid out-pointer.
        check(op, unsafe { f(s, &mut v) }).map(|_| v)
    };
    let ulong_of =
        |op: &'static str, f: unsafe extern "C" fn(*mut RawStream, *mut libc::c_ulong) -> i32| {
            let mut v: libc::c_ulong = 0;
            // SAFETY: as above.
            check(op, unsafe { f(s, &mut v) }).map(|_| v as usize)
        };
    let index = if with_index {
        PacketIndex {
            offset: 0,
            packet_size: u64_of("get_packet_size", api.get_packet_size)?,
            content_size: u64_of("get_content_size", api.get_content_size)?,
            timestamp_begin: u64_of("get_timestamp_begin", api.get_timestamp_begin)?,
            timestamp_end: u64_of("get_timestamp_end", api.get_timestamp_end)?,
            events_discarded: u64_of("get_events_discarded", api.get_events_discarded)?,
            stream_id: u64_of("get_stream_id", api.get_stream_id)?,
            stream_instance_id: u64_of("get_instance_id", api.get_instance_id)?,
            packet_seq_num: u64_of("get_sequence_number", api.get_sequence_number)?,
        }
    } else {
        PacketIndex::default()
    };
    let padded = ulong_of("get_padded_subbuf_size", api.get_padded_subbuf_size)?;
    let offset = ulong_of("get_mmap_read_offset", api.get_mmap_read_offset)?;
    // SAFETY: live stream.
    let base = unsafe { (api.get_mmap_base)(s) };
    if base.is_null() {
        return Err(UstCtlError::Call {
            op: "get_mmap_base",
            code: 0,
        });
    }
    // SAFETY: while the sub-buffer is held, [base + offset, + padded) lies
    // inside the stream's mapping and the writer does not touch it; the
    // backing memfd is sealed against shrinking, so reading cannot fault.
    let bytes = unsafe { std::slice::from_raw_parts(base.cast::<u8>().add(offset), padded) };
    Ok((index, bytes))
}
