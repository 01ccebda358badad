//! The registry proper: ids, accumulated TSDL text and the push protocol.
//!
//! # Push protocol
//!
//! The text only grows. `sent_len` is the prefix the consumer has
//! acknowledged. At most one push is *in flight* at any time; whoever holds
//! it (the caller that received [`PushStep::Send`]) owns the right to send
//! and nobody else sends:
//!
//! 1. [`MetadataRegistry::begin_push`] returns `Send(fragment)` with every byte from
//!    `sent_len` to the current end and marks it in flight, or `Idle` when
//!    there is nothing new *or another push is in flight* (that pusher will
//!    see the new bytes when it commits, see 2).
//! 2. After the consumer acknowledged, [`MetadataRegistry::commit_push`] advances
//!    `sent_len` to the fragment's end and immediately hands the same caller
//!    the next step: `Send` with what was appended meanwhile (still in
//!    flight), `Close` if a close was requested and everything is sent, or
//!    `Idle`.
//! 3. If the send failed, [`MetadataRegistry::abort_push`] ends the flight without
//!    advancing `sent_len`; see [`PushFailure`].
//!
//! Hence the consumer receives fragments that are contiguous from offset 0,
//! in order, never overlapping, never twice, and a registration appended
//! while a push is in flight is always sent by that in-flight pusher's loop
//! (no lost wake-up). Nothing is sent with the registry lock held: the lock
//! only covers the bookkeeping, so a slow consumer never blocks
//! registrations.
//!
//! # Close
//!
//! [`MetadataRegistry::request_close`] moves the registry to `Closing`: registrations
//! are refused from then on (the app gets an error reply), pushes go on until
//! everything appended is sent, then exactly one caller gets
//! [`PushStep::Close`] (the one holding the flight at that moment) and the
//! registry is `Closed`. After that, pushes fail with
//! [`MetadataError::Closed`] and further close requests are no-ops.
//! [`MetadataRegistry::push_all`] and [`MetadataRegistry::final_push_and_close`] drive the
//! steps for a synchronous [`MetadataSink`].

use std::collections::HashMap;

use super::params::{ByteOrder, ClockParams, SessionParams};
use super::tsdl::{self, EnumLookup, EventBlock};
use super::{HeaderType, MetadataError};
use crate::sync::{lock, Mutex};
use crate::wire::field::{EnumEntry, Field};
use crate::wire::notify::EventReg;

/// lttng-sessiond refuses to grow a registry's text past 2^31 - 1 bytes.
pub const MAX_TEXT_LEN: usize = (u32::MAX >> 1) as usize;

/// Channel id `u32::MAX` is the metadata channel's; data channels stop below.
const LAST_CHANNEL_ID: u32 = u32::MAX - 1;
/// Event id `u32::MAX` means "exhausted" in lttng.
const LAST_EVENT_ID: u32 = u32::MAX - 1;

/// A run of metadata text to send to the consumer at `offset`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment {
    pub offset: u64,
    pub bytes: Vec<u8>,
    /// Metadata version for the consumer's PUSH_METADATA (0 until a
    /// regeneration exists).
    pub version: u64,
}

impl Fragment {
    fn end(&self) -> u64 {
        self.offset + self.bytes.len() as u64
    }
}

/// What the caller must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "a Send or Close step must be carried out"]
pub enum PushStep {
    /// Send this fragment, then call `commit_push` or `abort_push`.
    Send(Fragment),
    /// Everything is sent and a close was requested: close the consumer's
    /// metadata channel. Returned exactly once per registry.
    Close,
    /// Nothing to do now.
    Idle,
}

/// How a failed send ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushFailure {
    /// Nothing reached the consumer and a later push may succeed (the
    /// consumer has not created the metadata channel yet). The bytes stay
    /// pending. While closing there is no later push, so this counts as
    /// fatal.
    Retry,
    /// The consumer link is broken: like lttng, stop pushing for good. The
    /// registry becomes `Closed` and the caller gets the `Close` step.
    Fatal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    Open,
    /// Close requested: no more registrations, final pushes under way.
    Closing,
    /// Close step handed out; nothing more happens.
    Closed,
}

/// A synchronous consumer link, for [`MetadataRegistry::push_all`].
pub trait MetadataSink {
    type Error;
    /// Sends `fragment` and waits for the consumer's acknowledgement.
    fn push(&mut self, fragment: &Fragment) -> Result<(), Self::Error>;
    /// Closes the consumer's metadata channel.
    fn close(&mut self) -> Result<(), Self::Error>;
}

#[derive(Debug, thiserror::Error)]
pub enum PushError<E> {
    #[error(transparent)]
    Registry(#[from] MetadataError),
    #[error("consumer link failed")]
    Sink(E),
}

pub struct MetadataRegistry {
    /// Fixed at creation, read without the lock.
    byte_order: ByteOrder,
    uuid: [u8; 16],
    inner: Mutex<Inner>,
}

struct Inner {
    /// What the preamble was written from (regeneration writes it again).
    params: SessionParams,
    text: String,
    sent_len: usize,
    version: u64,
    /// `(offset, end)` of the fragment being sent.
    in_flight: Option<(usize, usize)>,
    lifecycle: Lifecycle,
    channels: HashMap<u64, Channel>,
    next_channel_id: u32,
    enums: Enums,
}

struct Channel {
    id: u32,
    /// Context fields and header type fixed by the first REGISTER_CHANNEL.
    registered: Option<(Vec<Field>, HeaderType)>,
    /// Events by name; identity is checked among same-name entries.
    events: HashMap<String, Vec<Event>>,
    next_event_id: u32,
}

/// An event's identity as lttng compares it: name (the map key), loglevel,
/// fields and model EMF URI. The signature is not part of it.
struct Event {
    loglevel: i32,
    fields: Vec<Field>,
    model_emf_uri: Option<String>,
    id: u32,
}

#[derive(Default)]
struct Enums {
    /// Indexed by enum id.
    by_id: Vec<(String, Vec<EnumEntry>)>,
    by_name: HashMap<String, Vec<u64>>,
}

impl EnumLookup for Enums {
    fn entries(&self, name: &str, id: u64) -> Option<&[EnumEntry]> {
        let (n, entries) = self.by_id.get(usize::try_from(id).ok()?)?;
        (n == name).then_some(&entries[..])
    }
}

impl MetadataRegistry {
    /// Creates the registry and writes the session statedump.
    pub fn new(params: &SessionParams) -> Self {
        Self {
            byte_order: params.abi.byte_order,
            uuid: params.uuid,
            inner: Mutex::new(Inner {
                params: params.clone(),
                text: tsdl::preamble(params),
                sent_len: 0,
                version: 0,
                in_flight: None,
                lifecycle: Lifecycle::Open,
                channels: HashMap::new(),
                next_channel_id: 0,
                enums: Enums::default(),
            }),
        }
    }

    pub fn uuid(&self) -> [u8; 16] {
        self.uuid
    }

    /// Creates the registry entry of a channel and returns its id, which
    /// the caller bakes into the channel's buffers. Called when the daemon
    /// creates the channel, before any app registers it (apps may register
    /// events of a channel before the channel itself). Idempotent per key.
    pub fn add_channel(&self, key: u64) -> Result<u32, MetadataError> {
        let mut g = lock(&self.inner);
        g.check_open()?;
        if let Some(ch) = g.channels.get(&key) {
            return Ok(ch.id);
        }
        let id = g.next_channel_id;
        if id > LAST_CHANNEL_ID {
            return Err(MetadataError::ChannelIdsExhausted);
        }
        g.next_channel_id = id.saturating_add(1);
        g.channels.insert(
            key,
            Channel {
                id,
                registered: None,
                events: HashMap::new(),
                next_event_id: 0,
            },
        );
        Ok(id)
    }

    /// REGISTER_CHANNEL: the first registration fixes the context fields,
    /// the header type (always large, as lttng 2.13) and appends the stream
    /// block; later ones must present the same context fields.
    pub fn register_channel(
        &self,
        key: u64,
        ctx_fields: &[Field],
    ) -> Result<(u32, HeaderType), MetadataError> {
        let mut g = lock(&self.inner);
        g.check_open()?;
        let Inner {
            text,
            channels,
            enums,
            ..
        } = &mut *g;
        let ch = channels
            .get_mut(&key)
            .ok_or(MetadataError::UnknownChannel(key))?;
        if let Some((stored, header)) = &ch.registered {
            return if stored.as_slice() == ctx_fields {
                Ok((ch.id, *header))
            } else {
                Err(MetadataError::ContextMismatch)
            };
        }
        let header = HeaderType::Large;
        let block = tsdl::stream_block(ch.id, header, ctx_fields, self.byte_order, enums)?;
        append(text, &block)?;
        ch.registered = Some((ctx_fields.to_vec(), header));
        Ok((ch.id, header))
    }

    /// REGISTER_EVENT: returns the event id within the channel.
    ///
    /// An event identical to one already in the channel (name, loglevel,
    /// fields, model EMF URI) gets the existing id and adds no text. lttng
    /// does this for per-UID registries and answers `-EINVAL` for per-PID
    /// ones; here a per-PID re-registration (a provider unloaded and loaded
    /// again) also gets its id back, since refusing it only leaves the event
    /// untraced while the metadata already describes it correctly.
    pub fn register_event(&self, key: u64, ev: &EventReg) -> Result<u32, MetadataError> {
        let mut g = lock(&self.inner);
        g.check_open()?;
        let Inner {
            text,
            channels,
            enums,
            ..
        } = &mut *g;
        let ch = channels
            .get_mut(&key)
            .ok_or(MetadataError::UnknownChannel(key))?;
        let same_name = ch
            .events
            .get(&ev.name)
            .map(Vec::as_slice)
            .unwrap_or_default();
        if let Some(known) = same_name.iter().find(|e| {
            e.loglevel == ev.loglevel
                && e.fields == ev.fields
                && e.model_emf_uri == ev.model_emf_uri
        }) {
            return Ok(known.id);
        }
        let id = ch.next_event_id;
        if id > LAST_EVENT_ID {
            return Err(MetadataError::EventIdsExhausted(ch.id));
        }
        let block = tsdl::event_block(
            &EventBlock {
                name: &ev.name,
                id,
                chan_id: ch.id,
                loglevel: ev.loglevel,
                model_emf_uri: ev.model_emf_uri.as_deref(),
                fields: &ev.fields,
            },
            self.byte_order,
            enums,
        )?;
        append(text, &block)?;
        ch.next_event_id = id.saturating_add(1);
        ch.events.entry(ev.name.clone()).or_default().push(Event {
            loglevel: ev.loglevel,
            fields: ev.fields.clone(),
            model_emf_uri: ev.model_emf_uri.clone(),
            id,
        });
        Ok(id)
    }

    /// Keys of the channels no app has registered (REGISTER_CHANNEL): the
    /// text has no stream class for them, so their data files must not be
    /// part of the trace. Nothing was ever recorded in them: lttng-ust
    /// registers a channel before its session starts writing.
    pub fn unregistered_channels(&self) -> Vec<u64> {
        let g = lock(&self.inner);
        let mut v: Vec<u64> = g
            .channels
            .iter()
            .filter(|(_, c)| c.registered.is_none())
            .map(|(k, _)| *k)
            .collect();
        v.sort_unstable();
        v
    }

    /// REGISTER_ENUM: registry-wide ids from 0. The same name with the same
    /// entries gets the existing id. lttng ignores the entries' auto flag in
    /// that comparison; it is compared here because it changes the text.
    pub fn register_enum(&self, name: &str, entries: &[EnumEntry]) -> Result<u64, MetadataError> {
        let mut g = lock(&self.inner);
        g.check_open()?;
        let enums = &mut g.enums;
        let ids = enums
            .by_name
            .get(name)
            .map(Vec::as_slice)
            .unwrap_or_default();
        if let Some(&id) = ids.iter().find(|&&id| {
            usize::try_from(id)
                .ok()
                .and_then(|i| enums.by_id.get(i))
                .is_some_and(|(_, e)| e == entries)
        }) {
            return Ok(id);
        }
        let id = u64::try_from(enums.by_id.len())
            .ok()
            .filter(|&id| id < u64::MAX)
            .ok_or(MetadataError::EnumIdsExhausted)?;
        enums.by_id.push((name.to_owned(), entries.to_vec()));
        enums.by_name.entry(name.to_owned()).or_default().push(id);
        Ok(id)
    }

    /// `regenerate metadata`: the whole text is written again from the
    /// registered channels and events (stream blocks first, then events by
    /// channel and id), with `clock` (measured again), under a new version,
    /// and is to be sent again from offset 0. The caller holds the set's
    /// `pushing` lock, so no push is in flight, and then resets the
    /// consumer's copy before pushing. Returns the new version.
    pub fn regenerate(&self, clock: ClockParams) -> Result<u64, MetadataError> {
        let mut g = lock(&self.inner);
        g.check_open()?;
        if g.in_flight.is_some() {
            return Err(MetadataError::PushProtocol(
                "regeneration while a push is in flight",
            ));
        }
        g.params.clock = clock;
        let mut text = tsdl::preamble(&g.params);
        let mut chans: Vec<&Channel> = g.channels.values().collect();
        chans.sort_by_key(|c| c.id);
        for ch in &chans {
            if let Some((ctx, header)) = &ch.registered {
                let block = tsdl::stream_block(ch.id, *header, ctx, self.byte_order, &g.enums)?;
                append(&mut text, &block)?;
            }
        }
        for ch in &chans {
            let mut events: Vec<(&String, &Event)> = ch
                .events
                .iter()
                .flat_map(|(name, v)| v.iter().map(move |e| (name, e)))
                .collect();
            events.sort_by_key(|(_, e)| e.id);
            for (name, e) in events {
                let block = tsdl::event_block(
                    &EventBlock {
                        name,
                        id: e.id,
                        chan_id: ch.id,
                        loglevel: e.loglevel,
                        model_emf_uri: e.model_emf_uri.as_deref(),
                        fields: &e.fields,
                    },
                    self.byte_order,
                    &g.enums,
                )?;
                append(&mut text, &block)?;
            }
        }
        g.text = text;
        g.sent_len = 0;
        g.version += 1;
        Ok(g.version)
    }

    /// Starts a push; see the module documentation.
    pub fn begin_push(&self) -> Result<PushStep, MetadataError> {
        let mut g = lock(&self.inner);
        if g.lifecycle == Lifecycle::Closed {
            return Err(MetadataError::Closed);
        }
        if g.in_flight.is_some() {
            return Ok(PushStep::Idle);
        }
        Ok(g.next_step())
    }

    /// Records that the consumer acknowledged `fragment` and returns the
    /// next step for the same caller.
    pub fn commit_push(&self, fragment: &Fragment) -> Result<PushStep, MetadataError> {
        let mut g = lock(&self.inner);
        let (_, end) = g.take_flight(fragment)?;
        g.sent_len = end;
        Ok(g.next_step())
    }

    /// Ends a failed push; see [`PushFailure`].
    pub fn abort_push(
        &self,
        fragment: &Fragment,
        failure: PushFailure,
    ) -> Result<PushStep, MetadataError> {
        let mut g = lock(&self.inner);
        g.take_flight(fragment)?;
        if failure == PushFailure::Retry && g.lifecycle == Lifecycle::Open {
            return Ok(PushStep::Idle);
        }
        tracing::warn!(
            unsent = g.text.len() - g.sent_len,
            "metadata push failed, closing the registry's metadata"
        );
        g.lifecycle = Lifecycle::Closed;
        Ok(PushStep::Close)
    }

    /// Refuses registrations from now on and returns the caller's next step:
    /// a final fragment, the close itself, or `Idle` when another caller
    /// holds the flight (it will get the `Close`) or the registry is already
    /// closed.
    pub fn request_close(&self) -> PushStep {
        let mut g = lock(&self.inner);
        match g.lifecycle {
            Lifecycle::Closed => return PushStep::Idle,
            Lifecycle::Open => {
                g.seal(self.byte_order);
                g.lifecycle = Lifecycle::Closing;
            }
            Lifecycle::Closing => {}
        }
        if g.in_flight.is_some() {
            return PushStep::Idle;
        }
        g.next_step()
    }

    /// Pushes everything pending through `sink` (and closes it if a close
    /// was requested meanwhile and this caller got the `Close` step).
    /// Returns whether this call closed the sink.
    pub fn push_all<S: MetadataSink>(&self, sink: &mut S) -> Result<bool, PushError<S::Error>> {
        let step = self.begin_push()?;
        self.drive(step, sink)
    }

    /// Final push then close, for stop/teardown. Returns whether this call
    /// performed the close (false when another caller does or did it).
    pub fn final_push_and_close<S: MetadataSink>(
        &self,
        sink: &mut S,
    ) -> Result<bool, PushError<S::Error>> {
        let step = self.request_close();
        self.drive(step, sink)
    }

    fn drive<S: MetadataSink>(
        &self,
        mut step: PushStep,
        sink: &mut S,
    ) -> Result<bool, PushError<S::Error>> {
        loop {
            step = match step {
                PushStep::Idle => return Ok(false),
                PushStep::Close => {
                    sink.close().map_err(PushError::Sink)?;
                    return Ok(true);
                }
                PushStep::Send(fragment) => match sink.push(&fragment) {
                    Ok(()) => self.commit_push(&fragment)?,
                    Err(e) => {
                        if self.abort_push(&fragment, PushFailure::Fatal)? == PushStep::Close {
                            // The link is already broken; the close is best effort.
                            let _ = sink.close();
                        }
                        return Err(PushError::Sink(e));
                    }
                },
            };
        }
    }

    pub fn lifecycle(&self) -> Lifecycle {
        lock(&self.inner).lifecycle
    }

    pub fn is_closed(&self) -> bool {
        self.lifecycle() == Lifecycle::Closed
    }

    /// The text beyond byte `offset`, if any: what a reader holding the
    /// first `offset` bytes lacks. The network consumer takes it before it
    /// sends a packet, so no index reaches a relayd before the metadata it
    /// needs (a push may deliver the same bytes later: they overlap).
    pub fn text_since(&self, offset: usize) -> Option<Vec<u8>> {
        let g = lock(&self.inner);
        g.text
            .as_bytes()
            .get(offset..)
            .filter(|t| !t.is_empty())
            .map(<[u8]>::to_vec)
    }

    /// The whole text generated so far.
    pub fn text(&self) -> String {
        lock(&self.inner).text.clone()
    }

    /// `(text length, acknowledged length)`.
    pub fn lengths(&self) -> (usize, usize) {
        let g = lock(&self.inner);
        (g.text.len(), g.sent_len)
    }
}

impl Inner {
    /// At close, a channel with events but no REGISTER_CHANNEL (its app
    /// died between the two: lttng-ust registers a session's events before
    /// its channels) gets a stream block without context, so that every
    /// event block names a stream class that exists: babeltrace2 refuses
    /// the whole trace otherwise. No file of such a channel is kept
    /// (`unregistered_channels`), so the context it lacks describes nothing.
    fn seal(&mut self, byte_order: ByteOrder) {
        let Inner {
            text,
            channels,
            enums,
            ..
        } = self;
        let mut ids: Vec<u32> = channels
            .values()
            .filter(|c| c.registered.is_none() && c.next_event_id > 0)
            .map(|c| c.id)
            .collect();
        ids.sort_unstable();
        for id in ids {
            // Only a text past its bound can fail here; the events then stay
            // without their stream class, as before.
            let _ = tsdl::stream_block(id, HeaderType::Large, &[], byte_order, enums)
                .map_err(MetadataError::from)
                .and_then(|block| append(text, &block));
        }
    }

    fn check_open(&self) -> Result<(), MetadataError> {
        match self.lifecycle {
            Lifecycle::Open => Ok(()),
            Lifecycle::Closing | Lifecycle::Closed => Err(MetadataError::Closed),
        }
    }

    /// With no push in flight: start one, hand out the close, or idle.
    fn next_step(&mut self) -> PushStep {
        debug_assert!(self.in_flight.is_none());
        let end = self.text.len();
        if end > self.sent_len {
            let fragment = Fragment {
                offset: self.sent_len as u64,
                bytes: self.text.as_bytes()[self.sent_len..end].to_vec(),
                version: self.version,
            };
            // Mutant: the historical push that advances the sent offset when
            // it takes its fragment, before sending it, and lets the next
            // pusher take the following bytes meanwhile.
            #[cfg(ustd_mutant = "push_advance_early")]
            {
                self.sent_len = end;
            }
            #[cfg(not(ustd_mutant = "push_advance_early"))]
            {
                self.in_flight = Some((self.sent_len, end));
            }
            return PushStep::Send(fragment);
        }
        if self.lifecycle == Lifecycle::Closing {
            self.lifecycle = Lifecycle::Closed;
            return PushStep::Close;
        }
        PushStep::Idle
    }

    /// Ends the flight `fragment` belongs to; refuses a fragment that is not
    /// the one in flight.
    fn take_flight(&mut self, fragment: &Fragment) -> Result<(usize, usize), MetadataError> {
        #[cfg(ustd_mutant = "push_advance_early")]
        if self.in_flight.is_none() {
            return Ok((fragment.offset as usize, fragment.end() as usize));
        }
        match self.in_flight {
            Some((offset, end))
                if offset as u64 == fragment.offset && end as u64 == fragment.end() =>
            {
                self.in_flight = None;
                Ok((offset, end))
            }
            _ => Err(MetadataError::PushProtocol(
                "fragment is not the push in flight",
            )),
        }
    }
}

fn append(text: &mut String, block: &str) -> Result<(), MetadataError> {
    if text.len().saturating_add(block.len()) > MAX_TEXT_LEN {
        return Err(MetadataError::TooLarge(MAX_TEXT_LEN));
    }
    text.push_str(block);
    Ok(())
}

#[cfg(all(test, not(ustd_loom)))]
mod tests {
    use super::*;
    use crate::core::metadata::params::{Abi, BufferingScheme, ClockParams, TracerVersion};
    use crate::core::metadata::TsdlError;
    use crate::wire::field::{EnumValue, FieldType, IntegerType, StringEncoding};

    fn registry() -> MetadataRegistry {
        MetadataRegistry::new(&SessionParams {
            uuid: [7; 16],
            abi: Abi {
                bits_per_long: 64,
                uint8_align: 8,
                uint16_align: 8,
                uint32_align: 8,
                uint64_align: 8,
                long_align: 8,
                byte_order: ByteOrder::Little,
            },
            tracer: TracerVersion {
                major: 2,
                minor: 13,
                patchlevel: 5,
            },
            scheme: BufferingScheme::PerUid { uid: 1000 },
            trace_name: "t".into(),
            creation_datetime: "20260101T000000+0000".into(),
            hostname: "h".into(),
            clock: ClockParams::monotonic(None, 0),
        })
    }

    fn int_field(name: &str, size_bits: u32) -> Field {
        Field {
            name: name.into(),
            ty: FieldType::Integer(IntegerType {
                size_bits,
                signed: true,
                reverse_byte_order: false,
                base: 10,
                encoding: StringEncoding::None,
                alignment_bits: 8,
            }),
        }
    }

    fn event(name: &str, fields: Vec<Field>) -> EventReg {
        EventReg {
            session_objd: 1,
            channel_objd: 2,
            name: name.into(),
            loglevel: 13,
            signature: "int, i".into(),
            fields,
            model_emf_uri: None,
        }
    }

    fn appended(r: &MetadataRegistry, f: impl FnOnce()) -> String {
        let before = r.text();
        f();
        let after = r.text();
        assert!(after.starts_with(&before), "text only grows");
        after[before.len()..].to_owned()
    }

    #[test]
    fn channel_ids_and_context_fields() {
        let r = registry();
        assert_eq!(r.add_channel(10).unwrap(), 0);
        assert_eq!(r.add_channel(20).unwrap(), 1);
        assert_eq!(r.add_channel(10).unwrap(), 0, "idempotent per key");
        assert_eq!(
            r.register_channel(30, &[]),
            Err(MetadataError::UnknownChannel(30))
        );

        let ctx = vec![int_field("vpid", 32)];
        let text = appended(&r, || {
            assert_eq!(
                r.register_channel(20, &ctx).unwrap(),
                (1, HeaderType::Large)
            );
        });
        assert!(
            text.starts_with("stream {\n\tid = 1;\n") && text.contains("_vpid;"),
            "{text}"
        );

        let text = appended(&r, || {
            assert_eq!(
                r.register_channel(20, &ctx).unwrap(),
                (1, HeaderType::Large)
            );
            let other = vec![int_field("vtid", 32)];
            assert_eq!(
                r.register_channel(20, &other),
                Err(MetadataError::ContextMismatch)
            );
        });
        assert_eq!(text, "", "later registrations append nothing");
    }

    /// What a network consumer takes before a packet: exactly the text it
    /// lacks, including an event registered after its last look, whatever
    /// the pushes did meanwhile.
    #[test]
    fn text_since_is_the_missing_tail() {
        let r = registry();
        r.add_channel(1).unwrap();
        r.register_channel(1, &[]).unwrap();
        let have = r.text().len();
        assert_eq!(r.text_since(have), None, "nothing new");
        assert_eq!(r.text_since(have + 10), None, "beyond the text");
        r.register_event(1, &event("p:late", vec![int_field("i", 32)]))
            .unwrap();
        let tail = r.text_since(have).expect("the new event's declaration");
        assert_eq!(tail, r.text().as_bytes()[have..]);
        assert!(String::from_utf8(tail)
            .unwrap()
            .contains("name = \"p:late\""));
        // A push acknowledging the text does not change what is missing.
        struct Nop;
        impl MetadataSink for Nop {
            type Error = std::convert::Infallible;
            fn push(&mut self, _: &Fragment) -> Result<(), Self::Error> {
                Ok(())
            }
            fn close(&mut self) -> Result<(), Self::Error> {
                Ok(())
            }
        }
        r.push_all(&mut Nop).unwrap();
        assert_eq!(r.text_since(have).unwrap(), r.text().as_bytes()[have..]);
    }

    /// A channel whose app registered its events but died before
    /// registering the channel gets its stream class at close (its files
    /// are still not kept); a registered or event-less channel gets nothing.
    #[test]
    fn close_gives_an_unregistered_channel_with_events_its_stream_class() {
        let r = registry();
        r.add_channel(1).unwrap();
        r.add_channel(2).unwrap();
        r.add_channel(3).unwrap();
        r.register_event(1, &event("p:a", vec![int_field("i", 32)]))
            .unwrap();
        r.register_event(2, &event("p:b", vec![int_field("i", 32)]))
            .unwrap();
        r.register_channel(2, &[]).unwrap();
        let text = appended(&r, || {
            let _ = r.request_close();
        });
        assert_eq!(text.matches("stream {").count(), 1, "{text}");
        assert!(text.contains("id = 0;"), "{text}");
        assert_eq!(r.unregistered_channels(), vec![1, 3]);
    }

    #[test]
    fn event_ids_identity_and_order() {
        let r = registry();
        r.add_channel(1).unwrap();
        r.add_channel(2).unwrap();
        // An event registered before its channel gets its block first (as
        // lttng-sessiond writes it).
        assert_eq!(r.unregistered_channels(), vec![1, 2]);
        let text = appended(&r, || {
            assert_eq!(
                r.register_event(1, &event("p:a", vec![int_field("i", 32)]))
                    .unwrap(),
                0
            );
            r.register_channel(1, &[]).unwrap();
        });
        assert!(
            text.find("event {").unwrap() < text.find("stream {").unwrap(),
            "{text}"
        );
        assert_eq!(r.unregistered_channels(), vec![2]);

        let text = appended(&r, || {
            // Same identity, different signature: same id, no text.
            let mut again = event("p:a", vec![int_field("i", 32)]);
            again.signature = "long, i".into();
            assert_eq!(r.register_event(1, &again).unwrap(), 0);
        });
        assert_eq!(text, "");

        // Same name, other layout / loglevel / URI: new ids, new blocks.
        let text = appended(&r, || {
            assert_eq!(
                r.register_event(1, &event("p:a", vec![int_field("i", 64)]))
                    .unwrap(),
                1
            );
            let mut ll = event("p:a", vec![int_field("i", 32)]);
            ll.loglevel = 4;
            assert_eq!(r.register_event(1, &ll).unwrap(), 2);
            let mut uri = ll.clone();
            uri.model_emf_uri = Some("u".into());
            assert_eq!(r.register_event(1, &uri).unwrap(), 3);
        });
        assert_eq!(text.matches("name = \"p:a\";").count(), 3);

        // Ids are per channel.
        r.register_channel(2, &[]).unwrap();
        assert_eq!(r.register_event(2, &event("p:a", vec![])).unwrap(), 0);
        assert_eq!(
            r.register_event(9, &event("p:a", vec![])),
            Err(MetadataError::UnknownChannel(9))
        );
    }

    #[test]
    fn refused_event_consumes_nothing() {
        let r = registry();
        r.add_channel(1).unwrap();
        let bad = Field {
            name: "s".into(),
            ty: FieldType::Struct {
                alignment: 0,
                fields: vec![int_field("x", 8)],
            },
        };
        let text = appended(&r, || {
            let err = r.register_event(1, &event("p:bad", vec![bad])).unwrap_err();
            assert_eq!(
                err,
                MetadataError::Tsdl(TsdlError::NonEmptyStruct("s".into()))
            );
            assert_eq!(err.ret_code(), -libc::EINVAL);
        });
        assert_eq!(text, "");
        assert_eq!(r.register_event(1, &event("p:good", vec![])).unwrap(), 0);
    }

    #[test]
    fn enum_ids_and_use() {
        let r = registry();
        r.add_channel(1).unwrap();
        r.register_channel(1, &[]).unwrap();
        let entry = |label: &str, v| EnumEntry {
            start: EnumValue {
                value: v,
                signed: false,
            },
            end: EnumValue {
                value: v,
                signed: false,
            },
            label: label.into(),
            is_auto: false,
        };
        let a = vec![entry("A", 0), entry("B", 1)];
        let b = vec![entry("A", 0)];
        assert_eq!(r.register_enum("p_e", &a).unwrap(), 0);
        assert_eq!(r.register_enum("p_e", &a).unwrap(), 0);
        assert_eq!(
            r.register_enum("p_e", &b).unwrap(),
            1,
            "same name, other entries"
        );
        assert_eq!(r.register_enum("p_f", &a).unwrap(), 2);
        let container = IntegerType {
            size_bits: 8,
            signed: false,
            reverse_byte_order: false,
            base: 10,
            encoding: StringEncoding::None,
            alignment_bits: 8,
        };
        let use_enum = |name: &str, id| Field {
            name: "c".into(),
            ty: FieldType::Enum {
                name: name.into(),
                id,
                container: container.clone(),
            },
        };
        let text = appended(&r, || {
            assert_eq!(
                r.register_event(1, &event("p:e", vec![use_enum("p_e", 1)]))
                    .unwrap(),
                0
            );
        });
        assert!(text.contains("\"A\" = 0,\n\t\t} _c;"), "{text}");
        // The id must belong to that name.
        let err = r
            .register_event(1, &event("p:x", vec![use_enum("p_f", 1)]))
            .unwrap_err();
        assert!(
            matches!(err, MetadataError::Tsdl(TsdlError::UnknownEnum { .. })),
            "{err:?}"
        );
        assert_eq!(err.ret_code(), -libc::ENOENT);
    }

    fn send(step: PushStep) -> Fragment {
        match step {
            PushStep::Send(f) => f,
            other => panic!("expected a fragment, got {other:?}"),
        }
    }

    #[test]
    fn regeneration_writes_the_whole_text_again() {
        let r = registry();
        r.add_channel(1).unwrap();
        r.add_channel(2).unwrap();
        r.register_channel(1, &[int_field("vpid", 32)]).unwrap();
        r.register_event(1, &event("p:a", vec![int_field("i", 32)]))
            .unwrap();
        r.register_channel(2, &[]).unwrap();
        r.register_event(2, &event("p:b", vec![])).unwrap();
        r.register_event(1, &event("p:c", vec![])).unwrap();
        let f = send(r.begin_push().unwrap());
        assert_eq!(
            r.regenerate(ClockParams::monotonic(None, 5)),
            Err(MetadataError::PushProtocol(
                "regeneration while a push is in flight"
            ))
        );
        assert_eq!(r.commit_push(&f).unwrap(), PushStep::Idle);
        let before = r.text();
        assert_eq!(r.regenerate(ClockParams::monotonic(None, 0)).unwrap(), 1);
        let after = r.text();
        assert_eq!(after.matches("/* CTF 1.8 */").count(), 1, "one header");
        let blocks = |t: &str| {
            let mut v: Vec<String> = t.split("\n\n").map(str::to_owned).collect();
            v.sort();
            v
        };
        assert_eq!(blocks(&after), blocks(&before), "the same blocks");
        assert!(
            after.find("stream {\n\tid = 1;").unwrap() < after.find("name = \"p:a\"").unwrap(),
            "stream classes before their events"
        );
        // Sent again from the start, under the new version.
        let again = send(r.begin_push().unwrap());
        assert_eq!((again.offset, again.version), (0, 1));
        assert_eq!(again.bytes, after.as_bytes());
        assert_eq!(r.commit_push(&again).unwrap(), PushStep::Idle);
        // A new clock offset shows in the regenerated text.
        r.regenerate(ClockParams::monotonic(None, 1234)).unwrap();
        assert!(r.text().contains("offset = 1234;"), "{}", r.text());
    }

    #[test]
    fn one_push_in_flight_and_no_lost_bytes() {
        let r = registry();
        r.add_channel(1).unwrap();
        r.register_channel(1, &[]).unwrap();
        let first = send(r.begin_push().unwrap());
        assert_eq!(first.offset, 0);
        assert_eq!(first.bytes, r.text().as_bytes());
        // Appended while in flight: another pusher idles, the holder gets it.
        r.register_event(1, &event("p:a", vec![])).unwrap();
        assert_eq!(r.begin_push().unwrap(), PushStep::Idle);
        let second = send(r.commit_push(&first).unwrap());
        assert_eq!(second.offset, first.bytes.len() as u64);
        assert!(String::from_utf8(second.bytes.clone())
            .unwrap()
            .starts_with("event {"));
        // A stale or foreign fragment is refused.
        assert!(matches!(
            r.commit_push(&first),
            Err(MetadataError::PushProtocol(_))
        ));
        assert_eq!(r.commit_push(&second).unwrap(), PushStep::Idle);
        assert_eq!(r.lengths().0, r.lengths().1);
        assert_eq!(r.begin_push().unwrap(), PushStep::Idle);
    }

    #[test]
    fn failed_pushes() {
        let r = registry();
        r.add_channel(1).unwrap();
        let f = send(r.begin_push().unwrap());
        assert_eq!(
            r.abort_push(&f, PushFailure::Retry).unwrap(),
            PushStep::Idle
        );
        assert_eq!(r.lengths().1, 0, "nothing acknowledged");
        let again = send(r.begin_push().unwrap());
        assert_eq!(again, f, "the same bytes are offered again");
        assert_eq!(
            r.abort_push(&again, PushFailure::Fatal).unwrap(),
            PushStep::Close
        );
        assert!(r.is_closed());
        assert_eq!(r.begin_push(), Err(MetadataError::Closed));
        assert_eq!(r.request_close(), PushStep::Idle);
        assert_eq!(r.add_channel(2), Err(MetadataError::Closed));
    }

    #[test]
    fn close_after_final_push_exactly_once() {
        let r = registry();
        r.add_channel(1).unwrap();
        // A push in flight when the close is requested: its holder closes.
        let f = send(r.begin_push().unwrap());
        assert_eq!(r.request_close(), PushStep::Idle);
        assert_eq!(r.lifecycle(), Lifecycle::Closing);
        let err = r.register_event(1, &event("p:late", vec![])).unwrap_err();
        assert_eq!(
            (err.clone(), err.ret_code()),
            (MetadataError::Closed, -libc::EPIPE)
        );
        assert_eq!(r.commit_push(&f).unwrap(), PushStep::Close);
        assert_eq!(r.lifecycle(), Lifecycle::Closed);
        assert_eq!(r.request_close(), PushStep::Idle);

        // Pending bytes when the close is requested: the closer pushes them first.
        let r = registry();
        let f = send(r.request_close());
        assert_eq!(f.bytes.len(), r.text().len());
        assert_eq!(
            r.request_close(),
            PushStep::Idle,
            "second closer while the first pushes"
        );
        // Retry while closing cannot be retried later: it closes.
        assert_eq!(
            r.abort_push(&f, PushFailure::Retry).unwrap(),
            PushStep::Close
        );
    }

    /// Records what a consumer would receive.
    #[derive(Default)]
    struct Consumer {
        received: Vec<u8>,
        fragments: usize,
        closes: usize,
        fail: bool,
    }

    impl MetadataSink for Consumer {
        type Error = &'static str;
        fn push(&mut self, f: &Fragment) -> Result<(), &'static str> {
            if self.fail {
                return Err("link down");
            }
            assert_eq!(f.offset, self.received.len() as u64, "contiguous, in order");
            self.received.extend_from_slice(&f.bytes);
            self.fragments += 1;
            Ok(())
        }
        fn close(&mut self) -> Result<(), &'static str> {
            self.closes += 1;
            Ok(())
        }
    }

    /// A consumer shared by pushers on several threads.
    struct Shared<'a>(&'a std::sync::Mutex<Consumer>);

    impl MetadataSink for Shared<'_> {
        type Error = &'static str;
        fn push(&mut self, f: &Fragment) -> Result<(), &'static str> {
            self.0.lock().unwrap().push(f)
        }
        fn close(&mut self) -> Result<(), &'static str> {
            self.0.lock().unwrap().close()
        }
    }

    #[test]
    fn sink_driver() {
        let r = registry();
        let mut c = Consumer::default();
        assert!(!r.push_all(&mut c).unwrap());
        r.add_channel(1).unwrap();
        r.register_channel(1, &[]).unwrap();
        r.register_event(1, &event("p:a", vec![])).unwrap();
        assert!(!r.push_all(&mut c).unwrap());
        assert!(r.final_push_and_close(&mut c).unwrap());
        assert!(!r.final_push_and_close(&mut c).unwrap());
        assert_eq!(c.received, r.text().as_bytes());
        assert_eq!((c.fragments, c.closes), (2, 1));

        let r = registry();
        let mut broken = Consumer {
            fail: true,
            ..Consumer::default()
        };
        assert!(matches!(
            r.push_all(&mut broken),
            Err(PushError::Sink("link down"))
        ));
        assert_eq!(broken.closes, 1);
        assert!(r.is_closed());
    }

    /// Many apps registering and pushing at once, then several closers:
    /// the consumer gets the whole text exactly once, in order, one close.
    #[test]
    fn concurrent_registrations_and_pushes() {
        let r = registry();
        let consumer = std::sync::Mutex::new(Consumer::default());
        for key in 0..4 {
            r.add_channel(key).unwrap();
        }
        std::thread::scope(|s| {
            for t in 0..8u64 {
                let (r, consumer) = (&r, &consumer);
                s.spawn(move || {
                    for i in 0..50u64 {
                        let name = format!("p:e{}", (t * 7 + i) % 60);
                        let id = r
                            .register_event(t % 4, &event(&name, vec![int_field("i", 32)]))
                            .unwrap();
                        assert!(id < 60);
                        if i % 5 == 0 {
                            r.register_channel(t % 4, &[]).unwrap();
                        }
                        r.push_all(&mut Shared(consumer)).unwrap();
                    }
                });
            }
        });
        std::thread::scope(|s| {
            for _ in 0..3 {
                let (r, consumer) = (&r, &consumer);
                s.spawn(move || r.final_push_and_close(&mut Shared(consumer)).unwrap());
            }
        });
        let c = consumer.into_inner().unwrap();
        assert_eq!(c.received, r.text().as_bytes());
        assert_eq!(c.closes, 1);
        assert_eq!(
            r.text().matches("event {").count(),
            4 * 60 - count_unreached()
        );
        assert_eq!(r.text().matches("stream {").count(), 4);
    }

    /// Events names thread `t` reaches on channel `t % 4`: threads t and t+4
    /// share a channel and between them cover every name but a few.
    fn count_unreached() -> usize {
        (0..4u64)
            .map(|ch| {
                let reached: std::collections::HashSet<u64> = [ch, ch + 4]
                    .iter()
                    .flat_map(|t| (0..50u64).map(move |i| (t * 7 + i) % 60))
                    .collect();
                60 - reached.len()
            })
            .sum()
    }
}
