//! `ustd`: the daemon (`ustd daemon`) and its control CLI (everything else).

// What the code already does, enforced (crate roots only, so the tests'
// shared helper modules are not held to it): unsafe only in FFI and fd
// passing, each block with its SAFETY line; no `pub` that cannot be reached.
#![warn(
    unsafe_op_in_unsafe_fn,
    unreachable_pub,
    clippy::undocumented_unsafe_blocks
)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use ustd::command::reply::{FanOutReport, Flush, SessionView, TracepointListing};
use ustd::command::{ChannelOptions, NetRequest, Reply, Request, TrackInput};
use ustd::control;
use ustd::core::rotation::Schedules;
use ustd::core::session::{BufferScheme, LoglevelSel};
use ustd::core::tracker::{TrackedAttr, Trackers, TrackingPolicy};
use ustd::wire::cmd::{ctx, LoglevelType};

mod record;
use ustd::io::daemon::{self, DaemonOptions};
use ustd::io::paths::Paths;

#[derive(Parser)]
#[command(
    name = "ustd",
    version,
    about = "A session daemon for LTTng-UST 2.13 applications",
    after_help = "Exit status: 0 done; 1 error; 2 bad usage; 3 done, but failed for some apps \
                  (each named on stderr, and in the JSON `report.failed` list). An app that \
                  exited while the command ran is not a failure: it is named on stderr as a note \
                  and in `report.gone`."
)]
struct Cli {
    /// Directory holding the app socket, control socket and lock
    /// (default: /var/run/lttng for root, else $LTTNG_HOME/.lttng or $HOME/.lttng).
    #[arg(long, global = true)]
    rundir: Option<PathBuf>,
    /// Run the daemon in the background; exit 0 once its sockets listen
    /// (what `lttng create` expects of `$LTTNG_SESSIOND_PATH`).
    #[arg(long, short = 'd', global = true)]
    daemonize: bool,
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the session daemon in the foreground (logs: RUST_LOG, default info).
    Daemon,
    /// Without arguments: registered apps and sessions. `list NAME`: one
    /// session. `list -u [-f]`: tracepoints of registered apps.
    List {
        /// A session to describe.
        name: Option<String>,
        /// List user-space tracepoints of registered apps.
        #[arg(short = 'u', long = "userspace")]
        userspace: bool,
        /// With -u: also list each tracepoint's fields.
        #[arg(short = 'f', long)]
        fields: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Create a tracing session.
    Create {
        name: String,
        /// Trace output directory (default: $HOME/lttng-traces/NAME-DATE).
        #[arg(short = 'o', long)]
        output: Option<PathBuf>,
        /// Snapshot session: the output (a directory, or a relayd with
        /// --set-url / -C -D) becomes snapshot output 1, buffers are
        /// written only by `snapshot record`.
        #[arg(long, conflicts_with = "live")]
        snapshot: bool,
        /// Stream to an lttng-relayd: net://HOST[:CTRL_PORT[:DATA_PORT]][/SUBDIR].
        #[arg(short = 'U', long, conflicts_with = "output")]
        set_url: Option<String>,
        /// Relayd control URL, tcp://HOST[:PORT] (with -D).
        #[arg(short = 'C', long, requires = "data_url", conflicts_with_all = ["output", "set_url"])]
        ctrl_url: Option<String>,
        /// Relayd data URL, tcp://HOST[:PORT] (with -C).
        #[arg(short = 'D', long, requires = "ctrl_url")]
        data_url: Option<String>,
        /// Live session: flush every US microseconds (default 1000000);
        /// streams to net://127.0.0.1 unless a URL is given.
        #[arg(long, value_name = "US", num_args = 0..=1, default_missing_value = "1000000", conflicts_with = "output")]
        live: Option<u32>,
        #[arg(long)]
        json: bool,
    },
    /// Discard a session's recorded data and buffers; recording goes on.
    Clear {
        name: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Close the current trace chunk into `<output>/archives/`; recording
    /// goes on into the next chunk.
    Rotate {
        name: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Rotate the session automatically: every TIMER (µs, or with a suffix
    /// us, ms, s, m, h) and/or each time SIZE bytes (k, M, G) were written.
    EnableRotation {
        name: Option<String>,
        #[arg(long, value_parser = time_us)]
        timer: Option<u64>,
        #[arg(long, value_parser = size)]
        size: Option<u64>,
        #[arg(long)]
        json: bool,
    },
    /// Remove the session's timer and/or size rotation schedule.
    DisableRotation {
        name: Option<String>,
        #[arg(long)]
        timer: bool,
        #[arg(long)]
        size: bool,
        #[arg(long)]
        json: bool,
    },
    /// `regenerate statedump`: apps of a started session record their
    /// statedump again; `regenerate metadata`: a started per-UID session's
    /// metadata is written again, whole.
    Regenerate {
        #[arg(value_parser = ["statedump", "metadata"])]
        what: String,
        #[arg(short = 's', long)]
        session: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Snapshot outputs and records of a snapshot session.
    #[command(subcommand)]
    Snapshot(SnapshotCmd),
    /// Destroy a session (the newest one by default), flushing its trace.
    Destroy {
        name: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Create or enable a user-space channel.
    EnableChannel {
        #[arg(short = 'u', long = "userspace", required = true)]
        userspace: bool,
        name: String,
        #[arg(short = 's', long)]
        session: Option<String>,
        #[arg(long)]
        subbuf_size: Option<String>,
        #[arg(long)]
        num_subbuf: Option<u64>,
        #[arg(long, conflicts_with = "discard")]
        overwrite: bool,
        #[arg(long)]
        discard: bool,
        /// Switch timer period in microseconds.
        #[arg(long)]
        switch_timer: Option<u32>,
        /// Read timer period in microseconds.
        #[arg(long)]
        read_timer: Option<u32>,
        /// One buffer set per user (default).
        #[arg(long, conflicts_with = "buffers_pid")]
        buffers_uid: bool,
        /// One buffer set per process.
        #[arg(long)]
        buffers_pid: bool,
        /// Split each stream in files of at most this size (`k`, `M`, `G` suffixes).
        #[arg(long)]
        tracefile_size: Option<String>,
        /// Keep at most this many files per stream, the oldest reused (with --tracefile-size).
        #[arg(long, requires = "tracefile_size")]
        tracefile_count: Option<u64>,
        /// Monitor timer period in microseconds (kept and listed; nothing samples it yet).
        #[arg(long)]
        monitor_timer: Option<u64>,
        #[arg(long)]
        json: bool,
    },
    /// Disable user-space channels (comma separated): apps stop recording
    /// into them; `enable-channel` enables them again.
    DisableChannel {
        #[arg(short = 'u', long = "userspace", required = true)]
        userspace: bool,
        names: String,
        #[arg(short = 's', long)]
        session: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Enable user-space event rules (exact names or `*` globs).
    EnableEvent {
        #[arg(short = 'u', long = "userspace", required = true)]
        userspace: bool,
        /// Event names or patterns, comma separated (or -a for all).
        patterns: Option<String>,
        #[arg(short = 'a', long)]
        all: bool,
        #[arg(short = 'c', long)]
        channel: Option<String>,
        #[arg(short = 's', long)]
        session: Option<String>,
        /// This level and more severe (e.g. TRACE_WARNING or 4).
        #[arg(long, conflicts_with = "loglevel_only")]
        loglevel: Option<String>,
        /// Exactly this level.
        #[arg(long)]
        loglevel_only: Option<String>,
        #[command(flatten)]
        rule: RuleArgs,
        #[arg(long)]
        json: bool,
    },
    /// Disable user-space event rules.
    DisableEvent {
        #[arg(short = 'u', long = "userspace", required = true)]
        userspace: bool,
        patterns: Option<String>,
        #[arg(short = 'a', long)]
        all: bool,
        #[arg(short = 'c', long)]
        channel: Option<String>,
        #[arg(short = 's', long)]
        session: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Add context fields to channels (vpid, vtid, procname, pthread_id, ip, ...).
    AddContext {
        #[arg(short = 'u', long = "userspace", required = true)]
        userspace: bool,
        #[arg(short = 't', long = "type", required = true)]
        types: Vec<String>,
        #[arg(short = 'c', long)]
        channel: Option<String>,
        #[arg(short = 's', long)]
        session: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Start tracing.
    Start {
        name: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Stop tracing (flushes buffers to the trace).
    Stop {
        name: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Trace only the apps with these vpids, vuids or vgids (names allowed
    /// for users and groups); `--all` traces every app again.
    Track {
        #[command(flatten)]
        t: TrackArgs,
    },
    /// Stop tracing the apps with these vpids, vuids or vgids; `--all`
    /// traces no app.
    Untrack {
        #[command(flatten)]
        t: TrackArgs,
    },
    /// Trace a command: create a session, enable all events, start, run
    /// CMD, stop, destroy, print the trace path.
    Record {
        #[arg(short = 'o', long)]
        output: Option<PathBuf>,
        /// Per-process buffers instead of per-user.
        #[arg(long)]
        buffers_pid: bool,
        /// Context fields to add (repeatable).
        #[arg(short = 't', long = "type")]
        types: Vec<String>,
        #[command(flatten)]
        rule: RuleArgs,
        #[arg(long)]
        json: bool,
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
}

/// `track`/`untrack` options, as lttng has them.
#[derive(clap::Args, Debug)]
struct TrackArgs {
    #[arg(short = 'u', long = "userspace", required = true)]
    userspace: bool,
    #[arg(short = 's', long)]
    session: Option<String>,
    /// Virtual process ids, comma separated.
    #[arg(long, num_args = 0..=1, value_delimiter = ',')]
    vpid: Option<Vec<TrackInput>>,
    /// Virtual user ids or user names, comma separated.
    #[arg(long, num_args = 0..=1, value_delimiter = ',')]
    vuid: Option<Vec<TrackInput>>,
    /// Virtual group ids or group names, comma separated.
    #[arg(long, num_args = 0..=1, value_delimiter = ',')]
    vgid: Option<Vec<TrackInput>>,
    /// Every value (with one of --vpid, --vuid, --vgid and no values).
    #[arg(short = 'a', long)]
    all: bool,
    #[arg(long)]
    json: bool,
}

/// A tracker and its values (`None` for `--all`).
type TrackerChange = (TrackedAttr, Option<Vec<TrackInput>>);

impl TrackArgs {
    /// Each tracker given, with its values.
    fn resolve(self) -> Result<Vec<TrackerChange>, String> {
        let given = [
            (TrackedAttr::Vpid, self.vpid),
            (TrackedAttr::Vuid, self.vuid),
            (TrackedAttr::Vgid, self.vgid),
        ];
        let mut out = Vec::new();
        for (attr, values) in given {
            let Some(values) = values else { continue };
            out.push(match (self.all, values.is_empty()) {
                (true, true) => (attr, None),
                (false, false) => (attr, Some(values)),
                (true, false) => return Err("--all takes no values".into()),
                (false, true) => {
                    return Err(format!("--{attr:?} needs values, or --all").to_lowercase())
                }
            });
        }
        if out.is_empty() {
            return Err("give --vpid, --vuid or --vgid".into());
        }
        Ok(out)
    }
}

#[derive(Subcommand)]
enum SnapshotCmd {
    /// Add the session's snapshot output (lttng keeps one).
    AddOutput {
        /// Directory (or file:// URL) records are written under, or a relayd
        /// (net://HOST[:CTRL_PORT[:DATA_PORT]]).
        path: PathBuf,
        #[arg(short = 's', long)]
        session: Option<String>,
        #[arg(short = 'n', long)]
        name: Option<String>,
        /// Size bound of each record (e.g. 1M).
        #[arg(short = 'm', long)]
        max_size: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Remove a snapshot output, by id or name.
    DelOutput {
        id_or_name: String,
        #[arg(short = 's', long)]
        session: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List the session's snapshot outputs.
    ListOutput {
        #[arg(short = 's', long)]
        session: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Write the buffers' current content as a trace of its own.
    Record {
        /// Write here instead of the session's outputs.
        path: Option<PathBuf>,
        #[arg(short = 's', long)]
        session: Option<String>,
        #[arg(short = 'n', long)]
        name: Option<String>,
        /// Size bound of the record (e.g. 1M).
        #[arg(short = 'm', long)]
        max_size: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

/// A snapshot path or `file://` URL, made absolute.
fn snapshot_path(p: PathBuf) -> Result<PathBuf, String> {
    // A relayd URL (net://, tcp://…) is resolved by the daemon.
    if p.to_str()
        .is_some_and(|s| s.contains("://") && !s.starts_with("file://"))
    {
        return Ok(p);
    }
    let p = match p.to_str().and_then(|s| s.strip_prefix("file://")) {
        Some(rest) => PathBuf::from(rest),
        None => p,
    };
    absolute(p)
}

/// `--filter` and `-x`, as lttng's enable-event has them.
#[derive(clap::Args, Debug)]
struct RuleArgs {
    /// Filter expression (lttng's language), e.g. 'value > 3 && text == "a*"'.
    #[arg(short = 'f', long, allow_hyphen_values = true)]
    filter: Option<String>,
    /// Event names (or `*` globs) a `*` pattern leaves out, comma separated.
    #[arg(short = 'x', long = "exclude", value_name = "NAME[,NAME...]")]
    exclude: Option<String>,
}

impl RuleArgs {
    /// Compiles the filter here too, so a mistake is shown with a caret
    /// before the daemon is asked (it compiles the same text).
    fn resolve(self) -> Result<record::Rule, String> {
        if let Some(f) = &self.filter {
            ustd::filter::compile(f).map_err(|e| format!("{e}\n{}", e.caret(f)))?;
        }
        let exclusions = self
            .exclude
            .map(|x| x.split(',').map(str::to_owned).collect())
            .unwrap_or_default();
        Ok(record::Rule {
            filter: self.filter,
            exclusions,
        })
    }
}

/// Exit status of a command carried out, but not by every app.
const EXIT_SOME_APPS_FAILED: u8 = 3;

/// How a command that was carried out went.
enum Done {
    All,
    SomeAppsFailed,
}

/// Bound on one control request; `stop` and `destroy` flush traces.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(300);

/// One malloc arena for the daemon (glibc), unless the user chose a count
/// (`MALLOC_ARENA_MAX`, `GLIBC_TUNABLES`). With an arena per worker thread,
/// the handshake state freed by one worker is not reused by the other's
/// long-lived allocations: after a storm of 2,000 registrations the holes
/// left in the arenas varied from 0.6 to 1.7 KiB per app; with one arena,
/// 0.3 to 0.7 (malloc_stats, see ARCHITECTURE.md, Per-app memory). The daemon's
/// allocations are small and short, and served mostly from each thread's
/// cache without taking the arena lock.
fn one_malloc_arena() {
    let chosen = std::env::var_os("MALLOC_ARENA_MAX").is_some()
        || std::env::var("GLIBC_TUNABLES").is_ok_and(|t| t.contains("arena_max"));
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if !chosen {
        // SAFETY: mallopt only sets an allocator parameter, and runs before
        // the daemon starts any thread.
        unsafe { libc::mallopt(libc::M_ARENA_MAX, 1) };
    }
    let _ = chosen;
}

fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    use std::io::IsTerminal;
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let cmd = match (cli.cmd, cli.daemonize) {
        (Some(c), _) => c,
        (None, true) => Cmd::Daemon,
        (None, false) => {
            let _ = <Cli as clap::CommandFactory>::command().print_help();
            return ExitCode::FAILURE;
        }
    };
    if matches!(cmd, Cmd::Daemon) {
        one_malloc_arena();
    }
    let ready = match (&cmd, cli.daemonize) {
        (Cmd::Daemon, true) => match ustd::io::daemonize::fork_and_wait() {
            Ok(fd) => Some(fd),
            Err(e) => {
                eprintln!("ustd: error: cannot daemonize: {e}");
                return ExitCode::FAILURE;
            }
        },
        _ => None,
    };
    init_logging(if matches!(cmd, Cmd::Daemon) {
        "info"
    } else {
        "warn"
    });
    let result = match cmd {
        Cmd::Daemon => daemon::run(DaemonOptions {
            rundir: cli.rundir,
            ready,
        })
        .map(|()| Done::All)
        .map_err(|e| e.to_string()),
        cmd => Client { rundir: cli.rundir }.run(cmd),
    };
    match result {
        Ok(Done::All) => ExitCode::SUCCESS,
        Ok(Done::SomeAppsFailed) => ExitCode::from(EXIT_SOME_APPS_FAILED),
        Err(msg) => {
            eprintln!("ustd: error: {msg}");
            ExitCode::FAILURE
        }
    }
}

struct Client {
    rundir: Option<PathBuf>,
}

/// Splits lttng-style comma-separated patterns (or `-a`).
fn patterns(list: Option<String>, all: bool) -> Result<Vec<String>, String> {
    match (list, all) {
        (_, true) => Ok(vec!["*".into()]),
        (Some(l), false) => Ok(l.split(',').map(str::to_owned).collect()),
        (None, false) => Err("give event names or -a".into()),
    }
}

/// lttng's loglevel names (TRACE_EMERG .. TRACE_DEBUG) or a number.
fn loglevel(name: &str) -> Result<i32, String> {
    const NAMES: [&str; 15] = [
        "EMERG",
        "ALERT",
        "CRIT",
        "ERR",
        "WARNING",
        "NOTICE",
        "INFO",
        "DEBUG_SYSTEM",
        "DEBUG_PROGRAM",
        "DEBUG_PROCESS",
        "DEBUG_MODULE",
        "DEBUG_UNIT",
        "DEBUG_FUNCTION",
        "DEBUG_LINE",
        "DEBUG",
    ];
    if let Ok(n) = name.parse::<i32>() {
        return if (0..15).contains(&n) {
            Ok(n)
        } else {
            Err(format!("loglevel {n} is out of range 0..=14"))
        };
    }
    let up = name.to_ascii_uppercase();
    let bare = up.strip_prefix("TRACE_").unwrap_or(&up);
    NAMES
        .iter()
        .position(|n| *n == bare)
        .map(|i| i as i32)
        .ok_or_else(|| format!("unknown loglevel `{name}`"))
}

/// lttng's lines for a session's schedules (`lttng list S`).
fn describe_schedules(s: &Schedules) -> String {
    let mut out = String::new();
    if let Some(t) = s.timer_us {
        out += &format!("    timer period: {t} µs\n");
    }
    if let Some(b) = s.size {
        out += &format!("    size threshold: {b} bytes\n");
    }
    out
}

/// A period as lttng's CLI reads it: µs, or a number with us, ms, s, m, h.
fn time_us(s: &str) -> Result<u64, String> {
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let mult = match &s[digits..] {
        "" | "us" => 1,
        "ms" => 1_000,
        "s" => 1_000_000,
        "m" => 60_000_000,
        "h" => 3_600_000_000,
        _ => return Err(format!("bad period `{s}`")),
    };
    s[..digits]
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| format!("bad period `{s}`"))
}

fn size(s: &str) -> Result<u64, String> {
    let (num, mult) = match s.chars().last() {
        Some('k' | 'K') => (&s[..s.len() - 1], 1024),
        Some('M') => (&s[..s.len() - 1], 1024 * 1024),
        Some('G') => (&s[..s.len() - 1], 1024 * 1024 * 1024),
        _ => (s, 1),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| format!("bad size `{s}`"))
}

fn absolute(p: PathBuf) -> Result<PathBuf, String> {
    if p.is_absolute() {
        return Ok(p);
    }
    Ok(std::env::current_dir().map_err(|e| e.to_string())?.join(p))
}

/// Prints a command's reply (`body` as JSON, or `text`); names every app
/// the command failed on, and says whether there was one.
fn print<T: serde::Serialize>(
    body: &T,
    report: Option<&FanOutReport>,
    json: bool,
    text: &str,
) -> Result<Done, String> {
    if json {
        print_json(body)?;
    } else {
        println!("{text}");
    }
    for g in report.map_or(&[][..], |r| &r.gone[..]) {
        eprintln!(
            "ustd: note: app {} (pid {}, {}) exited during the command: {}",
            g.app_id, g.pid, g.name, g.reason
        );
    }
    let Some(report) = report.filter(|r| r.some_failed()) else {
        return Ok(Done::All);
    };
    for f in &report.failed {
        eprintln!(
            "ustd: warning: app {} (pid {}, {}) failed: {}",
            f.app_id, f.pid, f.name, f.reason
        );
    }
    let failed = report.failed.len();
    eprintln!(
        "ustd: error: failed for {failed} of {} apps",
        report.applied + failed + report.gone.len()
    );
    Ok(Done::SomeAppsFailed)
}

/// Pretty JSON with every object's keys sorted (a `Value`'s map order), as
/// `--json` has always printed them.
fn print_json<T: serde::Serialize>(body: &T) -> Result<(), String> {
    let v = serde_json::to_value(body).map_err(|e| e.to_string())?;
    println!(
        "{}",
        serde_json::to_string_pretty(&v).map_err(|e| e.to_string())?
    );
    Ok(())
}

/// The body of the reply a request must get, or an error naming the one it
/// got instead.
macro_rules! reply {
    ($reply:expr, $kind:path) => {
        match $reply {
            $kind(body) => body,
            other => return Err(format!("unexpected reply from the daemon: {other:?}")),
        }
    };
}
pub(crate) use reply;

impl Client {
    fn call(&self, req: &Request) -> Result<Reply, String> {
        let paths = Paths::resolve(self.rundir.as_deref())?;
        control::call(&paths.control_socket(), req, CLIENT_TIMEOUT).map_err(|e| e.to_string())
    }

    /// A configuration change: `what` says what changed.
    fn change(&self, req: &Request, json: bool, what: &str) -> Result<Done, String> {
        let a = reply!(self.call(req)?, Reply::Changed);
        print(&a, Some(&a.report), json, what)
    }

    /// `enable-rotation` / `disable-rotation`: the schedules left afterwards.
    fn schedule(&self, req: Request, json: bool) -> Result<Done, String> {
        let c = reply!(self.call(&req)?, Reply::ScheduleChanged);
        let left = describe_schedules(&c.schedules);
        let text = format!(
            "Rotation schedules of session {}:\n{}",
            c.session,
            if left.is_empty() { "    none\n" } else { &left }
        );
        print(&c, None, json, text.trim_end())
    }

    fn run(&self, cmd: Cmd) -> Result<Done, String> {
        match cmd {
            Cmd::Daemon => unreachable!("handled in main"),
            Cmd::List {
                name: Some(name),
                json,
                ..
            } => {
                let s = reply!(self.call(&Request::ShowSession { name })?, Reply::Session);
                print(&s, None, json, &describe_session(&s))
            }
            Cmd::List {
                userspace: true,
                fields,
                json,
                ..
            } => {
                let t = reply!(
                    self.call(&Request::ListTracepoints { fields })?,
                    Reply::Tracepoints
                );
                print(&t, Some(&t.report), json, &describe_tracepoints(&t))
            }
            Cmd::List { json, .. } => self.list(json).map(|()| Done::All),
            Cmd::Create {
                name,
                output,
                snapshot,
                set_url,
                ctrl_url,
                data_url,
                live,
                json,
            } => {
                let output = output.map(absolute).transpose()?;
                let wants_net = set_url.is_some() || ctrl_url.is_some() || live.is_some();
                let net = wants_net.then_some(NetRequest {
                    set_url,
                    control_url: ctrl_url,
                    data_url,
                    live_timer_us: live,
                });
                let s = reply!(
                    self.call(&Request::CreateSession {
                        name,
                        output,
                        snapshot,
                        net
                    })?,
                    Reply::Created
                );
                let text = if snapshot {
                    format!(
                        "Snapshot session {} created.\nDefault snapshot output set to {}",
                        s.name,
                        s.output.display()
                    )
                } else {
                    format!(
                        "Session {} created.\nTraces will be written in {}",
                        s.name,
                        s.output.display()
                    )
                };
                print(&s, None, json, &text)
            }
            Cmd::Snapshot(c) => self.snapshot(c),
            Cmd::Regenerate {
                what,
                session,
                json,
            } if what == "metadata" => {
                let a = reply!(
                    self.call(&Request::RegenerateMetadata { session })?,
                    Reply::Changed
                );
                let text = format!(
                    "Metadata successfully regenerated for session {}",
                    a.session
                );
                print(&a, None, json, &text)
            }
            Cmd::Regenerate { session, json, .. } => {
                let a = reply!(
                    self.call(&Request::RegenerateStatedump { session })?,
                    Reply::Changed
                );
                let text = format!("Statedump regenerated for session {}", a.session);
                print(&a, Some(&a.report), json, &text)
            }
            Cmd::Clear { name, json } => {
                let c = reply!(
                    self.call(&Request::Clear { session: name })?,
                    Reply::Cleared
                );
                let text = format!("Session {} cleared", c.session);
                print(&c, None, json, &text)
            }
            Cmd::EnableRotation {
                name,
                timer,
                size,
                json,
            } => self.schedule(
                Request::EnableRotation {
                    session: name,
                    timer_us: timer,
                    size,
                },
                json,
            ),
            Cmd::DisableRotation {
                name,
                timer,
                size,
                json,
            } => self.schedule(
                Request::DisableRotation {
                    session: name,
                    timer,
                    size,
                },
                json,
            ),
            Cmd::Rotate { name, json } => {
                let r = reply!(
                    self.call(&Request::Rotate { session: name })?,
                    Reply::Rotated
                );
                let text = format!(
                    "Trace chunk archive for session {} is now readable at {}",
                    r.session,
                    r.archive.display()
                );
                print(&r, None, json, &text)
            }
            Cmd::Destroy { name, json } => {
                let d = reply!(
                    self.call(&Request::DestroySession { name })?,
                    Reply::Destroyed
                );
                let mut trace = d
                    .trace
                    .as_ref()
                    .map(|t| format!("\nTrace written in {}", t.display()))
                    .unwrap_or_default();
                if let Some(a) = &d.archive {
                    trace += &format!(
                        "\nTrace chunk archive for session {} is now readable at {}",
                        d.session,
                        a.display()
                    );
                }
                for (chan, l) in d.buffers.iter().flatten() {
                    trace += &format!("\n{chan}: {}", l.line());
                }
                let text = format!("Session {} destroyed.{trace}", d.session);
                print(&d, Some(&d.report), json, &text)
            }
            Cmd::EnableChannel {
                name,
                session,
                subbuf_size,
                num_subbuf,
                overwrite,
                discard,
                switch_timer,
                read_timer,
                buffers_pid,
                tracefile_size,
                tracefile_count,
                monitor_timer,
                json,
                ..
            } => {
                let attrs = ChannelOptions {
                    subbuf_size: subbuf_size.as_deref().map(size).transpose()?,
                    num_subbuf,
                    overwrite,
                    discard,
                    switch_timer_us: switch_timer,
                    read_timer_us: read_timer,
                    buffers: Some(if buffers_pid {
                        BufferScheme::Pid
                    } else {
                        BufferScheme::Uid
                    }),
                    tracefile_size: tracefile_size
                        .as_deref()
                        .map(size)
                        .transpose()?
                        .unwrap_or(0),
                    tracefile_count: tracefile_count.unwrap_or(0),
                    monitor_timer_us: monitor_timer,
                };
                let what = format!("UST channel {name} enabled");
                let req = Request::EnableChannel {
                    session,
                    name,
                    attrs,
                };
                self.change(&req, json, &what)
            }
            Cmd::EnableEvent {
                patterns: p,
                all,
                channel,
                session,
                loglevel: ll,
                loglevel_only,
                rule,
                json,
                ..
            } => {
                let patterns = patterns(p, all)?;
                let rule = rule.resolve()?;
                let loglevel = match (ll, loglevel_only) {
                    (Some(l), _) => LoglevelSel {
                        kind: LoglevelType::Range,
                        level: loglevel(&l)?,
                    },
                    (None, Some(l)) => LoglevelSel {
                        kind: LoglevelType::Single,
                        level: loglevel(&l)?,
                    },
                    (None, None) => LoglevelSel::ALL,
                };
                let what = format!("UST event {} enabled", patterns.join(","));
                let req = Request::EnableEvent {
                    session,
                    channel,
                    patterns,
                    loglevel,
                    filter: rule.filter,
                    exclusions: rule.exclusions,
                };
                self.change(&req, json, &what)
            }
            Cmd::DisableChannel {
                names,
                session,
                json,
                ..
            } => {
                let names: Vec<String> = names.split(',').map(str::to_owned).collect();
                let what = format!("UST channel {} disabled", names.join(","));
                self.change(&Request::DisableChannel { session, names }, json, &what)
            }
            Cmd::DisableEvent {
                patterns: p,
                all,
                channel,
                session,
                json,
                ..
            } => {
                let patterns = patterns(p, all)?;
                let what = format!("UST event {} disabled", patterns.join(","));
                let req = Request::DisableEvent {
                    session,
                    channel,
                    patterns,
                };
                self.change(&req, json, &what)
            }
            Cmd::AddContext {
                types,
                channel,
                session,
                json,
                ..
            } => {
                let what = format!("UST context {} added", types.join(","));
                let req = Request::AddContext {
                    session,
                    channel,
                    types,
                };
                self.change(&req, json, &what)
            }
            Cmd::Track { t } => self.track(t, true),
            Cmd::Untrack { t } => self.track(t, false),
            Cmd::Start { name, json } => {
                let a = reply!(
                    self.call(&Request::Start { session: name })?,
                    Reply::Started
                );
                let text = format!("Tracing started for session {}", a.session);
                print(&a, Some(&a.report), json, &text)
            }
            Cmd::Stop { name, json } => {
                let s = reply!(self.call(&Request::Stop { session: name })?, Reply::Stopped);
                let text = format!("Tracing stopped for session {}", s.session);
                if let Some(Flush::Failed(why)) = &s.flushed {
                    eprintln!("ustd: warning: session {}: {why}", s.session);
                }
                print(&s, Some(&s.report), json, &text)
            }
            Cmd::Record {
                output,
                buffers_pid,
                types,
                rule,
                json,
                command,
            } => record::run(
                self,
                output.map(absolute).transpose()?,
                buffers_pid,
                types,
                rule.resolve()?,
                json,
                command,
            )
            .map(|()| Done::All),
        }
    }

    /// One request per tracker given, as lttng does.
    fn track(&self, t: TrackArgs, track: bool) -> Result<Done, String> {
        let (session, json) = (t.session.clone(), t.json);
        let mut done = Done::All;
        for (attr, values) in t.resolve()? {
            let what = match &values {
                None if track => format!("{} tracking policy set to `all`", attr.label()),
                None => format!("{} tracking policy set to `none`", attr.label()),
                Some(v) => format!(
                    "{} {} the {} inclusion set",
                    v.iter().map(input_text).collect::<Vec<_>>().join(", "),
                    if track { "added to" } else { "removed from" },
                    attr.label()
                ),
            };
            let session = session.clone();
            let req = if track {
                Request::Track {
                    session,
                    attr,
                    values,
                }
            } else {
                Request::Untrack {
                    session,
                    attr,
                    values,
                }
            };
            if let Done::SomeAppsFailed = self.change(&req, json, &what)? {
                done = Done::SomeAppsFailed;
            }
        }
        Ok(done)
    }

    fn snapshot(&self, c: SnapshotCmd) -> Result<Done, String> {
        let max = |m: Option<String>| m.as_deref().map(size).transpose();
        match c {
            SnapshotCmd::AddOutput {
                path,
                session,
                name,
                max_size,
                json,
            } => {
                let req = Request::SnapshotAddOutput {
                    session,
                    name,
                    max_size: max(max_size)?.unwrap_or(0),
                    path: snapshot_path(path)?,
                };
                let o = reply!(self.call(&req)?, Reply::SnapshotOutput);
                let text = format!(
                    "Snapshot output added: [{}] {}: {}",
                    o.id,
                    o.name,
                    o.describe()
                );
                print(&o, None, json, &text)
            }
            SnapshotCmd::DelOutput {
                id_or_name,
                session,
                json,
            } => {
                let (id, name) = match id_or_name.parse::<u32>() {
                    Ok(id) => (id, String::new()),
                    Err(_) => (0, id_or_name),
                };
                let req = Request::SnapshotDelOutput { session, id, name };
                let o = reply!(self.call(&req)?, Reply::SnapshotOutput);
                let text = format!("Snapshot output [{}] {} deleted", o.id, o.name);
                print(&o, None, json, &text)
            }
            SnapshotCmd::ListOutput { session, json } => {
                let l = reply!(
                    self.call(&Request::SnapshotListOutputs { session })?,
                    Reply::SnapshotOutputs
                );
                let mut text = format!("Snapshot output list for session {}", l.session);
                for o in &l.outputs {
                    text += &format!("\n    [{}] {}: {}", o.id, o.name, o.describe());
                    if o.max_size > 0 {
                        text += &format!(" (max size: {} bytes)", o.max_size);
                    }
                }
                print(&l, None, json, &text)
            }
            SnapshotCmd::Record {
                path,
                session,
                name,
                max_size,
                json,
            } => {
                let req = Request::SnapshotRecord {
                    session,
                    name,
                    max_size: max(max_size)?,
                    path: path.map(snapshot_path).transpose()?,
                };
                let r = reply!(self.call(&req)?, Reply::SnapshotRecorded);
                let mut text = format!("Snapshot recorded successfully for session {}", r.session);
                for d in &r.dirs {
                    text += &format!("\nSnapshot written in {}", d.display());
                }
                print(&r, None, json, &text)
            }
        }
    }

    fn list(&self, json: bool) -> Result<(), String> {
        let apps = reply!(self.call(&Request::ListApps)?, Reply::Apps);
        if json {
            return print_json(&apps);
        }
        println!(
            "{:>6} {:>8} {:>8} {:>6} {:>6} {:<16} {:>4} {:>5} {:>8} {:<6} REGISTERED",
            "ID", "PID", "PPID", "UID", "GID", "NAME", "BITS", "ABI", "TRACER", "STATE"
        );
        for a in &apps.apps {
            println!(
                "{:>6} {:>8} {:>8} {:>6} {:>6} {:<16} {:>4} {:>5} {:>8} {:<6} {}",
                a.app_id,
                a.pid,
                a.ppid,
                a.uid,
                a.gid,
                a.name,
                a.bits_per_long,
                format!("{}.{}", a.abi_major, a.abi_minor),
                a.tracer_version,
                a.state,
                a.registered_at
            );
        }
        println!("{} app(s)", apps.apps.len());
        let sessions = reply!(self.call(&Request::ListSessions)?, Reply::Sessions);
        for s in &sessions.sessions {
            println!(
                "session {} [{}] -> {}",
                s.name,
                if s.active { "active" } else { "inactive" },
                s.output.display()
            );
        }
        Ok(())
    }
}

fn describe_session(s: &SessionView) -> String {
    let mut out = format!(
        "Session {} [{}]\nTrace output: {}\n",
        s.name,
        if s.active { "active" } else { "inactive" },
        s.output.display()
    );
    out += &describe_trackers(&s.trackers);
    for c in &s.channels {
        let a = &c.attrs;
        out += &format!(
            "- {} [{}] subbuf {} x {}, {}, buffers per {}\n",
            c.name,
            if c.enabled { "enabled" } else { "disabled" },
            a.subbuf_size,
            a.num_subbuf,
            if a.overwrite { "overwrite" } else { "discard" },
            match a.buffers {
                BufferScheme::Uid => "uid",
                BufferScheme::Pid => "pid",
            }
        );
        for e in &c.events {
            let ll = e.key.loglevel;
            out += &format!(
                "    event {} (loglevel {} {}) [{}]\n",
                e.key.pattern,
                match ll.kind {
                    LoglevelType::All => "all",
                    LoglevelType::Range => "range",
                    LoglevelType::Single => "single",
                },
                ll.level,
                if e.enabled { "enabled" } else { "disabled" }
            );
            if let Some(f) = &e.key.filter {
                out += &format!("      filter: {}\n", f.expression());
            }
            if !e.key.exclusions.is_empty() {
                out += &format!("      exclusions: {}\n", e.key.exclusions.join(", "));
            }
        }
        if !c.contexts.is_empty() {
            let names: Vec<String> = c
                .contexts
                .iter()
                .map(|&v| ctx::name(v).map_or_else(|| v.to_string(), str::to_owned))
                .collect();
            out += &format!("    contexts: {}\n", names.join(", "));
        }
        if let Some(l) = s.buffers.as_ref().and_then(|b| b.get(&c.name)) {
            out += &format!("    {}\n", l.line());
        }
    }
    if !s.rotation.is_empty() {
        out += "Automatic rotation schedules:\n";
        out += &describe_schedules(&s.rotation);
    }
    if let Some(r) = &s.relay {
        out += &format!(
            "Relayd: {} packets ({} bytes) sent, {} packets and {} metadata bytes lost{}\n",
            r.packets_sent,
            r.bytes_sent,
            r.packets_lost,
            r.metadata_bytes_lost,
            r.error
                .as_ref()
                .map_or(String::new(), |e| format!("; connection lost: {e}"))
        );
    }
    out
}

fn input_text(v: &TrackInput) -> String {
    match v {
        TrackInput::Id(id) => id.to_string(),
        TrackInput::Name(n) => n.clone(),
    }
}

fn describe_trackers(t: &Trackers) -> String {
    let mut out = String::from("Tracked process attributes:\n");
    for attr in TrackedAttr::ALL {
        let tr = t.get(attr);
        let shown = match tr.policy {
            TrackingPolicy::All => "all".to_owned(),
            TrackingPolicy::Set if !tr.values.is_empty() => tr
                .values
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            TrackingPolicy::Set | TrackingPolicy::None => "none".to_owned(),
        };
        out += &format!("  {}s: {shown}\n", attr.label());
    }
    out
}

fn describe_tracepoints(t: &TracepointListing) -> String {
    let mut out = String::from("UST events:\n");
    for a in &t.apps {
        out += &format!("\nPID: {} - Name: {}\n", a.pid, a.name);
        for tp in &a.tracepoints {
            out += &format!("      {} (loglevel: {})\n", tp.name, tp.loglevel);
            for f in &tp.fields {
                out += &format!(
                    "        field: {} ({}){}\n",
                    f.name,
                    f.kind,
                    if f.nowrite { " [no write]" } else { "" }
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_parse_and_overflow_is_refused() {
        assert_eq!(super::size("4k"), Ok(4096));
        assert_eq!(super::size("2M"), Ok(2 << 20));
        assert_eq!(super::size("512"), Ok(512));
        assert!(
            super::size("17179869184G").is_err(),
            "2^34 GiB overflows u64"
        );
        assert!(super::size("x").is_err());
    }
}
