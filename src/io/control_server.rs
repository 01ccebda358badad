//! The daemon side of the control socket. Every client gets its own task
//! with a read deadline, so a client that connects and says nothing only
//! holds its own task. Decoding and encoding only: the commands are
//! `command::execute`'s.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use crate::command;
use crate::control::{decode_request, encode_response, Response};
use crate::io::state::Daemon;

/// How long a control client may take to send its request line.
const CLIENT_DEADLINE: Duration = Duration::from_secs(5);
/// Requests are tiny; anything longer is refused.
const MAX_REQUEST: u64 = 64 * 1024;

pub async fn serve(d: Arc<Daemon>, listener: UnixListener) {
    loop {
        tokio::select! {
            _ = d.shutdown.cancelled() => return,
            r = listener.accept() => match r {
                Ok((s, _)) => { tokio::spawn(client(d.clone(), s)); }
                Err(e) => {
                    tracing::warn!(error = %e, "control accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
}

async fn client(d: Arc<Daemon>, s: UnixStream) {
    let (rd, mut wr) = s.into_split();
    let mut line = String::new();
    let mut rd = BufReader::new(tokio::io::AsyncReadExt::take(rd, MAX_REQUEST));
    let resp = match tokio::time::timeout(CLIENT_DEADLINE, rd.read_line(&mut line)).await {
        Err(_) => return tracing::debug!("control client sent nothing; dropped"),
        Ok(Err(e)) => return tracing::debug!(error = %e, "control client read failed"),
        Ok(Ok(_)) => match decode_request(&line) {
            Ok(req) => command::execute(&d, req).await.into(),
            Err(e) => Response::Error {
                message: format!("bad request: {e}"),
            },
        },
    };
    let out = encode_response(&resp).unwrap_or_else(|e| {
        // A path that is not UTF-8, say: the client still gets an answer.
        let why = Response::Error {
            message: format!("reply not encodable: {e}"),
        };
        encode_response(&why).unwrap_or_default()
    });
    let _ = tokio::time::timeout(CLIENT_DEADLINE, wr.write_all(&out)).await;
}
