//! `ustd`: the daemon (`ustd daemon`) and its control CLI (everything else).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use ustd::control::{self, AppView, Request};
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
    /// Show registered applications.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Daemon => {
            init_logging("info");
            daemon::run(DaemonOptions { rundir: cli.rundir }).map_err(|e| e.to_string())
        }
        Cmd::List { json } => {
            init_logging("warn");
            list(cli.rundir, json)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("ustd: error: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn call(rundir: Option<PathBuf>, req: &Request) -> Result<serde_json::Value, String> {
    let paths = Paths::resolve(rundir.as_deref())?;
    control::call(&paths.control_socket(), req, CLIENT_TIMEOUT).map_err(|e| e.to_string())
}

fn list(rundir: Option<PathBuf>, json: bool) -> Result<(), String> {
    let body = call(rundir, &Request::ListApps)?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&body).map_err(|e| e.to_string())?
        );
        return Ok(());
    }
    let apps: Vec<AppView> =
        serde_json::from_value(body["apps"].clone()).map_err(|e| format!("bad app list: {e}"))?;
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
    Ok(())
}
