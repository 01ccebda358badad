//! `ustd record -- CMD`: one-shot tracing of a command, with the running
//! daemon or with one started just for this run.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;
use ustd::command::{ChannelOptions, Reply, Request};
use ustd::core::session::{BufferScheme, LoglevelSel};
use ustd::io::paths::Paths;

use crate::{reply, Client};

/// What `record --json` prints last.
#[derive(Serialize)]
struct Recorded {
    session: String,
    trace: PathBuf,
    exit_status: Option<i32>,
}

/// A daemon started by `record` itself; stopped (SIGTERM) when dropped.
struct OwnDaemon(Child);

impl Drop for OwnDaemon {
    fn drop(&mut self) {
        let pid = rustix::process::Pid::from_child(&self.0);
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        let _ = self.0.wait();
    }
}

fn ensure_daemon(client: &Client, rundir: &Path) -> Result<Option<OwnDaemon>, String> {
    if client.call(&Request::ListSessions).is_ok() {
        return Ok(None);
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let child = Command::new(exe)
        .arg("daemon")
        .arg("--rundir")
        .arg(rundir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        // Its own log stays quiet unless asked for: the output is the trace.
        .env(
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .spawn()
        .map_err(|e| format!("cannot start ustd daemon: {e}"))?;
    let own = OwnDaemon(child);
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        if client.call(&Request::ListSessions).is_ok() {
            return Ok(Some(own));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err("the ustd daemon started for this recording did not become ready in 10 s".into())
}

/// The environment an app needs to find a daemon in `rundir`.
fn app_env(paths: &Paths) -> Result<Option<PathBuf>, String> {
    if paths.global {
        return Ok(None);
    }
    match (paths.rundir.file_name(), paths.rundir.parent()) {
        (Some(n), Some(parent)) if n == ".lttng" => Ok(Some(parent.to_path_buf())),
        _ => Err(format!(
            "apps only find a per-user daemon in $LTTNG_HOME/.lttng; {} is not named .lttng",
            paths.rundir.display()
        )),
    }
}

/// The filter and exclusions of the recorded `*` rule.
#[derive(Debug, Default)]
pub(crate) struct Rule {
    pub(crate) filter: Option<String>,
    pub(crate) exclusions: Vec<String>,
}

pub(crate) fn run(
    client: &Client,
    output: Option<PathBuf>,
    buffers_pid: bool,
    types: Vec<String>,
    rule: Rule,
    json: bool,
    command: Vec<String>,
) -> Result<(), String> {
    let paths = Paths::resolve(client.rundir.as_deref())?;
    let lttng_home = app_env(&paths)?;
    let _own = ensure_daemon(client, &paths.rundir)?;
    let name = format!(
        "record-{}-{}",
        std::process::id(),
        ustd::io::host::local_datetime(std::time::SystemTime::now())
    );
    let created = reply!(
        client.call(&Request::CreateSession {
            net: None,
            name: name.clone(),
            output,
            snapshot: false,
        })?,
        Reply::Created
    );
    let session = Some(name.clone());
    let run = || -> Result<std::process::ExitStatus, String> {
        if buffers_pid {
            let attrs = ChannelOptions {
                buffers: Some(BufferScheme::Pid),
                ..Default::default()
            };
            client.call(&Request::EnableChannel {
                session: session.clone(),
                name: "channel0".into(),
                attrs,
            })?;
        }
        client.call(&Request::EnableEvent {
            session: session.clone(),
            channel: None,
            patterns: vec!["*".into()],
            loglevel: LoglevelSel::ALL,
            filter: rule.filter.clone(),
            exclusions: rule.exclusions.clone(),
        })?;
        if !types.is_empty() {
            client.call(&Request::AddContext {
                session: session.clone(),
                channel: None,
                types: types.clone(),
            })?;
        }
        client.call(&Request::Start {
            session: session.clone(),
        })?;
        let mut cmd = Command::new(&command[0]);
        cmd.args(&command[1..]);
        if let Some(home) = &lttng_home {
            cmd.env("LTTNG_HOME", home);
        }
        cmd.status()
            .map_err(|e| format!("cannot run {}: {e}", command[0]))
    };
    let status = run();
    let stopped = client.call(&Request::Stop {
        session: session.clone(),
    });
    let destroyed = reply!(
        client.call(&Request::DestroySession { name: session })?,
        Reply::Destroyed
    );
    // A session that never started has no trace: its output directory.
    let trace = destroyed.trace.unwrap_or(created.output);
    let status = status?;
    if let Err(e) = stopped {
        eprintln!("ustd: warning: stop: {e}");
    }
    if json {
        // One line, keys sorted (a `Value`'s map order), after the command's
        // own output.
        let summary = serde_json::to_value(Recorded {
            session: name,
            trace,
            exit_status: status.code(),
        })
        .map_err(|e| e.to_string())?;
        println!("{summary}");
    } else {
        println!("{}", trace.display());
    }
    if !status.success() {
        return Err(format!("{} exited with {status}", command[0]));
    }
    Ok(())
}
