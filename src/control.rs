//! The control protocol between the `ustd` CLI and the daemon: one JSON
//! request line, one JSON response line, over the control socket.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "snake_case")]
pub enum Request {
    ListApps,
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
