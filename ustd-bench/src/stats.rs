//! Counters and registration latencies, printed as one JSON object.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use ustd::wire::notify::notify_cmd;

use crate::command::op_name;

#[derive(Default)]
pub struct Stats {
    commands: BTreeMap<&'static str, u64>,
    commands_waiting: BTreeMap<&'static str, u64>,
    notify_sent: BTreeMap<&'static str, u64>,
    notify_errors: u64,
    pub connect_failures: u64,
    pub spawn_failures: u64,
    /// Why connections ended, by reason.
    pub gone: BTreeMap<String, u64>,
    /// Connect-to-REGISTER_DONE latency of every registered app.
    latencies: Vec<Duration>,
    /// Start of the "all registered" clock (CLOCK_MONOTONIC ns): the first
    /// fork, or the gate opening for gated connectors.
    clock_start: Option<u64>,
    last_registered: Option<u64>,
    /// Wall-clock time (Unix ms) of every REGISTER_DONE, so scripts count
    /// the apps that registered within a span they timed themselves.
    done_unix_ms: Vec<u64>,
}

fn notify_name(cmd: u32) -> &'static str {
    match cmd {
        notify_cmd::EVENT => "REGISTER_EVENT",
        notify_cmd::CHANNEL => "REGISTER_CHANNEL",
        notify_cmd::ENUM => "REGISTER_ENUM",
        _ => "UNKNOWN",
    }
}

impl Stats {
    pub fn command(&mut self, cmd: u32) {
        *self.commands.entry(op_name(cmd)).or_default() += 1;
    }

    /// A command the app found waiting right after answering the previous
    /// one: the daemon wrote it before reading that reply.
    pub fn command_waiting(&mut self, cmd: u32) {
        *self.commands_waiting.entry(op_name(cmd)).or_default() += 1;
    }

    pub fn notify_sent(&mut self, cmd: u32) {
        *self.notify_sent.entry(notify_name(cmd)).or_default() += 1;
    }

    pub fn notify_reply(&mut self, _cmd: u32, ret_code: i32) {
        if ret_code != 0 {
            self.notify_errors += 1;
        }
    }

    /// Starts the "all registered" clock unless it already runs.
    pub fn start_clock(&mut self, at_ns: u64) {
        self.clock_start.get_or_insert(at_ns);
    }

    /// Restarts the "all registered" clock (the gate opened).
    pub fn restart_clock(&mut self, at_ns: u64) {
        self.clock_start = Some(at_ns);
    }

    pub fn registered(&mut self, connect_ns: u64, done_ns: u64) {
        self.latencies
            .push(Duration::from_nanos(done_ns.saturating_sub(connect_ns)));
        self.last_registered = Some(self.last_registered.map_or(done_ns, |l| l.max(done_ns)));
        let unix = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        self.done_unix_ms
            .push(unix.map_or(0, |d| d.as_millis() as u64));
    }

    pub fn registered_count(&self) -> usize {
        self.latencies.len()
    }

    pub fn gone(&mut self, reason: String) {
        *self.gone.entry(reason).or_default() += 1;
    }

    pub fn report(&self, apps: usize, stuck: usize, live: usize) -> Report {
        let mut sorted = self.latencies.clone();
        sorted.sort_unstable();
        let pct = |p: f64| -> Option<f64> {
            if sorted.is_empty() {
                return None;
            }
            // Nearest-rank percentile.
            let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
            let i = rank.clamp(1, sorted.len()) - 1;
            Some(ms(sorted[i]))
        };
        Report {
            apps,
            stuck,
            registered: sorted.len(),
            live,
            connect_failures: self.connect_failures,
            spawn_failures: self.spawn_failures,
            all_registered_ms: match (self.clock_start, self.last_registered) {
                (Some(a), Some(b)) if sorted.len() == apps => {
                    Some(ms(Duration::from_nanos(b.saturating_sub(a))))
                }
                _ => None,
            },
            latency_ms: Latency {
                p50: pct(50.0),
                p99: pct(99.0),
                max: sorted.last().map(|d| ms(*d)),
            },
            commands: self.commands.clone(),
            commands_waiting: self.commands_waiting.clone(),
            notify_sent: self.notify_sent.clone(),
            notify_errors: self.notify_errors,
            gone: self.gone.clone(),
            done_unix_ms: self.done_unix_ms.clone(),
        }
    }
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

#[derive(Serialize)]
pub struct Latency {
    pub p50: Option<f64>,
    pub p99: Option<f64>,
    pub max: Option<f64>,
}

#[derive(Serialize)]
pub struct Report {
    pub apps: usize,
    pub stuck: usize,
    pub registered: usize,
    /// Apps whose connections are still open.
    pub live: usize,
    pub connect_failures: u64,
    pub spawn_failures: u64,
    /// First fork (or gate opening) to last REGISTER_DONE, when every app
    /// registered.
    pub all_registered_ms: Option<f64>,
    /// Per app: its first connect to REGISTER_DONE received.
    pub latency_ms: Latency,
    pub commands: BTreeMap<&'static str, u64>,
    /// Per command: how many the apps found waiting right after answering
    /// the one before (written without waiting for its reply).
    pub commands_waiting: BTreeMap<&'static str, u64>,
    pub notify_sent: BTreeMap<&'static str, u64>,
    pub notify_errors: u64,
    pub gone: BTreeMap<String, u64>,
    /// Wall-clock time (Unix ms) of each REGISTER_DONE, in order.
    pub done_unix_ms: Vec<u64>,
}
