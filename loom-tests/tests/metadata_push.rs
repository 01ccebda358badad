//! Loom model of the metadata push protocol: concurrent registrations,
//! pushes and closes must deliver the whole text to the consumer once, in
//! order, and close it exactly once.
//!
//! Run: RUSTFLAGS="--cfg ustd_loom" cargo test -p ustd-loom-tests --release --test metadata_push
#![cfg(ustd_loom)]

use ustd::core::metadata::{
    Abi, BufferingScheme, ByteOrder, ClockParams, Fragment, MetadataError, MetadataSink, PushError,
    Registry, SessionParams, TracerVersion,
};
use ustd::sync::{lock, thread, Arc, Mutex};
use ustd::wire::notify::EventReg;

#[derive(Default)]
struct Consumer {
    received: Vec<u8>,
    closes: usize,
}

struct Link(Arc<Mutex<Consumer>>);

impl MetadataSink for Link {
    type Error = ();
    fn push(&mut self, f: &Fragment) -> Result<(), ()> {
        let mut c = lock(&self.0);
        assert_eq!(f.offset, c.received.len() as u64, "gap or overlap");
        c.received.extend_from_slice(&f.bytes);
        Ok(())
    }
    fn close(&mut self) -> Result<(), ()> {
        lock(&self.0).closes += 1;
        Ok(())
    }
}

fn registry() -> Registry {
    Registry::new(&SessionParams {
        uuid: [1; 16],
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
        scheme: BufferingScheme::PerUid { uid: 0 },
        trace_name: "m".into(),
        creation_datetime: "19700101T000000+0000".into(),
        hostname: "h".into(),
        clock: ClockParams::monotonic(None, 0),
    })
}

fn event(name: &str) -> EventReg {
    EventReg {
        session_objd: 0,
        channel_objd: 0,
        name: name.into(),
        loglevel: 13,
        signature: String::new(),
        fields: Vec::new(),
        model_emf_uri: None,
    }
}

/// A push may find the registry already closed (the closer sent everything);
/// any other outcome than success or `Closed` is a protocol bug.
fn push_unless_closed(reg: &Registry, consumer: Arc<Mutex<Consumer>>) {
    match reg.push_all(&mut Link(consumer)) {
        Ok(_) | Err(PushError::Registry(MetadataError::Closed)) => {}
        Err(e) => panic!("push failed: {e:?}"),
    }
}

#[test]
fn pushes_and_close_race() {
    loom::model(|| {
        let reg = Arc::new(registry());
        reg.add_channel(0).unwrap();
        let consumer = Arc::new(Mutex::new(Consumer::default()));

        let app = {
            let (reg, consumer) = (reg.clone(), consumer.clone());
            thread::spawn(move || {
                // May lose the race with the close: then it is refused.
                if reg.register_event(0, &event("p:a")).is_ok() {
                    push_unless_closed(&reg, consumer);
                }
            })
        };
        let pusher = {
            let (reg, consumer) = (reg.clone(), consumer.clone());
            thread::spawn(move || {
                push_unless_closed(&reg, consumer);
            })
        };
        reg.final_push_and_close(&mut Link(consumer.clone()))
            .unwrap();
        app.join().unwrap();
        pusher.join().unwrap();

        let c = lock(&consumer);
        assert!(reg.is_closed());
        assert_eq!(c.closes, 1);
        assert_eq!(c.received, reg.text().as_bytes());
    });
}
