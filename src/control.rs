//! The control protocol between the `ustd` CLI and the daemon: one JSON
//! request line, one JSON response line, over the control socket.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::core::session::{BufferScheme, ChannelAttrs, LoglevelSel};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "snake_case")]
pub enum Request {
    ListApps,
    ListSessions,
    ShowSession {
        name: String,
    },
    CreateSession {
        name: String,
        output: Option<PathBuf>,
    },
    DestroySession {
        name: Option<String>,
    },
    EnableChannel {
        session: Option<String>,
        name: String,
        attrs: ChannelOptions,
    },
    EnableEvent {
        session: Option<String>,
        channel: Option<String>,
        patterns: Vec<String>,
        loglevel: LoglevelSel,
    },
    DisableEvent {
        session: Option<String>,
        channel: Option<String>,
        patterns: Vec<String>,
    },
    AddContext {
        session: Option<String>,
        channel: Option<String>,
        types: Vec<String>,
    },
    Start {
        session: Option<String>,
    },
    Stop {
        session: Option<String>,
    },
    ListTracepoints {
        fields: bool,
    },
}

/// `enable-channel` options; unset ones take lttng's defaults for the
/// buffer scheme.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ChannelOptions {
    pub subbuf_size: Option<u64>,
    pub num_subbuf: Option<u64>,
    pub overwrite: bool,
    pub switch_timer_us: Option<u32>,
    pub read_timer_us: Option<u32>,
    pub buffers: Option<BufferScheme>,
}

impl ChannelOptions {
    pub fn resolve(&self) -> ChannelAttrs {
        let d = ChannelAttrs::default_for(self.buffers.unwrap_or(BufferScheme::Uid));
        ChannelAttrs {
            subbuf_size: self.subbuf_size.unwrap_or(d.subbuf_size),
            num_subbuf: self.num_subbuf.unwrap_or(d.num_subbuf),
            overwrite: self.overwrite,
            switch_timer_us: self.switch_timer_us.unwrap_or(0),
            read_timer_us: self.read_timer_us.unwrap_or(0),
            buffers: d.buffers,
        }
    }
}

/// Outcome of applying a change to every registered app: never a silent
/// success, each failing app is named with its reason.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FanOutReport {
    pub applied: usize,
    pub failed: Vec<AppFailure>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppFailure {
    pub app_id: u64,
    pub pid: i32,
    pub name: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Response {
    Ok { body: serde_json::Value },
    Error { message: String },
}

/// One registered app as shown by `ustd list`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AppView {
    pub app_id: u64,
    pub pid: i32,
    pub ppid: i32,
    pub uid: u32,
    pub gid: u32,
    pub vpid: i32,
    pub vuid: u32,
    pub vgid: u32,
    pub name: String,
    pub bits_per_long: u32,
    pub abi_major: u32,
    pub abi_minor: u32,
    pub tracer_version: String,
    pub state: String,
    pub registered_at: String,
    /// Ids of the sessions this app has objects in (from the daemon's own
    /// per-app state, no round trip).
    #[serde(default)]
    pub sessions: Vec<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the ustd daemon at {path}: {source} (is `ustd daemon` running?)")]
    Connect {
        path: String,
        source: std::io::Error,
    },
    #[error("control socket I/O failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("malformed daemon response: {0}")]
    Decode(#[from] serde_json::Error),
    #[error("{0}")]
    Daemon(String),
}

/// Sends one request and waits (bounded) for its response.
pub fn call(
    socket: &Path,
    req: &Request,
    timeout: Duration,
) -> Result<serde_json::Value, ClientError> {
    let stream = UnixStream::connect(socket).map_err(|source| ClientError::Connect {
        path: socket.display().to_string(),
        source,
    })?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let mut line = serde_json::to_vec(req)?;
    line.push(b'\n');
    (&stream).write_all(&line)?;
    let mut resp = String::new();
    BufReader::new(&stream).read_line(&mut resp)?;
    match serde_json::from_str::<Response>(&resp)? {
        Response::Ok { body } => Ok(body),
        Response::Error { message } => Err(ClientError::Daemon(message)),
    }
}

/// One tracepoint of an app, with its fields when asked.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct TracepointInfo {
    pub name: String,
    pub loglevel: i32,
    pub fields: Vec<TracepointField>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct TracepointField {
    pub name: String,
    pub kind: String,
    pub nowrite: bool,
}
