//! The daemon side of the control socket. Every client gets its own task
//! with a read deadline, so a client that connects and says nothing only
//! holds its own task. Answers come from the registry, with no round trip
//! to any app.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use crate::control::{AppView, Request, Response};
use crate::io::app_conn::AppRef;
use crate::io::commands;
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
        Ok(Ok(_)) => match serde_json::from_str::<Request>(&line) {
            Ok(req) => handle(&d, req).await,
            Err(e) => Response::Error {
                message: format!("bad request: {e}"),
            },
        },
    };
    let mut out = serde_json::to_vec(&resp).unwrap_or_default();
    out.push(b'\n');
    let _ = tokio::time::timeout(CLIENT_DEADLINE, wr.write_all(&out)).await;
}

async fn handle(d: &Daemon, req: Request) -> Response {
    let r = match req {
        Request::ListApps => {
            let apps: Vec<AppView> = d.registry.snapshot().iter().map(view).collect();
            Ok(serde_json::json!({ "apps": apps }))
        }
        Request::ListSessions => commands::list_sessions(d),
        Request::ShowSession { name } => commands::show_session(d, &name),
        Request::CreateSession { name, output } => commands::create(d, name, output).await,
        Request::DestroySession { name } => commands::destroy(d, name).await,
        Request::EnableChannel {
            session,
            name,
            attrs,
        } => commands::enable_channel(d, session, name, attrs).await,
        Request::EnableEvent {
            session,
            channel,
            patterns,
            loglevel,
        } => commands::enable_event(d, session, channel, patterns, loglevel).await,
        Request::DisableEvent {
            session,
            channel,
            patterns,
        } => commands::disable_event(d, session, channel, patterns).await,
        Request::AddContext {
            session,
            channel,
            types,
        } => commands::add_context(d, session, channel, types).await,
        Request::Start { session } => commands::start(d, session).await,
        Request::Stop { session } => commands::stop(d, session).await,
        Request::ListTracepoints { fields } => commands::list_tracepoints(d, fields).await,
    };
    match r {
        Ok(body) => Response::Ok { body },
        Err(e) => Response::Error {
            message: e.to_string(),
        },
    }
}

fn view(a: &AppRef) -> AppView {
    let i = &a.info;
    let (ma, mi, pa) = i.tracer_version;
    AppView {
        app_id: a.id.0,
        pid: i.creds.pid,
        ppid: i.claimed.ppid,
        uid: i.creds.uid,
        gid: i.creds.gid,
        vpid: i.claimed.vpid,
        vuid: i.claimed.vuid,
        vgid: i.claimed.vgid,
        name: i.name.clone(),
        bits_per_long: i.bits_per_long,
        abi_major: i.abi_major,
        abi_minor: i.abi_minor,
        tracer_version: format!("{ma}.{mi}.{pa}"),
        state: format!("{:?}", a.state()).to_lowercase(),
        registered_at: humantime::format_rfc3339_seconds(i.registered_at).to_string(),
        sessions: a
            .lease()
            .map(|l| crate::sync::lock(&l.objects).sessions())
            .unwrap_or_default(),
    }
}
