//! Buffer creation (consumer side) and the objects handed out to apps.

use std::ffi::c_int;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::ptr::NonNull;
use std::sync::Arc;

use rustix::fs::{MemfdFlags, SealFlags};
use rustix::net::{AddressFamily, SocketFlags, SocketType};

use super::error::{UstCtlError, UstCtlResult};
use super::sys::{ChannelAttr, ObjectData, RawChannel, RawStream, CHAN_METADATA, CHAN_PER_CPU};
use super::{check, UstCtl};

/// Largest channel data blob an app accepts (`LTTNG_UST_ABI_CHANNEL_DATA_MAX_LEN`).
const MAX_BLOB: u64 = 1 << 20;

pub(crate) fn page_size() -> u64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(n).unwrap_or(4096)
}

/// Attributes of a data channel, as the session configures it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelSpec {
    /// Bytes; a power of two, at least the page size.
    pub subbuf_size: u64,
    /// A power of two; at least 2 in overwrite mode.
    pub num_subbuf: u64,
    /// Flight-recorder mode (overwrite oldest) instead of discard.
    pub overwrite: bool,
    /// 0 = none. Non-zero timers make the library raise real-time signals
    /// in this process (see the module docs).
    pub switch_timer_us: u32,
    /// 0 = none; non-zero selects the transport where the consumer's timer,
    /// not the writer, wakes the reader.
    pub read_timer_us: u32,
    /// How long a writer blocks on a full buffer: 0 never (lttng's
    /// default), -1 forever, else microseconds.
    pub blocking_timeout_us: i64,
    /// Registry channel id: the `stream_id` of every packet. The id replied
    /// to the app's REGISTER_CHANNEL must be the same.
    pub chan_id: u32,
    /// Trace UUID, copied into every packet header.
    pub uuid: [u8; 16],
}

impl ChannelSpec {
    fn validate(&self) -> UstCtlResult<()> {
        let page = page_size();
        let bad = |m: String| Err(UstCtlError::InvalidSpec(m));
        if !self.subbuf_size.is_power_of_two() || self.subbuf_size < page {
            return bad(format!(
                "sub-buffer size {} is not a power of two >= {page}",
                self.subbuf_size
            ));
        }
        if !self.num_subbuf.is_power_of_two() || (self.overwrite && self.num_subbuf < 2) {
            return bad(format!(
                "sub-buffer count {} is not a power of two (>= 2 in overwrite mode)",
                self.num_subbuf
            ));
        }
        let ms = self.blocking_timeout_us / 1000;
        if self.blocking_timeout_us < -1 || ms > i64::from(i32::MAX) {
            return bad(format!(
                "blocking timeout {} us out of range",
                self.blocking_timeout_us
            ));
        }
        if self.chan_id == u32::MAX {
            return bad("channel id u32::MAX is reserved for metadata".into());
        }
        Ok(())
    }
}

/// The library's buffers of one channel: the channel, its streams (index =
/// CPU) and the shared-memory files backing them. Owned by one thread at a
/// time; destroyed streams first, then the channel, then the files.
pub(crate) struct Buffers {
    pub ctl: Arc<UstCtl>,
    chan: NonNull<RawChannel>,
    pub streams: Vec<NonNull<RawStream>>,
    _shm: Vec<OwnedFd>,
}

// SAFETY: the library's channel and stream objects are heap objects not
// bound to the creating thread; `Buffers` is only ever used by its owner
// (creation thread, then the consumer thread), never concurrently.
unsafe impl Send for Buffers {}

impl Buffers {
    fn create(ctl: &Arc<UstCtl>, mut attr: ChannelAttr, nr_fds: u32) -> UstCtlResult<Self> {
        // Sealable memfds: once the library has sized them, sealing keeps
        // any app from shrinking them under our mappings (SIGBUS; the
        // library's own recovery is broken before lttng-ust 2.13.10).
        let shm = (0..nr_fds)
            .map(|_| {
                rustix::fs::memfd_create(
                    "ustd-ring-buffer",
                    MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
                )
                .map_err(|e| UstCtlError::io("memfd_create")(e.into()))
            })
            .collect::<UstCtlResult<Vec<_>>>()?;
        let raw: Vec<c_int> = shm.iter().map(AsRawFd::as_raw_fd).collect();
        // SAFETY: `attr` is a valid packed attribute struct and `raw` holds
        // `nr_fds` open fds; the library does not keep the pointers.
        let chan = unsafe { (ctl.api.create_channel)(&mut attr, raw.as_ptr(), raw.len() as c_int) };
        let chan = NonNull::new(chan).ok_or(UstCtlError::Call {
            op: "create_channel",
            code: 0,
        })?;
        let mut b = Buffers {
            ctl: ctl.clone(),
            chan,
            streams: Vec::new(),
            _shm: shm,
        };
        for fd in &b._shm {
            rustix::fs::fcntl_add_seals(fd, SealFlags::SHRINK | SealFlags::GROW | SealFlags::SEAL)
                .map_err(|e| UstCtlError::io("seal ring-buffer memfd")(e.into()))?;
        }
        for cpu in 0..nr_fds {
            // SAFETY: `chan` is live; the library returns NULL past the last
            // possible CPU.
            match NonNull::new(unsafe { (ctl.api.create_stream)(chan.as_ptr(), cpu as c_int) }) {
                Some(s) => b.streams.push(s),
                None => break,
            }
        }
        if b.streams.is_empty() {
            return Err(UstCtlError::Call {
                op: "create_stream",
                code: 0,
            });
        }
        Ok(b)
    }

    pub(crate) fn chan(&self) -> *mut RawChannel {
        self.chan.as_ptr()
    }
}

impl Drop for Buffers {
    fn drop(&mut self) {
        for s in self.streams.drain(..) {
            // SAFETY: each stream came from create_stream on this channel
            // and is destroyed once, before the channel.
            unsafe { (self.ctl.api.destroy_stream)(s.as_ptr()) };
        }
        // SAFETY: the channel is live and all its streams are destroyed.
        unsafe { (self.ctl.api.destroy_channel)(self.chan.as_ptr()) };
    }
}

/// One stream as an app receives it (STREAM command + 2 fds).
#[derive(Debug)]
pub struct StreamObj {
    pub cpu: u32,
    pub shm_len: u64,
    pub shm: OwnedFd,
    pub wakeup: OwnedFd,
}

/// Everything one app needs to map a channel: CHANNEL blob + wakeup fd,
/// then one STREAM per entry. All fds are fresh duplicates owned by the
/// caller, who sends them over the app's command socket and closes them.
#[derive(Debug)]
pub struct AppChannelObjects {
    pub blob: Vec<u8>,
    pub wakeup: OwnedFd,
    pub streams: Vec<StreamObj>,
}

/// The master copy of a channel's app-side objects, kept as long as apps
/// may join (per-UID buffers are shared by every app of the UID).
#[derive(Debug)]
pub struct ChannelHandOut {
    blob: Vec<u8>,
    wakeup: OwnedFd,
    streams: Vec<StreamObj>,
}

impl ChannelHandOut {
    /// Fresh duplicates for one app.
    pub fn app_objects(&self) -> UstCtlResult<AppChannelObjects> {
        let dup = |fd: &OwnedFd| fd.try_clone().map_err(UstCtlError::io("dup hand-out fd"));
        let streams = self
            .streams
            .iter()
            .map(|s| {
                Ok(StreamObj {
                    cpu: s.cpu,
                    shm_len: s.shm_len,
                    shm: dup(&s.shm)?,
                    wakeup: dup(&s.wakeup)?,
                })
            })
            .collect::<UstCtlResult<Vec<_>>>()?;
        Ok(AppChannelObjects {
            blob: self.blob.clone(),
            wakeup: dup(&self.wakeup)?,
            streams,
        })
    }

    pub fn blob_len(&self) -> usize {
        self.blob.len()
    }

    pub fn nr_streams(&self) -> usize {
        self.streams.len()
    }

    /// Builds the hand-out the way lttng's consumer and sessiond exchange
    /// it, over a private socket pair: the library serialises the channel
    /// and streams, we keep our own copies of the data and fds.
    fn from_buffers(b: &Buffers) -> UstCtlResult<Self> {
        let api = &b.ctl.api;
        let (tx, rx) = rustix::net::socketpair(
            AddressFamily::UNIX,
            SocketType::STREAM,
            SocketFlags::CLOEXEC,
            None,
        )
        .map_err(|e| UstCtlError::io("socketpair")(e.into()))?;
        // Both ends stay open (owned) until the end of this function.
        let (tx_fd, rx_fd) = (tx.as_raw_fd(), rx.as_raw_fd());
        // SAFETY: `tx_fd` is an open socket and the channel is live.
        check("send_channel_to_sessiond", unsafe {
            (api.send_channel_to_sessiond)(tx_fd, b.chan())
        })?;
        let obj = recv_object(
            b,
            rx_fd,
            api.recv_channel_from_consumer,
            "recv_channel_from_consumer",
        )?;
        if obj.size() > MAX_BLOB {
            return Err(UstCtlError::Call {
                op: "recv_channel_from_consumer",
                code: obj.size() as i64,
            });
        }
        // SAFETY: for a channel object the library stores a malloc'ed copy
        // of the channel data of `size` bytes at `u.channel.data`.
        let blob =
            unsafe { std::slice::from_raw_parts(obj.get().channel_data(), obj.size() as usize) }
                .to_vec();
        let wakeup = dup_raw(obj.get().channel_wakeup_fd())?;
        drop(obj);
        // The consumer's own copy of the channel wakeup pipe is useless to
        // us; dropping it lets the channel wait fd hang up once every app
        // and hand-out copy is gone.
        // SAFETY: the channel is live.
        check("channel_close_wakeup_fd", unsafe {
            (api.channel_close_wakeup_fd)(b.chan())
        })?;
        let mut streams = Vec::with_capacity(b.streams.len());
        for s in &b.streams {
            // SAFETY: `tx_fd` is open and `s` is a live stream of this channel.
            check("send_stream_to_sessiond", unsafe {
                (api.send_stream_to_sessiond)(tx_fd, s.as_ptr())
            })?;
            let obj = recv_object(
                b,
                rx_fd,
                api.recv_stream_from_consumer,
                "recv_stream_from_consumer",
            )?;
            let o = obj.get();
            streams.push(StreamObj {
                cpu: o.stream_nr(),
                shm_len: obj.size(),
                shm: dup_raw(o.stream_shm_fd())?,
                wakeup: dup_raw(o.stream_wakeup_fd())?,
            });
        }
        Ok(Self {
            blob,
            wakeup,
            streams,
        })
    }
}

fn dup_raw(fd: RawFd) -> UstCtlResult<OwnedFd> {
    if fd < 0 {
        return Err(UstCtlError::Call {
            op: "hand-out object without fd",
            code: fd.into(),
        });
    }
    // SAFETY: `fd` belongs to a live object_data and stays open until the
    // object is released, after this duplicate is made.
    unsafe { BorrowedFd::borrow_raw(fd) }
        .try_clone_to_owned()
        .map_err(UstCtlError::io("dup hand-out fd"))
}

type RecvFn = unsafe extern "C" fn(c_int, *mut *mut ObjectData) -> c_int;

/// An object the library allocated; released (fds closed, data freed) and
/// freed on drop.
struct LibObject<'a> {
    b: &'a Buffers,
    ptr: NonNull<ObjectData>,
}

impl LibObject<'_> {
    fn get(&self) -> &ObjectData {
        // SAFETY: `ptr` points to a live object_data until drop.
        unsafe { self.ptr.as_ref() }
    }
    fn size(&self) -> u64 {
        self.get().size
    }
}

impl Drop for LibObject<'_> {
    fn drop(&mut self) {
        // SAFETY: the object came from recv_*_from_consumer (malloc'ed);
        // release with sock -1 only closes its fds and frees its data, then
        // the struct itself is freed, once.
        unsafe {
            (self.b.ctl.api.release_object)(-1, self.ptr.as_ptr());
            libc::free(self.ptr.as_ptr().cast());
        }
    }
}

fn recv_object<'a>(
    b: &'a Buffers,
    sock: c_int,
    recv: RecvFn,
    op: &'static str,
) -> UstCtlResult<LibObject<'a>> {
    let mut p: *mut ObjectData = std::ptr::null_mut();
    // SAFETY: `sock` is open; `p` is a valid out-pointer.
    check(op, unsafe { recv(sock, &mut p) })?;
    let ptr = NonNull::new(p).ok_or(UstCtlError::Call { op, code: 0 })?;
    Ok(LibObject { b, ptr })
}

/// A data channel: buffers for every possible CPU plus the app hand-out.
pub struct BufferChannel {
    pub(crate) buffers: Buffers,
    hand_out: Arc<ChannelHandOut>,
    spec: ChannelSpec,
}

impl BufferChannel {
    pub fn create(ctl: &Arc<UstCtl>, spec: &ChannelSpec) -> UstCtlResult<Self> {
        spec.validate()?;
        let attr = ChannelAttr::new(
            CHAN_PER_CPU,
            spec.subbuf_size,
            spec.num_subbuf,
            spec.overwrite,
            spec.switch_timer_us,
            spec.read_timer_us,
            spec.chan_id,
            spec.uuid,
            spec.blocking_timeout_us,
        );
        let buffers = Buffers::create(ctl, attr, ctl.nr_streams_per_channel())?;
        let hand_out = Arc::new(ChannelHandOut::from_buffers(&buffers)?);
        Ok(Self {
            buffers,
            hand_out,
            spec: spec.clone(),
        })
    }

    /// The objects to send to apps; keep it for apps that join later.
    pub fn hand_out(&self) -> Arc<ChannelHandOut> {
        self.hand_out.clone()
    }

    /// Shortcut for `hand_out().app_objects()`.
    pub fn app_objects(&self) -> UstCtlResult<AppChannelObjects> {
        self.hand_out.app_objects()
    }

    pub fn spec(&self) -> &ChannelSpec {
        &self.spec
    }
}

/// The metadata ring buffer of one trace (never sent to apps: the consumer
/// itself writes the TSDL text into it, packet by packet).
pub struct MetadataChannel {
    pub(crate) buffers: Buffers,
}

impl MetadataChannel {
    /// lttng's defaults: max(4096, page size) bytes x 2 sub-buffers.
    pub fn create(ctl: &Arc<UstCtl>, uuid: [u8; 16]) -> UstCtlResult<Self> {
        let subbuf = page_size().max(4096);
        let attr = ChannelAttr::new(CHAN_METADATA, subbuf, 2, false, 0, 0, u32::MAX, uuid, 0);
        let buffers = Buffers::create(ctl, attr, 1)?;
        Ok(Self { buffers })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> ChannelSpec {
        ChannelSpec {
            subbuf_size: 4096,
            num_subbuf: 4,
            overwrite: false,
            switch_timer_us: 0,
            read_timer_us: 0,
            blocking_timeout_us: 0,
            chan_id: 0,
            uuid: [0; 16],
        }
    }

    #[test]
    fn spec_validation_follows_the_ring_buffer_rules() {
        assert!(good().validate().is_ok());
        assert!(ChannelSpec {
            blocking_timeout_us: -1,
            ..good()
        }
        .validate()
        .is_ok());
        let bad = [
            ChannelSpec {
                subbuf_size: 3000,
                ..good()
            },
            ChannelSpec {
                subbuf_size: 1024,
                ..good()
            },
            ChannelSpec {
                num_subbuf: 3,
                ..good()
            },
            ChannelSpec {
                num_subbuf: 1,
                overwrite: true,
                ..good()
            },
            ChannelSpec {
                blocking_timeout_us: -2,
                ..good()
            },
            ChannelSpec {
                blocking_timeout_us: (i64::from(i32::MAX) + 1) * 1000,
                ..good()
            },
            ChannelSpec {
                chan_id: u32::MAX,
                ..good()
            },
        ];
        for s in bad {
            assert!(
                matches!(s.validate(), Err(UstCtlError::InvalidSpec(_))),
                "{s:?}"
            );
        }
    }
}
