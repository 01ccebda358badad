//! Compares the TSDL text ustd generates with the text the real
//! lttng-sessiond 2.13.9 wrote for the same apps and configuration.
//!
//! `tests/data/tsdl/regen.sh` produced the inputs: it ran the fixture app
//! (`tsdl_fixture.c`) twice under a per-UID session and once under a per-PID
//! session, saved the depacketized metadata text of each trace, and captured
//! with strace every byte lttng-sessiond read from the apps' notify sockets
//! (`notify.capture.hex`). This test replays those exact notify requests,
//! decoded by the wire codec, into a `MetadataRegistry` and compares the whole text
//! after normalising what differs between runs by design: trace and clock
//! UUIDs, host name, dates and the measured clock offset.

use std::collections::HashMap;

use ustd::core::metadata::{
    Abi, BufferingScheme, ClockParams, MetadataRegistry, SessionParams, TracerVersion,
};
use ustd::wire::notify::{decode_message, NotifyRequest};
use ustd::wire::reg::{RegMsg, REG_MSG_LEN};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tsdl");

/// One app's notify socket as lttng-sessiond read it.
struct AppCapture {
    reg: RegMsg,
    requests: Vec<NotifyRequest>,
}

/// Splits the capture into apps (a registration message starts a new one on
/// its fd) and decodes each app's byte stream into requests.
fn load_capture() -> Vec<AppCapture> {
    let text = std::fs::read_to_string(format!("{DATA}/notify.capture.hex")).expect("capture file");
    let mut streams: Vec<(RegMsg, Vec<u8>)> = Vec::new();
    let mut current: HashMap<u32, usize> = HashMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (fd, hex) = line.split_once(' ').expect("`<fd> <hex>` line");
        let fd: u32 = fd.parse().expect("fd");
        let bytes = hex_decode(hex);
        if bytes.len() == REG_MSG_LEN && bytes[..4] == 0xC57C_57C5u32.to_le_bytes() {
            current.insert(fd, streams.len());
            streams.push((
                RegMsg::decode(&bytes).expect("registration message"),
                Vec::new(),
            ));
        } else {
            let app = *current
                .get(&fd)
                .expect("bytes before the registration message");
            streams[app].1.extend_from_slice(&bytes);
        }
    }
    streams
        .into_iter()
        .map(|(reg, bytes)| {
            let mut requests = Vec::new();
            let mut rest = &bytes[..];
            while !rest.is_empty() {
                let (req, used) = decode_message(rest).expect("notify request");
                requests.push(req);
                rest = &rest[used..];
            }
            AppCapture { reg, requests }
        })
        .collect()
}

fn hex_decode(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex digit"))
        .collect()
}

fn params(first: &RegMsg, scheme: BufferingScheme, trace_name: &str) -> SessionParams {
    SessionParams {
        uuid: [0x42; 16],
        abi: Abi::from_reg_msg(first),
        // What the installed liblttng-ust 2.13.5 answers to TRACER_VERSION.
        tracer: TracerVersion {
            major: 2,
            minor: 13,
            patchlevel: 5,
        },
        scheme,
        trace_name: trace_name.into(),
        creation_datetime: "19700101T000000+0000".into(),
        hostname: "ustd-test".into(),
        clock: ClockParams::monotonic(Some("00000000-0000-0000-0000-000000000000".into()), 12345),
    }
}

/// Replays every app's requests (all on one channel, as in the fixture
/// sessions) and checks the ids handed back are lttng's: the apps embedded
/// lttng's enum ids in later requests, and lttng's event ids are in the text.
fn replay(registry: &MetadataRegistry, apps: &[&AppCapture]) {
    const CHANNEL_KEY: u64 = 1;
    assert_eq!(registry.add_channel(CHANNEL_KEY).unwrap(), 0);
    for app in apps {
        let mut next_event = 0;
        let mut next_enum = 0;
        for req in &app.requests {
            match req {
                NotifyRequest::Channel(c) => {
                    let (id, _) = registry
                        .register_channel(CHANNEL_KEY, &c.ctx_fields)
                        .unwrap();
                    assert_eq!(id, 0);
                }
                NotifyRequest::Event(e) => {
                    // Every app registers the same five events in the same order.
                    assert_eq!(
                        registry.register_event(CHANNEL_KEY, e).unwrap(),
                        next_event,
                        "{}",
                        e.name
                    );
                    next_event += 1;
                }
                NotifyRequest::Enum(e) => {
                    assert_eq!(
                        registry.register_enum(&e.name, &e.entries).unwrap(),
                        next_enum,
                        "{}",
                        e.name
                    );
                    next_enum += 1;
                }
            }
        }
        assert_eq!((next_event, next_enum), (5, 2));
    }
}

/// Blanks the values that legitimately differ between two runs.
fn normalise(text: &str) -> String {
    const VARYING: [&str; 5] = [
        "uuid = ",
        "hostname = ",
        "trace_creation_datetime = ",
        "vpid_datetime = ",
        "offset = ",
    ];
    text.split_inclusive('\n')
        .map(|line| {
            let body = line.trim_start_matches('\t');
            match VARYING.iter().find(|k| body.starts_with(*k)) {
                // Keep indentation and key so that the structure still counts.
                Some(key) => format!("{}{key}<varies>;\n", &line[..line.len() - body.len()]),
                None => line.to_owned(),
            }
        })
        .collect()
}

fn expected(file: &str) -> String {
    let text = std::fs::read_to_string(format!("{DATA}/{file}")).expect("reference metadata");
    assert!(
        text.starts_with("/* CTF 1.8 */\n"),
        "reference is not plain TSDL"
    );
    normalise(&text)
}

/// Line-by-line diff on failure keeps the assertion message readable.
fn assert_same_text(ours: &str, theirs: &str) {
    if ours == theirs {
        return;
    }
    let (o, t): (Vec<_>, Vec<_>) = (ours.lines().collect(), theirs.lines().collect());
    let first = o
        .iter()
        .zip(&t)
        .position(|(a, b)| a != b)
        .unwrap_or(o.len().min(t.len()));
    panic!(
        "TSDL differs from lttng-sessiond's at line {}:\n  ours:   {:?}\n  lttng:  {:?}\n({} vs {} lines)",
        first + 1,
        o.get(first),
        t.get(first),
        o.len(),
        t.len()
    );
}

#[test]
fn per_uid_text_matches_lttng_sessiond() {
    let apps = load_capture();
    let uid_apps: Vec<&AppCapture> = apps.iter().take(2).collect();
    let first = &uid_apps[0].reg;
    let registry = MetadataRegistry::new(&params(
        first,
        BufferingScheme::PerUid { uid: first.uid },
        "s",
    ));
    // Two instances of the same binary: the second adds nothing.
    replay(&registry, &uid_apps);
    assert_same_text(
        &normalise(&registry.text()),
        &expected("lttng-sessiond.metadata.txt"),
    );
}

#[test]
fn per_pid_text_matches_lttng_sessiond() {
    let apps = load_capture();
    let app = apps.get(2).expect("per-PID app in the capture");
    // This app registered before tracing started: its events come before
    // its channel, and so do their blocks.
    assert!(matches!(
        app.requests.last(),
        Some(NotifyRequest::Channel(_))
    ));
    let scheme = BufferingScheme::PerPid {
        pid: app.reg.pid,
        procname: app.reg.name.clone(),
        registration_datetime: "19700101T000000+0000".into(),
    };
    let registry = MetadataRegistry::new(&params(&app.reg, scheme, "p"));
    replay(&registry, &[app]);
    assert_same_text(
        &normalise(&registry.text()),
        &expected("lttng-sessiond.pid.metadata.txt"),
    );
}

#[test]
fn normalising_keeps_everything_else() {
    // The comparison must not be vacuous: only the designated values go.
    let reference = std::fs::read_to_string(format!("{DATA}/lttng-sessiond.metadata.txt")).unwrap();
    let norm = normalise(&reference);
    assert_eq!(norm.lines().count(), reference.lines().count());
    let changed = norm
        .lines()
        .zip(reference.lines())
        .filter(|(a, b)| a != b)
        .count();
    assert_eq!(
        changed, 5,
        "trace uuid, datetime, hostname, clock uuid, clock offset"
    );
    for kept in [
        "tracer_buffering_id = 0;",
        "trace_name = \"s\";",
        "name = \"tsdlfix:meta\";",
        "_procname[17];",
    ] {
        assert!(norm.contains(kept), "{kept}");
    }
}
