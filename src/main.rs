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

use serde_json::Value;
use ustd::control::{self, AppView, ChannelOptions, Request};
use ustd::core::session::{BufferScheme, LoglevelSel};
use ustd::wire::cmd::LoglevelType;

mod record;
use ustd::io::daemon::{self, DaemonOptions};
use ustd::io::paths::Paths;

#[derive(Parser)]
#[command(
    name = "ustd",
    version,
    about = "A session daemon for LTTng-UST 2.13 applications"
)]
struct Cli {
    /// Directory holding the app socket, control socket and lock
    /// (default: /var/run/lttng for root, else $LTTNG_HOME/.lttng or $HOME/.lttng).
    #[arg(long, global = true)]
    rundir: Option<PathBuf>,
    #[command(subcommand)]
    cmd: Cmd,
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
        #[arg(long)]
        json: bool,
    },
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
        #[arg(long)]
        json: bool,
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
}

/// Bound on one control request; `stop` and `destroy` flush traces.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(300);

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
    init_logging(if matches!(cli.cmd, Cmd::Daemon) {
        "info"
    } else {
        "warn"
    });
    let result = match cli.cmd {
        Cmd::Daemon => daemon::run(DaemonOptions { rundir: cli.rundir }).map_err(|e| e.to_string()),
        cmd => Client { rundir: cli.rundir }.run(cmd),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
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

/// Prints a command's result; names every app a change failed on.
fn report(body: &Value, json: bool, what: &str) -> Result<(), String> {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(body).map_err(|e| e.to_string())?
        );
    } else {
        println!("{what}");
    }
    if let Some(failed) = body["report"]["failed"].as_array() {
        for f in failed {
            eprintln!(
                "ustd: warning: app {} (pid {}, {}) failed: {}",
                f["app_id"],
                f["pid"],
                f["name"].as_str().unwrap_or("?"),
                f["reason"].as_str().unwrap_or("?")
            );
        }
    }
    Ok(())
}

impl Client {
    fn call(&self, req: &Request) -> Result<Value, String> {
        let paths = Paths::resolve(self.rundir.as_deref())?;
        control::call(&paths.control_socket(), req, CLIENT_TIMEOUT).map_err(|e| e.to_string())
    }

    fn run(&self, cmd: Cmd) -> Result<(), String> {
        match cmd {
            Cmd::Daemon => unreachable!("handled in main"),
            Cmd::List {
                name: Some(name),
                json,
                ..
            } => {
                let b = self.call(&Request::ShowSession { name })?;
                report(&b, json, &describe_session(&b))
            }
            Cmd::List {
                userspace: true,
                fields,
                json,
                ..
            } => {
                let b = self.call(&Request::ListTracepoints { fields })?;
                report(&b, json, &describe_tracepoints(&b))
            }
            Cmd::List { json, .. } => self.list(json),
            Cmd::Create { name, output, json } => {
                let output = output.map(absolute).transpose()?;
                let b = self.call(&Request::CreateSession {
                    name: name.clone(),
                    output,
                })?;
                report(
                    &b,
                    json,
                    &format!(
                        "Session {name} created.\nTraces will be written in {}",
                        b["output"].as_str().unwrap_or("?")
                    ),
                )
            }
            Cmd::Destroy { name, json } => {
                let b = self.call(&Request::DestroySession { name })?;
                let mut trace = b["trace"]
                    .as_str()
                    .map(|t| format!("\nTrace written in {t}"))
                    .unwrap_or_default();
                for (chan, l) in b["buffers"].as_object().into_iter().flatten() {
                    trace += &format!("\n{chan}: {}", loss_line(l));
                }
                report(
                    &b,
                    json,
                    &format!(
                        "Session {} destroyed.{trace}",
                        b["session"].as_str().unwrap_or("?")
                    ),
                )
            }
            Cmd::EnableChannel {
                name,
                session,
                subbuf_size,
                num_subbuf,
                overwrite,
                switch_timer,
                read_timer,
                buffers_pid,
                json,
                ..
            } => {
                let attrs = ChannelOptions {
                    subbuf_size: subbuf_size.as_deref().map(size).transpose()?,
                    num_subbuf,
                    overwrite,
                    switch_timer_us: switch_timer,
                    read_timer_us: read_timer,
                    buffers: Some(if buffers_pid {
                        BufferScheme::Pid
                    } else {
                        BufferScheme::Uid
                    }),
                };
                let b = self.call(&Request::EnableChannel {
                    session,
                    name: name.clone(),
                    attrs,
                })?;
                report(&b, json, &format!("UST channel {name} enabled"))
            }
            Cmd::EnableEvent {
                patterns: p,
                all,
                channel,
                session,
                loglevel: ll,
                loglevel_only,
                json,
                ..
            } => {
                let patterns = patterns(p, all)?;
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
                let b = self.call(&Request::EnableEvent {
                    session,
                    channel,
                    patterns,
                    loglevel,
                })?;
                report(&b, json, &what)
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
                let b = self.call(&Request::DisableEvent {
                    session,
                    channel,
                    patterns,
                })?;
                report(&b, json, &what)
            }
            Cmd::AddContext {
                types,
                channel,
                session,
                json,
                ..
            } => {
                let what = format!("UST context {} added", types.join(","));
                let b = self.call(&Request::AddContext {
                    session,
                    channel,
                    types,
                })?;
                report(&b, json, &what)
            }
            Cmd::Start { name, json } => {
                let b = self.call(&Request::Start { session: name })?;
                report(
                    &b,
                    json,
                    &format!(
                        "Tracing started for session {}",
                        b["session"].as_str().unwrap_or("?")
                    ),
                )
            }
            Cmd::Stop { name, json } => {
                let b = self.call(&Request::Stop { session: name })?;
                report(
                    &b,
                    json,
                    &format!(
                        "Tracing stopped for session {}",
                        b["session"].as_str().unwrap_or("?")
                    ),
                )
            }
            Cmd::Record {
                output,
                buffers_pid,
                types,
                json,
                command,
            } => record::run(
                self,
                output.map(absolute).transpose()?,
                buffers_pid,
                types,
                json,
                command,
            ),
        }
    }

    fn list(&self, json: bool) -> Result<(), String> {
        let body = self.call(&Request::ListApps)?;
        if json {
            println!(
                "{}",
                serde_json::to_string_pretty(&body).map_err(|e| e.to_string())?
            );
            return Ok(());
        }
        let apps: Vec<AppView> = serde_json::from_value(body["apps"].clone())
            .map_err(|e| format!("bad app list: {e}"))?;
        println!(
            "{:>6} {:>8} {:>8} {:>6} {:>6} {:<16} {:>4} {:>5} {:>8} {:<6} REGISTERED",
            "ID", "PID", "PPID", "UID", "GID", "NAME", "BITS", "ABI", "TRACER", "STATE"
        );
        for a in &apps {
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
        println!("{} app(s)", apps.len());
        let sessions = self.call(&Request::ListSessions)?;
        for s in sessions["sessions"].as_array().into_iter().flatten() {
            println!(
                "session {} [{}] -> {}",
                s["name"].as_str().unwrap_or("?"),
                if s["active"].as_bool() == Some(true) {
                    "active"
                } else {
                    "inactive"
                },
                s["output"].as_str().unwrap_or("?")
            );
        }
        Ok(())
    }
}

fn describe_session(b: &Value) -> String {
    let mut out = format!(
        "Session {} [{}]\nTrace output: {}\n",
        b["name"].as_str().unwrap_or("?"),
        if b["active"].as_bool() == Some(true) {
            "active"
        } else {
            "inactive"
        },
        b["output"].as_str().unwrap_or("?")
    );
    for c in b["channels"].as_array().into_iter().flatten() {
        let a = &c["attrs"];
        out += &format!(
            "- {} [{}] subbuf {} x {}, {}, buffers per {}\n",
            c["name"].as_str().unwrap_or("?"),
            if c["enabled"].as_bool() == Some(true) {
                "enabled"
            } else {
                "disabled"
            },
            a["subbuf_size"],
            a["num_subbuf"],
            if a["overwrite"].as_bool() == Some(true) {
                "overwrite"
            } else {
                "discard"
            },
            a["buffers"].as_str().unwrap_or("?")
        );
        for e in c["events"].as_array().into_iter().flatten() {
            out += &format!(
                "    event {} (loglevel {} {}) [{}]\n",
                e["key"]["pattern"].as_str().unwrap_or("?"),
                e["key"]["loglevel"]["kind"].as_str().unwrap_or("?"),
                e["key"]["loglevel"]["level"],
                if e["enabled"].as_bool() == Some(true) {
                    "enabled"
                } else {
                    "disabled"
                }
            );
        }
        if let Some(ctx) = c["contexts"].as_array().filter(|v| !v.is_empty()) {
            let names: Vec<String> = ctx
                .iter()
                .map(|v| {
                    v.as_u64()
                        .and_then(|n| ustd::wire::cmd::ctx::name(n as u32))
                        .map_or_else(|| v.to_string(), str::to_owned)
                })
                .collect();
            out += &format!("    contexts: {}\n", names.join(", "));
        }
        let name = c["name"].as_str().unwrap_or("?");
        let l = &b["buffers"][name];
        if l.is_object() {
            out += &format!("    {}\n", loss_line(l));
        }
    }
    out
}

/// One channel's loss figures (`buffers.<channel>` of list and destroy).
fn loss_line(l: &Value) -> String {
    format!(
        "lost: {} events discarded, {} packets lost, {} sub-buffers unreadable; {} stalled streams, {} wedged buffer sets replaced",
        l["discarded_events"], l["lost_packets"], l["unreadable_subbufs"], l["stalled_streams"], l["recoveries"]
    )
}

fn describe_tracepoints(b: &Value) -> String {
    let mut out = String::from("UST events:\n");
    for a in b["apps"].as_array().into_iter().flatten() {
        out += &format!(
            "\nPID: {} - Name: {}\n",
            a["pid"],
            a["name"].as_str().unwrap_or("?")
        );
        for t in a["tracepoints"].as_array().into_iter().flatten() {
            out += &format!(
                "      {} (loglevel: {})\n",
                t["name"].as_str().unwrap_or("?"),
                t["loglevel"]
            );
            for f in t["fields"].as_array().into_iter().flatten() {
                out += &format!(
                    "        field: {} ({}){}\n",
                    f["name"].as_str().unwrap_or("?"),
                    f["kind"].as_str().unwrap_or("?"),
                    if f["nowrite"].as_bool() == Some(true) {
                        " [no write]"
                    } else {
                        ""
                    }
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
