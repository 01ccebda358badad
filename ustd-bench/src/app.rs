//! One fake app's connection: drives its command and notify sockets
//! (non-blocking, edge-triggered) through the exact lttng-ust framing.

use std::collections::VecDeque;
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use rustix::io::Errno;
use ustd::wire::cmd::{op, CMD_MSG_LEN};
use ustd::wire::list::FIELD_ITER_LEN;
use ustd::wire::notify::{decode_reply, reply_len, NotifyReply, NotifyRequest, CHANNEL_REPLY_LEN};

use crate::command::{Command, Framing};
use crate::sock::{fill, recv_fds, FdMsgError, Outbox, Read};
use crate::stats::Stats;
use crate::tracer::{ack, Answer, Pending, Tracer};

/// Why an app's connection ended.
#[derive(Debug, thiserror::Error)]
pub enum Gone {
    #[error("daemon closed the connection")]
    DaemonClosed,
    #[error("protocol: {0}")]
    Protocol(String),
    #[error("socket error: {0}")]
    Io(#[from] Errno),
}

impl From<FdMsgError> for Gone {
    fn from(e: FdMsgError) -> Self {
        match e {
            FdMsgError::Sys(e) => Gone::Io(e),
            other => Gone::Protocol(other.to_string()),
        }
    }
}

/// Behaviour knobs shared by all apps.
#[derive(Clone, Copy)]
pub struct Behaviour {
    pub reply_delay: Duration,
}

/// Where the command side is.
enum Phase {
    Header {
        buf: Box<[u8; CMD_MSG_LEN]>,
        have: usize,
    },
    Payload {
        cmd: Command,
        buf: Vec<u8>,
        have: usize,
        fds: usize,
    },
    Fds {
        cmd: Command,
        payload: Vec<u8>,
        n: usize,
    },
    /// Notify round trips the command triggered are in progress.
    Notify { pending: Pending, then_stuck: bool },
    /// A slow app: the reply leaves at `until`.
    Delay {
        until: Instant,
        reply: Vec<u8>,
        trailer: Option<[u8; FIELD_ITER_LEN]>,
        then_stuck: bool,
    },
    /// A stopped app: reads nothing more, answers nothing.
    Stuck,
}

impl Phase {
    fn header() -> Self {
        Phase::Header {
            buf: Box::new([0u8; CMD_MSG_LEN]),
            have: 0,
        }
    }
}

enum Step {
    Progress,
    Blocked(Option<Instant>),
}

pub struct FakeApp {
    cmd_sock: OwnedFd,
    notify_sock: OwnedFd,
    tracer: Tracer,
    behaviour: Behaviour,
    /// Become a stopped app right after answering REGISTER_DONE.
    stuck_after_register: bool,
    phase: Phase,
    cmd_out: Outbox,
    notify_out: Outbox,
    notify_queue: VecDeque<NotifyRequest>,
    /// The request awaiting its reply: (notify_cmd, reply buffer, bytes in).
    notify_wait: Option<(u32, [u8; CHANNEL_REPLY_LEN], usize)>,
    channel_failed: Option<i32>,
    pub registered_at: Option<Instant>,
    /// The app just answered a command (or took one needing no answer).
    answered: bool,
    /// The command being read was already there right after the previous
    /// one was answered: the daemon wrote it without waiting for that reply.
    found_waiting: bool,
}

impl FakeApp {
    pub fn new(
        cmd_sock: OwnedFd,
        notify_sock: OwnedFd,
        tracer: Tracer,
        behaviour: Behaviour,
        stuck_after_register: bool,
    ) -> Result<Self, Errno> {
        rustix::io::ioctl_fionbio(&cmd_sock, true)?;
        rustix::io::ioctl_fionbio(&notify_sock, true)?;
        Ok(Self {
            cmd_sock,
            notify_sock,
            tracer,
            behaviour,
            stuck_after_register,
            phase: Phase::header(),
            cmd_out: Outbox::default(),
            notify_out: Outbox::default(),
            notify_queue: VecDeque::new(),
            notify_wait: None,
            channel_failed: None,
            registered_at: None,
            answered: false,
            found_waiting: false,
        })
    }

    pub fn cmd_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.cmd_sock.as_fd()
    }

    pub fn notify_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.notify_sock.as_fd()
    }

    pub fn is_stuck(&self) -> bool {
        matches!(self.phase, Phase::Stuck)
    }

    /// Makes all the progress the sockets allow. Returns when the app next
    /// needs a timer wake-up, if ever.
    pub fn pump(&mut self, now: Instant, stats: &mut Stats) -> Result<Option<Instant>, Gone> {
        loop {
            if !self.cmd_out.flush(&self.cmd_sock)? || !self.notify_out.flush(&self.notify_sock)? {
                return Err(Gone::DaemonClosed);
            }
            let notified = self.pump_notify(stats)?;
            match self.step_cmd(now, stats)? {
                Step::Progress => {}
                Step::Blocked(wake) if !notified => return Ok(wake),
                Step::Blocked(_) => {}
            }
        }
    }

    /// One notify step: send the next request or read the awaited reply.
    fn pump_notify(&mut self, stats: &mut Stats) -> Result<bool, Gone> {
        if let Some((notify_cmd, buf, have)) = &mut self.notify_wait {
            let len = reply_len(*notify_cmd).map_err(|e| Gone::Protocol(e.to_string()))?;
            match fill(&self.notify_sock, &mut buf[..len], have)? {
                Read::Blocked => return Ok(false),
                Read::Closed => return Err(Gone::DaemonClosed),
                Read::Done(()) => {}
            }
            let reply = decode_reply(*notify_cmd, &buf[..len])
                .map_err(|e| Gone::Protocol(e.to_string()))?;
            let ret_code = match reply {
                NotifyReply::Event { ret_code, .. } | NotifyReply::Enum { ret_code, .. } => {
                    ret_code
                }
                NotifyReply::Channel {
                    ret_code,
                    header_type,
                    ..
                } => {
                    // The app refuses an unknown header type like an error.
                    let code = if ret_code == 0 && !(1..=2).contains(&header_type) {
                        -22
                    } else {
                        ret_code
                    };
                    if code != 0 {
                        self.channel_failed.get_or_insert(code);
                    }
                    code
                }
            };
            stats.notify_reply(*notify_cmd, ret_code);
            self.notify_wait = None;
            return Ok(true);
        }
        let Some(req) = self.notify_queue.pop_front() else {
            return Ok(false);
        };
        self.notify_out.push(&req.encode());
        stats.notify_sent(req.notify_cmd());
        self.notify_wait = Some((req.notify_cmd(), [0u8; CHANNEL_REPLY_LEN], 0));
        Ok(true)
    }

    fn step_cmd(&mut self, now: Instant, stats: &mut Stats) -> Result<Step, Gone> {
        match &mut self.phase {
            Phase::Stuck => Ok(Step::Blocked(None)),
            Phase::Header { buf, have } => {
                let first = *have == 0;
                let read = fill(&self.cmd_sock, &mut buf[..], have)?;
                if first {
                    let arrived = *have > 0 || matches!(read, Read::Done(()));
                    self.found_waiting = self.answered && arrived;
                    self.answered = false;
                }
                match read {
                    Read::Blocked => return Ok(Step::Blocked(None)),
                    Read::Closed => return Err(Gone::DaemonClosed),
                    Read::Done(()) => {}
                }
                let bytes = std::mem::replace(buf, Box::new([0u8; CMD_MSG_LEN]));
                let cmd = Command::new(bytes);
                stats.command(cmd.op());
                if self.found_waiting {
                    stats.command_waiting(cmd.op());
                }
                if cmd.op() == op::REGISTER_DONE
                    && cmd.handle() == 0
                    && self.registered_at.is_none()
                {
                    self.registered_at = Some(now);
                }
                // lttng-ust looks the handle up before reading anything else.
                if !self.tracer.knows(cmd.handle()) {
                    return Err(Gone::Protocol(format!(
                        "command {:#x} on unknown handle {}",
                        cmd.op(),
                        cmd.handle()
                    )));
                }
                let (payload, fds) = match cmd.framing() {
                    Framing::Silent => {
                        *have = 0;
                        self.answered = true;
                        return Ok(Step::Progress);
                    }
                    Framing::Refused(why) => return Err(Gone::Protocol(why.into())),
                    Framing::Plain { payload, fds } => (payload, fds),
                    Framing::AckFirst { payload, fds } => {
                        self.cmd_out.push(&ack(&cmd));
                        (payload, fds)
                    }
                };
                self.phase = Phase::Payload {
                    cmd,
                    buf: vec![0u8; payload],
                    have: 0,
                    fds,
                };
                Ok(Step::Progress)
            }
            Phase::Payload { buf, have, fds, .. } => {
                match fill(&self.cmd_sock, &mut buf[..], have)? {
                    Read::Blocked => return Ok(Step::Blocked(None)),
                    Read::Closed => return Err(Gone::DaemonClosed),
                    Read::Done(()) => {}
                }
                let n = *fds;
                let Phase::Payload { cmd, buf, .. } =
                    std::mem::replace(&mut self.phase, Phase::Stuck)
                else {
                    unreachable!("matched above");
                };
                if n == 0 {
                    self.execute(cmd, buf, Vec::new())?;
                } else {
                    self.phase = Phase::Fds {
                        cmd,
                        payload: buf,
                        n,
                    };
                }
                Ok(Step::Progress)
            }
            Phase::Fds { n, .. } => {
                let fds = match recv_fds(&self.cmd_sock, *n)? {
                    Read::Blocked => return Ok(Step::Blocked(None)),
                    Read::Closed => return Err(Gone::DaemonClosed),
                    Read::Done(fds) => fds,
                };
                let Phase::Fds { cmd, payload, .. } =
                    std::mem::replace(&mut self.phase, Phase::Stuck)
                else {
                    unreachable!("matched above");
                };
                self.execute(cmd, payload, fds)?;
                Ok(Step::Progress)
            }
            Phase::Notify { .. } => {
                if !self.notify_queue.is_empty() || self.notify_wait.is_some() {
                    return Ok(Step::Blocked(None));
                }
                let Phase::Notify {
                    pending,
                    then_stuck,
                } = std::mem::replace(&mut self.phase, Phase::Stuck)
                else {
                    unreachable!("matched above");
                };
                let (reply, trailer) = Tracer::finish(pending, self.channel_failed.take());
                if self.behaviour.reply_delay.is_zero() {
                    self.send_reply(&reply, trailer, then_stuck);
                } else {
                    self.phase = Phase::Delay {
                        until: now + self.behaviour.reply_delay,
                        reply,
                        trailer,
                        then_stuck,
                    };
                }
                Ok(Step::Progress)
            }
            Phase::Delay { until, .. } => {
                if now < *until {
                    return Ok(Step::Blocked(Some(*until)));
                }
                let Phase::Delay {
                    reply,
                    trailer,
                    then_stuck,
                    ..
                } = std::mem::replace(&mut self.phase, Phase::Stuck)
                else {
                    unreachable!("matched above");
                };
                self.send_reply(&reply, trailer, then_stuck);
                Ok(Step::Progress)
            }
        }
    }

    fn execute(&mut self, cmd: Command, payload: Vec<u8>, fds: Vec<OwnedFd>) -> Result<(), Gone> {
        match self.tracer.handle(&cmd, &payload, fds) {
            Answer::Drop(why) => Err(Gone::Protocol(why.into())),
            Answer::Reply { notify, pending } => {
                self.notify_queue.extend(notify);
                self.channel_failed = None;
                self.phase = Phase::Notify {
                    pending: *pending,
                    then_stuck: self.stuck_after_register && cmd.op() == op::REGISTER_DONE,
                };
                Ok(())
            }
        }
    }

    fn send_reply(
        &mut self,
        reply: &[u8],
        trailer: Option<[u8; FIELD_ITER_LEN]>,
        then_stuck: bool,
    ) {
        self.cmd_out.push(reply);
        if let Some(t) = trailer {
            self.cmd_out.push(&t);
        }
        self.answered = true;
        self.phase = if then_stuck {
            Phase::Stuck
        } else {
            Phase::header()
        };
    }
}
