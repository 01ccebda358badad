//! Tracing sessions as the user configured them: the desired state every
//! app is brought to. Pure data plus validation; applying it to apps is the
//! `io` layer's job (see `io::app_sync`).
//!
//! # Concurrency
//!
//! The session list is a mutex-protected map; control commands are rare and
//! the lock is never held across I/O. Each [`Session`] keeps its
//! configuration behind its own mutex. Every change bumps the global
//! [`Sessions::generation`] (SeqCst) *before* the fan-out takes its registry
//! snapshot; an app's registration reads the generation *after* it is
//! published and re-syncs if it moved. So an app registering concurrently
//! with `start` is either in the fan-out's snapshot or notices the change
//! itself: it is never left behind.
//!
//! # One owner per session
//!
//! A [`Session`] owns both its configuration and its run state
//! ([`RunState`]: `Configured -> Started(trace) -> Stopped(trace)`), behind
//! one per-session mutex, held for a state transition only (never across
//! I/O). Every transition re-checks the session under that mutex, so a
//! `destroy` between a command's checks and its effect cannot leave a trace
//! behind: [`Sessions::start`] refuses (and hands the fresh trace back for
//! disposal) once the session is destroyed, and [`Sessions::destroy`] takes
//! the trace out. The trace type is a parameter (`engine::trace::SessionTrace`
//! in the daemon, a model in the loom tests), so this stays I/O-free.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::sync::atomic::{fence, AtomicU64, Ordering};
use crate::sync::{lock, Arc, Mutex};
use crate::wire::cmd::LoglevelType;

use super::event_filter::EventFilter;
use super::tracker::{TrackerError, Trackers};

pub const DEFAULT_CHANNEL: &str = "channel0";
/// Longest event name or pattern the ABI carries (256 bytes with the NUL).
const MAX_NAME: usize = 255;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BufferScheme {
    Uid,
    Pid,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelAttrs {
    pub subbuf_size: u64,
    pub num_subbuf: u64,
    pub overwrite: bool,
    pub switch_timer_us: u32,
    pub read_timer_us: u32,
    pub buffers: BufferScheme,
    /// lttng's `--tracefile-size` (bytes per stream file, 0: one file) and
    /// `--tracefile-count` (files kept per stream, 0: all).
    #[serde(default)]
    pub tracefile_size: u64,
    #[serde(default)]
    pub tracefile_count: u64,
    /// lttng's `--monitor-timer`: kept, listed and saved; with no triggers
    /// served, nothing samples the buffers at that period.
    #[serde(default = "default_monitor_timer")]
    pub monitor_timer_us: u64,
}

/// lttng-tools 2.13's user-space channel monitor timer period.
const MONITOR_TIMER_US: u64 = 1_000_000;

fn default_monitor_timer() -> u64 {
    MONITOR_TIMER_US
}

impl ChannelAttrs {
    /// lttng-tools 2.13 defaults for user-space channels.
    pub fn default_for(buffers: BufferScheme) -> Self {
        let subbuf_size = match buffers {
            BufferScheme::Uid => 524_288,
            BufferScheme::Pid => 16_384,
        };
        Self {
            subbuf_size,
            num_subbuf: 4,
            overwrite: false,
            switch_timer_us: 0,
            read_timer_us: 0,
            buffers,
            tracefile_size: 0,
            tracefile_count: 0,
            monitor_timer_us: MONITOR_TIMER_US,
        }
    }

    fn validate(&self) -> Result<(), SessionError> {
        let page = 4096;
        if !self.subbuf_size.is_power_of_two() || self.subbuf_size < page {
            return Err(SessionError::Invalid(format!(
                "sub-buffer size {} must be a power of two of at least {page}",
                self.subbuf_size
            )));
        }
        if !self.num_subbuf.is_power_of_two() || (self.overwrite && self.num_subbuf < 2) {
            return Err(SessionError::Invalid(format!(
                "sub-buffer count {} must be a power of two (at least 2 in overwrite mode)",
                self.num_subbuf
            )));
        }
        Ok(())
    }
}

/// How an event rule selects by loglevel (lttng's `--loglevel` is a range:
/// this level and more severe; `--loglevel-only` is a single level).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LoglevelSel {
    pub kind: LoglevelType,
    pub level: i32,
}

impl LoglevelSel {
    pub const ALL: Self = Self {
        kind: LoglevelType::All,
        level: -1,
    };
}

/// Identity of an event rule, as lttng-sessiond matches them
/// (`trace_ust_ht_match_event`): name, loglevel, filter bytecode and the
/// set of exclusions. Two rules differing only in their filter are two rules.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventKey {
    pub pattern: String,
    pub loglevel: LoglevelSel,
    #[serde(default)]
    pub filter: Option<EventFilter>,
    /// Event names (globs allowed) the rule leaves out, in the order given;
    /// compared as a set.
    #[serde(default)]
    pub exclusions: Vec<String>,
}

impl EventKey {
    /// A rule without filter or exclusions.
    pub fn new(pattern: &str, loglevel: LoglevelSel) -> Self {
        Self {
            pattern: pattern.to_owned(),
            loglevel,
            filter: None,
            exclusions: Vec::new(),
        }
    }

    fn exclusion_set(&self) -> BTreeSet<&str> {
        self.exclusions.iter().map(String::as_str).collect()
    }
}

impl PartialEq for EventKey {
    fn eq(&self, o: &Self) -> bool {
        self.pattern == o.pattern
            && self.loglevel == o.loglevel
            && self.filter == o.filter
            && self.exclusion_set() == o.exclusion_set()
    }
}

impl Eq for EventKey {}

impl std::hash::Hash for EventKey {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.pattern.hash(h);
        self.loglevel.hash(h);
        self.filter.hash(h);
        self.exclusion_set().hash(h);
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRule {
    pub key: EventKey,
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelConfig {
    pub name: String,
    /// Session-level channel key: the per-UID registry key of the channel.
    pub key: u32,
    pub attrs: ChannelAttrs,
    pub enabled: bool,
    pub events: Vec<EventRule>,
    /// Context type values (`wire::cmd::ctx`), in the order they were added.
    pub contexts: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionConfig {
    pub name: String,
    pub output: PathBuf,
    /// Streams to an lttng-relayd instead of writing `output` (issue 11).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub net: Option<crate::core::net_output::NetOutput>,
    /// The uid that created the session: only it and root may see or control it.
    #[serde(default)]
    pub owner_uid: u32,
    /// That client's gid: a user's trace files get the pair, as lttng does.
    #[serde(default)]
    pub owner_gid: u32,
    pub active: bool,
    /// lttng-ust refuses new channels in a session that was ever started.
    pub ever_started: bool,
    pub channels: Vec<ChannelConfig>,
    /// Which apps the session traces (vpid, vuid, vgid trackers).
    #[serde(default, skip_serializing_if = "Trackers::is_default")]
    pub trackers: Trackers,
    /// Snapshot sessions: their outputs (None: a regular session).
    #[serde(default)]
    pub snapshot: Option<super::snapshot::SnapshotState>,
    /// Automatic rotations (`enable-rotation`).
    #[serde(default, skip_serializing_if = "super::rotation::Schedules::is_empty")]
    pub rotation: super::rotation::Schedules,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error("session `{0}` not found")]
    NotFound(String),
    #[error("session `{0}` already exists")]
    Exists(String),
    #[error("no session exists")]
    NoSession,
    #[error("channel `{0}` not found")]
    NoChannel(String),
    #[error("channel `{0}` already exists")]
    ChannelExists(String),
    #[error("cannot add channel `{0}`: session was already started (lttng-ust refuses new channels then)")]
    ChannelAfterStart(String),
    #[error("cannot add a context after the session was started")]
    ContextAfterStart,
    #[error("context `{0}` is already enabled on channel `{1}`")]
    ContextExists(String, String),
    #[error("session `{0}` is already started")]
    AlreadyActive(String),
    #[error("session `{0}` is not started")]
    NotActive(String),
    #[error("invalid event pattern `{0}`: {1}")]
    BadPattern(String, &'static str),
    #[error("invalid exclusion `{0}`: {1}")]
    BadExclusion(String, String),
    #[error("event `{0}` not found in channel `{1}`")]
    NoEvent(String, String),
    #[error("all channels of a session must use the same buffer scheme (session uses per-{0:?} buffers)")]
    MixedBuffers(BufferScheme),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Tracker(#[from] TrackerError),
}

/// What a session has run: nothing yet, or its trace (kept when stopped,
/// so a restart continues it).
pub enum RunState<T> {
    Configured,
    Started(Arc<T>),
    Stopped(Arc<T>),
}

struct Inner<T> {
    config: SessionConfig,
    run: RunState<T>,
    destroyed: bool,
    /// Stops under way whose buffers are not yet written out (DATA_PENDING).
    draining: usize,
}

pub struct Session<T> {
    pub id: u64,
    inner: Mutex<Inner<T>>,
}

impl<T> Session<T> {
    pub fn config(&self) -> SessionConfig {
        lock(&self.inner).config.clone()
    }

    /// The session's trace, once it was started.
    pub fn trace(&self) -> Option<Arc<T>> {
        match &lock(&self.inner).run {
            RunState::Configured => None,
            RunState::Started(t) | RunState::Stopped(t) => Some(t.clone()),
        }
    }

    /// Marks a stop under way until the guard drops: taken before the
    /// session stops, dropped once its buffers are written out, so that
    /// [`Self::data_pending`] never answers "written" in between.
    pub fn draining(&self) -> Draining<'_, T> {
        lock(&self.inner).draining += 1;
        Draining(self)
    }

    /// lttng's DATA_PENDING: `None` while the session is started (lttng
    /// answers an error then), else whether a stop is still writing its data.
    pub fn data_pending(&self) -> Option<bool> {
        let inner = lock(&self.inner);
        (!inner.config.active).then_some(inner.draining > 0)
    }
}

/// See [`Session::draining`].
pub struct Draining<'a, T>(&'a Session<T>);

impl<T> Drop for Draining<'_, T> {
    fn drop(&mut self) {
        lock(&self.0.inner).draining -= 1;
    }
}

/// Why [`Sessions::start`] did not start; a fresh trace it was given comes
/// back for the caller to dispose of.
pub struct StartRefused<T> {
    pub error: SessionError,
    pub unused: Option<T>,
}

/// A destroyed session and the trace taken out of it (if it had one).
pub type Destroyed<T> = (Arc<Session<T>>, Option<Arc<T>>);

/// The set of sessions plus the generation counter that orders
/// configuration changes against app registration (module docs).
pub struct Sessions<T> {
    by_name: Mutex<BTreeMap<String, Arc<Session<T>>>>,
    next_id: AtomicU64,
    generation: AtomicU64,
}

impl<T> Default for Sessions<T> {
    fn default() -> Self {
        Self {
            by_name: Mutex::new(BTreeMap::new()),
            next_id: AtomicU64::new(0),
            generation: AtomicU64::new(0),
        }
    }
}

/// Checks an event name or `*` glob the way lttng would accept it.
pub fn validate_pattern(p: &str) -> Result<(), SessionError> {
    let bad = |why| Err(SessionError::BadPattern(p.to_owned(), why));
    if p.is_empty() {
        return bad("empty");
    }
    if p.len() > MAX_NAME {
        return bad("longer than 255 bytes");
    }
    if p.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("contains whitespace or control characters");
    }
    if p.contains("**") {
        return bad("consecutive `*`");
    }
    Ok(())
}

/// lttng's rules for `-x`: only with a `*` pattern; each name fits the
/// ABI's 256 bytes; none may exclude the whole pattern (`-x 'a*'` on
/// `a*`). An exclusion that excludes nothing is allowed (lttng warns).
pub fn validate_exclusions(pattern: &str, exclusions: &[String]) -> Result<(), SessionError> {
    let bad = |x: &str, why: String| Err(SessionError::BadExclusion(x.to_owned(), why));
    if exclusions.is_empty() {
        return Ok(());
    }
    if !has_unescaped_star(pattern) {
        return bad(
            &exclusions[0],
            format!("exclusions need a `*` pattern, not `{pattern}`"),
        );
    }
    for x in exclusions {
        if x.is_empty() || x.len() > MAX_NAME || x.contains('\0') {
            return bad(x, "must be 1 to 255 bytes without NUL".into());
        }
        if excludes_all(pattern, x) {
            return bad(x, format!("excludes all events of `{pattern}`"));
        }
    }
    Ok(())
}

fn has_unescaped_star(p: &str) -> bool {
    let b = p.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'*' => return true,
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
    false
}

/// The excluder reaches a `*` while still matching the pattern before the
/// pattern's own `*` (lttng-tools' `check_exclusion_subsets` error case).
fn excludes_all(pattern: &str, x: &str) -> bool {
    let (e, x) = (pattern.as_bytes(), x.as_bytes());
    let (mut i, mut j) = (0, 0);
    loop {
        if e.get(i) == Some(&b'\\') {
            if x.get(j) != e.get(i) {
                return false;
            }
            i += 1;
            j += 1;
        } else {
            if x.get(j) == Some(&b'*') {
                return true;
            }
            if e.get(i) == Some(&b'*') {
                return false;
            }
        }
        if x.get(j) != e.get(i) || e.get(i).is_none() {
            return false;
        }
        i += 1;
        j += 1;
    }
}

/// Whether tracepoint `name` matches glob `pattern` (`*` matches any run).
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let (p, n) = (pattern.as_bytes(), name.as_bytes());
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ni));
            pi += 1;
        } else if pi < p.len() && p[pi] == n[ni] {
            pi += 1;
            ni += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

impl<T> Sessions<T> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Current configuration generation (read after an app is published).
    ///
    /// The fences make the pairing a store-buffering proof: a bump then the
    /// fan-out's reads of the registry, against an app's publication then
    /// this read. SeqCst on the counter alone does not order it against the
    /// registry's (acquire/release) app state; found by the loom model
    /// `session_owner`.
    pub fn generation(&self) -> u64 {
        fence(Ordering::SeqCst);
        self.generation.load(Ordering::SeqCst)
    }

    fn bump(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
    }

    pub fn get(&self, name: &str) -> Result<Arc<Session<T>>, SessionError> {
        lock(&self.by_name)
            .get(name)
            .cloned()
            .ok_or_else(|| SessionError::NotFound(name.to_owned()))
    }

    /// The named session, or the only/most recent one when `name` is None
    /// (lttng keeps a "current session"; ustd uses the newest one).
    pub fn resolve(&self, name: Option<&str>) -> Result<Arc<Session<T>>, SessionError> {
        match name {
            Some(n) => self.get(n),
            None => lock(&self.by_name)
                .values()
                .max_by_key(|s| s.id)
                .cloned()
                .ok_or(SessionError::NoSession),
        }
    }

    pub fn all(&self) -> Vec<Arc<Session<T>>> {
        lock(&self.by_name).values().cloned().collect()
    }

    pub fn active(&self) -> Vec<Arc<Session<T>>> {
        self.all()
            .into_iter()
            .filter(|s| lock(&s.inner).config.active)
            .collect()
    }

    pub fn create(&self, name: &str, output: PathBuf) -> Result<Arc<Session<T>>, SessionError> {
        self.create_for(name, output, (0, 0))
    }

    /// Creates a session owned by `(uid, gid)`.
    pub fn create_for(
        &self,
        name: &str,
        output: PathBuf,
        owner: (u32, u32),
    ) -> Result<Arc<Session<T>>, SessionError> {
        self.create_with(name, output, owner, None, None)
    }

    /// Creates a session owned by `(uid, gid)`: a snapshot session when
    /// `snapshot` is given, streaming to `net` if given.
    pub fn create_with(
        &self,
        name: &str,
        output: PathBuf,
        (owner_uid, owner_gid): (u32, u32),
        snapshot: Option<super::snapshot::SnapshotState>,
        net: Option<crate::core::net_output::NetOutput>,
    ) -> Result<Arc<Session<T>>, SessionError> {
        if name.is_empty() || name.contains('/') || name.len() > MAX_NAME {
            return Err(SessionError::Invalid(format!(
                "invalid session name `{name}`"
            )));
        }
        let mut m = lock(&self.by_name);
        if m.contains_key(name) {
            return Err(SessionError::Exists(name.to_owned()));
        }
        let s = Arc::new(Session {
            id: self.next_id.fetch_add(1, Ordering::Relaxed) + 1,
            inner: Mutex::new(Inner {
                config: SessionConfig {
                    name: name.to_owned(),
                    output,
                    net,
                    owner_uid,
                    owner_gid,
                    active: false,
                    ever_started: false,
                    channels: Vec::new(),
                    trackers: Trackers::default(),
                    snapshot,
                    rotation: Default::default(),
                },
                run: RunState::Configured,
                destroyed: false,
                draining: 0,
            }),
        });
        m.insert(name.to_owned(), s.clone());
        Ok(s)
    }

    /// Removes the session and takes its trace out; the caller then tears
    /// down its app state and closes the trace. Later transitions of the
    /// session are refused.
    pub fn destroy(&self, name: &str) -> Result<Destroyed<T>, SessionError> {
        let s = lock(&self.by_name)
            .remove(name)
            .ok_or_else(|| SessionError::NotFound(name.to_owned()))?;
        let trace = {
            let mut inner = lock(&s.inner);
            inner.config.active = false;
            inner.destroyed = true;
            match std::mem::replace(&mut inner.run, RunState::Configured) {
                RunState::Configured => None,
                RunState::Started(t) | RunState::Stopped(t) => Some(t),
            }
        };
        self.bump();
        Ok((s, trace))
    }

    /// Whether starting `s` needs a fresh trace (it never ran). An answer
    /// only: [`Sessions::start`] checks again.
    pub fn needs_trace(&self, s: &Session<T>) -> Result<bool, SessionError> {
        let inner = lock(&s.inner);
        if inner.destroyed {
            return Err(SessionError::NotFound(inner.config.name.clone()));
        }
        if inner.config.active {
            return Err(SessionError::AlreadyActive(inner.config.name.clone()));
        }
        Ok(matches!(inner.run, RunState::Configured))
    }

    /// Starts `s`: `Configured` needs `fresh` and becomes `Started(fresh)`,
    /// `Stopped(t)` becomes `Started(t)`. One transition under the session's
    /// mutex, so a concurrent `destroy` either took the trace out after this
    /// or makes this refuse.
    pub fn start(&self, s: &Session<T>, fresh: Option<T>) -> Result<(), StartRefused<T>> {
        let refuse = |error, unused| Err(StartRefused { error, unused });
        let mut inner = lock(&s.inner);
        // The check the mutant `start_unchecked` leaves to `needs_trace`,
        // done earlier and without the lock: check-then-act.
        #[cfg(not(ustd_mutant = "start_unchecked"))]
        if inner.destroyed {
            let name = inner.config.name.clone();
            return refuse(SessionError::NotFound(name), fresh);
        }
        let mut next = inner.config.clone();
        if let Err(e) = next.start() {
            return refuse(e, fresh);
        }
        let (run, unused) = match (
            std::mem::replace(&mut inner.run, RunState::Configured),
            fresh,
        ) {
            (RunState::Configured, Some(t)) => (RunState::Started(Arc::new(t)), None),
            (RunState::Configured, None) => {
                let e = SessionError::Invalid("starting a session needs its trace".into());
                return refuse(e, None);
            }
            (RunState::Stopped(t) | RunState::Started(t), fresh) => (RunState::Started(t), fresh),
        };
        inner.run = run;
        inner.config = next;
        drop(inner);
        self.bump();
        if unused.is_some() {
            // Raced with another start that installed its own trace.
            return Err(StartRefused {
                error: SessionError::AlreadyActive(s.config().name),
                unused,
            });
        }
        Ok(())
    }

    /// Stops `s` (`Started(t)` becomes `Stopped(t)`); returns its trace.
    pub fn stop(&self, s: &Session<T>) -> Result<Option<Arc<T>>, SessionError> {
        let mut inner = lock(&s.inner);
        let mut next = inner.config.clone();
        next.stop()?;
        inner.config = next;
        let trace = match std::mem::replace(&mut inner.run, RunState::Configured) {
            RunState::Configured => None,
            RunState::Started(t) | RunState::Stopped(t) => {
                inner.run = RunState::Stopped(t.clone());
                Some(t)
            }
        };
        drop(inner);
        self.bump();
        Ok(trace)
    }

    /// Every session's trace (for work that concerns all, like an app
    /// leaving).
    pub fn traces(&self) -> Vec<Arc<T>> {
        self.all().iter().filter_map(|s| s.trace()).collect()
    }

    /// Takes every session's trace out (daemon shutdown).
    pub fn take_traces(&self) -> Vec<Arc<T>> {
        let all = std::mem::take(&mut *lock(&self.by_name));
        all.into_values()
            .filter_map(|s| {
                let mut inner = lock(&s.inner);
                inner.destroyed = true;
                match std::mem::replace(&mut inner.run, RunState::Configured) {
                    RunState::Configured => None,
                    RunState::Started(t) | RunState::Stopped(t) => Some(t),
                }
            })
            .collect()
    }

    /// Applies `f` to a session's configuration and publishes the change.
    pub fn update<R>(
        &self,
        s: &Session<T>,
        f: impl FnOnce(&mut SessionConfig) -> Result<R, SessionError>,
    ) -> Result<R, SessionError> {
        let mut inner = lock(&s.inner);
        if inner.destroyed {
            return Err(SessionError::NotFound(inner.config.name.clone()));
        }
        let mut next = inner.config.clone();
        let out = f(&mut next)?;
        inner.config = next;
        drop(inner);
        self.bump();
        Ok(out)
    }
}

impl SessionConfig {
    /// lttng's rule: the owner and root may access a session.
    pub fn accessible_by(&self, uid: u32) -> bool {
        uid == 0 || uid == self.owner_uid
    }

    pub fn channel(&self, name: &str) -> Option<&ChannelConfig> {
        self.channels.iter().find(|c| c.name == name)
    }

    fn channel_mut(&mut self, name: &str) -> Result<&mut ChannelConfig, SessionError> {
        self.channels
            .iter_mut()
            .find(|c| c.name == name)
            .ok_or_else(|| SessionError::NoChannel(name.to_owned()))
    }

    /// `enable-channel`: creates the channel, or re-enables a disabled one
    /// (with its attributes: those given are ignored then). An enabled
    /// channel is refused, as lttng-sessiond does (`channel_ust_enable`).
    pub fn enable_channel(
        &mut self,
        name: &str,
        attrs: Option<ChannelAttrs>,
    ) -> Result<(), SessionError> {
        if let Some(c) = self.channels.iter_mut().find(|c| c.name == name) {
            if c.enabled {
                return Err(SessionError::ChannelExists(name.to_owned()));
            }
            c.enabled = true;
            return Ok(());
        }
        if self.ever_started {
            return Err(SessionError::ChannelAfterStart(name.to_owned()));
        }
        validate_pattern(name)
            .map_err(|_| SessionError::Invalid(format!("invalid channel name `{name}`")))?;
        if name.contains('*') || name.contains(':') {
            return Err(SessionError::Invalid(format!(
                "invalid channel name `{name}`"
            )));
        }
        let attrs = attrs.unwrap_or_else(|| ChannelAttrs::default_for(self.buffer_scheme()));
        attrs.validate()?;
        if let Some(first) = self.channels.first() {
            if first.attrs.buffers != attrs.buffers {
                return Err(SessionError::MixedBuffers(first.attrs.buffers));
            }
        }
        let key = self.channels.len() as u32;
        self.channels.push(ChannelConfig {
            name: name.to_owned(),
            key,
            attrs,
            enabled: true,
            events: Vec::new(),
            contexts: Vec::new(),
        });
        Ok(())
    }

    /// The session's buffer scheme (fixed by its first channel; per-UID by default).
    pub fn buffer_scheme(&self) -> BufferScheme {
        self.channels
            .first()
            .map_or(BufferScheme::Uid, |c| c.attrs.buffers)
    }

    /// `disable-channel`: apps stop recording into it (its rules stay); a
    /// disabled channel stays disabled without error, as in lttng.
    pub fn disable_channel(&mut self, name: &str) -> Result<(), SessionError> {
        self.channel_mut(name)?.enabled = false;
        Ok(())
    }

    fn channel_or_default(
        &mut self,
        channel: Option<&str>,
    ) -> Result<&mut ChannelConfig, SessionError> {
        let name = channel.unwrap_or(DEFAULT_CHANNEL);
        if self.channel(name).is_none() {
            if channel.is_some() {
                return Err(SessionError::NoChannel(name.to_owned()));
            }
            self.enable_channel(DEFAULT_CHANNEL, None)?;
        }
        self.channel_mut(name)
    }

    pub fn enable_event(
        &mut self,
        channel: Option<&str>,
        pattern: &str,
        loglevel: LoglevelSel,
    ) -> Result<(), SessionError> {
        self.enable_rule(channel, EventKey::new(pattern, loglevel))
    }

    /// Enables the rule `key` (creating it, or re-enabling the same rule).
    pub fn enable_rule(
        &mut self,
        channel: Option<&str>,
        key: EventKey,
    ) -> Result<(), SessionError> {
        validate_pattern(&key.pattern)?;
        validate_exclusions(&key.pattern, &key.exclusions)?;
        let ch = self.channel_or_default(channel)?;
        match ch.events.iter_mut().find(|e| e.key == key) {
            Some(e) => e.enabled = true,
            None => ch.events.push(EventRule { key, enabled: true }),
        }
        Ok(())
    }

    pub fn disable_event(
        &mut self,
        channel: Option<&str>,
        pattern: &str,
    ) -> Result<(), SessionError> {
        let name = channel.unwrap_or(DEFAULT_CHANNEL);
        let ch = self.channel_mut(name)?;
        let mut found = false;
        for e in ch.events.iter_mut().filter(|e| e.key.pattern == pattern) {
            e.enabled = false;
            found = true;
        }
        if !found {
            return Err(SessionError::NoEvent(pattern.to_owned(), name.to_owned()));
        }
        Ok(())
    }

    /// `add-context`: on one channel, or on every channel when `channel` is
    /// None (creating the default channel if there is none).
    pub fn add_context(
        &mut self,
        channel: Option<&str>,
        ctx_name: &str,
    ) -> Result<(), SessionError> {
        let ctx = crate::wire::cmd::ctx::from_name(ctx_name)
            .ok_or_else(|| SessionError::Invalid(format!("unknown context type `{ctx_name}`")))?;
        if self.ever_started {
            return Err(SessionError::ContextAfterStart);
        }
        let targets: Vec<String> = match channel {
            Some(c) => vec![c.to_owned()],
            None if self.channels.is_empty() => {
                self.enable_channel(DEFAULT_CHANNEL, None)?;
                vec![DEFAULT_CHANNEL.to_owned()]
            }
            None => self.channels.iter().map(|c| c.name.clone()).collect(),
        };
        for t in targets {
            let ch = self.channel_mut(&t)?;
            if ch.contexts.contains(&ctx) {
                return Err(SessionError::ContextExists(ctx_name.to_owned(), t));
            }
            ch.contexts.push(ctx);
        }
        Ok(())
    }

    pub fn start(&mut self) -> Result<(), SessionError> {
        if self.active {
            return Err(SessionError::AlreadyActive(self.name.clone()));
        }
        if self.channels.is_empty() {
            return Err(SessionError::Invalid(format!(
                "session `{}` has no channel and no event; enable an event first",
                self.name
            )));
        }
        self.active = true;
        self.ever_started = true;
        Ok(())
    }

    pub fn stop(&mut self) -> Result<(), SessionError> {
        if !self.active {
            return Err(SessionError::NotActive(self.name.clone()));
        }
        self.active = false;
        Ok(())
    }
}

#[cfg(all(test, not(ustd_loom)))]
mod tests {
    use super::*;

    #[test]
    fn glob() {
        assert!(glob_match("ustd_fixture:*", "ustd_fixture:simple"));
        assert!(glob_match("*", "a:b"));
        assert!(glob_match("a*c", "abbbc"));
        assert!(glob_match("*:rich", "ustd_fixture:rich"));
        assert!(!glob_match("a*c", "abbbd"));
        assert!(!glob_match("exact", "exactly"));
        assert!(glob_match("exact", "exact"));
    }

    #[test]
    fn lifecycle_and_errors() {
        let s = Sessions::<()>::new();
        let a = s.create("a", "/tmp/a".into()).unwrap();
        assert_eq!(
            s.create("a", "/tmp/a".into()).err(),
            Some(SessionError::Exists("a".into()))
        );
        let g0 = s.generation();
        s.update(&a, |c| c.enable_event(None, "p:*", LoglevelSel::ALL))
            .unwrap();
        assert!(s.generation() > g0);
        assert_eq!(a.config().channels[0].name, DEFAULT_CHANNEL);
        assert!(matches!(
            s.update(&a, |c| c.enable_event(None, "", LoglevelSel::ALL)),
            Err(SessionError::BadPattern(..))
        ));
        s.update(&a, |c| c.add_context(None, "vpid")).unwrap();
        assert!(s.update(&a, |c| c.add_context(None, "bogus")).is_err());
        s.update(&a, |c| c.start()).unwrap();
        assert!(a.config().active);
        assert_eq!(
            s.update(&a, |c| c.start()),
            Err(SessionError::AlreadyActive("a".into()))
        );
        assert_eq!(
            s.update(&a, |c| c.enable_channel("late", None)),
            Err(SessionError::ChannelAfterStart("late".into()))
        );
        // A failed update leaves the configuration untouched.
        assert_eq!(a.config().channels.len(), 1);
        s.update(&a, |c| c.stop()).unwrap();
        assert_eq!(
            s.update(&a, |c| c.stop()),
            Err(SessionError::NotActive("a".into()))
        );
        assert!(s.get("nope").is_err());
        s.destroy("a").unwrap();
        assert_eq!(s.resolve(None).err(), Some(SessionError::NoSession));
    }

    #[test]
    fn channels_disable_and_enable_as_lttng() {
        let s: Sessions<()> = Sessions::new();
        let a = s.create("a", PathBuf::from("/t")).unwrap();
        let small = ChannelAttrs {
            subbuf_size: 65_536,
            ..ChannelAttrs::default_for(BufferScheme::Uid)
        };
        s.update(&a, |c| c.enable_channel("c", Some(small.clone())))
            .unwrap();
        // Enabled: refused, whatever the attributes.
        assert_eq!(
            s.update(&a, |c| c.enable_channel("c", Some(small.clone()))),
            Err(SessionError::ChannelExists("c".into()))
        );
        s.update(&a, |c| c.disable_channel("c")).unwrap();
        s.update(&a, |c| c.disable_channel("c")).unwrap();
        assert!(!a.config().channels[0].enabled);
        assert_eq!(
            s.update(&a, |c| c.disable_channel("nope")),
            Err(SessionError::NoChannel("nope".into()))
        );
        // Disabled: re-enabled with its own attributes, also after start.
        s.update(&a, |c| c.start()).unwrap();
        s.update(&a, |c| c.enable_channel("c", None)).unwrap();
        let c = &a.config().channels[0];
        assert!(c.enabled);
        assert_eq!(c.attrs, small);
    }

    #[test]
    fn data_pending_until_the_stop_has_written_out() {
        let s: Sessions<()> = Sessions::new();
        let a = s.create("a", PathBuf::from("/t")).unwrap();
        assert_eq!(a.data_pending(), Some(false));
        s.update(&a, |c| c.enable_channel("c", None)).unwrap();
        s.update(&a, |c| c.start()).unwrap();
        assert_eq!(a.data_pending(), None, "started: lttng answers an error");
        let g = a.draining();
        // Still started: an error; then stopped but not written out: pending.
        assert_eq!(a.data_pending(), None);
        s.update(&a, |c| c.stop()).unwrap();
        assert_eq!(a.data_pending(), Some(true));
        drop(g);
        assert_eq!(a.data_pending(), Some(false));
    }

    #[test]
    fn buffer_schemes_do_not_mix() {
        let s = Sessions::<()>::new();
        let a = s.create("a", "/tmp/a".into()).unwrap();
        let pid = ChannelAttrs::default_for(BufferScheme::Pid);
        s.update(&a, |c| c.enable_channel("p", Some(pid))).unwrap();
        let uid = ChannelAttrs::default_for(BufferScheme::Uid);
        assert!(matches!(
            s.update(&a, |c| c.enable_channel("u", Some(uid))),
            Err(SessionError::MixedBuffers(_))
        ));
        let bad = ChannelAttrs {
            subbuf_size: 1000,
            ..ChannelAttrs::default_for(BufferScheme::Pid)
        };
        assert!(matches!(
            s.update(&a, |c| c.enable_channel("x", Some(bad))),
            Err(SessionError::Invalid(_))
        ));
    }

    fn filter(expr: &str, byte: u8) -> Option<EventFilter> {
        Some(EventFilter::new(expr.into(), vec![byte, 1], 2).unwrap())
    }

    #[test]
    fn rules_keyed_on_name_loglevel_filter_and_exclusion_set() {
        let s = Sessions::<()>::new();
        let a = s.create("a", "/tmp/a".into()).unwrap();
        let rule = |f, x: &[&str]| EventKey {
            filter: f,
            exclusions: x.iter().map(|s| s.to_string()).collect(),
            ..EventKey::new("p:*", LoglevelSel::ALL)
        };
        for key in [
            rule(filter("a == 1", 1), &["p:x", "p:y"]),
            rule(filter("a==1", 1), &["p:y", "p:x"]), // same bytecode, same set
            rule(filter("a == 2", 2), &["p:x", "p:y"]),
            rule(None, &["p:x", "p:y"]),
            rule(None, &[]),
        ] {
            s.update(&a, |c| c.enable_rule(None, key)).unwrap();
        }
        let events = &a.config().channels[0].events;
        assert_eq!(events.len(), 4);
        assert_eq!(
            events[0].key.filter.as_ref().map(|f| f.expression()),
            Some("a == 1")
        );
        // disable-event by name reaches every rule of that name.
        s.update(&a, |c| c.disable_event(None, "p:*")).unwrap();
        assert!(a.config().channels[0].events.iter().all(|e| !e.enabled));
    }

    #[test]
    fn exclusions_follow_lttng_rules() {
        let x = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(validate_exclusions("p:*", &x(&["p:a", "q:b"])).is_ok());
        assert!(matches!(
            validate_exclusions("p:a", &x(&["p:b"])),
            Err(SessionError::BadExclusion(..))
        ));
        assert!(matches!(
            validate_exclusions("p:*", &x(&["p*"])),
            Err(SessionError::BadExclusion(..))
        ));
        assert!(matches!(
            validate_exclusions("p:*", &x(&["p:*"])),
            Err(SessionError::BadExclusion(..))
        ));
        assert!(validate_exclusions("p:*", &x(&["p:a*"])).is_ok());
        assert!(matches!(
            validate_exclusions("p:*", &x(&[""])),
            Err(SessionError::BadExclusion(..))
        ));
        assert!(matches!(
            validate_exclusions("p:*", &x(&[&"a".repeat(256)])),
            Err(SessionError::BadExclusion(..))
        ));
    }
}
