//! The control protocol between the `ustd` CLI and the daemon: one JSON
//! request line ([`Request`]), one JSON response line ([`Response`]), over
//! the control socket. Both sides use these functions, so the daemon and the
//! CLI cannot disagree on the encoding.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::command::{CommandError, Reply, Request};

/// One response line: `{"status": "ok", "reply": KIND, "body": {…}}` or
/// `{"status": "error", "message": …}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Response {
    Ok(Box<Reply>),
    Error { message: String },
}

impl From<Result<Reply, CommandError>> for Response {
    fn from(r: Result<Reply, CommandError>) -> Self {
        match r {
            Ok(reply) => Self::Ok(Box::new(reply)),
            Err(e) => Self::Error {
                message: e.to_string(),
            },
        }
    }
}

/// A request line as the daemon reads it.
pub(crate) fn decode_request(line: &str) -> Result<Request, serde_json::Error> {
    serde_json::from_str(line)
}

/// A response as one line, newline included.
pub(crate) fn encode_response(r: &Response) -> Result<Vec<u8>, serde_json::Error> {
    line(r)
}

fn line(v: &impl Serialize) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = serde_json::to_vec(v)?;
    out.push(b'\n');
    Ok(out)
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

/// Sends one request and waits (bounded) for its reply.
pub fn call(socket: &Path, req: &Request, timeout: Duration) -> Result<Reply, ClientError> {
    let stream = UnixStream::connect(socket).map_err(|source| ClientError::Connect {
        path: socket.display().to_string(),
        source,
    })?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    (&stream).write_all(&line(req)?)?;
    let mut resp = String::new();
    BufReader::new(&stream).read_line(&mut resp)?;
    match serde_json::from_str::<Response>(&resp)? {
        Response::Ok(reply) => Ok(*reply),
        Response::Error { message } => Err(ClientError::Daemon(message)),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::command::reply::{AppFailure, Applied, FanOutReport, Flush, Stopped};

    fn report() -> FanOutReport {
        FanOutReport {
            applied: 1,
            failed: vec![AppFailure {
                app_id: 7,
                pid: 42,
                name: "app".into(),
                reason: "no answer".into(),
            }],
            gone: vec![],
        }
    }

    /// The line format: a status, the reply's kind, and the body `--json`
    /// prints, field for field.
    #[test]
    fn a_reply_is_one_tagged_line_and_decodes_to_itself() {
        let r = Response::Ok(Box::new(Reply::Started(Applied {
            session: "s".into(),
            report: report(),
        })));
        let line = encode_response(&r).expect("encodes");
        assert_eq!(line.last(), Some(&b'\n'));
        let v: serde_json::Value = serde_json::from_slice(&line).expect("JSON");
        assert_eq!(
            v,
            json!({ "status": "ok", "reply": "started", "body": {
                "session": "s",
                "report": { "applied": 1, "failed": [
                    { "app_id": 7, "pid": 42, "name": "app", "reason": "no answer" }
                ] }
            } })
        );
        let back: Response = serde_json::from_slice(&line).expect("decodes");
        assert_eq!(back, r);
    }

    /// `flushed` is `null` (nothing ran), `true`, or the failure's text.
    #[test]
    fn stop_says_how_the_trace_was_flushed() {
        for (flushed, want) in [
            (None, json!(null)),
            (Some(Flush::Done), json!(true)),
            (Some(Flush::Failed("disk full".into())), json!("disk full")),
        ] {
            let s = Stopped {
                session: "s".into(),
                report: FanOutReport::default(),
                flushed,
            };
            let v = serde_json::to_value(&s).expect("encodes");
            assert_eq!(v["flushed"], want);
            assert_eq!(serde_json::from_value::<Stopped>(v).expect("decodes"), s);
        }
        let never: Result<Flush, _> = serde_json::from_value(json!(false));
        assert!(never.is_err());
    }

    #[test]
    fn errors_and_bad_requests() {
        let r: Response = Err(CommandError::Trace("no library".into())).into();
        let line = encode_response(&r).expect("encodes");
        let v: serde_json::Value = serde_json::from_slice(&line).expect("JSON");
        assert_eq!(v, json!({ "status": "error", "message": "no library" }));
        assert!(decode_request(r#"{"request":"start","session":"s"}"#).is_ok());
        assert!(decode_request(r#"{"request":"launch"}"#).is_err());
    }
}
