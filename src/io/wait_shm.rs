//! The wait shm ("futex page"): one page whose first int32 tells waiting
//! apps whether a daemon is up. Apps futex-wait on it (non-private futex,
//! since the mapping is shared across processes).

use std::io;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};

use rustix::fs::Mode;
use rustix::mm::{MapFlags, ProtFlags};
use rustix::shm;

const PAGE: usize = 4096;

pub struct WaitShm {
    name: String,
    ptr: NonNull<AtomicU32>,
}

// SAFETY: the mapping is owned by this value and only accessed through an
// `AtomicU32`, which is itself Send + Sync.
unsafe impl Send for WaitShm {}
// SAFETY: as above.
unsafe impl Sync for WaitShm {}

impl WaitShm {
    /// Opens (creating if needed) and maps the page read-write.
    pub fn open(name: &str, global: bool) -> io::Result<Self> {
        let mode = Mode::from_raw_mode(if global { 0o666 } else { 0o660 });
        let rw = shm::OFlags::RDWR;
        let fd = match shm::open(name, rw | shm::OFlags::CREATE, mode) {
            // An app that started before us may own the object; with
            // fs.protected_regular, O_CREAT on it fails even though plain
            // O_RDWR would succeed.
            Err(rustix::io::Errno::ACCESS) => shm::open(name, rw, mode)?,
            r => r?,
        };
        let st = rustix::fs::fstat(&fd)?;
        if (st.st_size as usize) < PAGE {
            rustix::fs::ftruncate(&fd, PAGE as u64)?;
        }
        let uid = rustix::process::getuid();
        if st.st_uid == uid.as_raw() {
            // Best effort, as lttng-sessiond: make the page readable by apps.
            let _ = rustix::fs::fchown(&fd, Some(uid), Some(rustix::process::getgid()));
            if global {
                let _ = rustix::fs::fchmod(&fd, Mode::from_raw_mode(0o664));
            }
        }
        // SAFETY: a fresh shared mapping of a page-sized object; nothing else
        // in this process aliases it, and it is unmapped only in Drop.
        let ptr = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                PAGE,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED,
                &fd,
                0,
            )?
        };
        let ptr = NonNull::new(ptr.cast::<AtomicU32>()).ok_or(io::ErrorKind::InvalidData)?;
        Ok(Self {
            name: name.to_owned(),
            ptr,
        })
    }

    fn word(&self) -> &AtomicU32 {
        // SAFETY: the page is mapped for self's lifetime, page-aligned (so
        // aligned for u32), and only ever accessed atomically.
        unsafe { self.ptr.as_ref() }
    }

    /// Announces the daemon and wakes every waiting app.
    pub fn announce(&self) -> io::Result<usize> {
        self.word().store(1, Ordering::SeqCst);
        let woken = rustix::thread::futex::wake(
            self.word(),
            rustix::thread::futex::Flags::empty(),
            i32::MAX as u32,
        )?;
        tracing::debug!(shm = %self.name, woken, "wait shm set to 1");
        Ok(woken)
    }

    /// Tells apps no daemon is up, so they wait instead of reconnecting.
    pub fn withdraw(&self) {
        self.word().store(0, Ordering::SeqCst);
    }
}

impl Drop for WaitShm {
    fn drop(&mut self) {
        // SAFETY: the pointer and length are those returned by mmap, and no
        // reference from `word()` outlives `self`.
        let _ = unsafe { rustix::mm::munmap(self.ptr.as_ptr().cast(), PAGE) };
    }
}
