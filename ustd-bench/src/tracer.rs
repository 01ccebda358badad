//! The tracer side of one fake app: its object table (handles) and how it
//! answers each command, following lttng-ust 2.13.5's behaviour. No I/O:
//! the caller hands in a fully received command and sends what comes back.

use std::collections::{HashMap, HashSet};
use std::os::fd::OwnedFd;
use std::rc::Rc;

use ustd::wire::cmd::{op, ust_err, Reply, ROOT_HANDLE};
use ustd::wire::field::{Field, FieldType, IntegerType, StringEncoding};
use ustd::wire::list::{field_kind, FieldIterEntry, FIELD_ITER_LEN};
use ustd::wire::notify::{ChannelReg, EventReg, NotifyRequest};

use crate::command::{cstr, op_ext, Command, EXCLUSION_NAME_LEN};

/// Tracer version the fake apps report.
const TRACER_VERSION: (u32, u32, u32) = (2, 13, 5);
/// lttng-ust's loglevel for providers that declare none (TRACE_DEBUG_LINE).
pub const DEFAULT_LOGLEVEL: i32 = 13;

const EINVAL: i32 = 22;
const EBUSY: i32 = 16;
const EPERM: i32 = 1;

/// What every fake app "contains": its tracepoints, all with one int field.
pub struct Provider {
    pub tracepoints: Vec<String>,
}

impl Provider {
    pub fn new(events: usize) -> Rc<Self> {
        Rc::new(Self {
            tracepoints: (0..events)
                .map(|i| format!("ustd_bench:event_{i}"))
                .collect(),
        })
    }

    fn fields() -> Vec<Field> {
        vec![Field {
            name: "value".into(),
            ty: FieldType::Integer(IntegerType {
                size_bits: 32,
                signed: true,
                reverse_byte_order: false,
                base: 10,
                encoding: StringEncoding::None,
                alignment_bits: 8,
            }),
        }]
    }
}

/// An object the app created for the daemon, addressed by handle.
enum Object {
    Session {
        active: bool,
        ever_active: bool,
        channels: Vec<u32>,
    },
    Channel {
        session: u32,
        enabled: bool,
        /// REGISTER_CHANNEL done (the app sends it once per channel).
        registered: bool,
        enablers: Vec<u32>,
        /// Tracepoints with an event recorder (registered) in this channel.
        recorded: HashSet<usize>,
    },
    Enabler {
        channel: u32,
        pattern: String,
        loglevel_type: i32,
        loglevel: i32,
        enabled: bool,
        exclusions: Vec<String>,
    },
    NotifierGroup,
    EventNotifier,
    Counter,
    TracepointList {
        next: usize,
    },
    FieldList {
        next: usize,
    },
}

/// The answer to one command.
pub enum Answer {
    /// Send these notify requests (one at a time, each waiting for its
    /// reply), then the reply built by [`Tracer::finish`].
    Reply {
        notify: Vec<NotifyRequest>,
        pending: Box<Pending>,
    },
    /// The app drops both sockets without replying (unknown handle,
    /// refused payload).
    Drop(&'static str),
}

/// A reply held back until its notify round trips are done.
pub struct Pending {
    handle: u32,
    cmd: u32,
    result: i64,
    body: Vec<u8>,
    /// An 808-byte entry that follows the reply (field lists).
    trailer: Option<[u8; FIELD_ITER_LEN]>,
    /// A failed REGISTER_CHANNEL makes the command (session enable) fail.
    fails_on_channel_error: bool,
}

impl Pending {
    fn ok(handle: u32, cmd: u32, result: i64) -> Self {
        Self {
            handle,
            cmd,
            result,
            body: Vec::new(),
            trailer: None,
            fails_on_channel_error: false,
        }
    }
}

pub struct Tracer {
    provider: Rc<Provider>,
    objects: HashMap<u32, Object>,
    next_handle: u32,
    hold_fds: bool,
    /// Fds received from the daemon, kept only with `--hold-fds` (a real
    /// app keeps its stream, wakeup, pipe and counter fds).
    held: Vec<OwnedFd>,
    /// `--refuse-session-enable`: a session's ENABLE fails with -EPERM.
    pub refuse_session_enable: bool,
    /// `--refuse-filter`: every FILTER fails with -EINVAL.
    pub refuse_filter: bool,
}

impl Tracer {
    pub fn new(provider: Rc<Provider>, hold_fds: bool) -> Self {
        Self {
            provider,
            objects: HashMap::new(),
            next_handle: 1,
            hold_fds,
            held: Vec::new(),
            refuse_session_enable: false,
            refuse_filter: false,
        }
    }

    /// True if `handle` names an object (or the root).
    pub fn knows(&self, handle: u32) -> bool {
        handle == ROOT_HANDLE || self.objects.contains_key(&handle)
    }

    fn create(&mut self, obj: Object) -> i64 {
        let h = self.next_handle;
        self.next_handle += 1;
        self.objects.insert(h, obj);
        i64::from(h)
    }

    /// Answers a fully received command. `payload` and `fds` are what
    /// followed the message, per its framing.
    pub fn handle(&mut self, cmd: &Command, payload: &[u8], fds: Vec<OwnedFd>) -> Answer {
        let (h, c) = (cmd.handle(), cmd.op());
        if !self.knows(h) {
            return Answer::Drop("command on an unknown handle");
        }
        if self.hold_fds {
            self.held.extend(fds);
        }
        let mut notify = Vec::new();
        let mut pending = Pending::ok(h, c, 0);
        pending.result = match (h == ROOT_HANDLE, c) {
            (true, op::TRACER_VERSION) => {
                let (major, minor, patch) = TRACER_VERSION;
                pending.body = [major, minor, patch]
                    .iter()
                    .flat_map(|v| v.to_le_bytes())
                    .collect();
                0
            }
            (true, op::SESSION) => self.create(Object::Session {
                active: false,
                ever_active: false,
                channels: Vec::new(),
            }),
            (true, op::TRACEPOINT_LIST) => self.create(Object::TracepointList { next: 0 }),
            (true, op::TRACEPOINT_FIELD_LIST) => self.create(Object::FieldList { next: 0 }),
            (true, op::EVENT_NOTIFIER_GROUP_CREATE) => self.create(Object::NotifierGroup),
            (true, op::WAIT_QUIESCENT | op::REGISTER_DONE) => 0,
            (true, _) => -i64::from(EINVAL),
            (false, op::RELEASE) => {
                self.objects.remove(&h);
                0
            }
            (false, _) => self.object_command(cmd, payload, &mut notify, &mut pending),
        };
        Answer::Reply {
            notify,
            pending: Box::new(pending),
        }
    }

    fn object_command(
        &mut self,
        cmd: &Command,
        payload: &[u8],
        notify: &mut Vec<NotifyRequest>,
        pending: &mut Pending,
    ) -> i64 {
        let h = cmd.handle();
        let (refuse_enable, refuse_filter) = (self.refuse_session_enable, self.refuse_filter);
        let Some(obj) = self.objects.get_mut(&h) else {
            return -i64::from(EINVAL);
        };
        match (obj, cmd.op()) {
            (Object::Session { ever_active, .. }, op::CHANNEL) => {
                if *ever_active {
                    return -i64::from(EBUSY);
                }
                let ch = self.create(Object::Channel {
                    session: h,
                    enabled: true,
                    registered: false,
                    enablers: Vec::new(),
                    recorded: HashSet::new(),
                });
                if let Some(Object::Session { channels, .. }) = self.objects.get_mut(&h) {
                    channels.push(ch as u32);
                }
                ch
            }
            (Object::Session { active, .. }, op::ENABLE | op::SESSION_START) => {
                if *active {
                    return -i64::from(EBUSY);
                }
                if refuse_enable {
                    return -i64::from(EPERM);
                }
                self.start_session(h, notify);
                pending.fails_on_channel_error = true;
                0
            }
            (Object::Session { active, .. }, op::DISABLE | op::SESSION_STOP) => {
                if !*active {
                    return -i64::from(EBUSY);
                }
                *active = false;
                0
            }
            (Object::Session { .. }, op::SESSION_STATEDUMP) => 0,
            (Object::Channel { .. }, op::STREAM | op::CONTEXT | op::FLUSH_BUFFER) => 0,
            (Object::Channel { enabled, .. }, c @ (op::ENABLE | op::DISABLE)) => {
                let want = c == op::ENABLE;
                if *enabled == want {
                    return -i64::from(EBUSY);
                }
                *enabled = want;
                0
            }
            (Object::Channel { .. }, op::EVENT) => {
                let (pattern, loglevel_type, loglevel) = cmd.event_args();
                let ev = self.create(Object::Enabler {
                    channel: h,
                    pattern,
                    loglevel_type,
                    loglevel,
                    enabled: false,
                    exclusions: Vec::new(),
                });
                if let Some(Object::Channel { enablers, .. }) = self.objects.get_mut(&h) {
                    enablers.push(ev as u32);
                }
                ev
            }
            (
                Object::Enabler {
                    enabled, channel, ..
                },
                c @ (op::ENABLE | op::DISABLE),
            ) => {
                *enabled = c == op::ENABLE;
                let channel = *channel;
                if *enabled && self.session_of(channel).is_some_and(|s| self.is_active(s)) {
                    self.sync_channel(channel, notify);
                }
                0
            }
            (Object::Enabler { .. }, op::FILTER) if refuse_filter => -i64::from(EINVAL),
            (Object::Enabler { .. }, op::CONTEXT | op::FILTER) => 0,
            (Object::Enabler { exclusions, .. }, op::EXCLUSION) => {
                exclusions.extend(payload.chunks(EXCLUSION_NAME_LEN).map(cstr));
                0
            }
            (Object::TracepointList { next }, op::TRACEPOINT_LIST_GET) => {
                let Some(name) = self.provider.tracepoints.get(*next) else {
                    return -i64::from(ust_err::NOENT);
                };
                *next += 1;
                let mut body = vec![0u8; 260];
                let n = name.len().min(255);
                body[..n].copy_from_slice(&name.as_bytes()[..n]);
                body[256..260].copy_from_slice(&DEFAULT_LOGLEVEL.to_le_bytes());
                pending.body = body;
                0
            }
            (Object::FieldList { next }, op::TRACEPOINT_FIELD_LIST_GET) => {
                let Some(name) = self.provider.tracepoints.get(*next) else {
                    return -i64::from(ust_err::NOENT);
                };
                *next += 1;
                pending.trailer = Some(
                    FieldIterEntry {
                        event_name: name.clone(),
                        field_name: "value".into(),
                        ty: field_kind::INTEGER,
                        loglevel: DEFAULT_LOGLEVEL,
                        nowrite: false,
                    }
                    .encode(),
                );
                0
            }
            (Object::NotifierGroup, op_ext::COUNTER) => self.create(Object::Counter),
            (Object::NotifierGroup, op_ext::EVENT_NOTIFIER_CREATE) => {
                self.create(Object::EventNotifier)
            }
            (Object::NotifierGroup, op::ENABLE | op::DISABLE) => 0,
            (Object::Counter, op_ext::COUNTER_CPU) => 0,
            // lttng-ust 2.13 does not implement global counters.
            (Object::Counter, op_ext::COUNTER_GLOBAL) => -i64::from(EINVAL),
            (
                Object::EventNotifier,
                op::ENABLE | op::DISABLE | op::FILTER | op::EXCLUSION | op_ext::CAPTURE,
            ) => 0,
            _ => -i64::from(EINVAL),
        }
    }

    fn session_of(&self, channel: u32) -> Option<u32> {
        match self.objects.get(&channel) {
            Some(Object::Channel { session, .. }) => Some(*session),
            _ => None,
        }
    }

    fn is_active(&self, session: u32) -> bool {
        matches!(
            self.objects.get(&session),
            Some(Object::Session { active: true, .. })
        )
    }

    /// Session enable: register matching events in every channel, then
    /// every channel not yet registered (lttng-ust's order).
    fn start_session(&mut self, session: u32, notify: &mut Vec<NotifyRequest>) {
        let channels = match self.objects.get_mut(&session) {
            Some(Object::Session {
                active,
                ever_active,
                channels,
            }) => {
                *active = true;
                *ever_active = true;
                channels.clone()
            }
            _ => return,
        };
        for &ch in &channels {
            self.sync_channel(ch, notify);
        }
        for ch in channels {
            if let Some(Object::Channel { registered, .. }) = self.objects.get_mut(&ch) {
                if !*registered {
                    *registered = true;
                    notify.push(NotifyRequest::Channel(ChannelReg {
                        session_objd: session,
                        channel_objd: ch,
                        ctx_fields: Vec::new(),
                    }));
                }
            }
        }
    }

    /// Creates (registers) an event recorder for every tracepoint matched by
    /// an enabled enabler of `channel` that has none yet.
    fn sync_channel(&mut self, channel: u32, notify: &mut Vec<NotifyRequest>) {
        let Some(Object::Channel {
            session, enablers, ..
        }) = self.objects.get(&channel)
        else {
            return;
        };
        let session = *session;
        let mut matched = Vec::new();
        for e in enablers {
            if let Some(Object::Enabler {
                pattern,
                loglevel_type,
                loglevel,
                enabled: true,
                exclusions,
                ..
            }) = self.objects.get(e)
            {
                for (i, tp) in self.provider.tracepoints.iter().enumerate() {
                    if star_glob_match(pattern, tp)
                        && loglevel_matches(*loglevel_type, *loglevel, DEFAULT_LOGLEVEL)
                        && !exclusions.iter().any(|x| star_glob_match(x, tp))
                    {
                        matched.push(i);
                    }
                }
            }
        }
        let Some(Object::Channel { recorded, .. }) = self.objects.get_mut(&channel) else {
            return;
        };
        for i in matched {
            if recorded.insert(i) {
                notify.push(NotifyRequest::Event(EventReg {
                    session_objd: session,
                    channel_objd: channel,
                    name: self.provider.tracepoints[i].clone(),
                    loglevel: DEFAULT_LOGLEVEL,
                    signature: "int, value".into(),
                    fields: Provider::fields(),
                    model_emf_uri: None,
                }));
            }
        }
    }

    /// Builds the reply bytes once the notify round trips are done.
    /// `channel_failed` is the first failing REGISTER_CHANNEL ret_code.
    pub fn finish(
        p: Pending,
        channel_failed: Option<i32>,
    ) -> (Vec<u8>, Option<[u8; FIELD_ITER_LEN]>) {
        let result = match channel_failed {
            Some(code) if p.fails_on_channel_error => i64::from(code),
            _ => p.result,
        };
        let (code, val) = reply_code(result);
        let reply = Reply::encode(p.handle, p.cmd, code, val, &p.body);
        // No entry follows an error reply.
        let trailer = if code == 0 { p.trailer } else { None };
        (reply.to_vec(), trailer)
    }
}

/// The zero "ack" an app sends before reading an ack-first payload.
pub fn ack(cmd: &Command) -> [u8; ustd::wire::cmd::REPLY_LEN] {
    Reply::encode(cmd.handle(), cmd.op(), 0, 0, &[])
}

/// lttng-ust's mapping of a handler result to (ret_code, ret_val).
fn reply_code(r: i64) -> (i32, u32) {
    if r >= 0 {
        return (0, r as u32);
    }
    let r = r.max(i64::from(i32::MIN)) as i32;
    if r <= -ust_err::ERR {
        return (r, r as u32);
    }
    let code = match -r {
        17 => -ust_err::EXIST,
        22 => -ust_err::INVAL,
        2 => -ust_err::NOENT,
        1 => -ust_err::PERM,
        38 => -ust_err::NOSYS,
        _ => -ust_err::ERR,
    };
    (code, r as u32)
}

/// Enabler patterns match tracepoint names as the daemon's do.
pub use ustd::core::session::glob_match as star_glob_match;

/// lttng-ust loglevel selection: 0 all, 1 range (at least as severe), 2 single.
fn loglevel_matches(kind: i32, wanted: i32, level: i32) -> bool {
    match kind {
        1 => wanted == -1 || level <= wanted,
        2 => level == wanted,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ustd::wire::cmd::{CmdMsg, LoglevelType, REPLY_LEN};

    fn run(t: &mut Tracer, m: CmdMsg) -> (Vec<NotifyRequest>, i32, u32) {
        match t.handle(&Command::new(Box::new(m.bytes)), &[], Vec::new()) {
            Answer::Reply { notify, pending } => {
                let (reply, _) = Tracer::finish(*pending, None);
                assert_eq!(reply.len(), REPLY_LEN);
                let code = i32::from_le_bytes([reply[8], reply[9], reply[10], reply[11]]);
                let val = u32::from_le_bytes([reply[12], reply[13], reply[14], reply[15]]);
                (notify, code, val)
            }
            _ => panic!("expected a reply"),
        }
    }

    #[test]
    fn start_registers_events_then_channel() {
        let mut t = Tracer::new(Provider::new(3), false);
        let (_, _, session) = run(&mut t, CmdMsg::simple(0, op::SESSION));
        let (_, _, chan) = run(&mut t, CmdMsg::channel(session, 920, false));
        let (_, _, ev) = run(
            &mut t,
            CmdMsg::event(chan, "ustd_bench:event_*", LoglevelType::All, -1),
        );
        assert_eq!((session, chan, ev), (1, 2, 3));
        let (n, _, _) = run(&mut t, CmdMsg::simple(ev, op::ENABLE));
        assert!(n.is_empty(), "inactive session registers nothing");
        let (n, code, _) = run(&mut t, CmdMsg::simple(session, op::ENABLE));
        assert_eq!(code, 0);
        let kinds: Vec<u32> = n.iter().map(NotifyRequest::notify_cmd).collect();
        assert_eq!(kinds, vec![0, 0, 0, 1]);
        let (_, code, val) = run(&mut t, CmdMsg::simple(session, op::ENABLE));
        assert_eq!((code, val as i32), (-ust_err::ERR, -EBUSY));
        let (n, _, _) = run(&mut t, CmdMsg::simple(session, op::DISABLE));
        assert!(n.is_empty());
        let (n, _, _) = run(&mut t, CmdMsg::simple(session, op::ENABLE));
        assert!(n.is_empty(), "restart registers nothing new");
    }

    #[test]
    fn unknown_handle_drops_and_list_ends_with_noent() {
        let mut t = Tracer::new(Provider::new(1), false);
        let c = Command::new(Box::new(CmdMsg::simple(42, op::ENABLE).bytes));
        assert!(matches!(t.handle(&c, &[], Vec::new()), Answer::Drop(_)));
        let (_, _, list) = run(&mut t, CmdMsg::simple(0, op::TRACEPOINT_LIST));
        let (_, code, _) = run(&mut t, CmdMsg::simple(list, op::TRACEPOINT_LIST_GET));
        assert_eq!(code, 0);
        let (_, code, val) = run(&mut t, CmdMsg::simple(list, op::TRACEPOINT_LIST_GET));
        assert_eq!((code, val), (-ust_err::NOENT, (-ust_err::NOENT) as u32));
    }

    #[test]
    fn globs_and_loglevels() {
        assert!(star_glob_match("*", "a:b"));
        assert!(star_glob_match("ustd_bench:*", "ustd_bench:event_1"));
        assert!(star_glob_match("u*_1", "ustd_bench:event_1"));
        assert!(!star_glob_match("u*_2", "ustd_bench:event_1"));
        assert!(!star_glob_match("ustd_bench:event", "ustd_bench:event_1"));
        assert!(loglevel_matches(1, 14, 13));
        assert!(!loglevel_matches(1, 6, 13));
        assert!(loglevel_matches(2, 13, 13));
    }
}
