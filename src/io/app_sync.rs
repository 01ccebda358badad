//! Per-app shadow copies of the sessions, and bringing an app in line with
//! the configuration (the seed's `ust_app_session` / `shadow_copy_*`).
//!
//! # Who touches what
//!
//! * [`AppShadow`] (handles of the app's session, channel and event objects)
//!   is owned by the app's command actor; nobody else reads or writes it.
//! * `io::app_conn::ObjTable` maps the app's session/channel handles back to ustd's
//!   session and channel. The actor inserts entries *before* the command that
//!   can make the app send notify requests about them (ENABLE of a session);
//!   the notify task only reads it. Guarded by a per-app mutex held for a map
//!   access, never across I/O.
//!
//! Syncing is idempotent: it compares the configuration with the shadow and
//! sends only what is missing, so a resync after a race is harmless.

use std::borrow::Cow;
use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::Arc;

use crate::command::reply::{TracepointField, TracepointInfo};
use crate::core::app::{AppId, AppInfo};
use crate::core::fd_budget::FdPermit;
use crate::core::session::{ChannelConfig, EventKey, SessionConfig};
use crate::engine::trace::{SessionTrace, TraceError};
use crate::io::app_conn::{AppConn, AppRef, ObjRef};
use crate::io::fdpass::Msg;
use crate::io::state::Daemon;
use crate::io::stream::{
    exchange, exchange_all, exchange_any, first_refusal, read_replies, refusal, send_many,
    AppIoError, Deadline,
};
use crate::wire::cmd::{op, ust_err, CmdMsg, Reply, ROOT_HANDLE};
use crate::wire::list::{FieldIterEntry, FIELD_ITER_LEN};

/// STREAM commands written before their replies are read, at most: each
/// carries two fds, in flight (charged to the daemon's user by the kernel)
/// until the app takes them.
const STREAMS_PER_WRITE: usize = 16;

/// Engine calls that may wait for a buffer set's creation, at most this
/// many at a time.
const ENGINE_CALLS: usize = 4;

/// Runs an engine call that may block (only when its `_now` form, run
/// inline first, cannot answer without waiting) (creating a set's buffers waits on
/// the consumer thread: memfds, mmap, files; the others wait on that set's
/// slot meanwhile) on tokio's blocking pool, at most [`ENGINE_CALLS`] at a
/// time: further callers wait as parked tasks, not threads. Unbounded (or
/// with `block_in_place`, which hands the worker's duties to a fresh thread
/// per call), a fan-out over thousands of apps waiting for one set grew the
/// daemon to hundreds of threads. The permit moves into the call, so a
/// caller cancelled by its deadline still counts until the call returns.
async fn engine_call<R: Send + 'static>(
    trace: &Arc<SessionTrace>,
    app: &AppRef,
    f: impl FnOnce(&SessionTrace, &AppInfo, AppId) -> R + Send + 'static,
) -> Result<R, SyncError> {
    static CALLS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(ENGINE_CALLS);
    // Never closed: an error cannot happen, and would only lift the bound.
    let permit = CALLS.acquire().await.ok();
    let (trace, app) = (trace.clone(), app.clone());
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        f(&trace, &app.info, app.id)
    })
    .await
    .map_err(|e| SyncError::EngineCall(e.to_string()))
}

struct ChannelShadow {
    handle: u32,
    enabled: bool,
    events: HashMap<EventKey, (u32, bool)>,
}

struct SessionShadow {
    handle: u32,
    started: bool,
    /// Generation of the buffers its channels map, once it has some.
    gen: Option<u32>,
    channels: HashMap<u32, ChannelShadow>,
}

/// An ENABLE or DISABLE of an event (or of the channel, without `event`),
/// held for the end of a sync.
struct Toggle<'c> {
    msg: CmdMsg,
    chan: u32,
    event: Option<&'c EventKey>,
    on: bool,
}

/// The actor's private copy of what the app has been told.
#[derive(Default)]
pub struct AppShadow {
    /// A B-tree: 24 bytes and no allocation while empty, in the idle actor
    /// of every app (a `HashMap` is 48).
    sessions: BTreeMap<u64, SessionShadow>,
}

/// Everything a sync needs to talk to one app.
pub struct AppLink<'a> {
    pub app: &'a AppRef,
    pub conn: &'a AppConn,
    pub deadline: Deadline,
}

impl AppLink<'_> {
    async fn call(&self, msg: &CmdMsg) -> Result<u32, AppIoError> {
        Ok(exchange(&self.conn.cmd, self.deadline, msg).await?.ret_val)
    }

    /// Commands written together, their replies unchecked (see
    /// [`exchange_all`]).
    async fn batch(&self, cmds: &[(&CmdMsg, &[u8])]) -> Result<Vec<Reply>, AppIoError> {
        if cmds.is_empty() {
            return Ok(Vec::new());
        }
        exchange_all(&self.conn.cmd, self.deadline, cmds).await
    }

    /// `msgs`, then WAIT_QUIESCENT (so what they changed is seen by every
    /// tracing thread before the caller goes on), written together: one
    /// round trip for all. The first refusal is reported once every reply
    /// is in.
    async fn call_then_quiesce(&self, msgs: &[CmdMsg]) -> Result<(), AppIoError> {
        let quiesce = CmdMsg::simple(ROOT_HANDLE, op::WAIT_QUIESCENT);
        let all: Vec<(&CmdMsg, &[u8])> = msgs
            .iter()
            .chain([&quiesce])
            .map(|m| (m, &[][..]))
            .collect();
        let replies = self.batch(&all).await?;
        first_refusal(&all, &replies).map_or(Ok(()), Err)
    }

    fn map_obj(&self, handle: u32, obj: ObjRef) {
        crate::sync::lock(&self.conn.objects).insert(handle, obj);
    }

    fn unmap_session(&self, session_id: u64) {
        crate::sync::lock(&self.conn.objects).forget_session(session_id);
    }

    /// `need` fds from the budget, waited for within the app's deadline.
    async fn reserve_fds(&self, trace: &SessionTrace, need: usize) -> Result<FdPermit, SyncError> {
        self.deadline
            .run(async { Ok(trace.fd_budget().acquire(need).await) })
            .await
            .map_err(|_| SyncError::FdBudget { need })?
            .map_err(|e| SyncError::Trace(TraceError::from(e)))
    }

    /// Attaches the app to its buffer set, paying first for the set's fds
    /// when this app creates it. Inline when the set exists (bookkeeping
    /// only); on the blocking pool when it must be created or waited for.
    async fn attach(&self, trace: &Arc<SessionTrace>) -> Result<u32, SyncError> {
        let (info, id) = (&self.app.info, self.app.id);
        let need = match trace.fds_for_attach_now(info, id) {
            Some(n) => n,
            None => engine_call(trace, self.app, |t, info, id| t.fds_for_attach(info, id)).await?,
        };
        let mut reserved = self.reserve_fds(trace, need).await?;
        if let Some(gen) = trace.attach_now(info, id) {
            return Ok(gen);
        }
        engine_call(trace, self.app, move |t, info, id| {
            t.attach(info, id, &mut reserved)
        })
        .await?
        .map_err(SyncError::Trace)
    }

    /// EVENT for every enabled rule the app lacks, then FILTER and
    /// EXCLUSION for those made (each step's commands written together;
    /// the ENABLE, last as in lttng-sessiond, comes with the sync's
    /// toggles). Returns the events made whole. One with a refused step
    /// stays disabled in the app and unrecorded (a later sync makes a new
    /// one); the first refusal lands in `refused`.
    async fn create_events<'c>(
        &self,
        cs: &ChannelShadow,
        ch: &'c ChannelConfig,
        refused: &mut Option<AppIoError>,
    ) -> Result<Vec<(&'c EventKey, u32)>, AppIoError> {
        let new: Vec<&EventKey> = ch
            .events
            .iter()
            .filter(|r| r.enabled && !cs.events.contains_key(&r.key))
            .map(|r| &r.key)
            .collect();
        let msgs: Vec<CmdMsg> = new
            .iter()
            .map(|k| CmdMsg::event(cs.handle, &k.pattern, k.loglevel.kind, k.loglevel.level))
            .collect();
        let cmds: Vec<(&CmdMsg, &[u8])> = msgs.iter().map(|m| (m, &[][..])).collect();
        let replies = self.batch(&cmds).await?;
        let mut made = Vec::with_capacity(new.len());
        for ((k, m), r) in new.into_iter().zip(&msgs).zip(&replies) {
            match refusal(m, r) {
                Some(e) => {
                    refused.get_or_insert(e);
                }
                None => made.push((k, r.ret_val)),
            }
        }
        let mut follow: Vec<(usize, CmdMsg, Cow<'_, [u8]>)> = Vec::new();
        for (i, (k, ev)) in made.iter().enumerate() {
            if let Some(f) = &k.filter {
                let len = f.bytecode().len() as u32;
                let msg = CmdMsg::filter(*ev, len, f.reloc_offset(), 0);
                follow.push((i, msg, Cow::Borrowed(f.bytecode())));
            }
            if !k.exclusions.is_empty() {
                let msg = CmdMsg::exclusion(*ev, k.exclusions.len() as u32);
                let names = CmdMsg::exclusion_names(&k.exclusions);
                follow.push((i, msg, Cow::Owned(names)));
            }
        }
        let cmds: Vec<(&CmdMsg, &[u8])> = follow.iter().map(|(_, m, p)| (m, &p[..])).collect();
        let replies = self.batch(&cmds).await?;
        let mut whole = vec![true; made.len()];
        for ((i, m, _), r) in follow.iter().zip(&replies) {
            if let Some(e) = refusal(m, r) {
                whole[*i] = false;
                refused.get_or_insert(e);
            }
        }
        Ok(made
            .into_iter()
            .zip(whole)
            .filter_map(|(m, w)| w.then_some(m))
            .collect())
    }

    /// CHANNEL (blob + wakeup fd), then one STREAM (shm + wakeup fds) per CPU.
    async fn create_channel(
        &self,
        trace: &Arc<SessionTrace>,
        session_handle: u32,
        ch: &ChannelConfig,
        gen: u32,
    ) -> Result<u32, SyncError> {
        // Every fd this takes is paid for first, all at once: holding part
        // of it while waiting for the rest could deadlock a fan-out. Until
        // it is dropped (after the objects, declared later), `reserved`
        // pays for our copies of the fds sent to the app. Once the buffers
        // exist (every app but the first), both engine calls run inline:
        // no hop to a blocking thread and back.
        let (info, id) = (&self.app.info, self.app.id);
        let need = match trace.fds_for_channel_now(info, id, ch, gen) {
            Some(n) => n,
            None => {
                let c = ch.clone();
                engine_call(trace, self.app, move |t, info, id| {
                    t.fds_for_channel(info, id, &c, gen)
                })
                .await?
            }
        };
        let mut reserved = self.reserve_fds(trace, need).await?;
        let (objs, _reserved) = match trace.channel_for_app_now(info, id, ch, gen) {
            Some(objs) => (objs, reserved),
            None => {
                let c = ch.clone();
                engine_call(trace, self.app, move |t, info, id| {
                    let objs = t.channel_for_app(info, id, &c, gen, &mut reserved);
                    (objs, reserved)
                })
                .await?
            }
        };
        let objs = objs.map_err(SyncError::Trace)?;
        let s = &self.conn.cmd;
        let msg = CmdMsg::channel(session_handle, objs.blob.len() as u64, false);
        let wakeup = [objs.wakeup.as_fd()];
        let out = [
            Msg::Bytes(&msg.bytes),
            Msg::Bytes(&objs.blob),
            Msg::Fds(&wakeup),
        ];
        self.deadline.run(send_many(s, &out)).await?;
        let handle = read_reply(self, &msg).await?;
        // The STREAMs need only the channel's handle: up to
        // STREAMS_PER_WRITE of them go out before their replies are read.
        for chunk in objs.streams.chunks(STREAMS_PER_WRITE) {
            let msgs: Vec<CmdMsg> = chunk
                .iter()
                .map(|st| CmdMsg::stream(handle, st.shm_len, st.cpu))
                .collect();
            let fds: Vec<[BorrowedFd<'_>; 2]> = chunk
                .iter()
                .map(|st| [st.shm.as_fd(), st.wakeup.as_fd()])
                .collect();
            let out: Vec<Msg<'_>> = msgs
                .iter()
                .zip(&fds)
                .flat_map(|(m, f)| [Msg::Bytes(&m.bytes), Msg::Fds(f)])
                .collect();
            // One syscall for the chunk: the app, woken by its first
            // command, finds the others there when it has answered it.
            self.deadline.run(send_many(s, &out)).await?;
            let cmds: Vec<(&CmdMsg, &[u8])> = msgs.iter().map(|m| (m, &[][..])).collect();
            let refs: Vec<&CmdMsg> = msgs.iter().collect();
            let replies = read_replies(s, self.deadline, &refs).await?;
            if let Some(e) = first_refusal(&cmds, &replies) {
                return Err(e.into());
            }
        }
        // Our duplicates of the fds close here; the app keeps its own.
        Ok(handle)
    }
}

/// The reply to `msg`, already written; a refusal is an error.
async fn read_reply(link: &AppLink<'_>, msg: &CmdMsg) -> Result<u32, AppIoError> {
    let reply = read_replies(&link.conn.cmd, link.deadline, &[msg]).await?;
    refusal(msg, &reply[0]).map_or(Ok(reply[0].ret_val), Err)
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    App(#[from] AppIoError),
    #[error("buffers: {0}")]
    Trace(crate::engine::trace::TraceError),
    #[error("buffers: no fd budget for {need} fds within the app's deadline")]
    FdBudget { need: usize },
    #[error("buffers: engine call failed: {0}")]
    EngineCall(String),
}

impl SyncError {
    /// Whether the app's connection is unusable afterwards.
    pub fn is_fatal(&self) -> bool {
        matches!(self, SyncError::App(e) if !matches!(e, AppIoError::Refused { .. }))
    }

    /// Whether the app is gone (see [`AppIoError::is_gone`]).
    pub fn is_gone(&self) -> bool {
        matches!(self, SyncError::App(e) if e.is_gone())
    }
}

impl AppShadow {
    /// Brings the app in line with one session's configuration. Sessions
    /// never started are not pushed (apps get them at `start`, like lttng).
    pub async fn sync(
        &mut self,
        link: &AppLink<'_>,
        session_id: u64,
        cfg: &SessionConfig,
        trace: &Arc<SessionTrace>,
    ) -> Result<(), SyncError> {
        if !cfg.ever_started && !self.sessions.contains_key(&session_id) {
            return Ok(());
        }
        let (info, id) = (&link.app.info, link.app.id);
        let c = &info.claimed;
        if !cfg.trackers.tracks(c.vpid, c.vuid, c.vgid) {
            // Not tracked: as lttng-sessiond (`ust_app_global_destroy`), the
            // app loses its session and leaves the buffers (per-PID ones are
            // flushed and closed, their files kept). Tracked again later, it
            // gets a new app-side session.
            if self.sessions.contains_key(&session_id) {
                self.forget(link, session_id).await?;
                tokio::task::block_in_place(|| trace.app_left(id));
            }
            return Ok(());
        }
        // Its buffers were retired (wedged by a dead writer of its UID):
        // lttng-ust takes no new channel in a session that ran, so the app
        // gets a new app-side session on the current generation's buffers
        // (see core::handover).
        let mut moved_to = None;
        if let Some(gen) = self.sessions.get(&session_id).and_then(|ss| ss.gen) {
            let current = trace.generation(info, id);
            if gen != current {
                moved_to = Some(current);
                tracing::info!(
                    app = id.0,
                    pid = info.creds.pid,
                    from = gen,
                    to = current,
                    "moving the app off retired buffers"
                );
                self.forget(link, session_id).await?;
            }
        }
        let ss = match self.sessions.entry(session_id) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(v) => {
                let handle = link.call(&CmdMsg::simple(ROOT_HANDLE, op::SESSION)).await?;
                link.map_obj(handle, ObjRef::Session { session_id });
                v.insert(SessionShadow {
                    handle,
                    started: false,
                    gen: None,
                    channels: HashMap::new(),
                })
            }
        };
        // ENABLE and DISABLE of events and channels wait until the end and
        // go out together, with the session's own ENABLE or DISABLE if it
        // changes: lttng-ust applies them in order.
        let mut toggles: Vec<Toggle<'_>> = Vec::new();
        let mut refused = None;
        for ch in &cfg.channels {
            if !ss.channels.contains_key(&ch.key) {
                if ss.started {
                    // lttng-ust refuses channels in a session that ran
                    // (the configuration layer forbids it too).
                    continue;
                }
                let gen = match ss.gen {
                    Some(g) => g,
                    None => {
                        let g = link.attach(trace).await?;
                        *ss.gen.insert(g)
                    }
                };
                let handle = link.create_channel(trace, ss.handle, ch, gen).await?;
                link.map_obj(
                    handle,
                    ObjRef::Channel {
                        session_id,
                        chan_key: ch.key,
                        gen,
                    },
                );
                let ctxs: Vec<CmdMsg> = ch
                    .contexts
                    .iter()
                    .map(|&c| CmdMsg::context(handle, c))
                    .collect();
                let cmds: Vec<(&CmdMsg, &[u8])> = ctxs.iter().map(|m| (m, &[][..])).collect();
                let replies = link.batch(&cmds).await?;
                if let Some(e) = first_refusal(&cmds, &replies) {
                    return Err(e.into());
                }
                ss.channels.insert(
                    ch.key,
                    ChannelShadow {
                        handle,
                        enabled: true,
                        events: HashMap::new(),
                    },
                );
            }
            let cs = ss.channels.get_mut(&ch.key).expect("inserted above");
            let made = link.create_events(cs, ch, &mut refused).await?;
            for (key, ev) in made {
                cs.events.insert(key.clone(), (ev, false));
            }
            for rule in &ch.events {
                match cs.events.get(&rule.key) {
                    Some(&(ev, on)) if on != rule.enabled => toggles.push(Toggle {
                        msg: CmdMsg::simple(
                            ev,
                            if rule.enabled {
                                op::ENABLE
                            } else {
                                op::DISABLE
                            },
                        ),
                        chan: ch.key,
                        event: Some(&rule.key),
                        on: rule.enabled,
                    }),
                    _ => {}
                }
            }
            if cs.enabled != ch.enabled {
                toggles.push(Toggle {
                    msg: CmdMsg::simple(
                        cs.handle,
                        if ch.enabled { op::ENABLE } else { op::DISABLE },
                    ),
                    chan: ch.key,
                    event: None,
                    on: ch.enabled,
                });
            }
        }
        // A session is not started in an app that refused part of its
        // setup (the caller reports the refusal); it is always stopped.
        let session_cmd = match (cfg.active, ss.started) {
            (true, false) if refused.is_none() => Some(op::ENABLE),
            (false, true) => Some(op::DISABLE),
            _ => None,
        };
        let session_msgs: Vec<CmdMsg> = session_cmd
            .map(|cmd| {
                let quiesce = CmdMsg::simple(ROOT_HANDLE, op::WAIT_QUIESCENT);
                vec![CmdMsg::simple(ss.handle, cmd), quiesce]
            })
            .unwrap_or_default();
        let cmds: Vec<(&CmdMsg, &[u8])> = toggles
            .iter()
            .map(|t| &t.msg)
            .chain(&session_msgs)
            .map(|m| (m, &[][..]))
            .collect();
        let replies = link.batch(&cmds).await?;
        for (t, r) in toggles.iter().zip(&replies) {
            if let Some(e) = refusal(&t.msg, r) {
                refused.get_or_insert(e);
                continue;
            }
            let cs = ss.channels.get_mut(&t.chan).expect("toggled above");
            match t.event {
                Some(k) => cs.events.get_mut(k).expect("toggled above").1 = t.on,
                None => cs.enabled = t.on,
            }
        }
        if session_cmd.is_some() {
            let n = toggles.len();
            match first_refusal(&cmds[n..], &replies[n..]) {
                Some(e) => {
                    refused.get_or_insert(e);
                }
                None => ss.started = cfg.active,
            }
        }
        if let Some(gen) = moved_to {
            tracing::info!(
                app = id.0,
                pid = info.creds.pid,
                gen,
                "app moved onto current buffers"
            );
        }
        refused.map_or(Ok(()), |e| Err(e.into()))
    }

    /// SESSION_STATEDUMP on the app's handle of a started session: the
    /// app records its statedump events (`lttng_ust_statedump:*`) again.
    pub async fn statedump(&self, link: &AppLink<'_>, session_id: u64) -> Result<(), AppIoError> {
        match self.sessions.get(&session_id) {
            Some(ss) if ss.started => {
                link.call(&CmdMsg::simple(ss.handle, op::SESSION_STATEDUMP))
                    .await?;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    pub fn session_ids(&self) -> Vec<u64> {
        self.sessions.keys().copied().collect()
    }

    /// Drops a destroyed session from the app: RELEASE of the session handle
    /// releases everything under it.
    pub async fn forget(&mut self, link: &AppLink<'_>, session_id: u64) -> Result<(), AppIoError> {
        let Some(ss) = self.sessions.remove(&session_id) else {
            return Ok(());
        };
        link.unmap_session(session_id);
        // The session is released even if the app refuses to stop it.
        let disable = ss.started.then(|| CmdMsg::simple(ss.handle, op::DISABLE));
        let release = CmdMsg::simple(ss.handle, op::RELEASE);
        let msgs: Vec<CmdMsg> = disable.into_iter().chain([release]).collect();
        link.call_then_quiesce(&msgs).await
    }
}

/// Brings the app in line with every session (the global update).
pub async fn sync_all(
    d: &Daemon,
    link: &AppLink<'_>,
    shadow: &mut AppShadow,
) -> Result<(), SyncError> {
    let sessions = d.sessions.all();
    for s in &sessions {
        let Some(trace) = d.trace(s.id) else { continue };
        shadow.sync(link, s.id, &s.config(), &trace).await?;
    }
    // A session destroyed while this app was not yet in the fan-out's
    // snapshot (e.g. during its handshake) is released here.
    for gone in shadow
        .session_ids()
        .into_iter()
        .filter(|id| sessions.iter().all(|s| s.id != *id))
    {
        shadow.forget(link, gone).await?;
    }
    Ok(())
}

/// TRACEPOINT_LIST (and TRACEPOINT_FIELD_LIST) iteration, ended by -1025.
pub async fn list_tracepoints(
    link: &AppLink<'_>,
    with_fields: bool,
) -> Result<Vec<TracepointInfo>, AppIoError> {
    let s = &link.conn.cmd;
    let list = link
        .call(&CmdMsg::simple(ROOT_HANDLE, op::TRACEPOINT_LIST))
        .await?;
    let mut out = Vec::new();
    loop {
        let r = exchange_any(
            s,
            link.deadline,
            &CmdMsg::simple(list, op::TRACEPOINT_LIST_GET),
        )
        .await?;
        if r.ret_code == -ust_err::NOENT {
            break;
        }
        if r.ret_code != 0 {
            return Err(AppIoError::Refused {
                cmd: op::TRACEPOINT_LIST_GET,
                code: r.ret_code,
            });
        }
        let (name, loglevel) = r.tracepoint_entry()?;
        out.push(TracepointInfo {
            name,
            loglevel,
            fields: Vec::new(),
        });
    }
    link.call(&CmdMsg::simple(list, op::RELEASE)).await?;
    if !with_fields {
        return Ok(out);
    }
    let fl = link
        .call(&CmdMsg::simple(ROOT_HANDLE, op::TRACEPOINT_FIELD_LIST))
        .await?;
    loop {
        let msg = CmdMsg::simple(fl, op::TRACEPOINT_FIELD_LIST_GET);
        let r = exchange_any(s, link.deadline, &msg).await?;
        if r.ret_code == -ust_err::NOENT {
            break;
        }
        if r.ret_code != 0 {
            return Err(AppIoError::Refused {
                cmd: op::TRACEPOINT_FIELD_LIST_GET,
                code: r.ret_code,
            });
        }
        let mut buf = [0u8; FIELD_ITER_LEN];
        link.deadline
            .run(crate::io::stream::read_exact(s, &mut buf))
            .await?;
        let e = FieldIterEntry::decode(&buf)?;
        if let Some(tp) = out.iter_mut().find(|t| t.name == e.event_name) {
            tp.fields.push(TracepointField {
                name: e.field_name,
                kind: field_kind_name(e.ty),
                nowrite: e.nowrite,
            });
        }
    }
    link.call(&CmdMsg::simple(fl, op::RELEASE)).await?;
    Ok(out)
}

fn field_kind_name(ty: i32) -> String {
    use crate::wire::list::field_kind as k;
    match ty {
        k::INTEGER => "integer",
        k::ENUM => "enum",
        k::FLOAT => "float",
        k::STRING => "string",
        _ => "other",
    }
    .to_owned()
}
