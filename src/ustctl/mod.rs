//! FFI bindings to liblttng-ust-ctl.so.5: ring buffers created through the
//! library. The consumer that drains them is `engine::consumer`.
//!
//! - [`UstCtl`]: the library, loaded once per process at run time, with the
//!   process set-up it requires;
//! - [`BufferChannel`] / [`MetadataChannel`]: buffers of one channel (one
//!   stream per possible CPU) or of a trace's metadata;
//! - [`ChannelHandOut`]: the channel and stream objects every app maps;
//!
//! # Process requirements
//! Call [`UstCtl::load`] (or at least [`block_rt_signals`]) on the main
//! thread **before** any other thread exists (tokio runtime included):
//! channels with a switch or read timer make the library raise
//! SIGRTMIN..SIGRTMIN+2 process-wide, and a thread that does not block them
//! is killed by the default action. Threads inherit the mask of their
//! creator.

pub(crate) mod channel;
mod error;
pub(crate) mod sys;
mod tls;

use std::ffi::{c_int, c_void};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

pub use channel::{
    AppChannelObjects, BufferChannel, ChannelHandOut, ChannelSpec, MetadataChannel, StreamObj,
};
pub use error::{UstCtlError, UstCtlResult};
pub use sys::{DEFAULT_LIB, LIB_ENV, PACKAGE};

use sys::Api;

/// The loaded library. One per process; cheap to share.
pub struct UstCtl {
    pub(crate) api: Api,
    path: String,
    nr_streams: u32,
}

impl std::fmt::Debug for UstCtl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UstCtl")
            .field("path", &self.path)
            .field("nr_streams", &self.nr_streams)
            .finish()
    }
}

/// The first successful load; failures are not cached so that installing
/// the package later is picked up by the next `create`.
static LOADED: Mutex<Option<Arc<UstCtl>>> = Mutex::new(None);

/// `lttng_ust_ctl_sigbus_handle`, for the SIGBUS handler (0 until loaded).
static SIGBUS_HANDLE: AtomicUsize = AtomicUsize::new(0);

impl UstCtl {
    /// Loads the library named by `USTD_USTCTL_LIB` (default
    /// `liblttng-ust-ctl.so.5`) and performs the process set-up. Later calls
    /// return the same instance.
    pub fn load() -> UstCtlResult<Arc<UstCtl>> {
        let path = std::env::var(LIB_ENV).unwrap_or_else(|_| DEFAULT_LIB.to_owned());
        Self::load_from(&path)
    }

    /// Like [`UstCtl::load`] with an explicit path. Once a load succeeded,
    /// that instance is returned whatever the path.
    pub fn load_from(path: &str) -> UstCtlResult<Arc<UstCtl>> {
        let mut slot = LOADED.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(ctl) = slot.as_ref() {
            return Ok(ctl.clone());
        }
        block_rt_signals().map_err(|source| UstCtlError::Io {
            op: "block real-time signals",
            source,
        })?;
        // Order matters: the RCU symbols and the TLS variable must be
        // resolvable when the library is relocated.
        sys::open_urcu()?;
        let lib = sys::open(path, libc::RTLD_NOW, PACKAGE)?;
        let api = Api::load(lib)?;
        // SAFETY: no argument; reads /sys/devices/system/cpu/possible.
        let n = unsafe { (api.get_nr_stream_per_channel)() };
        let nr_streams = u32::try_from(n)
            .ok()
            .filter(|&n| n > 0)
            .ok_or(UstCtlError::Call {
                op: "get_nr_stream_per_channel",
                code: n.into(),
            })?;
        SIGBUS_HANDLE.store(api.sigbus_handle as usize, Ordering::Release);
        install_sigbus_handler()?;
        let ctl = Arc::new(UstCtl {
            api,
            path: path.to_owned(),
            nr_streams,
        });
        tracing::info!(path, nr_streams, "loaded liblttng-ust-ctl");
        *slot = Some(ctl.clone());
        Ok(ctl)
    }

    /// Number of streams of a data channel (possible CPUs).
    pub fn nr_streams_per_channel(&self) -> u32 {
        self.nr_streams
    }

    pub fn path(&self) -> &str {
        &self.path
    }
}

/// Blocks the real-time signals (SIGRTMIN..=SIGRTMAX) in the calling
/// thread, and so in every thread it creates afterwards. liblttng-ust-ctl
/// raises SIGRTMIN..SIGRTMIN+2 process-wide for channel timers; its timer
/// helper thread is the only one meant to receive them. The one blocker of
/// the crate: the daemon calls it first thing in `main`.
pub fn block_rt_signals() -> std::io::Result<()> {
    // SAFETY: sigset_t is plain data; sigemptyset/sigaddset initialise it.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid, exclusively borrowed sigset_t.
    unsafe { libc::sigemptyset(&mut set) };
    for sig in libc::SIGRTMIN()..=libc::SIGRTMAX() {
        // SAFETY: as above; `sig` is within the real-time range.
        unsafe { libc::sigaddset(&mut set, sig) };
    }
    // SAFETY: `set` is initialised; a null old-set pointer is allowed.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if rc != 0 {
        return Err(std::io::Error::from_raw_os_error(rc));
    }
    Ok(())
}

/// SIGBUS raised while the library touches a buffer whose backing file was
/// shrunk: the library jumps out of the faulting access when the address is
/// one it registered; anything else is a real fault, so abort as
/// lttng-consumerd does.
extern "C" fn on_sigbus(_sig: c_int, info: *mut libc::siginfo_t, _ctx: *mut c_void) {
    let f = SIGBUS_HANDLE.load(Ordering::Acquire);
    if f != 0 && !info.is_null() {
        // SAFETY: `f` was stored from the resolved `lttng_ust_ctl_sigbus_handle`
        // whose signature is `void (*)(void *)`; `info` is the kernel's
        // siginfo for this SIGBUS, valid during the handler.
        unsafe {
            let handle: unsafe extern "C" fn(*mut c_void) = std::mem::transmute(f);
            handle((*info).si_addr());
        }
    }
    // SAFETY: abort is async-signal-safe.
    unsafe { libc::abort() }
}

fn install_sigbus_handler() -> UstCtlResult<()> {
    // SAFETY: the sigaction struct is fully initialised (zeroed, then the
    // handler, flags and an empty mask set); `on_sigbus` has the SA_SIGINFO
    // signature.
    let rc = unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sigbus as *const () as usize;
        sa.sa_flags = libc::SA_SIGINFO;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(libc::SIGBUS, &sa, std::ptr::null_mut())
    };
    if rc != 0 {
        return Err(UstCtlError::Io {
            op: "sigaction(SIGBUS)",
            source: std::io::Error::last_os_error(),
        });
    }
    Ok(())
}

/// Turns a library return code into a result (negative = error).
pub(crate) fn check(op: &'static str, rc: c_int) -> UstCtlResult<c_int> {
    if rc < 0 {
        Err(UstCtlError::Call {
            op,
            code: rc.into(),
        })
    } else {
        Ok(rc)
    }
}
