//! Trace directory layout, stream files and CTF index files.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::ustctl::{UstCtlError, UstCtlResult};

/// `<output>/ust/uid/<uid>/<bits>-bit` (per-UID buffers).
pub fn uid_trace_dir(output: &Path, uid: u32, bits_per_long: u32) -> PathBuf {
    output
        .join("ust")
        .join("uid")
        .join(uid.to_string())
        .join(format!("{bits_per_long}-bit"))
}

/// `<output>/ust/pid/<procname>-<pid>-<datetime>` (per-PID buffers);
/// `datetime` is the app's registration time as `YYYYmmdd-HHMMSS`, local.
pub fn pid_trace_dir(output: &Path, procname: &str, pid: i32, datetime: &str) -> PathBuf {
    // A process name is not a trusted path component.
    let safe: String = procname
        .chars()
        .map(|c| if c == '/' || c == '\0' { '_' } else { c })
        .collect();
    output
        .join("ust")
        .join("pid")
        .join(format!("{safe}-{pid}-{datetime}"))
}

pub const INDEX_HEADER_LEN: usize = 16;
pub const INDEX_ENTRY_LEN: usize = 72;
const INDEX_MAGIC: u32 = 0xC1F1_DCC1;
const INDEX_MAJOR: u32 = 1;
const INDEX_MINOR: u32 = 1;

/// One packet's entry in `index/<stream>.idx` (all big-endian u64; sizes in
/// bits, offset in bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PacketIndex {
    pub offset: u64,
    pub packet_size: u64,
    pub content_size: u64,
    pub timestamp_begin: u64,
    pub timestamp_end: u64,
    pub events_discarded: u64,
    pub stream_id: u64,
    pub stream_instance_id: u64,
    pub packet_seq_num: u64,
}

impl PacketIndex {
    pub fn encode(&self) -> [u8; INDEX_ENTRY_LEN] {
        let mut b = [0u8; INDEX_ENTRY_LEN];
        let fields = [
            self.offset,
            self.packet_size,
            self.content_size,
            self.timestamp_begin,
            self.timestamp_end,
            self.events_discarded,
            self.stream_id,
            self.stream_instance_id,
            self.packet_seq_num,
        ];
        for (chunk, v) in b.chunks_exact_mut(8).zip(fields) {
            chunk.copy_from_slice(&v.to_be_bytes());
        }
        b
    }

    pub fn decode(b: &[u8; INDEX_ENTRY_LEN]) -> Self {
        let mut v = [0u64; 9];
        for (slot, chunk) in v.iter_mut().zip(b.chunks_exact(8)) {
            let mut a = [0u8; 8];
            a.copy_from_slice(chunk);
            *slot = u64::from_be_bytes(a);
        }
        Self {
            offset: v[0],
            packet_size: v[1],
            content_size: v[2],
            timestamp_begin: v[3],
            timestamp_end: v[4],
            events_discarded: v[5],
            stream_id: v[6],
            stream_instance_id: v[7],
            packet_seq_num: v[8],
        }
    }
}

fn index_header() -> [u8; INDEX_HEADER_LEN] {
    let mut b = [0u8; INDEX_HEADER_LEN];
    for (chunk, v) in b.chunks_exact_mut(4).zip([
        INDEX_MAGIC,
        INDEX_MAJOR,
        INDEX_MINOR,
        INDEX_ENTRY_LEN as u32,
    ]) {
        chunk.copy_from_slice(&v.to_be_bytes());
    }
    b
}

/// Who owns a trace's directories and files: lttng-sessiond writes a
/// user's session as that user (uid and gid of the client that created it).
/// `None`: the daemon's own session, files keep the daemon's ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileOwner {
    pub uid: u32,
    pub gid: u32,
}

impl FileOwner {
    fn give(self, path: &Path, f: Option<&File>) -> UstCtlResult<()> {
        let r = match f {
            Some(f) => std::os::unix::fs::fchown(f, Some(self.uid), Some(self.gid)),
            None => std::os::unix::fs::lchown(path, Some(self.uid), Some(self.gid)),
        };
        r.map_err(UstCtlError::file(path))
    }
}

/// Creates a session's output directory (and missing parents) with the
/// owner's credentials, in a `mkdir` child: the daemon is multi-threaded,
/// so it never changes its own ids. Fails where the owner may not write,
/// which is lttng-sessiond's "Create directory failed" at `start`.
pub(crate) fn create_output_as(dir: &Path, owner: FileOwner) -> UstCtlResult<()> {
    use std::os::unix::process::CommandExt;
    let out = std::process::Command::new("mkdir")
        .args(["-p", "-m", "770", "--"])
        .arg(dir)
        .uid(owner.uid)
        .gid(owner.gid)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .output()
        .map_err(UstCtlError::file(dir))?;
    if out.status.success() {
        return Ok(());
    }
    let why = String::from_utf8_lossy(&out.stderr);
    Err(UstCtlError::file(dir)(std::io::Error::other(
        why.trim().to_owned(),
    )))
}

/// Creates `dir` and its missing parents (mode 0770), each given to `owner`.
pub(crate) fn create_dir(dir: &Path, owner: Option<FileOwner>) -> UstCtlResult<()> {
    let Some(owner) = owner else {
        return std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o770)
            .create(dir)
            .map_err(UstCtlError::file(dir));
    };
    // Top-down from the deepest existing ancestor, so that each directory
    // this call makes (and only those) changes hands.
    let missing: Vec<&Path> = dir
        .ancestors()
        .take_while(|a| !a.as_os_str().is_empty() && std::fs::symlink_metadata(a).is_err())
        .collect();
    for d in missing.into_iter().rev() {
        match std::fs::DirBuilder::new().mode(0o770).create(d) {
            Ok(()) => owner.give(d, None)?,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(UstCtlError::file(d)(e)),
        }
    }
    Ok(())
}

/// Creates (or empties) `path`, mode 0660, given to `owner`.
pub(crate) fn create_file(path: &Path, owner: Option<FileOwner>) -> UstCtlResult<File> {
    let f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o660)
        .open(path)
        .map_err(UstCtlError::file(path))?;
    if let Some(o) = owner {
        o.give(path, Some(&f))?;
    }
    Ok(f)
}

/// lttng's `--tracefile-size`/`--tracefile-count`: a data stream split into
/// files `<name>_<N>` of at most `size` bytes (a packet never straddles two;
/// 0: one file `<name>`), `N` counting modulo `count` (0: no limit), so the
/// file reused is the oldest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileSplit {
    pub size: u64,
    pub count: u64,
}

/// Where a split stream is: its base name, directory and current file number.
struct Split {
    dir: PathBuf,
    name: String,
    limits: FileSplit,
    current: u64,
    /// Highest file number made: what `remove` deletes.
    made: u64,
}

/// A stream file (`<channel>_<cpu>` or `metadata`) and, for data streams,
/// its index file.
pub(crate) struct StreamFile {
    path: PathBuf,
    file: File,
    offset: u64,
    /// Bytes before this offset are on disk and out of the page cache.
    settled: u64,
    index: Option<(PathBuf, File)>,
    owner: Option<FileOwner>,
    split: Option<Split>,
}

/// `<dir>/<name>` and `<dir>/index/<name>.idx`, both created, the index with its header.
fn data_files(
    dir: &Path,
    name: &str,
    owner: Option<FileOwner>,
) -> UstCtlResult<(PathBuf, File, (PathBuf, File))> {
    let index_dir = dir.join("index");
    create_dir(&index_dir, owner)?;
    let idx_path = index_dir.join(format!("{name}.idx"));
    let mut idx = create_file(&idx_path, owner)?;
    idx.write_all(&index_header())
        .map_err(UstCtlError::file(&idx_path))?;
    let path = dir.join(name);
    Ok((path.clone(), create_file(&path, owner)?, (idx_path, idx)))
}

/// Packets of a stream whose writeback may still be in flight: the depth
/// of the disk's queue for one stream. lttng-consumerd keeps about one (it
/// waits for the packet before the one it just wrote); eight let the disk
/// take several requests of a stream at once (figures in ARCHITECTURE.md).
/// The cost: up to eight packets of a stream stay in the page cache.
const WRITEBACK_DEPTH: u64 = 8;

/// Keeps a trace out of the page cache as lttng-consumerd does, with a
/// deeper window: starts writing back what was just written (`[start,
/// end)`), then waits until every byte more than `WRITEBACK_DEPTH` packets
/// back is on disk and drops its pages; returns the new settled offset.
/// Without this, a flood fills the page cache with dirty trace pages until
/// the kernel throttles the writer (and evicts the apps' own cache); each
/// copy also lands in a fresh page instead of one just freed. Only hints: a
/// failure loses no data (the kernel still writes the pages back), so it
/// is ignored.
fn settle(file: &File, settled: u64, start: u64, end: u64) -> u64 {
    use std::os::fd::AsRawFd;
    let range = |a: u64, b: u64| Some((i64::try_from(a).ok()?, i64::try_from(b - a).ok()?));
    let Some((at, n)) = range(start, end) else {
        return settled;
    };
    // SAFETY: sync_file_range only reads its integer arguments; the fd is
    // open for as long as `file` is borrowed.
    unsafe { libc::sync_file_range(file.as_raw_fd(), at, n, libc::SYNC_FILE_RANGE_WRITE) };
    let upto = end.saturating_sub(WRITEBACK_DEPTH * (end - start));
    let Some((from, len)) = range(settled, upto.max(settled)).filter(|&(_, len)| len > 0) else {
        return settled;
    };
    let flags = libc::SYNC_FILE_RANGE_WAIT_BEFORE
        | libc::SYNC_FILE_RANGE_WRITE
        | libc::SYNC_FILE_RANGE_WAIT_AFTER;
    // SAFETY: as above.
    unsafe { libc::sync_file_range(file.as_raw_fd(), from, len, flags) };
    let _ = rustix::fs::fadvise(
        file,
        settled,
        std::num::NonZeroU64::new(upto - settled),
        rustix::fs::Advice::DontNeed,
    );
    upto
}

impl StreamFile {
    /// Data stream `<dir>/<name>` with `<dir>/index/<name>.idx`.
    /// Split in files `<name>_<N>` when `split.size` is not 0.
    pub(crate) fn data(
        dir: &Path,
        name: &str,
        owner: Option<FileOwner>,
        split: FileSplit,
    ) -> UstCtlResult<Self> {
        let split = (split.size > 0).then(|| Split {
            dir: dir.to_owned(),
            name: name.to_owned(),
            limits: split,
            current: 0,
            made: 0,
        });
        let first = match &split {
            Some(_) => format!("{name}_0"),
            None => name.to_owned(),
        };
        let (path, file, index) = data_files(dir, &first, owner)?;
        Ok(Self {
            path,
            file,
            offset: 0,
            settled: 0,
            index: Some(index),
            owner,
            split,
        })
    }

    /// The same data stream in another directory (a rotation's next
    /// chunk): same base name, owner and split, from its first file.
    pub(crate) fn moved_to(&self, dir: &Path) -> UstCtlResult<Self> {
        match &self.split {
            Some(sp) => Self::data(dir, &sp.name, self.owner, sp.limits),
            None => {
                let name = self.path.file_name().unwrap_or_default().to_string_lossy();
                Self::data(dir, &name, self.owner, FileSplit::default())
            }
        }
    }

    /// Moves a split stream to its next file when `len` more bytes would
    /// pass the size; that file (the oldest, past the count) starts empty.
    fn next_file_for(&mut self, len: u64) -> UstCtlResult<()> {
        let Some(sp) = self.split.as_mut() else {
            return Ok(());
        };
        if self.offset == 0 || self.offset + len <= sp.limits.size {
            return Ok(());
        }
        sp.current += 1;
        if sp.limits.count > 0 {
            sp.current %= sp.limits.count;
        }
        sp.made = sp.made.max(sp.current);
        let name = format!("{}_{}", sp.name, sp.current);
        let (path, file, index) = data_files(&sp.dir, &name, self.owner)?;
        (self.path, self.file, self.index, self.offset) = (path, file, Some(index), 0);
        self.settled = 0;
        Ok(())
    }

    /// `<dir>/<name>` without index (snapshots).
    pub(crate) fn plain(dir: &Path, name: &str, owner: Option<FileOwner>) -> UstCtlResult<Self> {
        let path = dir.join(name);
        Ok(Self {
            file: create_file(&path, owner)?,
            path,
            offset: 0,
            settled: 0,
            index: None,
            owner,
            split: None,
        })
    }

    /// `<dir>/metadata` (no index).
    pub(crate) fn metadata(dir: &Path, owner: Option<FileOwner>) -> UstCtlResult<Self> {
        create_dir(dir, owner)?;
        // lttng creates index/ for every trace, even when nothing uses it.
        create_dir(&dir.join("index"), owner)?;
        let path = dir.join("metadata");
        Ok(Self {
            file: create_file(&path, owner)?,
            path,
            offset: 0,
            settled: 0,
            index: None,
            owner,
            split: None,
        })
    }

    /// Appends one packet; the index entry gets the packet's file offset.
    /// Data files are written through the page cache and kept out of it
    /// (`settle`).
    pub(crate) fn write_packet(
        &mut self,
        bytes: &[u8],
        mut index: PacketIndex,
    ) -> UstCtlResult<()> {
        self.next_file_for(bytes.len() as u64)?;
        self.file
            .write_all(bytes)
            .map_err(UstCtlError::file(&self.path))?;
        index.offset = self.offset;
        self.offset += bytes.len() as u64;
        if let Some((path, idx)) = self.index.as_mut() {
            idx.write_all(&index.encode())
                .map_err(UstCtlError::file(path))?;
        }
        self.settled = settle(&self.file, self.settled, index.offset, self.offset);
        Ok(())
    }

    /// Deletes the file and its index: a stream the trace's metadata does
    /// not describe.
    pub(crate) fn remove(self) -> UstCtlResult<()> {
        let Some(sp) = &self.split else {
            return remove_data_files(&self.path, self.index.as_ref().map(|(p, _)| p.as_path()));
        };
        for n in 0..=sp.made {
            let name = format!("{}_{n}", sp.name);
            let idx = sp.dir.join("index").join(format!("{name}.idx"));
            remove_data_files(&sp.dir.join(name), Some(&idx))?;
        }
        Ok(())
    }

    /// Empties the file and its index (`lttng clear`); writing goes on
    /// from offset 0.
    pub(crate) fn truncate(&mut self) -> UstCtlResult<()> {
        use std::io::{Seek, SeekFrom};
        let empty = |f: &mut File, path: &Path| {
            f.set_len(0)
                .and_then(|_| f.seek(SeekFrom::Start(0)))
                .map(|_| ())
                .map_err(UstCtlError::file(path))
        };
        empty(&mut self.file, &self.path)?;
        self.offset = 0;
        self.settled = 0;
        if let Some((path, idx)) = self.index.as_mut() {
            empty(idx, path)?;
            idx.write_all(&index_header())
                .map_err(UstCtlError::file(path))?;
        }
        Ok(())
    }

    pub(crate) fn has_index(&self) -> bool {
        self.index.is_some()
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

fn remove_data_files(path: &Path, index: Option<&Path>) -> UstCtlResult<()> {
    std::fs::remove_file(path).map_err(UstCtlError::file(path))?;
    if let Some(p) = index {
        std::fs::remove_file(p).map_err(UstCtlError::file(p))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        let out = Path::new("/t");
        assert_eq!(
            uid_trace_dir(out, 1000, 64),
            Path::new("/t/ust/uid/1000/64-bit")
        );
        assert_eq!(
            pid_trace_dir(out, "a/b", 42, "20261124-101010"),
            Path::new("/t/ust/pid/a_b-42-20261124-101010")
        );
    }

    #[test]
    fn split_stream_reuses_the_oldest_file_past_the_count() {
        let dir = std::env::temp_dir().join(format!("ustd-split-{}", std::process::id()));
        let split = FileSplit {
            size: 100,
            count: 2,
        };
        let mut f = StreamFile::data(&dir, "c_0", None, split).unwrap();
        // 60-byte packets: one per file; the third and fourth reuse _0 and _1.
        for n in 0..4u8 {
            f.write_packet(&[n; 60], PacketIndex::default()).unwrap();
        }
        let read = |name: &str| std::fs::read(dir.join(name)).unwrap();
        assert_eq!(read("c_0_0"), vec![2; 60]);
        assert_eq!(read("c_0_1"), vec![3; 60]);
        assert!(!dir.join("c_0_2").exists() && !dir.join("c_0").exists());
        let idx = read("index/c_0_1.idx");
        assert_eq!(idx.len(), INDEX_HEADER_LEN + INDEX_ENTRY_LEN);
        // The entry's offset is within its own file.
        assert_eq!(&idx[INDEX_HEADER_LEN..INDEX_HEADER_LEN + 8], &[0; 8]);
        f.remove().unwrap();
        assert!(!dir.join("c_0_0").exists() && !dir.join("index/c_0_1.idx").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Pages of the trace file that are in the page cache, per packet of `len` bytes.
    fn resident_per_packet(path: &Path, packets: usize, len: usize) -> Vec<usize> {
        use std::os::fd::AsRawFd;
        let file = File::open(path).unwrap();
        let size = packets * len;
        // SAFETY: a fresh read-only shared mapping of `size` bytes of an open
        // file of at least that size, unmapped below; nothing else uses it.
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                size,
                libc::PROT_READ,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        assert_ne!(map, libc::MAP_FAILED);
        let page = crate::ustctl::channel::page_size() as usize;
        let mut vec = vec![0u8; size.div_ceil(page)];
        // SAFETY: `map` is a mapping of `size` bytes; `vec` has one byte per page.
        let rc = unsafe { libc::mincore(map, size, vec.as_mut_ptr()) };
        // SAFETY: unmaps the mapping made above.
        unsafe { libc::munmap(map, size) };
        assert_eq!(rc, 0);
        vec.chunks(len / page)
            .map(|c| c.iter().filter(|&&b| b & 1 == 1).count())
            .collect()
    }

    fn target_dir(what: &str) -> PathBuf {
        // Under target/, on the build's file system: a tmpfs (often /tmp)
        // cannot drop pages, a disk file system must.
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("target")
            .join(format!("ustd-{what}-{}", std::process::id()))
    }

    #[test]
    fn packets_past_the_writeback_window_leave_the_page_cache() {
        let dir = target_dir("pagecache");
        let len = 64 * 1024;
        let n = 2 * WRITEBACK_DEPTH as usize;
        let mut f = StreamFile::data(&dir, "c_0", None, FileSplit::default()).unwrap();
        for k in 0..n {
            f.write_packet(&vec![k as u8; len], PacketIndex::default())
                .unwrap();
        }
        let resident = resident_per_packet(&dir.join("c_0"), n, len);
        let data = std::fs::read(dir.join("c_0")).unwrap();
        let idx = std::fs::read(dir.join("index/c_0.idx")).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        // The last WRITEBACK_DEPTH packets may still be in flight; every
        // one before them was waited for and dropped.
        let out = n - WRITEBACK_DEPTH as usize;
        assert_eq!(f.settled, (out * len) as u64);
        assert!(
            resident[..out].iter().all(|&r| r == 0),
            "resident pages per packet: {resident:?}"
        );
        let want: Vec<u8> = (0..n).flat_map(|k| vec![k as u8; len]).collect();
        assert!(data == want, "file content differs");
        let offset = |k: usize| {
            let at = INDEX_HEADER_LEN + k * INDEX_ENTRY_LEN;
            u64::from_be_bytes(idx[at..at + 8].try_into().unwrap())
        };
        assert!((0..n).all(|k| offset(k) == (k * len) as u64));
    }

    #[test]
    fn index_entry_is_big_endian_and_round_trips() {
        let e = PacketIndex {
            offset: 0,
            packet_size: 32768,
            content_size: 4096,
            timestamp_begin: 7,
            timestamp_end: 9,
            events_discarded: 0,
            stream_id: 0,
            stream_instance_id: 1,
            packet_seq_num: 0,
        };
        let b = e.encode();
        assert_eq!(&b[8..16], &32768u64.to_be_bytes());
        assert_eq!(&b[56..64], &1u64.to_be_bytes());
        assert_eq!(PacketIndex::decode(&b), e);
        assert_eq!(&index_header()[..4], &[0xC1, 0xF1, 0xDC, 0xC1]);
        assert_eq!(&index_header()[12..16], &72u32.to_be_bytes());
    }
}
