//! The client socket liblttng-ctl connects to (`client-lttng-sessiond`):
//! one request per connection, decoded with [`crate::lttng_wire`] and
//! answered by a [`ClientHandler`].
//!
//! Every connection is its own task with one deadline for the whole
//! request, so a slow or silent client only holds its own task; reads are
//! bounded by the lengths the codec accepts, and memory grows only with the
//! bytes a client actually sends. Connections that send nothing and close
//! (liblttng-ctl's liveness probes) are dropped quietly. A reply may come
//! late (DESTROY answers once teardown is done): the handler's bound, not
//! the read deadline, covers it.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::lttng_wire::{ErrorCode, Header, Reply, Request, WireError, HEADER_LEN};

/// The socket's file name, in the rundir (`/var/run/lttng` or `$LTTNG_HOME/.lttng`).
pub const CLIENT_SOCKET: &str = "client-lttng-sessiond";
/// Time a client gets to send its whole request (header and payload).
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(5);
/// Time a command may take before the client gets `LTTNG_ERR_UNK`. Above the
/// command layer's own per-app bounds, so it only fires on a bug.
pub const COMMAND_BOUND: Duration = Duration::from_secs(180);
/// Time a client gets to read its reply.
const WRITE_DEADLINE: Duration = Duration::from_secs(5);
/// Connections served at once; more wait in the kernel's backlog.
const MAX_CLIENTS: usize = 256;

/// Who is asking, from `SO_PEERCRED`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    pub uid: u32,
    pub gid: u32,
    pub pid: Option<i32>,
}

/// Answers decoded requests (the command layer's lttng front end).
pub trait ClientHandler: Send + Sync + 'static {
    fn handle(&self, peer: Peer, req: Request) -> impl Future<Output = Reply> + Send;
}

/// Why a connection ended without a request being served.
#[derive(Debug, thiserror::Error)]
enum ConnError {
    #[error("no request: closed before sending anything")]
    Probe,
    #[error("closed after {0} of {1} bytes")]
    Eof(usize, usize),
    #[error("request not complete within {REQUEST_DEADLINE:?}")]
    Deadline,
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Accepts until `shutdown`; never waits on a client itself.
pub async fn serve<H: ClientHandler>(
    listener: UnixListener,
    handler: Arc<H>,
    shutdown: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(MAX_CLIENTS));
    loop {
        let permit = tokio::select! {
            _ = shutdown.cancelled() => return,
            p = slots.clone().acquire_owned() => p.expect("semaphore never closed"),
        };
        let stream = tokio::select! {
            _ = shutdown.cancelled() => return,
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "lttng client accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let handler = handler.clone();
        tokio::spawn(async move {
            connection(stream, &*handler).await;
            drop(permit);
        });
    }
}

async fn connection<H: ClientHandler>(mut s: UnixStream, handler: &H) {
    let peer = match s.peer_cred() {
        Ok(c) => Peer {
            uid: c.uid(),
            gid: c.gid(),
            pid: c.pid(),
        },
        Err(e) => return tracing::warn!(error = %e, "lttng client: no peer credentials; dropped"),
    };
    let mut header = Vec::with_capacity(HEADER_LEN);
    let read = tokio::time::timeout(REQUEST_DEADLINE, read_request(&mut s, &mut header)).await;
    let (h, outcome) = match read {
        Err(_) => return log_drop(peer, &ConnError::Deadline),
        Ok(Err(e)) => return log_drop(peer, &e),
        Ok(Ok(r)) => r,
    };
    let (reply, close_early) = match outcome {
        Ok(req) => {
            tracing::debug!(uid = peer.uid, pid = ?peer.pid, cmd = h.cmd_id, "lttng client request");
            match tokio::time::timeout(COMMAND_BOUND, handler.handle(peer, req)).await {
                Ok(r) => (r, false),
                Err(_) => {
                    tracing::error!(
                        cmd = h.cmd_id,
                        "lttng command did not finish within {COMMAND_BOUND:?}"
                    );
                    (Reply::error(ErrorCode::Unk), false)
                }
            }
        }
        Err(e) => {
            tracing::info!(uid = peer.uid, pid = ?peer.pid, cmd = h.cmd_id, error = %e, "lttng client: bad request");
            (Reply::error(e.reply_code()), true)
        }
    };
    let bytes = reply.encode(h.cmd_id, h.domain.pid);
    match tokio::time::timeout(WRITE_DEADLINE, s.write_all(&bytes)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::debug!(error = %e, "lttng client went away before its reply"),
        Err(_) => tracing::info!(
            uid = peer.uid,
            "lttng client did not read its reply; dropped"
        ),
    }
    if close_early {
        // Unread payload may remain: shut down rather than let the peer block.
        let _ = s.shutdown().await;
    }
}

fn log_drop(peer: Peer, e: &ConnError) {
    match e {
        ConnError::Probe => tracing::trace!(uid = peer.uid, "lttng client probe"),
        _ => tracing::info!(uid = peer.uid, pid = ?peer.pid, error = %e, "lttng client dropped"),
    }
}

/// Reads the header, then exactly the payload it declares. A decoding error is
/// returned as the request outcome (to be answered); I/O trouble ends the connection.
async fn read_request(
    s: &mut UnixStream,
    header: &mut Vec<u8>,
) -> Result<(Header, Result<Request, WireError>), ConnError> {
    read_exact_into(s, header, HEADER_LEN, true).await?;
    let h = Header::decode(header).expect("exactly HEADER_LEN bytes");
    let len = match h.payload_len() {
        Ok(n) => n,
        Err(e) => return Ok((h, Err(e))),
    };
    let mut payload = Vec::with_capacity(len.min(64 * 1024));
    read_exact_into(s, &mut payload, len, false).await?;
    let req = Request::decode(&h, &payload);
    Ok((h, req))
}

/// Reads exactly `n` bytes into the empty `buf`, growing it only as bytes arrive.
/// `first`: nothing at all is a liveness probe.
async fn read_exact_into(
    s: &mut UnixStream,
    buf: &mut Vec<u8>,
    n: usize,
    first: bool,
) -> Result<(), ConnError> {
    let got = (&mut *s).take(n as u64).read_to_end(buf).await?;
    if got == n {
        return Ok(());
    }
    if got == 0 && first {
        Err(ConnError::Probe)
    } else {
        Err(ConnError::Eof(got, n))
    }
}

#[cfg(test)]
mod tests {
    //! The server's framing and isolation, with a handler that answers
    //! LIST_SESSIONS (the requests are the stock CLI's captured bytes).
    use super::*;
    use crate::lttng_wire::session::encode_sessions;
    use std::time::Instant;

    struct ListOnly;
    impl ClientHandler for ListOnly {
        async fn handle(&self, _peer: Peer, req: Request) -> Reply {
            match req {
                Request::ListSessions => Reply::ok(encode_sessions(&[])),
                _ => Reply::error(ErrorCode::Und),
            }
        }
    }

    /// The stock CLI's `lttng list` request (tests/data/lttng_wire/list.bin).
    fn list_request() -> Vec<u8> {
        let b = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/lttng_wire/list.bin"
        ))
        .unwrap();
        let n = u32::from_le_bytes(b[..4].try_into().unwrap()) as usize;
        b[4..4 + n].to_vec()
    }

    async fn server() -> (tempdir::Dir, CancellationToken) {
        let dir = tempdir::Dir::new();
        let l = UnixListener::bind(dir.sock()).unwrap();
        let stop = CancellationToken::new();
        tokio::spawn(serve(l, Arc::new(ListOnly), stop.clone()));
        (dir, stop)
    }

    async fn ask(dir: &tempdir::Dir, req: &[u8]) -> Vec<u8> {
        let mut s = UnixStream::connect(dir.sock()).await.unwrap();
        s.write_all(req).await.unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.unwrap();
        out
    }

    fn code(rep: &[u8]) -> u32 {
        u32::from_le_bytes(rep[4..8].try_into().unwrap())
    }

    mod tempdir {
        pub(super) struct Dir(std::path::PathBuf);
        impl Dir {
            pub(super) fn new() -> Self {
                use std::sync::atomic::{AtomicUsize, Ordering};
                static N: AtomicUsize = AtomicUsize::new(0);
                let p = std::env::temp_dir().join(format!(
                    "ustd-lttng-client-{}-{}",
                    std::process::id(),
                    N.fetch_add(1, Ordering::Relaxed)
                ));
                std::fs::create_dir_all(&p).unwrap();
                Self(p)
            }
            pub(super) fn sock(&self) -> std::path::PathBuf {
                self.0.join(super::CLIENT_SOCKET)
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[tokio::test]
    async fn answers_a_captured_request_and_survives_probes_and_garbage() {
        let (dir, _stop) = server().await;
        let rep = ask(&dir, &list_request()).await;
        assert_eq!(rep.len(), 24);
        assert_eq!(
            (code(&rep), u32::from_le_bytes(rep[..4].try_into().unwrap())),
            (10, 13)
        );
        // A liveness probe: connect, close.
        drop(UnixStream::connect(dir.sock()).await.unwrap());
        // A truncated header, then close.
        ask(&dir, &list_request()[..100]).await;
        // Garbage: unknown command id -> LTTNG_ERR_UND.
        assert_eq!(
            code(&ask(&dir, &[0xff; HEADER_LEN]).await),
            ErrorCode::Und.as_u32()
        );
        // Still serving.
        assert_eq!(code(&ask(&dir, &list_request()).await), 10);
    }

    #[tokio::test]
    async fn huge_declared_length_is_refused_without_reading_it() {
        let (dir, _stop) = server().await;
        let mut req = list_request();
        req[..4].copy_from_slice(&6u32.to_le_bytes()); // ENABLE_EVENT
        req[4944..4948].copy_from_slice(&u32::MAX.to_le_bytes()); // u.enable.length
        let rep = ask(&dir, &req).await;
        assert_eq!(code(&rep), ErrorCode::Invalid.as_u32());
        assert_eq!(rep.len(), 24, "reply then close; nothing else read or sent");
    }

    #[tokio::test]
    async fn a_silent_client_never_delays_another() {
        let (dir, _stop) = server().await;
        // Many clients that send half a header and then nothing.
        let mut silent = Vec::new();
        for _ in 0..32 {
            let mut s = UnixStream::connect(dir.sock()).await.unwrap();
            s.write_all(&list_request()[..HEADER_LEN / 2])
                .await
                .unwrap();
            silent.push(s);
        }
        let t = Instant::now();
        assert_eq!(code(&ask(&dir, &list_request()).await), 10);
        // Well under the silent clients' deadline: they did not hold us up.
        assert!(t.elapsed() < REQUEST_DEADLINE / 3, "{:?}", t.elapsed());
        // And each silent client is dropped at its deadline (3x margin for a busy box).
        let mut buf = Vec::new();
        let r = tokio::time::timeout(REQUEST_DEADLINE * 3, silent[0].read_to_end(&mut buf)).await;
        assert!(matches!(r, Ok(Ok(0))), "{r:?}");
    }
}
