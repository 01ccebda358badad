//! The lttng front end: answers decoded liblttng-ctl requests from the
//! session model and the typed command layer ([`crate::command`]), so the
//! stock `lttng` CLI drives ustd. Only translation lives here: lttng's
//! records in, typed lttng replies out.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use crate::command::reply::TracepointField;
use crate::command::request::ChannelOptions;
use crate::command::snapshot as snap;
use crate::command::{RegenerateError, TrackInput};
use crate::core::event_filter::EventFilter;
use crate::core::net_output::NetOutput;
use crate::core::rotation::{RotationError, ScheduleError, ScheduleKind};
use crate::core::session::{
    BufferScheme, ChannelConfig, LoglevelSel, SessionConfig, SessionError, DEFAULT_CHANNEL,
};
use crate::core::snapshot::{Destination, SnapshotError, SnapshotOutput};
use crate::core::tracker::{
    TrackedAttr, TrackedValue, TrackerError, TrackingPolicy as CoreTrackingPolicy,
};
use crate::engine::rotation::RotateError;
use crate::io::commands::{self, CommandError};
use crate::io::lttng_client::{ClientHandler, Peer};
use crate::io::state::Daemon;
use crate::lttng_wire::channel::{encode_channels, ChannelAttr};
use crate::lttng_wire::context::Context;
use crate::lttng_wire::event::{
    encode_events, encode_fields, EventField, EventRule, FieldType, Filter, LoglevelType,
};
use crate::lttng_wire::header::BufferType;
use crate::lttng_wire::request::SaveAttr;
use crate::lttng_wire::rotation::{
    encode_rotation_id, encode_rotation_info, encode_rotation_info_relay, RelayArchive,
    RotationState,
};
use crate::lttng_wire::session::{
    encode_domains, encode_sessions, OutputType, SessionDescriptor, SessionInfo, SessionKind, Uri,
    UriDest, URI_STREAM_CONTROL, URI_STREAM_DATA,
};
use crate::lttng_wire::session_file::{self, SavedChannel, SavedSession};
use crate::lttng_wire::snapshot::{
    encode_output_id, encode_outputs, SnapshotOutput as WireSnapshotOutput,
};
use crate::lttng_wire::tracker::{
    encode_inclusion_set, encode_policy, AttrValue, ProcessAttr, TrackingPolicy,
};
use crate::lttng_wire::{Command, DomainType, ErrorCode, Reply, Request, Target};
use crate::sync::lock;
use crate::wire::cmd::LoglevelType as UstLoglevel;

pub struct LttngFront {
    pub d: Arc<Daemon>,
}

impl ClientHandler for LttngFront {
    async fn handle(&self, peer: Peer, req: Request) -> Reply {
        match self.serve(peer, req).await {
            Ok(r) => r,
            Err(code) => Reply::error(code),
        }
    }
}

type Res = Result<Reply, ErrorCode>;

/// The lttng error code for a session-model error.
fn code(e: &CommandError) -> ErrorCode {
    match e {
        CommandError::Session(s) => match s {
            SessionError::NotFound(_) | SessionError::NoSession => ErrorCode::SessNotFound,
            SessionError::Exists(_) => ErrorCode::ExistSess,
            SessionError::NoChannel(_) => ErrorCode::UstChanNotFound,
            SessionError::ChannelExists(_) => ErrorCode::UstChanExist,
            SessionError::ChannelAfterStart(_) | SessionError::ContextAfterStart => {
                ErrorCode::SessionStarted
            }
            SessionError::ContextExists(..) => ErrorCode::UstContextExist,
            SessionError::AlreadyActive(_) => ErrorCode::TraceAlreadyStarted,
            SessionError::NotActive(_) => ErrorCode::TraceAlreadyStopped,
            SessionError::BadPattern(..) => ErrorCode::InvalidEventName,
            SessionError::NoEvent(..) => ErrorCode::UstEventNotFound,
            SessionError::MixedBuffers(_) => ErrorCode::BufferTypeMismatch,
            SessionError::Invalid(_) => ErrorCode::Invalid,
            SessionError::BadExclusion(..) => ErrorCode::ExclusionInval,
            SessionError::Tracker(t) => match t {
                TrackerError::Exists(..) => ErrorCode::ProcessAttrExists,
                TrackerError::Missing(..) => ErrorCode::ProcessAttrMissing,
                TrackerError::NotASet(..) => ErrorCode::TrackerInvalidPolicy,
            },
        },
        CommandError::UserNotFound(_) => ErrorCode::UserNotFound,
        CommandError::GroupNotFound(_) => ErrorCode::GroupNotFound,
        CommandError::BadTrackerValue(_) => ErrorCode::Invalid,
        CommandError::Trace(_) => ErrorCode::UstSessFail,
        CommandError::CreateDir(_) => ErrorCode::CreateDirFail,
        CommandError::Filter(_) => ErrorCode::FilterInval,
        CommandError::Snapshot(e) => snapshot_code(e),
        CommandError::Relayd(_) => ErrorCode::RelaydConnectFail,
        CommandError::Rotate(e) => match e {
            RotateError::Refused(r) => match r {
                RotationError::NeverStarted(_) => ErrorCode::StartSessionOnce,
                RotationError::SnapshotSession(_) => ErrorCode::RotationNotAvailable,
                RotationError::Ongoing => ErrorCode::RotationPending,
                RotationError::AlreadyRotatedWhileStopped => ErrorCode::RotationMultipleAfterStop,
                RotationError::NetworkSession(_) => ErrorCode::NotSupported,
            },
            RotateError::Trace(_) | RotateError::Archive { .. } => ErrorCode::UstSessFail,
        },
        CommandError::Regenerate(e) => match e {
            RegenerateError::Live(_) => ErrorCode::LiveSession,
            RegenerateError::NotStarted(_) => ErrorCode::SessionNotStarted,
            RegenerateError::PerPid(_) => ErrorCode::PerPidSession,
        },
        CommandError::Schedule(e) => match e {
            ScheduleError::NotAvailable(_) => ErrorCode::RotationNotAvailable,
            ScheduleError::AlreadySet(_) => ErrorCode::RotationScheduleSet,
            ScheduleError::NotSet(_) => ErrorCode::RotationScheduleNotSet,
            ScheduleError::Invalid(..) => ErrorCode::Invalid,
        },
    }
}

/// lttng-sessiond 2.13's codes for snapshot refusals (captured, `snap_*`).
fn snapshot_code(e: &SnapshotError) -> ErrorCode {
    match e {
        SnapshotError::NotSnapshotSession(_) => ErrorCode::NotSnapshotSession,
        SnapshotError::OutputExists => ErrorCode::SnapshotOutputExist,
        SnapshotError::NoOutput(_)
        | SnapshotError::NoOutputGiven
        | SnapshotError::InvalidOutput(_) => ErrorCode::Invalid,
        SnapshotError::MaxSizeInvalid(_) => ErrorCode::MaxSizeInvalid,
        SnapshotError::NotStarted => ErrorCode::StartSessionOnce,
        SnapshotError::Record(_) => ErrorCode::SnapshotFail,
    }
}

/// An archive at the relayd of `n`, as lttng reports it.
fn relay_archive<'a>(n: &'a NetOutput, path: &'a str) -> RelayArchive<'a> {
    RelayArchive {
        host: n.control.ip().to_string(),
        control_port: n.control.port(),
        data_port: n.data.port(),
        path: path.trim_start_matches('/'),
    }
}

/// A snapshot output's URLs (a path, `file://`, `net://`, or `-C`/`-D`).
async fn snapshot_dest(o: &WireSnapshotOutput) -> Result<Destination, ErrorCode> {
    snap::destination(&o.ctrl_url, Some(&o.data_url))
        .await
        .map_err(|e| code(&e))
}

fn wire_output(o: &SnapshotOutput) -> WireSnapshotOutput {
    WireSnapshotOutput {
        id: o.id,
        max_size: Some(o.max_size),
        name: o.name.clone(),
        ctrl_url: o.describe(),
        data_url: String::new(),
    }
}

fn done<T>(r: Result<T, CommandError>) -> Res {
    match r {
        Ok(_) => Ok(Reply::ok(Vec::new())),
        Err(e) => {
            tracing::info!(error = %e, "lttng command refused");
            Err(code(&e))
        }
    }
}

/// User space only: the kernel and agent domains are not served.
fn ust(t: &Target) -> Result<(), ErrorCode> {
    match t.domain.kind {
        DomainType::Ust => Ok(()),
        DomainType::Kernel => Err(ErrorCode::KernNa),
        _ => Err(ErrorCode::NotSupported),
    }
}

/// lttng's `enum lttng_event_context_type` -> ustd's context names.
fn context_name(kind: u32) -> Option<&'static str> {
    Some(match kind {
        2 => "procname",
        5 => "vpid",
        7 => "vtid",
        10 => "pthread_id",
        12 => "ip",
        35 => "vuid",
        38 => "vgid",
        _ => return None,
    })
}

fn context_kind(name: &str) -> Option<u32> {
    [2, 5, 7, 10, 12, 35, 38]
        .into_iter()
        .find(|&k| context_name(k) == Some(name))
}

impl LttngFront {
    fn config(&self, name: &str) -> Result<SessionConfig, ErrorCode> {
        self.d
            .sessions
            .get(name)
            .map(|s| s.config())
            .map_err(|_| ErrorCode::SessNotFound)
    }

    async fn serve(&self, peer: Peer, req: Request) -> Res {
        let d = &*self.d;
        if let Some(t) = req.target() {
            // lttng's access rule, before anything else: the owner and root only.
            if let Ok(s) = d.sessions.get(&t.session) {
                if !s.config().accessible_by(peer.uid) {
                    return Err(ErrorCode::Eperm);
                }
            }
        }
        match req {
            Request::CreateSession {
                home_dir,
                descriptor,
            } => self.create(peer, home_dir, descriptor).await,
            Request::ListSessions => {
                let infos: Vec<SessionInfo> = d
                    .sessions
                    .all()
                    .iter()
                    .map(|s| s.config())
                    .filter(|c| c.accessible_by(peer.uid))
                    .map(|c| SessionInfo {
                        name: c.name,
                        path: c.output.display().to_string(),
                        enabled: c.active,
                        snapshot_mode: c.snapshot.is_some(),
                        live_timer_interval: c.net.as_ref().map_or(0, |n| n.live_timer_us),
                        creation_time: None,
                    })
                    .collect();
                Ok(Reply::ok(encode_sessions(&infos)))
            }
            Request::DestroySession(t) => {
                let net = d
                    .sessions
                    .resolve(Some(&t.session))
                    .ok()
                    .and_then(|s| s.config().net);
                let r = commands::destroy(d, Some(t.session))
                    .await
                    .map_err(|e| code(&e))?;
                let archive = r.archive.map(|a| a.display().to_string());
                Ok(match (archive, net) {
                    (Some(a), Some(n)) => {
                        Reply::destroyed_with_relay_archive(&relay_archive(&n, &a))
                    }
                    (Some(a), None) => Reply::destroyed_with_archive(&a),
                    (None, _) => Reply::destroyed(),
                })
            }
            Request::Start(t) => done(commands::start(d, Some(t.session)).await),
            Request::Stop(t) => done(commands::stop(d, Some(t.session)).await),
            // A stop (this client's or another's) still writing the data out: pending.
            Request::DataPending(t) => {
                let s = d
                    .sessions
                    .get(&t.session)
                    .map_err(|_| ErrorCode::SessNotFound)?;
                match s.data_pending() {
                    None => Err(ErrorCode::SessionStarted),
                    Some(p) => Ok(Reply::data_pending(p)),
                }
            }
            Request::ListDomains(t) => {
                let c = self.config(&t.session)?;
                let doms = match c.channels.first() {
                    None => vec![],
                    Some(ch) => vec![(DomainType::Ust, buffer_type(ch.attrs.buffers))],
                };
                Ok(Reply::ok(encode_domains(&doms)))
            }
            Request::ListChannels(t) => {
                ust(&t)?;
                let c = self.config(&t.session)?;
                // What each channel lost so far, from the command layer.
                let loss = commands::show_session(d, &c.name)
                    .ok()
                    .and_then(|v| v.buffers)
                    .unwrap_or_default();
                let chans: Vec<ChannelAttr> = c
                    .channels
                    .iter()
                    .map(|ch| {
                        let mut a = channel_attr(ch);
                        if let Some(l) = loss.get(&ch.name) {
                            a.discarded_events = l.discarded_events;
                            a.lost_packets = l.lost_packets;
                        }
                        a
                    })
                    .collect();
                let (h, data) = encode_channels(&chans);
                Ok(Reply::ok_with_header(h, data))
            }
            Request::ListEvents { target, channel } => {
                ust(&target)?;
                let c = self.config(&target.session)?;
                let ch = c.channel(&channel).ok_or(ErrorCode::UstChanNotFound)?;
                let (h, data) = encode_events(&events_of(ch));
                Ok(Reply::ok_with_header(h, data))
            }
            Request::ListTracepoints(t) => {
                ust(&t)?;
                let (h, data) = encode_events(
                    &self
                        .tracepoints(false)
                        .await?
                        .into_iter()
                        .map(|(e, _)| e)
                        .collect::<Vec<_>>(),
                );
                Ok(Reply::ok_with_header(h, data))
            }
            Request::ListTracepointFields(t) => {
                ust(&t)?;
                let fields: Vec<EventField> = self
                    .tracepoints(true)
                    .await?
                    .into_iter()
                    .flat_map(|(e, fs)| fs.into_iter().map(move |f| field(f, e.clone())))
                    .collect();
                let (h, data) = encode_fields(&fields);
                Ok(Reply::ok_with_header(h, data))
            }
            Request::ListRotationSchedules(t) => self
                .config(&t.session)
                .map(|c| Reply::rotation_schedules(c.rotation.timer_us, c.rotation.size)),
            Request::RotationSetSchedule {
                target,
                kind,
                set,
                value,
            } => {
                self.config(&target.session)?;
                let kind = ScheduleKind::from_wire(kind).ok_or(ErrorCode::Invalid)?;
                done(crate::command::set_schedule(d, Some(target.session), kind, set, value).await)
            }
            Request::EnableChannel { target, channel } => {
                ust(&target)?;
                let buffers = match BufferType::from_raw(target.domain.buf_type) {
                    Ok(BufferType::PerPid) => BufferScheme::Pid,
                    Ok(BufferType::PerUid) => BufferScheme::Uid,
                    _ => return Err(ErrorCode::BufferTypeMismatch),
                };
                let o = ChannelOptions {
                    subbuf_size: Some(channel.subbuf_size),
                    num_subbuf: Some(channel.num_subbuf),
                    // -1: the session's default (overwrite in snapshot sessions).
                    overwrite: channel.overwrite == 1,
                    discard: channel.overwrite == 0,
                    switch_timer_us: Some(channel.switch_timer_us),
                    read_timer_us: Some(channel.read_timer_us),
                    buffers: Some(buffers),
                    tracefile_size: channel.tracefile_size,
                    tracefile_count: channel.tracefile_count,
                    monitor_timer_us: Some(channel.monitor_timer_us),
                };
                done(commands::enable_channel(d, Some(target.session), channel.name, o).await)
            }
            Request::DisableChannel { target, channel } => {
                ust(&target)?;
                done(commands::disable_channel(d, Some(target.session), vec![channel]).await)
            }
            Request::EnableEvent {
                target,
                channel,
                event,
            } => {
                ust(&target)?;
                // liblttng-ctl compiled the expression; the bytecode is used as sent.
                let filter = match event.filter {
                    None => None,
                    Some(f) => {
                        let b = f.bytecode.ok_or(ErrorCode::FilterInval)?;
                        Some(
                            EventFilter::new(f.expression, b.data, b.reloc_offset)
                                .map_err(|_| ErrorCode::FilterInval)?,
                        )
                    }
                };
                let c = self.config(&target.session)?;
                let chan = self.channel_for(&c, &channel)?;
                let loglevel = LoglevelSel {
                    kind: match event.loglevel_type {
                        LoglevelType::All => UstLoglevel::All,
                        LoglevelType::Range => UstLoglevel::Range,
                        LoglevelType::Single => UstLoglevel::Single,
                    },
                    // `lttng load` sends ALL with TRACE_DEBUG_LINE; lttng-sessiond ignores it.
                    level: if event.loglevel_type == LoglevelType::All {
                        -1
                    } else {
                        event.loglevel
                    },
                };
                done(
                    commands::enable_event(
                        d,
                        Some(target.session),
                        chan,
                        vec![event.name],
                        loglevel,
                        filter,
                        event.exclusions,
                    )
                    .await,
                )
            }
            Request::DisableEvent {
                target,
                channel,
                event,
            } => {
                ust(&target)?;
                let c = self.config(&target.session)?;
                let chan = self.channel_for(&c, &channel)?;
                // An empty name (`lttng load`), or `-a`: every rule of the channel.
                let names =
                    if event.name.is_empty() || (event.name == "*" && event.event_type == -1) {
                        let ch = c
                            .channel(chan.as_deref().unwrap_or(DEFAULT_CHANNEL))
                            .ok_or(ErrorCode::UstChanNotFound)?;
                        let mut all: Vec<String> =
                            ch.events.iter().map(|e| e.key.pattern.clone()).collect();
                        all.dedup();
                        if all.is_empty() {
                            return Ok(Reply::ok(Vec::new()));
                        }
                        all
                    } else {
                        vec![event.name]
                    };
                done(commands::disable_event(d, Some(target.session), chan, names).await)
            }
            Request::AddContext {
                target,
                channel,
                context,
            } => {
                ust(&target)?;
                let name = match context {
                    Context::Simple(k) => context_name(k).ok_or(ErrorCode::UstContextInval)?,
                    _ => return Err(ErrorCode::UstContextInval),
                };
                let chan = (!channel.is_empty()).then_some(channel);
                done(
                    commands::add_context(d, Some(target.session), chan, vec![name.to_owned()])
                        .await,
                )
            }
            Request::TrackerGetPolicy { target, attr } => {
                ust(&target)?;
                let attr = tracked(attr)?;
                let c = self.config(&target.session)?;
                Ok(Reply::ok(encode_policy(wire_policy(
                    c.trackers.get(attr).policy,
                ))))
            }
            Request::TrackerGetInclusionSet { target, attr } => {
                ust(&target)?;
                let attr = tracked(attr)?;
                let c = self.config(&target.session)?;
                let t = c.trackers.get(attr);
                if t.policy != CoreTrackingPolicy::Set {
                    return Err(ErrorCode::TrackerInvalidPolicy);
                }
                let values: Vec<AttrValue> = t.values.iter().map(|v| attr_value(attr, v)).collect();
                Ok(Reply::ok(encode_inclusion_set(&values)))
            }
            Request::TrackerSetPolicy {
                target,
                attr,
                policy,
            } => {
                ust(&target)?;
                let policy = match policy {
                    TrackingPolicy::IncludeAll => CoreTrackingPolicy::All,
                    TrackingPolicy::ExcludeAll => CoreTrackingPolicy::None,
                    TrackingPolicy::IncludeSet => CoreTrackingPolicy::Set,
                };
                done(
                    commands::set_tracker_policy(d, Some(target.session), tracked(attr)?, policy)
                        .await,
                )
            }
            Request::TrackerAdd {
                target,
                attr,
                value,
            } => {
                ust(&target)?;
                let v = track_input(value);
                done(commands::tracker_add(d, Some(target.session), tracked(attr)?, v).await)
            }
            Request::TrackerRemove {
                target,
                attr,
                value,
            } => {
                ust(&target)?;
                let v = track_input(value);
                done(commands::tracker_remove(d, Some(target.session), tracked(attr)?, v).await)
            }
            Request::SaveSession(attr) => self.save(peer, attr),
            Request::RegenerateStatedump(t) => {
                done(crate::command::regenerate_statedump(d, Some(t.session)).await)
            }
            Request::RegenerateMetadata(t) => {
                self.config(&t.session)?;
                done(crate::command::regenerate_metadata(d, Some(t.session)).await)
            }
            Request::SetShmPath { .. } => Err(ErrorCode::NotSupported),
            Request::SnapshotAddOutput { target, output } => {
                let path = snapshot_dest(&output).await?;
                let name = (!output.name.is_empty()).then_some(output.name);
                let max = output.max_size.unwrap_or(0);
                let o = snap::add_output(d, Some(target.session), name, max, path)
                    .map_err(|e| code(&e))?;
                Ok(Reply::ok(encode_output_id(o.id)))
            }
            Request::SnapshotDelOutput { target, output } => {
                snap::del_output(d, Some(target.session), output.id, &output.name)
                    .map_err(|e| code(&e))?;
                Ok(Reply::ok(Vec::new()))
            }
            Request::SnapshotListOutput(t) => {
                let l = snap::list_outputs(d, Some(t.session)).map_err(|e| code(&e))?;
                let outs: Vec<WireSnapshotOutput> = l.outputs.iter().map(wire_output).collect();
                Ok(Reply::ok(encode_outputs(&outs)))
            }
            Request::SnapshotRecord { target, output } => {
                let url = match output.ctrl_url.as_str() {
                    "" => None,
                    _ => Some(snapshot_dest(&output).await?),
                };
                let name = (!output.name.is_empty()).then_some(output.name);
                let r = snap::record(d, Some(target.session), name, output.max_size, url).await;
                done(r)
            }
            Request::ClearSession(t) => done(crate::command::clear(d, Some(t.session)).await),
            Request::RotateSession(t) => {
                let r = crate::command::rotate(d, Some(t.session))
                    .await
                    .map_err(|e| code(&e))?;
                Ok(Reply::ok(encode_rotation_id(r.id)))
            }
            // Rotations complete before ROTATE_SESSION answers.
            Request::RotationGetInfo { target, id } => {
                let s = d
                    .sessions
                    .resolve(Some(&target.session))
                    .map_err(|e| code(&e.into()))?;
                let trace = s.trace().ok_or(ErrorCode::Invalid)?;
                let archive = lock(&trace.chunks)
                    .archive(id)
                    .map(|a| trace.output_dir().join(a))
                    .ok_or(ErrorCode::Invalid)?;
                let path = archive.display().to_string();
                // A network session's archive is the relayd's path (kept whole:
                // `join` onto an absolute-looking output would not apply).
                if let Some(n) = s.config().net {
                    let a = lock(&trace.chunks)
                        .archive(id)
                        .map(|a| a.display().to_string());
                    let a = a.ok_or(ErrorCode::Invalid)?;
                    return Ok(Reply::ok(encode_rotation_info_relay(&relay_archive(
                        &n, &a,
                    ))));
                }
                Ok(Reply::ok(encode_rotation_info(
                    RotationState::Completed,
                    Some(&path),
                )))
            }
            Request::Unsupported { command, target } => Err(unsupported(command, &target)),
        }
    }

    /// lttng's default-channel rules: no name means `channel0`, which is
    /// created on demand unless another channel already exists.
    fn channel_for(&self, c: &SessionConfig, name: &str) -> Result<Option<String>, ErrorCode> {
        if !name.is_empty() {
            return Ok(Some(name.to_owned()));
        }
        if c.channel(DEFAULT_CHANNEL).is_none() && !c.channels.is_empty() {
            return Err(ErrorCode::NeedChannelName);
        }
        Ok(None)
    }

    async fn create(&self, peer: Peer, home_dir: Option<String>, desc: SessionDescriptor) -> Res {
        match (desc.kind, desc.output) {
            (SessionKind::Regular, _) | (SessionKind::Live { .. }, OutputType::Network) => {}
            (SessionKind::Live { .. }, _) => return Err(ErrorCode::LiveSession),
            (SessionKind::Snapshot, _) => {}
        }
        if desc.output == OutputType::Network {
            return self.create_net(peer, desc).await;
        }
        let stamp = crate::io::host::local_datetime(SystemTime::now());
        let (name, auto) = match desc.name {
            Some(n) => (n, false),
            None => (format!("auto-{stamp}"), true),
        };
        let output = match desc.uris.first() {
            Some(u) => PathBuf::from(&u.dst),
            None => {
                let home = home_dir.ok_or(ErrorCode::Invalid)?;
                let dir = if auto {
                    name.clone()
                } else {
                    format!("{name}-{stamp}")
                };
                PathBuf::from(home).join("lttng-traces").join(dir)
            }
        };
        let snapshot = desc.kind == SessionKind::Snapshot;
        if snapshot {
            done(
                snap::create_snapshot_session(
                    &self.d,
                    name.clone(),
                    Some(output.clone().into()),
                    (peer.uid, peer.gid),
                )
                .await,
            )?;
        } else {
            done(
                commands::create(
                    &self.d,
                    name.clone(),
                    Some(output.clone()),
                    (peer.uid, peer.gid),
                )
                .await,
            )?;
        }
        let reply = SessionDescriptor {
            kind: if snapshot {
                SessionKind::Snapshot
            } else {
                SessionKind::Regular
            },
            output: OutputType::Local,
            name: Some(name),
            uris: vec![Uri::path(&output.display().to_string())],
        };
        let mut data = Vec::new();
        reply.encode(&mut data);
        Ok(Reply::ok(data))
    }

    /// A session streaming to a relayd: liblttng-ctl sends the control and
    /// data URIs already resolved (IP address, port).
    async fn create_net(&self, peer: Peer, desc: SessionDescriptor) -> Res {
        let live_timer_us = match desc.kind {
            SessionKind::Live { timer_us } => {
                u32::try_from(timer_us).map_err(|_| ErrorCode::Invalid)?
            }
            _ => 0,
        };
        let addr = |stype: i32| -> Result<(SocketAddr, String), ErrorCode> {
            let u = desc
                .uris
                .iter()
                .find(|u| u.stype == stype && u.dest != UriDest::Path)
                .ok_or(ErrorCode::Invalid)?;
            let ip: IpAddr = u.dst.parse().map_err(|_| ErrorCode::Invalid)?;
            Ok((SocketAddr::new(ip, u.port), u.subdir.clone()))
        };
        let (control, subdir) = addr(URI_STREAM_CONTROL)?;
        let (data, _) = addr(URI_STREAM_DATA)?;
        let net = NetOutput {
            control,
            data,
            subdir,
            live_timer_us,
        };
        let name = match desc.name.clone() {
            Some(n) => n,
            None => format!(
                "auto-{}",
                crate::io::host::local_datetime(SystemTime::now())
            ),
        };
        let owner = (peer.uid, peer.gid);
        if desc.kind == SessionKind::Snapshot {
            let dest = Some(Destination::Net(net));
            done(snap::create_snapshot_session(&self.d, name.clone(), dest, owner).await)?;
        } else {
            done(commands::create_with(&self.d, name.clone(), None, Some(net), owner).await)?;
        }
        let reply = SessionDescriptor {
            name: Some(name),
            ..desc
        };
        let mut data = Vec::new();
        reply.encode(&mut data);
        Ok(Reply::ok(data))
    }

    /// Every registered app's tracepoints (as lttng lists them: per app, with its pid).
    async fn tracepoints(
        &self,
        fields: bool,
    ) -> Result<Vec<(EventRule, Vec<TracepointField>)>, ErrorCode> {
        let listing = commands::list_tracepoints(&self.d, fields).await;
        Ok(listing
            .apps
            .into_iter()
            .flat_map(|a| {
                a.tracepoints.into_iter().map(move |tp| {
                    let e = EventRule {
                        event_type: 0,
                        loglevel_type: LoglevelType::All,
                        loglevel: tp.loglevel,
                        enabled: -1,
                        pid: a.pid,
                        flags: 0,
                        name: tp.name,
                        exclusions: vec![],
                        filter: None,
                    };
                    (e, tp.fields)
                })
            })
            .collect())
    }

    fn save(&self, peer: Peer, attr: SaveAttr) -> Res {
        let sessions: Vec<SessionConfig> = match attr.session_name.as_str() {
            "" => self
                .d
                .sessions
                .all()
                .iter()
                .map(|s| s.config())
                .filter(|c| c.accessible_by(peer.uid))
                .collect(),
            n => {
                let c = self.config(n)?;
                if !c.accessible_by(peer.uid) {
                    return Err(ErrorCode::Eperm);
                }
                vec![c]
            }
        };
        let dir = match attr.config_url.as_str() {
            "" => home_dir()
                .ok_or(ErrorCode::SaveIoFail)?
                .join(".lttng/sessions"),
            u => PathBuf::from(u.strip_prefix("file://").unwrap_or(u)),
        };
        std::fs::create_dir_all(&dir).map_err(|_| ErrorCode::SaveIoFail)?;
        for c in sessions {
            let path = dir.join(format!("{}.lttng", c.name));
            if path.exists() && !attr.overwrite {
                return Err(ErrorCode::SaveFileExist);
            }
            let saved = SavedSession {
                name: c.name.clone(),
                buffer_type: buffer_type(c.buffer_scheme()),
                channels: c
                    .channels
                    .iter()
                    .map(|ch| SavedChannel {
                        attr: channel_attr(ch),
                        events: events_of(ch),
                        contexts: ch
                            .contexts
                            .iter()
                            .filter_map(|&v| crate::wire::cmd::ctx::name(v).and_then(context_kind))
                            .map(Context::Simple)
                            .collect(),
                    })
                    .collect(),
                trackers: saved_trackers(&c),
                started: c.active,
                output_path: (!attr.omit_output).then(|| c.output.display().to_string()),
                rotation_timer_us: c.rotation.timer_us,
                rotation_size: c.rotation.size,
            };
            std::fs::write(&path, session_file::write(&saved)).map_err(|e| {
                tracing::warn!(path = %path.display(), error = %e, "cannot save session");
                ErrorCode::SaveIoFail
            })?;
        }
        Ok(Reply::ok(Vec::new()))
    }
}

/// Trackers that do not include every app; "none" is an empty set, as
/// lttng saves it.
fn saved_trackers(c: &SessionConfig) -> Vec<(ProcessAttr, Vec<AttrValue>)> {
    TrackedAttr::ALL
        .into_iter()
        .filter(|&a| c.trackers.get(a).policy != CoreTrackingPolicy::All)
        .map(|a| {
            let wire = match a {
                TrackedAttr::Vpid => ProcessAttr::Vpid,
                TrackedAttr::Vuid => ProcessAttr::Vuid,
                TrackedAttr::Vgid => ProcessAttr::Vgid,
            };
            let values = c
                .trackers
                .get(a)
                .values
                .iter()
                .map(|v| attr_value(a, v))
                .collect();
            (wire, values)
        })
        .collect()
}

/// The daemon user's home, where lttng-sessiond saves sessions by default.
fn home_dir() -> Option<PathBuf> {
    std::env::var_os("LTTNG_HOME")
        .or_else(|| std::env::var_os("HOME"))
        .map(PathBuf::from)
}

fn unsupported(command: Command, t: &Target) -> ErrorCode {
    if t.domain.kind == DomainType::Kernel {
        return ErrorCode::KernNa;
    }
    match command {
        Command::ListSyscalls => ErrorCode::KernNa,
        _ => ErrorCode::NotSupported,
    }
}

/// User space has the virtual trackers only.
fn tracked(attr: ProcessAttr) -> Result<TrackedAttr, ErrorCode> {
    match attr {
        ProcessAttr::Vpid => Ok(TrackedAttr::Vpid),
        ProcessAttr::Vuid => Ok(TrackedAttr::Vuid),
        ProcessAttr::Vgid => Ok(TrackedAttr::Vgid),
        _ => Err(ErrorCode::Invalid),
    }
}

fn wire_policy(p: CoreTrackingPolicy) -> TrackingPolicy {
    match p {
        CoreTrackingPolicy::All => TrackingPolicy::IncludeAll,
        CoreTrackingPolicy::None => TrackingPolicy::ExcludeAll,
        CoreTrackingPolicy::Set => TrackingPolicy::IncludeSet,
    }
}

fn track_input(v: AttrValue) -> TrackInput {
    match v {
        AttrValue::Pid(p) => TrackInput::Id(p.into()),
        AttrValue::Uid(u) | AttrValue::Gid(u) => TrackInput::Id(u.into()),
        AttrValue::UserName(n) | AttrValue::GroupName(n) => TrackInput::Name(n),
    }
}

/// An inclusion-set entry as lttng lists it: names as given.
fn attr_value(attr: TrackedAttr, v: &TrackedValue) -> AttrValue {
    match (attr, v) {
        (TrackedAttr::Vpid, v) => AttrValue::Pid(v.id() as i32),
        (TrackedAttr::Vuid, TrackedValue::Id(id)) => AttrValue::Uid(*id as u32),
        (TrackedAttr::Vuid, TrackedValue::Name { name, .. }) => AttrValue::UserName(name.clone()),
        (TrackedAttr::Vgid, TrackedValue::Id(id)) => AttrValue::Gid(*id as u32),
        (TrackedAttr::Vgid, TrackedValue::Name { name, .. }) => AttrValue::GroupName(name.clone()),
    }
}

fn buffer_type(b: BufferScheme) -> BufferType {
    match b {
        BufferScheme::Uid => BufferType::PerUid,
        BufferScheme::Pid => BufferType::PerPid,
    }
}

/// A channel as lttng lists it; attributes ustd does not configure show lttng's defaults.
fn channel_attr(ch: &ChannelConfig) -> ChannelAttr {
    ChannelAttr {
        name: ch.name.clone(),
        enabled: ch.enabled,
        overwrite: ch.attrs.overwrite.into(),
        subbuf_size: ch.attrs.subbuf_size,
        num_subbuf: ch.attrs.num_subbuf,
        switch_timer_us: ch.attrs.switch_timer_us,
        read_timer_us: ch.attrs.read_timer_us,
        output: 1,
        tracefile_size: ch.attrs.tracefile_size,
        tracefile_count: ch.attrs.tracefile_count,
        live_timer_us: 0,
        discarded_events: 0,
        lost_packets: 0,
        monitor_timer_us: ch.attrs.monitor_timer_us,
        blocking_timeout_us: 0,
    }
}

fn events_of(ch: &ChannelConfig) -> Vec<EventRule> {
    ch.events
        .iter()
        .map(|e| EventRule {
            event_type: 0,
            loglevel_type: match e.key.loglevel.kind {
                UstLoglevel::All => LoglevelType::All,
                UstLoglevel::Range => LoglevelType::Range,
                UstLoglevel::Single => LoglevelType::Single,
            },
            loglevel: e.key.loglevel.level,
            enabled: e.enabled.into(),
            pid: 0,
            flags: 0,
            name: e.key.pattern.clone(),
            exclusions: e.key.exclusions.clone(),
            // List replies carry the expression only.
            filter: e.key.filter.as_ref().map(|f| Filter {
                expression: f.expression().to_owned(),
                bytecode: None,
            }),
        })
        .collect()
}

fn field(f: TracepointField, event: EventRule) -> EventField {
    let kind = match f.kind.as_str() {
        "integer" => FieldType::Integer,
        "enum" => FieldType::Enum,
        "float" => FieldType::Float,
        "string" => FieldType::String,
        _ => FieldType::Other,
    };
    EventField {
        name: f.name,
        kind,
        nowrite: f.nowrite,
        event,
    }
}
