//! ustd-bench: impersonates N lttng-ust 2.13 applications at the protocol
//! level, from one single-threaded process, to load a session daemon
//! (lttng-sessiond or ustd) with registration storms, session fan-outs,
//! slow apps and stopped apps.
//!
//! Each app connects from its own short-lived process (daemons pair the two
//! sockets by peer pid), then lives on in this process's epoll loop, which
//! answers every command with lttng-ust's framing and sends the notify
//! registrations a real app sends when a session starts.
//!
//! Prints one JSON statistics object on stdout at the end: after
//! registration, or with `--serve` on SIGINT/SIGTERM.

mod app;
mod command;
mod connector;
mod sock;
mod stats;
mod tracer;

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use rustix::event::epoll;
use rustix::io::Errno;

use crate::app::{Behaviour, FakeApp, Gone};
use crate::connector::{mono_ns, Connectors};
use crate::stats::Stats;
use crate::tracer::{Provider, Tracer};

#[derive(Parser, Debug)]
#[command(version, about = "Load generator impersonating lttng-ust 2.13 apps")]
struct Args {
    /// The daemon's app socket.
    #[arg(long, default_value = "/var/run/lttng/lttng-ust-sock-8")]
    socket: PathBuf,
    /// Number of fake apps.
    #[arg(long, default_value_t = 100)]
    apps: u32,
    /// Connector processes started per second (0 = as fast as possible).
    #[arg(long, default_value_t = 0.0)]
    connect_rate: f64,
    /// Connectors in flight at once (forked but not yet reported).
    #[arg(long, default_value_t = 64)]
    max_inflight: usize,
    /// Fork every connector first, then release them all at once: a storm
    /// not paced by the generator's serial forks ("all registered" then
    /// counts from the release; --connect-rate and --max-inflight are ignored).
    #[arg(long)]
    gate: bool,
    /// Delay before every command reply (a slow app), in milliseconds.
    #[arg(long, default_value_t = 0.0)]
    reply_delay_ms: f64,
    /// Every app refuses its sessions' ENABLE (-EPERM), as an app whose
    /// tracing cannot start would.
    #[arg(long)]
    refuse_session_enable: bool,
    /// Every app refuses FILTER commands (-EINVAL), as an app that rejects
    /// a filter's bytecode would.
    #[arg(long)]
    refuse_filter: bool,
    /// This many apps stop answering right after REGISTER_DONE (stopped apps).
    #[arg(long, default_value_t = 0)]
    stuck: u32,
    /// Tracepoints each fake app provides (`ustd_bench:event_<i>`).
    #[arg(long, default_value_t = 4)]
    events: usize,
    /// Process name the apps register with (at most 15 bytes).
    #[arg(long, default_value = "ustd-bench-app")]
    name: String,
    /// Keep serving after registration until SIGINT/SIGTERM.
    #[arg(long)]
    serve: bool,
    /// File created (with the registration statistics) once every app has
    /// registered or failed; scripts wait for it.
    #[arg(long)]
    ready_file: Option<PathBuf>,
    /// Give up waiting for registrations after this many seconds.
    #[arg(long, default_value_t = 120.0)]
    register_timeout_s: f64,
    /// Connector processes exit right after handing over their sockets
    /// (cheaper at large N; `lttng list -u` then fails: it reads
    /// /proc/<pid>/cmdline of every app).
    #[arg(long)]
    short_lived_connectors: bool,
    /// Keep the fds the daemon passes (streams, wakeups, pipe, counters) as
    /// a real app does, instead of closing them.
    #[arg(long)]
    hold_fds: bool,
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_stop_signal(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

/// SIGINT/SIGTERM set a flag (and interrupt epoll_wait); SIGCHLD is ignored
/// so the kernel reaps exited connectors.
fn install_signals() -> std::io::Result<()> {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed sigaction is a valid "no flags, empty mask" value;
        // the handler only stores to an atomic, which is async-signal-safe.
        let rc = unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_stop_signal as *const () as libc::sighandler_t;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut())
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    // SAFETY: setting SIG_IGN for SIGCHLD has no preconditions.
    if unsafe { libc::signal(libc::SIGCHLD, libc::SIG_IGN) } == libc::SIG_ERR {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[derive(Debug, thiserror::Error)]
enum BenchError {
    #[error("{0}: {1}")]
    Sys(&'static str, Errno),
    #[error("signals: {0}")]
    Signals(#[from] std::io::Error),
    #[error("--name must be at most 15 bytes")]
    NameTooLong,
}

/// Epoll token of the connector report channel; apps use `index * 2 + side`.
const REPORT_TOKEN: u64 = u64::MAX;

struct Slot {
    /// CLOCK_MONOTONIC ns of the connector's first connect, once reported.
    connect_ns: u64,
    app: Option<FakeApp>,
}

struct Generator {
    args: Args,
    epoll: std::os::fd::OwnedFd,
    connectors: Connectors,
    provider: Rc<Provider>,
    slots: Vec<Option<Slot>>,
    inflight: usize,
    timers: BinaryHeap<Reverse<(Instant, u32)>>,
    stats: Stats,
}

impl Generator {
    fn new(args: Args) -> Result<Self, BenchError> {
        if args.name.len() > 15 {
            return Err(BenchError::NameTooLong);
        }
        let epoll =
            epoll::create(epoll::CreateFlags::CLOEXEC).map_err(|e| BenchError::Sys("epoll", e))?;
        let connectors = Connectors::new(
            &args.socket,
            &args.name,
            !args.short_lived_connectors,
            args.gate,
        )
        .map_err(|e| BenchError::Sys("socket path", e))?;
        epoll::add(
            &epoll,
            connectors.report_fd(),
            epoll::EventData::new_u64(REPORT_TOKEN),
            epoll::EventFlags::IN,
        )
        .map_err(|e| BenchError::Sys("epoll add", e))?;
        let provider = Provider::new(args.events);
        let slots = (0..args.apps).map(|_| None).collect();
        Ok(Self {
            args,
            epoll,
            connectors,
            provider,
            slots,
            inflight: 0,
            timers: BinaryHeap::new(),
            stats: Stats::default(),
        })
    }

    fn live(&self) -> usize {
        self.slots
            .iter()
            .flatten()
            .filter(|s| s.app.is_some())
            .count()
    }

    /// Registration is over once every app registered or failed.
    fn registration_settled(&self, spawned: u32) -> bool {
        spawned == self.args.apps
            && self.inflight == 0
            && self
                .slots
                .iter()
                .flatten()
                .all(|s| s.app.as_ref().is_none_or(|a| a.registered_at.is_some()))
    }

    fn run(&mut self) -> Result<(), BenchError> {
        let started = Instant::now();
        let interval = (self.args.connect_rate > 0.0)
            .then(|| Duration::from_secs_f64(1.0 / self.args.connect_rate));
        let deadline = started + Duration::from_secs_f64(self.args.register_timeout_s);
        let mut next_spawn = started;
        let mut spawned: u32 = 0;
        if self.args.gate {
            spawned = self.spawn_gated()?;
        }
        let mut settled = false;
        let mut events = Vec::with_capacity(1024);
        while !STOP.load(Ordering::Relaxed) {
            let now = Instant::now();
            while spawned < self.args.apps
                && self.inflight < self.args.max_inflight
                && now >= next_spawn
            {
                self.spawn(spawned);
                spawned += 1;
                if let Some(iv) = interval {
                    next_spawn += iv;
                }
            }
            if !settled && (self.registration_settled(spawned) || now >= deadline) {
                settled = true;
                self.registration_over()?;
                if !self.args.serve {
                    break;
                }
            }

            let mut wake = now + Duration::from_millis(100);
            if spawned < self.args.apps && self.inflight < self.args.max_inflight {
                wake = wake.min(next_spawn);
            }
            if let Some(Reverse((t, _))) = self.timers.peek() {
                wake = wake.min(*t);
            }
            let timeout = wake.saturating_duration_since(now);
            let ts = rustix::event::Timespec {
                tv_sec: timeout.as_secs() as _,
                tv_nsec: timeout.subsec_nanos() as _,
            };
            events.clear();
            match epoll::wait(
                &self.epoll,
                rustix::buffer::spare_capacity(&mut events),
                Some(&ts),
            ) {
                Ok(_) | Err(Errno::INTR) => {}
                Err(e) => return Err(BenchError::Sys("epoll wait", e)),
            }
            let now = Instant::now();
            for ev in &events {
                // Copy out of the packed event before using its fields.
                let (flags, data) = (ev.flags, ev.data);
                let token = data.u64();
                if token == REPORT_TOKEN {
                    self.receive_reports();
                } else {
                    let hangup = flags.intersects(
                        epoll::EventFlags::HUP | epoll::EventFlags::ERR | epoll::EventFlags::RDHUP,
                    );
                    self.pump((token / 2) as u32, hangup);
                }
            }
            while let Some(Reverse((t, index))) = self.timers.peek().copied() {
                if t > now {
                    break;
                }
                self.timers.pop();
                self.pump(index, false);
            }
        }
        if !settled {
            self.registration_over()?;
        }
        Ok(())
    }

    /// Forks every connector (each waits at the gate), lets them reach it,
    /// then opens it. Returns the number spawned.
    fn spawn_gated(&mut self) -> Result<u32, BenchError> {
        for index in 0..self.args.apps {
            self.spawn(index);
        }
        // Let the last forks get scheduled up to their gate read, so the
        // release is not mixed with fork work.
        std::thread::sleep(Duration::from_millis(300));
        let open = mono_ns();
        self.connectors
            .open_gate(self.inflight)
            .map_err(|e| BenchError::Sys("open gate", e))?;
        self.stats.restart_clock(open);
        Ok(self.args.apps)
    }

    fn spawn(&mut self, index: u32) {
        self.stats.start_clock(mono_ns());
        match self.connectors.spawn(index) {
            Ok(_pid) => {
                self.inflight += 1;
                self.slots[index as usize] = Some(Slot {
                    connect_ns: 0,
                    app: None,
                });
            }
            Err(e) => {
                tracing::warn!(index, error = %e, "fork failed");
                self.stats.spawn_failures += 1;
            }
        }
    }

    fn receive_reports(&mut self) {
        loop {
            let report = match self.connectors.receive() {
                Ok(Some(r)) => r,
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "bad connector report");
                    continue;
                }
            };
            self.inflight = self.inflight.saturating_sub(1);
            let index = report.index;
            let (cmd, notify) = match report.result {
                Ok(socks) => socks,
                Err(e) => {
                    tracing::debug!(index, error = %e, "connector failed");
                    self.stats.connect_failures += 1;
                    continue;
                }
            };
            let mut tracer = Tracer::new(self.provider.clone(), self.args.hold_fds);
            tracer.refuse_session_enable = self.args.refuse_session_enable;
            tracer.refuse_filter = self.args.refuse_filter;
            let behaviour = Behaviour {
                reply_delay: Duration::from_secs_f64(self.args.reply_delay_ms / 1e3),
            };
            let stuck = index < self.args.stuck;
            let app = match FakeApp::new(cmd, notify, tracer, behaviour, stuck) {
                Ok(a) => a,
                Err(e) => {
                    self.stats.gone(format!("setup: {e}"));
                    continue;
                }
            };
            let flags = epoll::EventFlags::IN
                | epoll::EventFlags::OUT
                | epoll::EventFlags::RDHUP
                | epoll::EventFlags::ET;
            let added = epoll::add(
                &self.epoll,
                app.cmd_fd(),
                epoll::EventData::new_u64(u64::from(index) * 2),
                flags,
            )
            .and_then(|()| {
                epoll::add(
                    &self.epoll,
                    app.notify_fd(),
                    epoll::EventData::new_u64(u64::from(index) * 2 + 1),
                    flags,
                )
            });
            if let Err(e) = added {
                self.stats.gone(format!("epoll: {e}"));
                continue;
            }
            if let Some(Some(slot)) = self.slots.get_mut(index as usize) {
                slot.connect_ns = report.connect_ns;
                slot.app = Some(app);
            }
            self.pump(index, false);
        }
    }

    /// Timestamps are taken per call, not per epoll batch: they feed the
    /// per-app latencies.
    fn pump(&mut self, index: u32, hangup: bool) {
        let now = Instant::now();
        let now_ns = mono_ns();
        let Some(Some(slot)) = self.slots.get_mut(index as usize) else {
            return;
        };
        let Some(app) = slot.app.as_mut() else {
            return;
        };
        let was_registered = app.registered_at.is_some();
        let mut result = app.pump(now, &mut self.stats);
        // A stopped app never reads, so only the hang-up tells it the daemon
        // gave up on it.
        if hangup && result.is_ok() && app.is_stuck() {
            result = Err(Gone::DaemonClosed);
        }
        if !was_registered && app.registered_at.is_some() {
            self.stats.registered(slot.connect_ns, now_ns);
        }
        match result {
            Ok(Some(wake)) => self.timers.push(Reverse((wake, index))),
            Ok(None) => {}
            Err(gone) => {
                let stage = if app.registered_at.is_some() {
                    "after registration"
                } else {
                    "during registration"
                };
                let stuck = if app.is_stuck() { "stopped app, " } else { "" };
                tracing::debug!(index, %gone, "app connection ended");
                self.stats.gone(format!("{stuck}{stage}: {gone}"));
                // Dropping the app closes both sockets (and removes them from epoll).
                slot.app = None;
            }
        }
    }

    fn registration_over(&mut self) -> Result<(), BenchError> {
        let report = self.report_json();
        tracing::info!(
            registered = self.stats.registered_count(),
            "registration phase over"
        );
        if let Some(path) = &self.args.ready_file {
            std::fs::write(path, format!("{report}\n")).map_err(BenchError::Signals)?;
        }
        if self.args.serve {
            eprintln!("READY {report}");
        }
        Ok(())
    }

    fn report_json(&self) -> String {
        let r = self.stats.report(
            self.args.apps as usize,
            self.args.stuck as usize,
            self.live(),
        );
        serde_json::to_string(&r).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    // Each app holds two sockets (plus the daemon's fds with --hold-fds).
    let _ = ustd::io::sys::raise_nofile_limit();
    let result = install_signals()
        .map_err(BenchError::from)
        .and_then(|()| Generator::new(args))
        .and_then(|mut g| {
            g.run()?;
            println!("{}", g.report_json());
            Ok(())
        });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ustd-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
