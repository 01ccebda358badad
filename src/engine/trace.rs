//! A started session's trace: its buffer sets (one per UID and bitness, or
//! one per app in per-PID mode), each with its metadata registry and its
//! output directory, all drained by the session's consumer thread.
//!
//! # Who touches what
//!
//! * `sets` maps each set key to a slot. The map's mutex is held only to
//!   find, insert or remove a slot. A set is created under its own slot's
//!   mutex (memfds, mmap, files, a round trip to the consumer thread; never
//!   app I/O), so only apps needing that very set wait for it; a channel's
//!   buffers likewise under the set's `channels` mutex.
//! * Each set's [`MetadataRegistry`] has its own lock (see `core::metadata`), taken
//!   by notify tasks registering channels/events/enums.
//! * Metadata pushes follow the registry's push protocol: at most one push is
//!   in flight per registry; the consumer receives contiguous fragments. They
//!   run on blocking threads (after the notify reply, at most one queued per
//!   set: `core::push_gate`), at stop, and on the
//!   reaper when a per-PID app leaves; each set's `pushing` lock makes a
//!   closer wait for a push in flight instead of releasing the stream under
//!   it.
//! * `closing` orders set teardown: a per-PID app leaving and destroy each
//!   close only the sets they took out of `sets`, and destroy returns after
//!   any close under way has finished.
//! * Each per-UID set has a [`Handover`] (generations, see
//!   `core::handover` and ARCHITECTURE.md "Wedged per-UID buffers"):
//!   [`SessionTrace::recover_stalled`], run by the stall watcher, retires a
//!   generation whose stream stalled after a writer left; apps then get
//!   the next generation's buffers (new channel ids in the same registry,
//!   files `<channel>-<gen>_<cpu>`) at their next sync. Retired buffers are
//!   still drained, and salvaged at teardown.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use crate::core::app::{AppId, AppInfo};
use crate::core::buffer_sets::{self, BufferSets, SetsError};
use crate::core::fd_budget::{cost, FdBudget, FdPermit};
use crate::core::handover::{Handover, Retire};
use crate::core::metadata::{
    format_ctf_datetime, Abi, BufferingScheme, ByteOrder, ClockParams, Fragment, HeaderType,
    MetadataError, MetadataRegistry, MetadataSink, PushError, SessionParams, TracerVersion,
};
use crate::core::net_output::NetStats;
use crate::core::push_gate::PushGate;
use crate::core::rotation::Chunks;
use crate::core::session::{BufferScheme, ChannelConfig, SessionConfig};
use crate::engine::net_output::{rotation_answer, NetRelay, NetSession, SYNC_TIMEOUT};
use crate::engine::output::{create_output_as, FileOwner, FileSplit};
use crate::engine::{pid_trace_dir, uid_trace_dir, ChannelLoss, Consumer, TraceKey, TraceLoss};
use crate::io::host::{
    boot_id, hostname, local_datetime, measure_clock_offset, process_stopped, random_uuid,
    unix_and_offset,
};
use crate::sync::{lock, Mutex};
use crate::ustctl::{
    AppChannelObjects, BufferChannel, ChannelHandOut, ChannelSpec, MetadataChannel, UstCtl,
    UstCtlError,
};
use crate::wire::field::{EnumEntry, Field};
use crate::wire::notify::EventReg;

#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error(transparent)]
    UstCtl(#[from] UstCtlError),
    #[error("metadata: {0}")]
    Metadata(#[from] MetadataError),
    #[error("metadata push failed: {0}")]
    Push(String),
    #[error("lttng-relayd: {0}")]
    Relayd(#[from] crate::relayd::RelaydError),
    #[error("network output: {0}")]
    Net(String),
    #[error("this app has no buffers in the session")]
    NoBuffers,
    #[error("the session is being destroyed")]
    Closed,
    #[error(transparent)]
    TooLarge(#[from] crate::core::fd_budget::TooLarge),
    #[error("fd budget exhausted: {need} more fds needed, {used} of {limit} in use")]
    FdBudget {
        need: usize,
        used: usize,
        limit: usize,
    },
}

impl TraceError {
    /// The notify reply code for a registration refused because of this.
    pub fn ret_code(&self) -> i32 {
        match self {
            TraceError::Metadata(e) => e.ret_code(),
            _ => -libc::ENOENT,
        }
    }
}

/// Who shares a buffer set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum SetKey {
    Uid { uid: u32, bits: u32 },
    Pid { app: AppId },
}

/// One output directory: its metadata registry and channel buffers.
struct TraceSet {
    key: TraceKey,
    dir: PathBuf,
    /// Shared with the consumer of a network session (see
    /// `Consumer::sync_metadata_from`).
    registry: Arc<MetadataRegistry>,
    /// Channel buffers by registry channel key, created on first use.
    channels: Mutex<HashMap<u64, SetChannel>>,
    /// Apps currently using the set (per-UID: the last one leaving pushes).
    users: Mutex<HashSet<AppId>>,
    /// Pids of the set's live apps (a stopped one blocks a retirement).
    pids: Mutex<HashMap<AppId, i32>>,
    /// Buffer generations (only per-UID sets ever retire one).
    handover: Handover,
    /// Held across every metadata push of the set. The registry lets a
    /// closer return while another caller's fragment is still in flight;
    /// with this held, the closer sends the last fragments itself, so the
    /// consumer's stream is never released under a pending push.
    pushing: Mutex<()>,
    /// At most one push queued after registrations (see `core::push_gate`).
    push_gate: PushGate,
    /// The fds of its metadata buffers and file.
    _fds: FdPermit,
}

/// One channel's buffers in a set.
struct SetChannel {
    /// The session channel's name; stream files are `<file_name>_<cpu>`.
    name: String,
    file_name: String,
    gen: u32,
    hand_out: Arc<ChannelHandOut>,
    /// The fds its buffers hold.
    _fds: FdPermit,
}

/// Registry key of a session channel's buffers of one generation.
fn reg_key(gen: u32, chan_key: u32) -> u64 {
    (u64::from(gen) << 32) | u64::from(chan_key)
}

/// What a session channel lost, over every set and generation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Loss {
    #[serde(flatten)]
    pub buffers: ChannelLoss,
    /// Wedged buffer generations retired (apps moved to fresh buffers).
    pub recoveries: u64,
}

/// Loss by session channel name.
pub type LossReport = BTreeMap<String, Loss>;

pub struct SessionTrace {
    name: String,
    output: PathBuf,
    scheme: BufferScheme,
    /// Snapshot session: buffers are read only by `snapshot record`.
    snapshot: bool,
    created: SystemTime,
    ctl: Arc<UstCtl>,
    budget: Arc<FdBudget>,
    consumer: Consumer,
    _consumer_fds: FdPermit,
    /// The relayd worker of a network session (see `engine::net_output`).
    net: Option<NetRelay>,
    /// The sets, who creates and who closes them (`core::buffer_sets`: a
    /// set is created under its own slot's lock, so creating one never
    /// stalls other sets; closes are serialized; none outlives destroy).
    sets: BufferSets<SetKey, TraceSet>,
    /// Final figures of the sets already closed (per-PID apps that left).
    closed_loss: Mutex<LossReport>,
    /// The current trace chunk (see `engine::rotation`); locked only to
    /// read or change the state, never across the rotation's I/O.
    pub(crate) chunks: Mutex<Chunks>,
    /// Who the local files go to (a user's session in the root daemon).
    owner: Option<FileOwner>,
    /// The task rotating it on schedule (`command::schedule`).
    pub(crate) schedule: crate::engine::schedule::ScheduleRoom,
}

/// The consumer as the registry's push target.
struct ConsumerSink<'a> {
    consumer: &'a Consumer,
    key: TraceKey,
}

impl MetadataSink for ConsumerSink<'_> {
    type Error = UstCtlError;
    fn push(&mut self, f: &Fragment) -> Result<(), UstCtlError> {
        self.consumer.push_metadata(self.key, f.offset, &f.bytes)
    }
    fn close(&mut self) -> Result<(), UstCtlError> {
        // The metadata file is complete once the last fragment is written;
        // the stream itself goes with the set's buffers.
        Ok(())
    }
}

fn push_err<E: std::fmt::Display>(e: PushError<E>) -> TraceError {
    match e {
        // Keep registry errors typed: callers tell a closed registry apart.
        PushError::Registry(e) => TraceError::Metadata(e),
        PushError::Sink(e) => TraceError::Push(e.to_string()),
    }
}

impl SessionTrace {
    /// Fails with a message naming the package when liblttng-ust-ctl cannot
    /// be loaded; registration and listing do not need it.
    pub fn check_library() -> Result<(), TraceError> {
        UstCtl::load()?;
        Ok(())
    }

    pub fn new(
        session_id: u64,
        cfg: &SessionConfig,
        budget: Arc<FdBudget>,
    ) -> Result<Self, TraceError> {
        let ctl = UstCtl::load()?;
        let consumer_fds = budget
            .try_acquire(cost::CONSUMER)
            .ok_or_else(|| budget_err(&budget, cost::CONSUMER))?;
        let created = SystemTime::now();
        let net = match &cfg.net {
            Some(out) => Some(NetRelay::start(
                out,
                &NetSession {
                    name: &cfg.name,
                    hostname: &hostname(),
                    id: session_id,
                    created: unix_and_offset(created).0.max(0) as u64,
                    daemon_uuid: random_uuid(),
                },
            )?),
            None => None,
        };
        let consumer = Consumer::start_with(
            ctl.clone(),
            &format!("s{session_id}"),
            net.as_ref().map(NetRelay::sink),
            Self::file_owner(cfg),
        )?;
        Ok(Self {
            name: cfg.name.clone(),
            output: cfg.output.clone(),
            scheme: cfg.buffer_scheme(),
            snapshot: cfg.snapshot.is_some(),
            created,
            ctl,
            budget,
            consumer,
            _consumer_fds: consumer_fds,
            net,
            sets: BufferSets::default(),
            closed_loss: Mutex::new(BTreeMap::new()),
            chunks: Mutex::new(Chunks::new(unix_and_offset(SystemTime::now()))),
            owner: Self::file_owner(cfg),
            schedule: Default::default(),
        })
    }

    /// Whose files a session's trace are: another user's session in the
    /// root daemon is written as that user; otherwise the daemon's own ids.
    /// Who this trace's local files go to.
    pub(crate) fn owner(&self) -> Option<FileOwner> {
        self.owner
    }

    pub fn file_owner(cfg: &SessionConfig) -> Option<FileOwner> {
        let root = rustix::process::geteuid().is_root();
        (root && cfg.owner_uid != 0).then_some(FileOwner {
            uid: cfg.owner_uid,
            gid: cfg.owner_gid,
        })
    }

    /// Creates a user's session output directory as that user (lttng's
    /// check at `start`); nothing for the daemon's own sessions.
    pub fn create_output(cfg: &SessionConfig) -> Result<(), TraceError> {
        match Self::file_owner(cfg) {
            Some(owner) if cfg.snapshot.is_none() => Ok(create_output_as(&cfg.output, owner)?),
            _ => Ok(()),
        }
    }

    pub fn output_dir(&self) -> &Path {
        &self.output
    }

    /// The session's name and creation time (epoch s), as a relayd names
    /// the session's directory (`<name>-<date>-<time>`).
    pub(crate) fn relayd_name(&self) -> (&str, u64) {
        (&self.name, unix_and_offset(self.created).0.max(0) as u64)
    }

    fn set_key(&self, app: &AppInfo, id: AppId) -> SetKey {
        match self.scheme {
            BufferScheme::Uid => SetKey::Uid {
                uid: app.creds.uid,
                bits: app.bits_per_long,
            },
            BufferScheme::Pid => SetKey::Pid { app: id },
        }
    }

    fn existing_set(&self, app: &AppInfo, id: AppId) -> Result<Arc<TraceSet>, TraceError> {
        // Waits for a creation under way on that slot only.
        self.sets
            .existing(self.set_key(app, id))
            .ok_or(TraceError::NoBuffers)
    }

    /// Every set that exists now.
    fn all_sets(&self) -> Vec<(SetKey, Arc<TraceSet>)> {
        self.sets.all()
    }

    /// The fd budget every fd of the trace is paid from.
    pub fn fd_budget(&self) -> &Arc<FdBudget> {
        &self.budget
    }

    /// fds to reserve, all at once, before [`Self::channel_for_app`]: the
    /// app's hand-out, plus the set's and the channel's buffers when they
    /// do not exist yet. Waits for a creation under way on the app's set
    /// (call it where blocking is allowed), so that apps arriving meanwhile
    /// do not reserve the buffers again. An overestimate after a race is
    /// returned as soon as the hand-out is built.
    pub fn fds_for_channel(&self, app: &AppInfo, id: AppId, ch: &ChannelConfig, gen: u32) -> usize {
        let set = self.sets.existing(self.set_key(app, id));
        let has = |s: &TraceSet| lock(&s.channels).contains_key(&reg_key(gen, ch.key));
        self.channel_fds(set.as_deref().map(has))
    }

    /// [`Self::fds_for_channel`] without waiting (on an async worker):
    /// `None` while the app's set or its channels are being created.
    pub fn fds_for_channel_now(
        &self,
        app: &AppInfo,
        id: AppId,
        ch: &ChannelConfig,
        gen: u32,
    ) -> Option<usize> {
        let has = match self.sets.peek(self.set_key(app, id)).ok()? {
            Some(set) => Some(
                set.channels
                    .try_lock()
                    .ok()?
                    .contains_key(&reg_key(gen, ch.key)),
            ),
            None => None,
        };
        Some(self.channel_fds(has))
    }

    /// fds for one app's channel: `has_channel` is `None` without a set,
    /// else whether the set has the channel's buffers.
    fn channel_fds(&self, has_channel: Option<bool>) -> usize {
        let streams = self.ctl.nr_streams_per_channel() as usize;
        let hand_out = cost::hand_out(streams);
        match has_channel {
            None => hand_out + cost::SET + cost::channel(streams),
            Some(true) => hand_out,
            Some(false) => hand_out + cost::channel(streams),
        }
    }

    /// Takes the long-lived part of a creation out of the caller's
    /// reservation (or, if it reserved too little after a race, from the
    /// budget, without waiting).
    fn take_fds(&self, reserved: &mut FdPermit, n: usize) -> Result<FdPermit, TraceError> {
        reserved
            .split(n)
            .or_else(|| self.budget.try_acquire(n))
            .ok_or_else(|| budget_err(&self.budget, n))
    }

    /// The app's buffer set, created (with its registry, metadata stream
    /// and output directory) for the first app that needs it.
    fn set_for(
        &self,
        app: &AppInfo,
        id: AppId,
        reserved: &mut FdPermit,
    ) -> Result<Arc<TraceSet>, TraceError> {
        let key = self.set_key(app, id);
        let create = || self.create_set(app, id, key, reserved);
        self.sets
            .get_or_create(key, create, |s| Self::join(s, app, id))
            .map_err(|e| match e {
                SetsError::Closed => TraceError::Closed,
                SetsError::Create(e) => e,
            })
    }

    /// Records `app` as a user of `set`.
    fn join(set: &TraceSet, app: &AppInfo, id: AppId) {
        lock(&set.users).insert(id);
        lock(&set.pids).insert(id, app.creds.pid);
    }

    /// The app's set if it exists and nobody holds its slot: joined, as
    /// [`Self::set_for`] would, but without waiting.
    fn set_now(&self, app: &AppInfo, id: AppId) -> Option<Arc<TraceSet>> {
        self.sets
            .try_join(self.set_key(app, id), |s| Self::join(s, app, id))
    }

    /// A new set for `app` (the first of its key): registry, metadata
    /// stream, output directory.
    fn create_set(
        &self,
        app: &AppInfo,
        id: AppId,
        key: SetKey,
        reserved: &mut FdPermit,
    ) -> Result<TraceSet, TraceError> {
        let params = self.params(app, key);
        // At a relayd, paths are relative to the session's directory there.
        let base = match self.net {
            Some(_) => Path::new(""),
            None => self.output.as_path(),
        };
        let (dir, scheme_dir) = match key {
            SetKey::Uid { uid, bits } => (uid_trace_dir(base, uid, bits), "uid"),
            SetKey::Pid { .. } => (
                pid_trace_dir(
                    base,
                    &app.name,
                    app.creds.pid,
                    &local_datetime(app.registered_at),
                ),
                "pid",
            ),
        };
        let registry = Arc::new(MetadataRegistry::new(&params));
        let fds = self.take_fds(reserved, cost::SET)?;
        let trace_key = if self.snapshot {
            self.consumer.add_snapshot_trace()?
        } else {
            let metadata = MetadataChannel::create(&self.ctl, registry.uuid())?;
            let key = self.consumer.add_trace(&dir, metadata)?;
            if self.net.is_some() {
                self.consumer.sync_metadata_from(key, registry.clone())?;
            }
            key
        };
        tracing::info!(session = %self.name, dir = %dir.display(), scheme = scheme_dir, "buffer set created");
        Ok(TraceSet {
            key: trace_key,
            dir,
            registry,
            channels: Mutex::new(HashMap::new()),
            users: Mutex::new(HashSet::from([id])),
            pids: Mutex::new(HashMap::from([(id, app.creds.pid)])),
            handover: Handover::new(),
            pushing: Mutex::new(()),
            push_gate: PushGate::new(),
            _fds: fds,
        })
    }

    fn params(&self, app: &AppInfo, key: SetKey) -> SessionParams {
        let [u8a, u16a, u32a, u64a, longa] = app.alignments;
        let (created_secs, created_off) = unix_and_offset(self.created);
        let scheme = match key {
            SetKey::Uid { uid, .. } => BufferingScheme::PerUid { uid },
            SetKey::Pid { .. } => {
                let (secs, off) = unix_and_offset(app.registered_at);
                BufferingScheme::PerPid {
                    pid: app.claimed.vpid,
                    procname: app.name.clone(),
                    registration_datetime: format_ctf_datetime(secs, off),
                }
            }
        };
        SessionParams {
            uuid: random_uuid(),
            abi: Abi {
                bits_per_long: app.bits_per_long,
                uint8_align: u8a,
                uint16_align: u16a,
                uint32_align: u32a,
                uint64_align: u64a,
                long_align: longa,
                byte_order: ByteOrder::native(),
            },
            tracer: TracerVersion {
                major: app.tracer_version.0,
                minor: app.tracer_version.1,
                patchlevel: app.tracer_version.2,
            },
            scheme,
            trace_name: self.name.clone(),
            creation_datetime: format_ctf_datetime(created_secs, created_off),
            hostname: hostname(),
            clock: ClockParams::monotonic(boot_id(), measure_clock_offset()),
        }
    }

    /// Attaches the app to its buffer set (created for the first app, its
    /// fds taken out of `reserved`, see [`Self::fds_for_attach`]) and
    /// returns the generation whose buffers it must map: pass it to
    /// [`SessionTrace::channel_for_app`] for each of the app session's
    /// channels.
    pub fn attach(
        &self,
        app: &AppInfo,
        id: AppId,
        reserved: &mut FdPermit,
    ) -> Result<u32, TraceError> {
        Ok(self.set_for(app, id, reserved)?.handover.attach(id))
    }

    /// What [`Self::attach`] costs in fds: the set's, when it does not
    /// exist yet. Waits for a creation under way on the app's set.
    pub fn fds_for_attach(&self, app: &AppInfo, id: AppId) -> usize {
        match self.existing_set(app, id) {
            Ok(_) => 0,
            Err(_) => cost::SET,
        }
    }

    /// [`Self::fds_for_attach`] without waiting (on an async worker):
    /// `None` while the app's set is being created.
    pub fn fds_for_attach_now(&self, app: &AppInfo, id: AppId) -> Option<usize> {
        match self.sets.peek(self.set_key(app, id)).ok()? {
            Some(_) => Some(0),
            None => Some(cost::SET),
        }
    }

    /// [`Self::attach`] to a set that exists, without waiting (on an async
    /// worker): `None` when attaching would create the set or wait for it.
    pub fn attach_now(&self, app: &AppInfo, id: AppId) -> Option<u32> {
        self.set_now(app, id).map(|s| s.handover.attach(id))
    }

    /// The generation of buffers the app would get now (0 without a set).
    pub fn generation(&self, app: &AppInfo, id: AppId) -> u32 {
        self.existing_set(app, id)
            .map_or(0, |s| s.handover.current())
    }

    /// The channel and stream objects one app maps for `ch` in generation
    /// `gen`; the buffers are created (and handed to the consumer) for the
    /// first app. Their fds come out of `reserved` (see
    /// [`Self::fds_for_channel`]); what stays in it pays for the returned
    /// objects until they are dropped.
    pub fn channel_for_app(
        &self,
        app: &AppInfo,
        id: AppId,
        ch: &ChannelConfig,
        gen: u32,
        reserved: &mut FdPermit,
    ) -> Result<AppChannelObjects, TraceError> {
        let set = self.set_for(app, id, reserved)?;
        let key = reg_key(gen, ch.key);
        let mut chans = lock(&set.channels);
        if let Some(c) = chans.get(&key) {
            return Ok(c.hand_out.app_objects()?);
        }
        let streams = self.ctl.nr_streams_per_channel() as usize;
        // The build's transient fds stay in `reserved`.
        let fds = self.take_fds(reserved, cost::channel(streams) - cost::CHANNEL_BUILD)?;
        let chan_id = set.registry.add_channel(key)?;
        let a = &ch.attrs;
        let spec = ChannelSpec {
            subbuf_size: a.subbuf_size,
            num_subbuf: a.num_subbuf,
            overwrite: a.overwrite,
            switch_timer_us: a.switch_timer_us,
            read_timer_us: a.read_timer_us,
            blocking_timeout_us: 0,
            chan_id,
            uuid: set.registry.uuid(),
        };
        let buffers = BufferChannel::create(&self.ctl, &spec)?;
        let file_name = match gen {
            0 => ch.name.clone(),
            g => format!("{}-{g}", ch.name),
        };
        let hand_out = if self.snapshot {
            self.consumer
                .add_snapshot_channel(set.key, &file_name, buffers)?
        } else {
            let split = FileSplit {
                size: a.tracefile_size,
                count: a.tracefile_count,
            };
            self.consumer
                .add_split_channel(set.key, &file_name, buffers, split)?
        };
        let objs = hand_out.app_objects()?;
        chans.insert(
            key,
            SetChannel {
                name: ch.name.clone(),
                file_name,
                gen,
                hand_out,
                _fds: fds,
            },
        );
        Ok(objs)
    }

    /// [`Self::channel_for_app`] when the channel's buffers exist, without
    /// waiting (on an async worker): dups of the hand-out only, paid for by
    /// the caller's reservation of [`cost::hand_out`] fds, kept until the
    /// objects are dropped. `None` when the buffers must be created, or
    /// their set or channels are locked: call [`Self::channel_for_app`].
    pub fn channel_for_app_now(
        &self,
        app: &AppInfo,
        id: AppId,
        ch: &ChannelConfig,
        gen: u32,
    ) -> Option<Result<AppChannelObjects, TraceError>> {
        let set = self.set_now(app, id)?;
        let chans = set.channels.try_lock().ok()?;
        let c = chans.get(&reg_key(gen, ch.key))?;
        Some(c.hand_out.app_objects().map_err(TraceError::from))
    }

    pub fn register_channel(
        &self,
        app: &AppInfo,
        id: AppId,
        chan_key: u32,
        gen: u32,
        ctx: &[Field],
    ) -> Result<(u32, HeaderType), TraceError> {
        Ok(self
            .existing_set(app, id)?
            .registry
            .register_channel(reg_key(gen, chan_key), ctx)?)
    }

    pub fn register_event(
        &self,
        app: &AppInfo,
        id: AppId,
        chan_key: u32,
        gen: u32,
        ev: &EventReg,
    ) -> Result<u32, TraceError> {
        Ok(self
            .existing_set(app, id)?
            .registry
            .register_event(reg_key(gen, chan_key), ev)?)
    }

    pub fn register_enum(
        &self,
        app: &AppInfo,
        id: AppId,
        name: &str,
        entries: &[EnumEntry],
    ) -> Result<u64, TraceError> {
        Ok(self
            .existing_set(app, id)?
            .registry
            .register_enum(name, entries)?)
    }

    /// Pushes what the set's registry gained; a set already closed has
    /// nothing more to say.
    fn push(&self, set: &TraceSet) -> Result<(), TraceError> {
        let mut sink = ConsumerSink {
            consumer: &self.consumer,
            key: set.key,
        };
        buffer_sets::push(&set.registry, &set.pushing, &mut sink).map_err(push_err)
    }

    /// Final metadata push, close, and release of the set's consumer
    /// trace (the files stay). The caller owns the set: it took it out of
    /// `sets` while holding `closing`.
    fn close_owned_set(&self, set: &TraceSet) -> Result<(), TraceError> {
        let recoveries = u64::from(set.handover.current());
        let mut sink = ConsumerSink {
            consumer: &self.consumer,
            key: set.key,
        };
        let pushed = buffer_sets::final_push(&set.registry, &set.pushing, &mut sink)
            .map(drop)
            .map_err(push_err);
        // The registry is closed: no channel registers from here on. The
        // files of a channel no app registered have no stream class in the
        // metadata (babeltrace2 would refuse the whole trace) and hold
        // nothing but empty packets, so they go.
        let unregistered = set.registry.unregistered_channels();
        let discard: Vec<String> = lock(&set.channels)
            .iter()
            .filter(|(key, _)| unregistered.contains(key))
            .map(|(_, c)| c.file_name.clone())
            .collect();
        if !discard.is_empty() {
            tracing::info!(session = %self.name, dir = %set.dir.display(), channels = ?discard, "no app registered these channels: their files are not kept");
        }
        // Released even after a failed push: the set is gone either way.
        let removed = self
            .consumer
            .remove_trace(set.key, discard)
            .map_err(TraceError::from);
        let removed = removed.map(|loss| {
            let mut closed = lock(&self.closed_loss);
            self.add_set_loss(&mut closed, set, &loss, recoveries);
        });
        pushed.and(removed)
    }

    /// Adds a set's consumer figures (by file name) to `report` (by
    /// session channel name).
    fn add_set_loss(
        &self,
        report: &mut LossReport,
        set: &TraceSet,
        loss: &TraceLoss,
        recoveries: u64,
    ) {
        let chans = lock(&set.channels);
        let current = set.handover.current();
        let mut names: Vec<&str> = Vec::new();
        for (file, l) in loss {
            let Some(c) = chans.values().find(|c| c.file_name == *file) else {
                continue;
            };
            let e = report.entry(c.name.clone()).or_default();
            let mut l = *l;
            if c.gen != current {
                // Retired: recovered from, no longer stalling anyone.
                l.stalled_streams = 0;
            }
            e.buffers.add(&l);
            if !names.contains(&c.name.as_str()) {
                names.push(&c.name);
                e.recoveries += recoveries;
            }
        }
    }

    /// Loss figures so far, by session channel.
    pub fn loss(&self) -> LossReport {
        let mut report = lock(&self.closed_loss).clone();
        for (_, set) in self.all_sets() {
            match self.consumer.loss(set.key) {
                Ok(l) => {
                    self.add_set_loss(&mut report, &set, &l, u64::from(set.handover.current()))
                }
                Err(e) => {
                    tracing::warn!(dir = %set.dir.display(), error = %e, "loss figures unavailable")
                }
            }
        }
        report
    }

    /// One stall-watcher pass: retires every per-UID generation with a
    /// stalled stream when a writer of the set left since the last
    /// retirement and none of its live apps is stopped (see
    /// `core::handover`). Returns whether some app still maps retired
    /// buffers, i.e. needs a sync to move.
    pub fn recover_stalled(&self) -> bool {
        let mut lagging = false;
        for (key, set) in self.all_sets() {
            if !matches!(key, SetKey::Uid { .. }) {
                continue;
            }
            let loss = match self.consumer.loss(set.key) {
                Ok(l) => l,
                Err(_) => continue,
            };
            let stalled: Vec<u32> = {
                let chans = lock(&set.channels);
                let mut g: Vec<u32> = loss
                    .iter()
                    .filter(|(_, l)| l.stalled_streams > 0)
                    .filter_map(|(f, _)| chans.values().find(|c| c.file_name == *f).map(|c| c.gen))
                    .collect();
                g.sort_unstable();
                g.dedup();
                g
            };
            for gen in stalled {
                let any_stopped = lock(&set.pids).values().any(|&pid| process_stopped(pid));
                match set.handover.retire(gen, any_stopped) {
                    Retire::Retired(next) => tracing::warn!(
                        session = %self.name, dir = %set.dir.display(), retired = gen, next,
                        "buffers wedged by a writer that died mid-event: moving the apps to fresh buffers"
                    ),
                    Retire::Inconclusive => tracing::info!(
                        session = %self.name, dir = %set.dir.display(),
                        "stalled stream with a stopped app: not retiring the buffers"
                    ),
                    Retire::Stale | Retire::NoDeadWriter => {}
                }
            }
            lagging |= !set.handover.lagging().is_empty();
        }
        lagging
    }

    /// After a registration in `app`'s set: whether the caller must
    /// schedule [`Self::push_for`]. Not when the consumer has every byte
    /// of the metadata already (the registration appended nothing: every
    /// app of a UID after the first registers known channels and events,
    /// and one push per app cost two thread hops each), when a push
    /// already queued carries the append, or when the set is gone (its
    /// closer pushed). Text not yet acknowledged is either in a push under
    /// way, whose commit hands the pusher what was appended meanwhile, or
    /// gets this push.
    pub fn request_push(&self, app: &AppInfo, id: AppId) -> bool {
        self.existing_set(app, id).is_ok_and(|set| {
            let (len, sent) = set.registry.lengths();
            len > sent && set.push_gate.request()
        })
    }

    /// The push [`Self::request_push`] asked for: everything appended so far.
    pub fn push_for(&self, app: &AppInfo, id: AppId) -> Result<(), TraceError> {
        match self.existing_set(app, id) {
            Ok(set) => {
                set.push_gate.begin();
                self.push(&set)
            }
            // The set was closed meanwhile (its per-PID app left): whoever
            // closed it made the final push.
            Err(TraceError::NoBuffers) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// What `snapshot record` reads, after pushing every set's metadata
    /// (so each record describes all it holds): each set's consumer trace,
    /// its directory relative to the session output, and the session
    /// channels (by name) it has buffers of.
    pub(crate) fn snapshot_sets(&self) -> Result<Vec<SnapshotSet>, TraceError> {
        let mut out = Vec::new();
        for (_, set) in self.all_sets() {
            self.push(&set)?;
            let rel = set
                .dir
                .strip_prefix(&self.output)
                .unwrap_or(&set.dir)
                .to_owned();
            let channels = lock(&set.channels)
                .values()
                .map(|c| c.name.clone())
                .collect();
            out.push(SnapshotSet {
                key: set.key,
                rel_dir: rel,
                channels,
            });
        }
        Ok(out)
    }

    /// Pushes what every set's registry gained.
    pub(crate) fn push_all(&self) -> Result<(), TraceError> {
        for (_, set) in self.all_sets() {
            self.push(&set)?;
        }
        Ok(())
    }

    pub(crate) fn consumer(&self) -> &Consumer {
        &self.consumer
    }

    /// Streams per channel buffers (one per possible CPU).
    pub(crate) fn streams_per_channel(&self) -> u64 {
        u64::from(self.ctl.nr_streams_per_channel())
    }

    /// `regenerate metadata`: every set's metadata is written again whole
    /// (clock offset measured again) into its emptied metadata file. Each
    /// set under its `pushing` lock, so no push of it is in flight and none
    /// starts before the new text is sent; registrations meanwhile only
    /// append to the new text.
    pub fn regenerate_metadata(&self) -> Result<(), TraceError> {
        for (_, set) in self.all_sets() {
            let _pushing = lock(&set.pushing);
            let clock = ClockParams::monotonic(boot_id(), measure_clock_offset());
            let version = match set.registry.regenerate(clock) {
                Ok(v) => v,
                // A set being closed keeps the text it has.
                Err(MetadataError::Closed) => continue,
                Err(e) => return Err(e.into()),
            };
            self.consumer.reset_metadata(set.key, version)?;
            let mut sink = ConsumerSink {
                consumer: &self.consumer,
                key: set.key,
            };
            set.registry.push_all(&mut sink).map_err(push_err)?;
        }
        // A relayd that refused the reset or lost the text fails the command.
        self.sync_net()
    }

    /// Waits until the relayd, if any, holds everything sent so far.
    fn sync_net(&self) -> Result<(), TraceError> {
        match &self.net {
            Some(n) => n.sync(SYNC_TIMEOUT).map_err(TraceError::Net),
            None => Ok(()),
        }
    }

    /// `lttng clear`: every set's buffers and files are emptied; the sets,
    /// their metadata and the apps' mappings stay, so recording goes on.
    pub fn clear(&self) -> Result<(), TraceError> {
        if self.net.is_some() {
            // At the relayd, as lttng: the chunk so far is deleted and the
            // streams go on in a new one (see `engine::net_output`).
            let answer = self.consumer.net_chunk(true)?;
            return rotation_answer(&answer)
                .map(|_| ())
                .map_err(TraceError::Net);
        }
        for (_, set) in self.all_sets() {
            self.consumer.clear_trace(set.key)?;
        }
        Ok(())
    }

    /// Stop: flush every stream and write everything out, metadata last so
    /// that it describes every event in the data files.
    pub fn stop(&self) -> Result<(), TraceError> {
        lock(&self.chunks).stopped();
        self.consumer.flush_and_drain()?;
        for (_, set) in self.all_sets() {
            self.push(&set)?;
        }
        self.sync_net()
    }

    /// The relayd worker of a network session.
    pub(crate) fn net(&self) -> Option<&NetRelay> {
        self.net.as_ref()
    }

    /// What the network output sent and lost, for a network session.
    pub fn net_stats(&self) -> Option<NetStats> {
        self.net.as_ref().map(NetRelay::stats)
    }

    /// The session's directory at the relayd, for a network session.
    pub fn net_path(&self) -> Option<&str> {
        self.net.as_ref().map(NetRelay::output_path)
    }

    /// An app left. Per-PID: final push, close its registry (exactly once)
    /// and release its buffers, keeping the files. Per-UID: push what it
    /// registered; the set stays for the UID's other and future apps.
    pub fn app_left(&self, id: AppId) {
        for (key, set) in self.all_sets() {
            set.handover.detach(id);
            lock(&set.pids).remove(&id);
            if !lock(&set.users).remove(&id) {
                continue;
            }
            let r = match key {
                SetKey::Pid { .. } => self.close_set(key),
                // The app may have died between reserve and commit:
                // closing the current sub-buffers makes such a hole a
                // stall now, before the UID's next writer lands behind it.
                SetKey::Uid { .. } => self
                    .consumer
                    .switch_trace(set.key)
                    .map_err(TraceError::from)
                    .and_then(|_| self.push(&set)),
            };
            if let Err(e) = r {
                tracing::warn!(session = %self.name, dir = %set.dir.display(), error = %e, "metadata push after app exit failed");
            }
        }
    }

    /// Closes a per-PID set whose app left, unless destroy took it first.
    fn close_set(&self, key: SetKey) -> Result<(), TraceError> {
        let close = |set: Arc<TraceSet>| {
            // Data first, so the final metadata push describes all of it.
            let flushed = self.consumer.flush_trace(set.key).map_err(TraceError::from);
            let closed = self.close_owned_set(&set);
            flushed.and(closed)
        };
        self.sets.close_one(key, close).unwrap_or(Ok(()))
    }

    /// Destroy: flush and drain everything, then final push, close and
    /// release of every set. Waits for a per-PID close already under way.
    /// Returns what every channel lost.
    pub fn destroy(&self) -> Result<LossReport, TraceError> {
        let mut first_err = None;
        self.sets.close_all(
            || self.consumer.flush_and_drain().map_err(TraceError::from),
            |set| {
                if let Err(e) = self.close_owned_set(&set) {
                    first_err.get_or_insert(e);
                }
            },
        )?;
        if let Some(n) = &self.net {
            // A lost relayd is reported by the loss figures, not as a
            // failure to destroy.
            if let Err(e) = n.close() {
                tracing::warn!(session = %self.name, error = %e, "closing the relayd session");
            }
        }
        first_err.map_or_else(|| Ok(lock(&self.closed_loss).clone()), Err)
    }
}

/// One buffer set as `snapshot record` sees it.
pub(crate) struct SnapshotSet {
    pub key: TraceKey,
    /// `ust/uid/<uid>/<bits>-bit` or `ust/pid/<proc>-<pid>-<date>`.
    pub rel_dir: PathBuf,
    /// Session channel names, once per generation of buffers.
    pub channels: Vec<String>,
}

fn budget_err(budget: &FdBudget, need: usize) -> TraceError {
    TraceError::FdBudget {
        need,
        used: budget.used(),
        limit: budget.limit(),
    }
}
