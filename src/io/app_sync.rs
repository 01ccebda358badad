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

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::os::fd::AsFd;
use std::sync::Arc;

use crate::command::reply::{TracepointField, TracepointInfo};
use crate::core::app::{AppId, AppInfo};
use crate::core::fd_budget::FdPermit;
use crate::core::session::{ChannelConfig, EventKey, SessionConfig};
use crate::engine::trace::{SessionTrace, TraceError};
use crate::io::app_conn::{AppConn, AppRef, ObjRef};
use crate::io::state::Daemon;
use crate::io::stream::{exchange, exchange_any, send_fds, write_all, AppIoError, Deadline};
use crate::wire::cmd::{op, ust_err, CmdMsg, ROOT_HANDLE};
use crate::wire::list::{FieldIterEntry, FIELD_ITER_LEN};

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

    /// `msgs`, then WAIT_QUIESCENT (so what they changed is seen by every
    /// tracing thread before the caller goes on), written together: one
    /// round trip for all (see [`read_replies`]).
    async fn call_then_quiesce(&self, msgs: &[CmdMsg]) -> Result<(), AppIoError> {
        let quiesce = CmdMsg::simple(ROOT_HANDLE, op::WAIT_QUIESCENT);
        let all: Vec<&CmdMsg> = msgs.iter().chain([&quiesce]).collect();
        let bytes: Vec<u8> = all.iter().flat_map(|m| m.bytes).collect();
        self.deadline.run(write_all(&self.conn.cmd, &bytes)).await?;
        read_replies(self, &all).await.map(drop)
    }

    /// A command whose payload follows the message (FILTER, EXCLUSION):
    /// lttng-ust reads both, then replies once.
    async fn call_with_payload(&self, msg: &CmdMsg, payload: &[u8]) -> Result<u32, AppIoError> {
        self.deadline
            .run(write_all(&self.conn.cmd, &msg.bytes))
            .await?;
        self.deadline
            .run(write_all(&self.conn.cmd, payload))
            .await?;
        read_reply(self, msg).await
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
        self.deadline.run(write_all(s, &msg.bytes)).await?;
        self.deadline.run(write_all(s, &objs.blob)).await?;
        self.deadline
            .run(send_fds(s, &[objs.wakeup.as_fd()]))
            .await?;
        let handle = read_reply(self, &msg).await?;
        for st in &objs.streams {
            let smsg = CmdMsg::stream(handle, st.shm_len, st.cpu);
            self.deadline.run(write_all(s, &smsg.bytes)).await?;
            self.deadline
                .run(send_fds(s, &[st.shm.as_fd(), st.wakeup.as_fd()]))
                .await?;
            read_reply(self, &smsg).await?;
        }
        // Our duplicates of the fds close here; the app keeps its own.
        Ok(handle)
    }
}

async fn read_reply(link: &AppLink<'_>, msg: &CmdMsg) -> Result<u32, AppIoError> {
    Ok(read_replies(link, &[msg]).await?[0])
}

/// The replies to `msgs`, written back to back, in order. lttng-ust reads
/// one command message at a time and answers it before it reads the
/// next, so commands that need nothing from an earlier reply can go out
/// together: one round trip for all. Every reply is read (the socket stays
/// in step) before the first refusal is reported.
async fn read_replies(link: &AppLink<'_>, msgs: &[&CmdMsg]) -> Result<Vec<u32>, AppIoError> {
    use crate::io::stream::{read_exact, read_last};
    use crate::wire::cmd::{Reply, REPLY_LEN};
    let s = &link.conn.cmd;
    let mut vals = Vec::with_capacity(msgs.len());
    let mut refused = None;
    for (i, msg) in msgs.iter().enumerate() {
        let mut buf = [0u8; REPLY_LEN];
        if i + 1 < msgs.len() {
            // The next reply may be behind it already.
            link.deadline.run(read_exact(s, &mut buf)).await?;
        } else {
            link.deadline.run(read_last(s, &mut buf)).await?;
        }
        let r = Reply::decode_for(&buf, msg)?;
        if r.ret_code != 0 && refused.is_none() {
            refused = Some(AppIoError::Refused {
                cmd: msg.cmd(),
                code: r.ret_code,
            });
        }
        vals.push(r.ret_val);
    }
    refused.map_or(Ok(vals), Err)
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
                for &ctx in &ch.contexts {
                    link.call(&CmdMsg::context(handle, ctx)).await?;
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
            for rule in &ch.events {
                match cs.events.get_mut(&rule.key) {
                    None if rule.enabled => {
                        let k = &rule.key;
                        let msg =
                            CmdMsg::event(cs.handle, &k.pattern, k.loglevel.kind, k.loglevel.level);
                        let ev = link.call(&msg).await?;
                        // As lttng-sessiond: FILTER, then EXCLUSION, then ENABLE.
                        if let Some(f) = &k.filter {
                            let len = f.bytecode().len() as u32;
                            let msg = CmdMsg::filter(ev, len, f.reloc_offset(), 0);
                            link.call_with_payload(&msg, f.bytecode()).await?;
                        }
                        if !k.exclusions.is_empty() {
                            let msg = CmdMsg::exclusion(ev, k.exclusions.len() as u32);
                            let names = CmdMsg::exclusion_names(&k.exclusions);
                            link.call_with_payload(&msg, &names).await?;
                        }
                        link.call(&CmdMsg::simple(ev, op::ENABLE)).await?;
                        cs.events.insert(rule.key.clone(), (ev, true));
                    }
                    Some((ev, on)) if *on != rule.enabled => {
                        let cmd = if rule.enabled {
                            op::ENABLE
                        } else {
                            op::DISABLE
                        };
                        link.call(&CmdMsg::simple(*ev, cmd)).await?;
                        *on = rule.enabled;
                    }
                    _ => {}
                }
            }
            if cs.enabled != ch.enabled {
                let cmd = if ch.enabled { op::ENABLE } else { op::DISABLE };
                link.call(&CmdMsg::simple(cs.handle, cmd)).await?;
                cs.enabled = ch.enabled;
            }
        }
        if cfg.active != ss.started {
            let cmd = if cfg.active { op::ENABLE } else { op::DISABLE };
            link.call_then_quiesce(&[CmdMsg::simple(ss.handle, cmd)])
                .await?;
            ss.started = cfg.active;
        }
        if let Some(gen) = moved_to {
            tracing::info!(
                app = id.0,
                pid = info.creds.pid,
                gen,
                "app moved onto current buffers"
            );
        }
        Ok(())
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
