//! Answering an app's notify request: which session and channel it names
//! (through the app's object table, reached with a fresh lease), and its
//! registration in that session's trace. I/O-free: `io::notify` reads the
//! request and writes the reply; the loom teardown model runs this very
//! function against a model trace.

use std::collections::HashMap;

use crate::core::app::{App, AppId, AppInfo};
use crate::core::metadata::HeaderType;
use crate::sync::{lock, Arc, Mutex};
use crate::wire::field::{EnumEntry, Field};
use crate::wire::notify::{self, EventReg, NotifyRequest};

/// ustd's identity of an app-side object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjRef {
    Session {
        session_id: u64,
    },
    /// `gen`: the buffer generation the channel's buffers belong to.
    Channel {
        session_id: u64,
        chan_key: u32,
        gen: u32,
    },
}

/// An app's session and channel handles, filled by its sync and read by its
/// notify task.
#[derive(Default)]
pub struct ObjTable {
    by_handle: HashMap<u32, ObjRef>,
}

impl ObjTable {
    pub fn insert(&mut self, handle: u32, obj: ObjRef) {
        self.by_handle.insert(handle, obj);
    }

    /// Drops every handle of one session (its objects are being released).
    pub fn forget_session(&mut self, session_id: u64) {
        self.by_handle.retain(|_, o| match o {
            ObjRef::Session { session_id: s } | ObjRef::Channel { session_id: s, .. } => {
                *s != session_id
            }
        });
    }

    pub fn get(&self, handle: u32) -> Option<ObjRef> {
        self.by_handle.get(&handle).copied()
    }

    /// Sessions the app currently has objects in.
    pub fn sessions(&self) -> Vec<u64> {
        let mut v: Vec<u64> = self
            .by_handle
            .values()
            .filter_map(|o| match o {
                ObjRef::Session { session_id } => Some(*session_id),
                ObjRef::Channel { .. } => None,
            })
            .collect();
        v.sort_unstable();
        v
    }
}

/// What an app's connection resources give the notify room.
pub trait HasObjects {
    fn objects(&self) -> &Mutex<ObjTable>;
}

/// A started session's trace, as the notify room uses it
/// (`engine::trace::SessionTrace` in the daemon).
pub trait NotifyTarget {
    type Error: std::error::Error;
    /// The `ret_code` of the error reply for `e`.
    fn ret_code(e: &Self::Error) -> i32;
    fn register_channel(
        &self,
        app: &AppInfo,
        id: AppId,
        chan_key: u32,
        gen: u32,
        ctx: &[Field],
    ) -> Result<(u32, HeaderType), Self::Error>;
    fn register_event(
        &self,
        app: &AppInfo,
        id: AppId,
        chan_key: u32,
        gen: u32,
        ev: &EventReg,
    ) -> Result<u32, Self::Error>;
    fn register_enum(
        &self,
        app: &AppInfo,
        id: AppId,
        name: &str,
        entries: &[EnumEntry],
    ) -> Result<u64, Self::Error>;
}

#[derive(Debug, thiserror::Error)]
pub enum NotifyError<E: std::error::Error> {
    #[error("no such session or channel object")]
    UnknownObject,
    #[error("app or session is being torn down")]
    Gone,
    #[error(transparent)]
    Registry(E),
}

/// A served request: the reply to send, and the trace whose metadata grew
/// (to push off the notify path: the reply does not wait for the consumer).
pub struct Answer<T> {
    pub reply: Vec<u8>,
    pub push: Option<Arc<T>>,
}

/// Serves one request of `app`. Anything unknown, including an app, session
/// or channel being torn down, is an error, answered by [`error_reply`].
pub fn dispatch<C, T>(
    app: &App<C>,
    req: &NotifyRequest,
    trace_of: impl Fn(u64) -> Option<Arc<T>>,
) -> Result<Answer<T>, NotifyError<T::Error>>
where
    C: HasObjects + Send + 'static,
    T: NotifyTarget,
{
    let (info, id) = (&app.info, app.id);
    let lookup = |handle: u32| {
        // A fresh lease: refused once teardown began, so nothing is
        // registered for an app whose final push may already be under way.
        let lease = app.lease().ok_or(NotifyError::Gone)?;
        let obj = lock(lease.objects())
            .get(handle)
            .ok_or(NotifyError::UnknownObject)?;
        let session_id = match obj {
            ObjRef::Session { session_id } | ObjRef::Channel { session_id, .. } => session_id,
        };
        let trace = trace_of(session_id).ok_or(NotifyError::Gone)?;
        Ok((obj, trace))
    };
    let channel_of = |handle: u32| match lookup(handle)? {
        (ObjRef::Channel { chan_key, gen, .. }, trace) => Ok((chan_key, gen, trace)),
        _ => Err(NotifyError::UnknownObject),
    };
    match req {
        NotifyRequest::Channel(c) => {
            let (chan_key, gen, trace) = channel_of(c.channel_objd)?;
            let (chan_id, header) = trace
                .register_channel(info, id, chan_key, gen, &c.ctx_fields)
                .map_err(NotifyError::Registry)?;
            Ok(Answer {
                reply: notify::encode_channel_reply(0, chan_id, header.wire_value()).to_vec(),
                push: Some(trace),
            })
        }
        NotifyRequest::Event(e) => {
            let (chan_key, gen, trace) = channel_of(e.channel_objd)?;
            let event_id = trace
                .register_event(info, id, chan_key, gen, e)
                .map_err(NotifyError::Registry)?;
            Ok(Answer {
                reply: notify::encode_event_reply(0, event_id).to_vec(),
                push: Some(trace),
            })
        }
        NotifyRequest::Enum(e) => {
            let (_, trace) = lookup(e.session_objd)?;
            let enum_id = trace
                .register_enum(info, id, &e.name, &e.entries)
                .map_err(NotifyError::Registry)?;
            Ok(Answer {
                reply: notify::encode_enum_reply(0, enum_id).to_vec(),
                push: None,
            })
        }
    }
}

/// The error reply to `req` for `e`: every request gets a reply.
pub fn error_reply<E: std::error::Error>(
    req: &NotifyRequest,
    e: &NotifyError<E>,
    ret_code: impl Fn(&E) -> i32,
) -> Vec<u8> {
    let code = match e {
        NotifyError::UnknownObject | NotifyError::Gone => -NOENT,
        NotifyError::Registry(e) => ret_code(e),
    };
    notify::error_reply(req.notify_cmd(), code).unwrap_or_default()
}

/// `ENOENT`: lttng-ust's code for an object it does not know.
const NOENT: i32 = crate::wire::cmd::ust_err::NOENT;
