//! The session configuration file SAVE_SESSION writes and `lttng load`
//! reads back (lttng-tools' session XML, the element order lttng-sessiond
//! 2.13 writes).

use std::fmt::Write;

use super::channel::ChannelAttr;
use super::context::Context;
use super::event::{EventRule, LoglevelType};
use super::header::BufferType;
use super::tracker::{AttrValue, ProcessAttr};

/// One user space session, as saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedSession {
    pub name: String,
    pub buffer_type: BufferType,
    pub channels: Vec<SavedChannel>,
    /// Trackers whose policy is not "include all", with their inclusion set
    /// (empty for "exclude all").
    pub trackers: Vec<(ProcessAttr, Vec<AttrValue>)>,
    pub started: bool,
    /// `None` with `omit_output`.
    pub output_path: Option<String>,
    /// Rotation schedules: the period in µs, the size in bytes.
    pub rotation_timer_us: Option<u64>,
    pub rotation_size: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedChannel {
    pub attr: ChannelAttr,
    pub events: Vec<EventRule>,
    pub contexts: Vec<Context>,
}

/// `enum lttng_event_context_type` value -> the name session files use.
pub fn context_name(kind: u32) -> Option<&'static str> {
    const NAMES: [&str; 42] = [
        "PID",
        "PERF_COUNTER",
        "PROCNAME",
        "PRIO",
        "NICE",
        "VPID",
        "TID",
        "VTID",
        "PPID",
        "VPPID",
        "PTHREAD_ID",
        "HOSTNAME",
        "IP",
        "PERF_CPU_COUNTER",
        "PERF_THREAD_COUNTER",
        "APP_CONTEXT",
        "INTERRUPTIBLE",
        "PREEMPTIBLE",
        "NEED_RESCHEDULE",
        "MIGRATABLE",
        "CALLSTACK_KERNEL",
        "CALLSTACK_USER",
        "CGROUP_NS",
        "IPC_NS",
        "MNT_NS",
        "NET_NS",
        "PID_NS",
        "USER_NS",
        "UTS_NS",
        "UID",
        "EUID",
        "SUID",
        "GID",
        "EGID",
        "SGID",
        "VUID",
        "VEUID",
        "VSUID",
        "VGID",
        "VEGID",
        "VSGID",
        "TIME_NS",
    ];
    NAMES.get(kind as usize).copied()
}

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '&' => o.push_str("&amp;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c => o.push(c),
        }
    }
    o
}

/// Indented element writer (tabs, as lttng writes).
struct Xml {
    out: String,
    depth: usize,
}

impl Xml {
    fn open(&mut self, tag: &str) {
        self.line(&format!("<{tag}>"));
        self.depth += 1;
    }
    fn close(&mut self, tag: &str) {
        self.depth -= 1;
        self.line(&format!("</{tag}>"));
    }
    fn empty(&mut self, tag: &str) {
        self.line(&format!("<{tag}/>"));
    }
    fn leaf(&mut self, tag: &str, value: impl std::fmt::Display) {
        let v = esc(&value.to_string());
        self.line(&format!("<{tag}>{v}</{tag}>"));
    }
    fn line(&mut self, s: &str) {
        for _ in 0..self.depth {
            self.out.push('\t');
        }
        let _ = writeln!(self.out, "{s}");
    }
}

fn buffer_name(b: BufferType) -> &'static str {
    match b {
        BufferType::PerPid => "PER_PID",
        BufferType::PerUid => "PER_UID",
        BufferType::Global => "GLOBAL",
    }
}

/// The file's whole text.
pub fn write(s: &SavedSession) -> String {
    let mut x = Xml {
        out: String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"),
        depth: 0,
    };
    x.open("sessions");
    x.open("session");
    x.leaf("name", &s.name);
    x.open("domains");
    x.open("domain");
    x.leaf("type", "UST");
    x.leaf("buffer_type", buffer_name(s.buffer_type));
    if s.channels.is_empty() {
        x.empty("channels");
    } else {
        x.open("channels");
        for c in &s.channels {
            channel(&mut x, c);
        }
        x.close("channels");
    }
    if !s.trackers.is_empty() {
        x.open("process_attr_trackers");
        for (attr, ids) in &s.trackers {
            let name = match attr {
                ProcessAttr::Vpid | ProcessAttr::Pid => "vpid",
                ProcessAttr::Vuid | ProcessAttr::Uid => "vuid",
                ProcessAttr::Vgid | ProcessAttr::Gid => "vgid",
            };
            x.open(&format!("{name}_process_attr_tracker"));
            if ids.is_empty() {
                x.empty("process_attr_values");
            } else {
                x.open("process_attr_values");
                for v in ids {
                    x.open(name);
                    match v {
                        AttrValue::Pid(id) => x.leaf("id", id),
                        AttrValue::Uid(id) | AttrValue::Gid(id) => x.leaf("id", id),
                        AttrValue::UserName(n) | AttrValue::GroupName(n) => x.leaf("name", n),
                    }
                    x.close(name);
                }
                x.close("process_attr_values");
            }
            x.close(&format!("{name}_process_attr_tracker"));
        }
        x.close("process_attr_trackers");
    }
    x.close("domain");
    // lttng-sessiond always lists the agent domains; `lttng load` expects nothing of them.
    for agent in ["JUL", "LOG4J", "PYTHON"] {
        x.open("domain");
        x.leaf("type", agent);
        x.leaf("buffer_type", "PER_UID");
        x.empty("channels");
        x.close("domain");
    }
    x.close("domains");
    x.leaf("started", s.started);
    if s.rotation_timer_us.is_some() || s.rotation_size.is_some() {
        x.open("attributes");
        x.open("rotation_schedules");
        if let Some(us) = s.rotation_timer_us {
            x.open("periodic");
            x.leaf("time_us", us);
            x.close("periodic");
        }
        if let Some(bytes) = s.rotation_size {
            x.open("size_threshold");
            x.leaf("bytes", bytes);
            x.close("size_threshold");
        }
        x.close("rotation_schedules");
        x.close("attributes");
    }
    if let Some(path) = &s.output_path {
        x.open("output");
        x.open("consumer_output");
        x.leaf("enabled", true);
        x.open("destination");
        x.leaf("path", path);
        x.close("destination");
        x.close("consumer_output");
        x.close("output");
    }
    x.close("session");
    x.close("sessions");
    x.out
}

fn channel(x: &mut Xml, c: &SavedChannel) {
    let a = &c.attr;
    x.open("channel");
    x.leaf("name", &a.name);
    x.leaf("enabled", a.enabled);
    x.leaf(
        "overwrite_mode",
        if a.overwrite == 1 {
            "OVERWRITE"
        } else {
            "DISCARD"
        },
    );
    x.leaf("subbuffer_size", a.subbuf_size);
    x.leaf("subbuffer_count", a.num_subbuf);
    x.leaf("switch_timer_interval", a.switch_timer_us);
    x.leaf("read_timer_interval", a.read_timer_us);
    x.leaf("output_type", if a.output == 0 { "SPLICE" } else { "MMAP" });
    x.leaf("blocking_timeout", a.blocking_timeout_us);
    x.leaf("monitor_timer_interval", a.monitor_timer_us);
    x.leaf("tracefile_size", a.tracefile_size);
    x.leaf("tracefile_count", a.tracefile_count);
    x.leaf("live_timer_interval", a.live_timer_us);
    if c.events.is_empty() {
        x.empty("events");
    } else {
        x.open("events");
        for e in &c.events {
            event(x, e);
        }
        x.close("events");
    }
    if !c.contexts.is_empty() {
        x.open("contexts");
        for ctx in &c.contexts {
            x.open("context");
            match ctx {
                Context::Simple(k) => x.leaf("type", context_name(*k).unwrap_or("UNKNOWN")),
                Context::App { provider, name } => {
                    x.open("app");
                    x.leaf("provider_name", provider);
                    x.leaf("ctx_name", name);
                    x.close("app");
                }
                Context::Perf {
                    kind,
                    counter_type,
                    config,
                    name,
                } => {
                    x.open("perf");
                    x.leaf("type", counter_type);
                    x.leaf("config", config);
                    x.leaf("name", name);
                    x.close("perf");
                    let _ = kind;
                }
            }
            x.close("context");
        }
        x.close("contexts");
    }
    x.close("channel");
}

fn event(x: &mut Xml, e: &EventRule) {
    x.open("event");
    x.leaf("name", &e.name);
    x.leaf("enabled", e.enabled == 1);
    x.leaf("type", "TRACEPOINT");
    let (ll_type, level) = match e.loglevel_type {
        LoglevelType::All => ("ALL", None),
        LoglevelType::Range => ("RANGE", Some(e.loglevel)),
        LoglevelType::Single => ("SINGLE", Some(e.loglevel)),
    };
    x.leaf("loglevel_type", ll_type);
    if let Some(l) = level {
        x.leaf("loglevel", l);
    }
    if let Some(f) = &e.filter {
        x.leaf("filter", &f.expression);
    }
    if !e.exclusions.is_empty() {
        x.open("exclusions");
        for ex in &e.exclusions {
            x.leaf("exclusion", ex);
        }
        x.close("exclusions");
    }
    x.close("event");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lttng_wire::tests_support::{capture, Conn};
    use crate::lttng_wire::{channel::decode_channels, event::decode_events, Command, Request};

    /// Rebuilds session `s` from what lttng-sessiond answered to `lttng list s` just
    /// before `lttng save`, and checks ustd writes the very file lttng-sessiond wrote.
    #[test]
    fn writes_the_file_lttng_sessiond_wrote() {
        let get = |name: &str, cmd: Command| -> Vec<Conn> {
            capture(name)
                .into_iter()
                .filter(|c| c.header().cmd_id == cmd as u32)
                .collect()
        };
        // State at save time: after `stop`, `disable-event ll`, `disable-channel c3`,
        // `untrack --vpid 123`, `untrack --vuid --all`; listed again by `lttng list s`
        // in `destroy` (channels, with their events from the earlier listing).
        let list = capture("list_session");
        let chans = get("stop", Command::ListChannels).pop().unwrap();
        let mut channels = decode_channels(chans.cmd_header(), chans.data()).unwrap();
        channels
            .iter_mut()
            .find(|c| c.name == "c3")
            .unwrap()
            .enabled = false;
        let events_of = |chan: &str| {
            let ev = list
                .iter()
                .find(|c| {
                    c.header().cmd_id == Command::ListEvents as u32
                        && matches!(c.request(), Request::ListEvents { ref channel, .. } if channel == chan)
                })
                .unwrap();
            decode_events(ev.cmd_header(), ev.data()).unwrap()
        };
        let mut c_events = events_of("c");
        c_events
            .iter_mut()
            .find(|e| e.name == "ll")
            .unwrap()
            .enabled = 0;
        let file = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/lttng_wire/saved_s.lttng"
        ))
        .unwrap();
        let path = file
            .split("<path>")
            .nth(1)
            .unwrap()
            .split("</path>")
            .next()
            .unwrap()
            .to_owned();
        let saved = SavedSession {
            name: "s".into(),
            buffer_type: BufferType::PerUid,
            channels: vec![
                SavedChannel {
                    attr: channels[0].clone(),
                    events: events_of("c3"),
                    contexts: vec![Context::Simple(2), Context::Simple(7)],
                },
                SavedChannel {
                    attr: channels[1].clone(),
                    events: c_events,
                    contexts: vec![
                        Context::Simple(5),
                        Context::App {
                            provider: "prov".into(),
                            name: "ctx".into(),
                        },
                    ],
                },
            ],
            trackers: vec![
                (ProcessAttr::Vpid, vec![AttrValue::Pid(456)]),
                (ProcessAttr::Vuid, vec![]),
            ],
            started: false,
            output_path: Some(path),
            rotation_timer_us: None,
            rotation_size: None,
        };
        assert_eq!(write(&saved), file);
    }
}
