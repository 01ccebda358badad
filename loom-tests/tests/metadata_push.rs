//! Model 2: metadata push ordering of one per-UID registry.
#![cfg(ustd_loom)]

use std::sync::atomic::{AtomicUsize, Ordering};

use loom::thread;
use ustd::core::metadata::{Fragment, MetadataError, MetadataRegistry, MetadataSink, PushError};
use ustd::sync::{lock, Arc, Mutex};
use ustd_loom_tests::metadata::{event, per_uid_registry, CHANNEL_KEY};
use ustd_loom_tests::without_mutants;

/// Apps registering concurrently (the model's threads are these plus the
/// main thread, which stops the session).
const APPS: usize = 3;

/// Coverage, across executions: a push delivered its own fragment; a push
/// found its text already delivered by another pusher (the reserve/commit
/// protocol at work); the final push delivered bytes; an app was refused
/// because the registry was closing.
static DELIVERED_OWN: AtomicUsize = AtomicUsize::new(0);
static DELIVERED_BY_OTHER: AtomicUsize = AtomicUsize::new(0);
static FINAL_PUSH_SENT: AtomicUsize = AtomicUsize::new(0);
static REFUSED_CLOSING: AtomicUsize = AtomicUsize::new(0);

/// The consumer's end of the metadata channel.
#[derive(Default)]
struct Consumer {
    received: Vec<u8>,
    closed: bool,
}

/// One pusher's link to the consumer. Each push is one message the
/// consumer handles whole, so deliveries are serialized by its lock; the
/// checks are the consumer's view of the protocol.
struct Link {
    consumer: Arc<Mutex<Consumer>>,
    registry: Arc<MetadataRegistry>,
    /// Fragments this link delivered.
    pushed: usize,
}

impl MetadataSink for Link {
    type Error = std::convert::Infallible;

    fn push(&mut self, fragment: &Fragment) -> Result<(), Self::Error> {
        let mut c = lock(&self.consumer);
        assert!(!c.closed, "metadata pushed after close");
        let expected = c.received.len() as u64;
        assert!(
            fragment.offset <= expected,
            "gap: fragment at {} while {expected} bytes were received",
            fragment.offset
        );
        assert!(
            fragment.offset >= expected,
            "duplicate: fragment at {} while {expected} bytes were received",
            fragment.offset
        );
        c.received.extend_from_slice(&fragment.bytes);
        self.pushed += 1;
        Ok(())
    }

    fn close(&mut self) -> Result<(), Self::Error> {
        let mut c = lock(&self.consumer);
        assert!(!c.closed, "metadata closed twice");
        let (text_len, _) = self.registry.lengths();
        assert_eq!(
            c.received.len(),
            text_len,
            "closed before the final push delivered everything"
        );
        c.closed = true;
        Ok(())
    }
}

/// An app's notify task handling REGISTER_EVENT: register, push what is
/// pending, reply. Returns whether the reply is a success.
fn register_and_push(
    registry: &Arc<MetadataRegistry>,
    consumer: &Arc<Mutex<Consumer>>,
    name: &str,
) -> bool {
    match registry.register_event(CHANNEL_KEY, &event(name)) {
        Ok(_) => {}
        Err(MetadataError::Closed) => {
            REFUSED_CLOSING.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        Err(e) => panic!("registration refused: {e}"),
    }
    let mut link = Link {
        consumer: consumer.clone(),
        registry: registry.clone(),
        pushed: 0,
    };
    let result = registry.push_all(&mut link);
    let seen = if link.pushed > 0 {
        &DELIVERED_OWN
    } else {
        &DELIVERED_BY_OTHER
    };
    seen.fetch_add(1, Ordering::Relaxed);
    match result {
        // Someone else closed after delivering our text: still a success.
        Ok(_) | Err(PushError::Registry(MetadataError::Closed)) => true,
        Err(e) => panic!("push failed: {e}"),
    }
}

/// A per-UID registry (preamble and channel written, nothing sent) shared by
/// `APPS` apps. Each app's notify task registers a distinct event and
/// pushes; meanwhile the main thread stops the session: final push, then
/// close. Every push goes through the registry's own protocol
/// (`push_all` / `final_push_and_close`: reserve a fragment, send it with no
/// lock held, commit).
///
/// Invariants (checked by the consumer on every delivery, then at the end):
/// 1. Fragments arrive contiguous and in order from offset 0: no gap, no
///    duplicate.
/// 2. The final push happens before the close: at close time the consumer
///    holds the whole text.
/// 3. Close happens exactly once, and nothing is pushed after it.
/// 4. An app whose registration succeeded has its event in what the
///    consumer received; one refused (registry closing) gets an error reply.
fn push_ordering() {
    let registry = Arc::new(per_uid_registry());
    let consumer = Arc::new(Mutex::new(Consumer::default()));

    let apps: Vec<_> = (0..APPS)
        .map(|i| {
            let (registry, consumer) = (registry.clone(), consumer.clone());
            thread::spawn(move || {
                let name = format!("model:event{i}");
                let ok = register_and_push(&registry, &consumer, &name);
                (name, ok)
            })
        })
        .collect();

    let mut link = Link {
        consumer: consumer.clone(),
        registry: registry.clone(),
        pushed: 0,
    };
    match registry.final_push_and_close(&mut link) {
        Ok(_) => {
            if link.pushed > 0 {
                FINAL_PUSH_SENT.fetch_add(1, Ordering::Relaxed);
            }
        }
        Err(e) => panic!("final push failed: {e}"),
    }
    let replies: Vec<_> = apps
        .into_iter()
        .map(|t| t.join().expect("model thread panicked"))
        .collect();

    assert!(registry.is_closed());
    let c = lock(&consumer);
    assert!(c.closed, "the session stop did not close the metadata");
    let text = registry.text();
    assert_eq!(
        c.received,
        text.as_bytes(),
        "the consumer lacks part of the text"
    );
    for (name, ok) in replies {
        assert_eq!(
            text.contains(&format!("name = \"{name}\"")),
            ok,
            "{name}: the reply and the metadata disagree"
        );
    }
}

without_mutants! {
    #[test]
    fn model_push_ordering() {
        ustd_loom_tests::explore("metadata push ordering", push_ordering);
        // The model must reach the cases it is about.
        for (what, n) in [
            ("push delivering its own fragment", &DELIVERED_OWN),
            ("push finding its text delivered by another", &DELIVERED_BY_OTHER),
            ("final push sending bytes", &FINAL_PUSH_SENT),
            ("registration refused while closing", &REFUSED_CLOSING),
        ] {
            assert!(n.load(Ordering::Relaxed) > 0, "no execution had a {what}");
        }
    }
}

/// Mutant `push_advance_early`: a push advances the sent offset when it
/// takes its fragment, before sending it, as lttng's pre-2.x-fix code did.
#[cfg(ustd_mutant = "push_advance_early")]
#[test]
fn mutant_push_advance_early_is_caught() {
    // Invariants 1 and 2: a gap (the advanced offset hides an unsent
    // fragment) or a close before everything was delivered.
    ustd_loom_tests::expect_failure(
        "metadata push ordering",
        &[
            "gap: fragment at",
            "closed before the final push delivered everything",
        ],
        push_ordering,
    );
}
