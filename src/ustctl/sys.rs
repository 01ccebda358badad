//! Run-time binding of liblttng-ust-ctl.so.5: the loader, the function
//! table and the C layouts this crate reads.
//!
//! The library is loaded with `dlopen` instead of being linked so that a
//! machine without `liblttng-ust-ctl5` still runs the daemon (registration
//! and listing keep working; only tracing is refused).

use std::ffi::{c_char, c_int, c_ulong, c_void, CStr, CString};
use std::ptr::NonNull;

use super::error::UstCtlError;

/// Opaque `struct lttng_ust_ctl_consumer_channel`.
#[repr(C)]
pub(crate) struct RawChannel {
    _opaque: [u8; 0],
}

/// Opaque `struct lttng_ust_ctl_consumer_stream`.
#[repr(C)]
pub(crate) struct RawStream {
    _opaque: [u8; 0],
}

/// `enum lttng_ust_abi_chan_type`.
pub(crate) const CHAN_PER_CPU: i32 = 0;
pub(crate) const CHAN_METADATA: i32 = 1;
/// `LTTNG_UST_ABI_MMAP`, the only output the library supports.
const OUTPUT_MMAP: i32 = 0;

/// `struct lttng_ust_ctl_consumer_channel_attr` (packed, 64 bytes).
#[repr(C, packed)]
pub(crate) struct ChannelAttr {
    pub kind: i32,
    pub subbuf_size: u64,
    pub num_subbuf: u64,
    pub overwrite: c_int,
    pub switch_timer_interval: u32,
    pub read_timer_interval: u32,
    pub output: i32,
    pub chan_id: u32,
    pub uuid: [u8; 16],
    pub blocking_timeout: i64,
}

const _: () = assert!(std::mem::size_of::<ChannelAttr>() == 64);

impl ChannelAttr {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        kind: i32,
        subbuf_size: u64,
        num_subbuf: u64,
        overwrite: bool,
        switch_timer_us: u32,
        read_timer_us: u32,
        chan_id: u32,
        uuid: [u8; 16],
        blocking_timeout_us: i64,
    ) -> Self {
        Self {
            kind,
            subbuf_size,
            num_subbuf,
            overwrite: overwrite as c_int,
            switch_timer_interval: switch_timer_us,
            read_timer_interval: read_timer_us,
            output: OUTPUT_MMAP,
            chan_id,
            uuid,
            blocking_timeout: blocking_timeout_us,
        }
    }
}

/// `struct lttng_ust_abi_object_data` (packed, 336 bytes). Only the fields
/// the hand-out reads are named; the union is kept as raw bytes.
#[repr(C, packed)]
pub(crate) struct ObjectData {
    pub kind: i32,
    pub handle: i32,
    pub size: u64,
    _padding: [u8; 32],
    pub u: [u8; 288],
}

const _: () = assert!(std::mem::size_of::<ObjectData>() == 336);

impl ObjectData {
    fn u32_at(&self, off: usize) -> u32 {
        u32::from_ne_bytes([
            self.u[off],
            self.u[off + 1],
            self.u[off + 2],
            self.u[off + 3],
        ])
    }
    /// Channel object: pointer to the `size` bytes of channel data.
    pub(crate) fn channel_data(&self) -> *const u8 {
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.u[0..8]);
        usize::from_ne_bytes(b) as *const u8
    }
    pub(crate) fn channel_wakeup_fd(&self) -> c_int {
        self.u32_at(12) as c_int
    }
    pub(crate) fn stream_shm_fd(&self) -> c_int {
        self.u32_at(0) as c_int
    }
    pub(crate) fn stream_wakeup_fd(&self) -> c_int {
        self.u32_at(4) as c_int
    }
    pub(crate) fn stream_nr(&self) -> u32 {
        self.u32_at(8)
    }
}

type Chan = *mut RawChannel;
type Strm = *mut RawStream;

/// Declares the function table once: field name, C symbol and signature.
macro_rules! api_table {
    ($( $field:ident: fn($($arg:ty),*) $(-> $ret:ty)?; )*) => {
        /// Entry points of liblttng-ust-ctl.so.5 (see `lttng/ust-ctl.h`).
        pub(crate) struct Api {
            $( pub $field: unsafe extern "C" fn($($arg),*) $(-> $ret)?, )*
        }

        impl Api {
            /// Resolves every entry point in `lib`.
            ///
            /// # Safety
            /// `lib` must be a live handle of liblttng-ust-ctl.so.5, whose
            /// symbols have the signatures declared above.
            unsafe fn resolve(lib: NonNull<c_void>) -> Result<Self, UstCtlError> {
                Ok(Self {
                    $( $field: {
                        let name = concat!("lttng_ust_ctl_", stringify!($field), "\0");
                        let p = lookup(lib, name)?;
                        // SAFETY: the symbol is the C function of that name,
                        // declared with this signature in lttng/ust-ctl.h.
                        unsafe {
                            std::mem::transmute::<NonNull<c_void>, unsafe extern "C" fn($($arg),*) $(-> $ret)?>(p)
                        }
                    }, )*
                })
            }
        }
    };
}

api_table! {
    get_nr_stream_per_channel: fn() -> c_int;
    create_channel: fn(*mut ChannelAttr, *const c_int, c_int) -> Chan;
    destroy_channel: fn(Chan);
    send_channel_to_sessiond: fn(c_int, Chan) -> c_int;
    channel_close_wakeup_fd: fn(Chan) -> c_int;
    write_one_packet_to_channel: fn(Chan, *const c_char, usize) -> isize;
    send_stream_to_sessiond: fn(c_int, Strm) -> c_int;
    stream_get_wait_fd: fn(Strm) -> c_int;
    create_stream: fn(Chan, c_int) -> Strm;
    destroy_stream: fn(Strm);
    get_max_subbuf_size: fn(Strm, *mut c_ulong) -> c_int;
    get_mmap_base: fn(Strm) -> *mut c_void;
    get_mmap_read_offset: fn(Strm, *mut c_ulong) -> c_int;
    get_padded_subbuf_size: fn(Strm, *mut c_ulong) -> c_int;
    get_next_subbuf: fn(Strm) -> c_int;
    put_next_subbuf: fn(Strm) -> c_int;
    snapshot: fn(Strm) -> c_int;
    snapshot_sample_positions: fn(Strm) -> c_int;
    snapshot_get_consumed: fn(Strm, *mut c_ulong) -> c_int;
    snapshot_get_produced: fn(Strm, *mut c_ulong) -> c_int;
    get_subbuf: fn(Strm, *mut c_ulong) -> c_int;
    put_subbuf: fn(Strm) -> c_int;
    flush_buffer: fn(Strm, c_int) -> c_int;
    clear_buffer: fn(Strm) -> c_int;
    get_timestamp_begin: fn(Strm, *mut u64) -> c_int;
    get_timestamp_end: fn(Strm, *mut u64) -> c_int;
    get_events_discarded: fn(Strm, *mut u64) -> c_int;
    get_content_size: fn(Strm, *mut u64) -> c_int;
    get_packet_size: fn(Strm, *mut u64) -> c_int;
    get_sequence_number: fn(Strm, *mut u64) -> c_int;
    get_stream_id: fn(Strm, *mut u64) -> c_int;
    get_instance_id: fn(Strm, *mut u64) -> c_int;
    recv_channel_from_consumer: fn(c_int, *mut *mut ObjectData) -> c_int;
    recv_stream_from_consumer: fn(c_int, *mut *mut ObjectData) -> c_int;
    release_object: fn(c_int, *mut ObjectData) -> c_int;
    sigbus_handle: fn(*mut c_void);
}

/// The Debian package that ships liblttng-ust-ctl.so.5.
pub const PACKAGE: &str = "liblttng-ust-ctl5";
/// Default library name, resolved through the dynamic loader's search path.
pub const DEFAULT_LIB: &str = "liblttng-ust-ctl.so.5";
/// Environment variable overriding the library path (tests simulate a
/// missing library with it).
pub const LIB_ENV: &str = "USTD_USTCTL_LIB";
/// liburcu flavour lttng-consumerd links; it exports the two symbols
/// (`rcu_dereference_sym`, `rcu_set_pointer_sym`) the library leaves
/// undefined without a DT_NEEDED entry.
const URCU_LIB: &str = "liburcu.so.8";
const URCU_PACKAGE: &str = "liburcu8";

fn dl_error() -> String {
    // SAFETY: dlerror returns NULL or a NUL-terminated string owned by libc
    // that stays valid until the next dl* call on this thread; we copy it
    // before returning.
    unsafe {
        let e = libc::dlerror();
        if e.is_null() {
            "unknown dynamic loader error".to_owned()
        } else {
            CStr::from_ptr(e).to_string_lossy().into_owned()
        }
    }
}

/// `dlopen`s `path`; the handle is never closed (the library keeps threads
/// and signal handlers that must outlive every caller).
pub(crate) fn open(
    path: &str,
    flags: c_int,
    package: &'static str,
) -> Result<NonNull<c_void>, UstCtlError> {
    let missing = |detail: String| UstCtlError::LibMissing {
        package,
        path: path.to_owned(),
        detail,
    };
    let c = CString::new(path).map_err(|_| missing("path contains a NUL byte".into()))?;
    // SAFETY: `c` is a valid NUL-terminated string for the duration of the
    // call; dlopen runs the library's constructors, which only need the
    // process set-up done by `UstCtl::load` beforehand.
    let h = unsafe { libc::dlopen(c.as_ptr(), flags) };
    NonNull::new(h).ok_or_else(|| missing(dl_error()))
}

pub(crate) fn open_urcu() -> Result<NonNull<c_void>, UstCtlError> {
    open(URCU_LIB, libc::RTLD_NOW | libc::RTLD_GLOBAL, URCU_PACKAGE)
}

fn lookup(lib: NonNull<c_void>, name: &'static str) -> Result<NonNull<c_void>, UstCtlError> {
    let printable = name.trim_end_matches('\0');
    // SAFETY: `name` is NUL-terminated (built with concat!) and `lib` is a
    // live dlopen handle.
    let p = unsafe { libc::dlsym(lib.as_ptr(), name.as_ptr().cast()) };
    NonNull::new(p).ok_or(UstCtlError::SymbolMissing(printable))
}

impl Api {
    pub(crate) fn load(lib: NonNull<c_void>) -> Result<Self, UstCtlError> {
        // SAFETY: `lib` was returned by dlopen of liblttng-ust-ctl.so.5.
        unsafe { Self::resolve(lib) }
    }
}
