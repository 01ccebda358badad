//! Integration-test harness: builds the C fixture app, runs `ustd daemon` in
//! a private mount namespace ("world") and drives real LTTng-UST apps and raw
//! protocol clients against it.
//!
//! Isolation: each world is a holder process started with
//! `unshare -m --propagation private` that mounts fresh tmpfs on
//! `/var/run/lttng` and `/dev/shm`, then sleeps. The daemon and every app are
//! started inside it with `nsenter -t <holder> -m`, so no daemon or app
//! outside the test can see them (and a stray lttng-sessiond on the machine
//! cannot register our apps). The rundir itself lives under the real /tmp, so
//! the test process reaches the daemon's sockets directly.
//!
//! Env: `USTD_BIN` (daemon binary), `USTD_TEST_LOG` (the daemon's RUST_LOG,
//! default debug), `USTD_TEST_SHOW_LOG` (print daemon logs even on success).
//!
//! Needs root (mount namespaces), gcc, liblttng-ust-dev, unshare and nsenter.
//! A missing tool fails the test with a message naming it.
#![allow(dead_code)]

pub mod lttng;
pub mod raw;
pub mod relayd;

use serde::Deserialize;
use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex, OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

/// How long a daemon gets to become ready. Generous: the issue gives no bound
/// and CI boxes are small and busy.
pub const DAEMON_READY_TIMEOUT: Duration = Duration::from_secs(20);
/// Default wait for things the issue gives no bound for.
pub const GENEROUS: Duration = Duration::from_secs(20);
/// Poll period of the wait helpers.
pub const POLL: Duration = Duration::from_millis(20);

// ---------------------------------------------------------------------------
// Tools and the fixture binary
// ---------------------------------------------------------------------------

/// The `ustd` binary under test; `USTD_BIN` overrides cargo's.
pub fn ustd_bin() -> PathBuf {
    match std::env::var_os("USTD_BIN") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_BIN_EXE_ustd")),
    }
}

fn fixture_src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/app")
}

/// Runs gcc on `args` (sources, flags and libraries) into
/// `CARGO_TARGET_TMPDIR/<name>`, built under a private name and then
/// renamed: another test binary may be running the previous build.
fn gcc_into(name: &str, args: &[&OsStr], what: &str) -> PathBuf {
    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    fs::create_dir_all(&out_dir).expect("create CARGO_TARGET_TMPDIR");
    let out = out_dir.join(name);
    let tmp = out_dir.join(format!("{name}.{}.tmp", std::process::id()));
    let res = Command::new("gcc").args(args).arg("-o").arg(&tmp).output();
    let output = match res {
        Ok(o) => o,
        Err(e) => panic!(
            "cannot run gcc ({e}): the integration tests need gcc and liblttng-ust-dev \
             (`apt-get install gcc liblttng-ust-dev`, as .ci/run does)"
        ),
    };
    assert!(
        output.status.success(),
        "building {what} failed (is liblttng-ust-dev installed?):\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    fs::rename(&tmp, &out).unwrap_or_else(|e| panic!("install {what}: {e}"));
    out
}

/// Builds the fixture app once per test binary run and returns its path.
/// The `ustd-bench` binary (its own workspace member): `USTD_BENCH_BIN`,
/// else next to the `ustd` under test (`test.sh` builds it first).
pub fn bench_bin() -> PathBuf {
    let p = std::env::var_os("USTD_BENCH_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| ustd_bin().with_file_name("ustd-bench"));
    assert!(
        p.is_file(),
        "{} not found: cargo build --release -p ustd-bench (or set USTD_BENCH_BIN)",
        p.display()
    );
    p
}

pub fn fixture_app() -> &'static Path {
    static APP: OnceLock<PathBuf> = OnceLock::new();
    APP.get_or_init(|| {
        let src = fixture_src_dir();
        // The file name becomes the process name ("comm") apps register with.
        gcc_into(
            "ustd-fixture",
            &[
                "-O1".as_ref(),
                "-g".as_ref(),
                "-Wall".as_ref(),
                "-I".as_ref(),
                src.as_os_str(),
                src.join("app.c").as_os_str(),
                src.join("tp.c").as_os_str(),
                "-llttng-ust".as_ref(),
                "-ldl".as_ref(),
            ],
            "the fixture app",
        )
    })
}

/// Builds the `USTD_DIE_AT` preload shim (tests/fixtures/die_at) once per
/// test binary run and returns its path: `LD_PRELOAD` it into a fixture app
/// to kill the app at a chosen protocol step.
pub fn die_at_lib() -> &'static Path {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/die_at/die_at.c");
        gcc_into(
            "libustd-die-at.so",
            &[
                "-shared".as_ref(),
                "-fPIC".as_ref(),
                "-O1".as_ref(),
                "-Wall".as_ref(),
                src.as_os_str(),
                "-ldl".as_ref(),
            ],
            "the die-at shim",
        )
    })
}

/// Path of lttng-ust's fork wrapper (to `LD_PRELOAD` into forking apps).
pub fn ust_fork_lib() -> PathBuf {
    let out = Command::new("gcc")
        .arg("-print-file-name=liblttng-ust-fork.so")
        .output()
        .expect("run gcc -print-file-name");
    let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    assert!(
        p.is_absolute() && p.exists(),
        "liblttng-ust-fork.so not found (install liblttng-ust-dev)"
    );
    p
}

fn require_tool(name: &str) {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|d| d.join(name).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "required tool `{name}` not found in PATH (install util-linux)"
    );
}

/// Sends `sig` to `pid`.
pub fn signal(pid: i32, sig: i32) {
    // SAFETY: kill(2) has no memory-safety preconditions; a stale pid only
    // yields ESRCH, which callers tolerate.
    unsafe {
        libc::kill(pid, sig);
    }
}

pub fn euid() -> u32 {
    // SAFETY: geteuid(2) cannot fail and touches no memory.
    unsafe { libc::geteuid() }
}

pub fn egid() -> u32 {
    // SAFETY: getegid(2) cannot fail and touches no memory.
    unsafe { libc::getegid() }
}

/// Removes terminal colour sequences (`ESC [ ... m`) from daemon logs.
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Makes the spawned process die with the test thread that spawned it, so
/// an aborted test run leaves no holder, daemon or app behind. Survives the
/// exec of nsenter/env into the final program.
fn die_with_parent(cmd: &mut Command) -> &mut Command {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs between fork and exec and only calls prctl(2),
    // which is async-signal-safe and touches no memory of ours.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    }
}

/// Runs a command, killing it after `timeout`.
pub fn run_with_timeout(mut cmd: Command, timeout: Duration) -> Result<Output, String> {
    let desc = format!("{cmd:?}");
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot spawn {desc}: {e}"))?;
    let pid = child.id() as i32;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(timeout) {
        Ok(res) => res.map_err(|e| format!("{desc}: {e}")),
        Err(_) => {
            signal(pid, libc::SIGKILL);
            let _ = rx.recv();
            Err(format!("{desc} did not finish within {timeout:?}"))
        }
    }
}

/// Polls `f` until it returns `Some`, panicking with `what` after `timeout`.
pub fn wait_until<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(POLL);
    }
}

// ---------------------------------------------------------------------------
// Test scheduling
// ---------------------------------------------------------------------------

/// Tests that assert a time bound take this lock exclusively so that no other
/// world of the same test binary loads the (2-core) machine meanwhile; the
/// others share it.
static LOAD: RwLock<()> = RwLock::new(());

pub enum LoadGuard {
    Shared(RwLockReadGuard<'static, ()>),
    Exclusive(RwLockWriteGuard<'static, ()>),
}

// ---------------------------------------------------------------------------
// `ustd list --json`
// ---------------------------------------------------------------------------

/// One app of `ustd list --json`, written out here on purpose rather than
/// reusing `ustd::command::reply::AppView`: the tests hold the documented JSON
/// contract, so renaming a field in the daemon breaks them.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct AppEntry {
    pub app_id: u64,
    pub pid: i32,
    pub ppid: i32,
    pub uid: u32,
    pub gid: u32,
    pub vpid: i32,
    pub vuid: u32,
    pub vgid: u32,
    pub name: String,
    pub bits_per_long: u32,
    pub abi_major: u32,
    pub abi_minor: u32,
    pub tracer_version: String,
    pub state: String,
    pub registered_at: String,
}

#[derive(Debug, Deserialize)]
struct ListOutput {
    apps: Vec<AppEntry>,
}

// ---------------------------------------------------------------------------
// World
// ---------------------------------------------------------------------------

pub struct WorldBuilder {
    env: Vec<(String, String)>,
    exclusive: bool,
    nofile: Option<usize>,
}

impl WorldBuilder {
    /// An environment variable for the daemon (e.g. `LTTNG_APP_SOCKET_TIMEOUT`).
    pub fn daemon_env(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }

    /// Runs the daemon under this hard and soft RLIMIT_NOFILE (`prlimit`).
    pub fn daemon_nofile(mut self, n: usize) -> Self {
        self.nofile = Some(n);
        self
    }

    /// Run without other worlds of this test binary (for timing bounds).
    pub fn exclusive(mut self) -> Self {
        self.exclusive = true;
        self
    }

    /// Creates the namespace only; start the daemon with
    /// [`World::start_daemon`].
    pub fn without_daemon(self) -> World {
        World::create(self)
    }

    /// Creates the namespace and starts a ready daemon in it.
    pub fn start(self) -> World {
        let mut w = World::create(self);
        w.start_daemon();
        w
    }
}

pub struct World {
    /// Private directory under /tmp; apps get `LTTNG_HOME=<dir>`.
    pub dir: PathBuf,
    /// `<dir>/.lttng`, the daemon's `--rundir`.
    pub rundir: PathBuf,
    holder: Child,
    /// The namespace's identity (nsfs inode "mnt:[N]"), and an open handle
    /// on it: while the handle is open the namespace lives on, so its inode
    /// cannot be recycled for another world's namespace while Drop still
    /// sweeps by it.
    holder_mnt_ns: String,
    _mnt_ns_handle: File,
    daemon: Option<Child>,
    daemon_env: Vec<(String, String)>,
    daemon_nofile: Option<usize>,
    daemon_starts: usize,
    _load: LoadGuard,
}

impl World {
    pub fn builder() -> WorldBuilder {
        WorldBuilder {
            env: Vec::new(),
            exclusive: false,
            nofile: None,
        }
    }

    /// A world with a running daemon and default settings.
    pub fn start() -> World {
        Self::builder().start()
    }

    fn create(b: WorldBuilder) -> World {
        let load = if b.exclusive {
            LoadGuard::Exclusive(LOAD.write().unwrap_or_else(|e| e.into_inner()))
        } else {
            LoadGuard::Shared(LOAD.read().unwrap_or_else(|e| e.into_inner()))
        };
        assert_eq!(
            euid(),
            0,
            "the integration tests need root (mount namespaces)"
        );
        require_tool("unshare");
        require_tool("nsenter");
        fixture_app();

        static SEQ: AtomicUsize = AtomicUsize::new(0);
        // Short path: the socket path must fit in sun_path (108 bytes).
        let dir = std::env::temp_dir().join(format!(
            "ustd-t{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        let rundir = dir.join(".lttng");
        fs::create_dir_all(&rundir).expect("create world dir");

        // Apps look for the system daemon at the compiled-in /var/run/lttng;
        // hide whatever is there behind a fresh tmpfs.
        fs::create_dir_all("/var/run/lttng").expect("create /var/run/lttng");
        let mut holder = die_with_parent(&mut Command::new("unshare"))
            .args(["-m", "--propagation", "private", "sh", "-c"])
            .arg(
                "mount -t tmpfs tmpfs /var/run/lttng && mount -t tmpfs tmpfs /dev/shm \
                 && echo ready && exec sleep infinity",
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn unshare");
        let mut line = String::new();
        let stdout = holder.stdout.take().expect("piped stdout");
        let _ = BufReader::new(stdout).read_line(&mut line);
        if line.trim() != "ready" {
            let _ = holder.kill();
            let out = holder.wait_with_output().expect("wait unshare");
            panic!(
                "could not create the private mount namespace: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let ns_path = format!("/proc/{}/ns/mnt", holder.id());
        let mnt_ns_handle = File::open(&ns_path).expect("open holder mount namespace");
        let holder_mnt_ns = fs::read_link(&ns_path)
            .expect("read holder mount namespace")
            .to_string_lossy()
            .into_owned();
        World {
            dir,
            rundir,
            holder,
            holder_mnt_ns,
            _mnt_ns_handle: mnt_ns_handle,
            daemon: None,
            daemon_env: b.env,
            daemon_nofile: b.nofile,
            daemon_starts: 0,
            _load: load,
        }
    }

    pub fn app_socket(&self) -> PathBuf {
        self.rundir.join("lttng-ust-sock-8")
    }

    pub fn ctl_socket(&self) -> PathBuf {
        self.rundir.join("ustd-ctl.sock")
    }

    /// A command that runs `program` inside the world's mount namespace.
    pub fn command_in(&self, program: &Path) -> Command {
        let mut c = Command::new("nsenter");
        die_with_parent(&mut c);
        c.arg("-t")
            .arg(self.holder.id().to_string())
            .args(["-m", "--"])
            .arg(program);
        c
    }

    /// `ustd ARGS --rundir <rundir>` inside the namespace, bounded.
    pub fn ustd(&self, args: &[&str]) -> Output {
        let mut c = self.command_in(&ustd_bin());
        c.arg("--rundir").arg(&self.rundir).args(args);
        c.env("LTTNG_HOME", &self.dir);
        run_with_timeout(c, Duration::from_secs(120))
            .unwrap_or_else(|e| panic!("{e}\n{}", self.daemon_log()))
    }

    /// `ustd-bench` serving `apps` fake apps (plus `flags`), returned once
    /// all of them are registered.
    pub fn spawn_fake_apps(&self, apps: usize, flags: &[&str]) -> Child {
        let mut c = self.command_in(&bench_bin());
        c.arg("--socket")
            .arg(self.app_socket())
            .args(["--apps", &apps.to_string(), "--serve"])
            .args(flags)
            .stdin(Stdio::null())
            .stdout(Stdio::piped()) // the report, read by `stop_fake_apps`
            .stderr(Stdio::null());
        let child = c.spawn().expect("spawn ustd-bench");
        wait_until("every fake app to register", GENEROUS, || {
            (self.list().len() == apps).then_some(())
        });
        child
    }

    /// Stops fake apps from [`Self::spawn_fake_apps`]: their report (JSON).
    pub fn stop_fake_apps(&self, mut bench: Child) -> serde_json::Value {
        use std::io::Read;
        signal(bench.id() as i32, libc::SIGTERM);
        let mut out = String::new();
        let _ = bench.stdout.take().expect("piped").read_to_string(&mut out);
        let _ = bench.wait();
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("ustd-bench report ({e}): {out:?}"))
    }

    /// Session `s` (output under the world's dir) with every user-space
    /// event enabled, through the ustd CLI.
    pub fn create_enable_all(&self) {
        let trace = self.dir.join("trace");
        let trace = trace.to_str().expect("utf-8 path");
        for args in [
            &["create", "s", "-o", trace][..],
            &["enable-event", "-u", "-a"],
        ] {
            let out = self.ustd(args);
            assert!(out.status.success(), "`ustd {}`: {out:?}", args.join(" "));
        }
    }

    /// `ustd daemon --rundir <rundir>` inside the namespace, not yet spawned.
    pub fn daemon_command(&self) -> Command {
        let mut c = match self.daemon_nofile {
            None => self.command_in(&ustd_bin()),
            Some(n) => {
                require_tool("prlimit");
                // prlimit sets the limit on itself, then execs the daemon.
                let mut c = self.command_in(Path::new("prlimit"));
                c.arg(format!("--nofile={n}:{n}")).arg("--").arg(ustd_bin());
                c
            }
        };
        c.arg("daemon").arg("--rundir").arg(&self.rundir);
        c.env(
            "RUST_LOG",
            std::env::var("USTD_TEST_LOG").unwrap_or_else(|_| "debug".into()),
        );
        for (k, v) in &self.daemon_env {
            c.env(k, v);
        }
        c
    }

    fn log_path(&self, n: usize) -> PathBuf {
        self.dir.join(format!("daemon-{n}.log"))
    }

    /// Starts the daemon and waits until it is ready.
    pub fn start_daemon(&mut self) {
        assert!(self.daemon.is_none(), "daemon already running");
        self.daemon_starts += 1;
        let log = File::create(self.log_path(self.daemon_starts)).expect("create daemon log");
        let child = self
            .daemon_command()
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log)
            .spawn()
            .expect("spawn nsenter for the daemon");
        self.daemon = Some(child);
        let deadline = Instant::now() + DAEMON_READY_TIMEOUT;
        loop {
            if let Some(status) = self.daemon_mut().try_wait().expect("try_wait daemon") {
                panic!(
                    "daemon exited during startup with {status}:\n{}",
                    self.daemon_log()
                );
            }
            if self.ctl_socket().exists() && self.try_list().is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "daemon not ready after {DAEMON_READY_TIMEOUT:?}:\n{}",
                self.daemon_log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn daemon_mut(&mut self) -> &mut Child {
        self.daemon.as_mut().expect("no daemon running")
    }

    pub fn daemon_pid(&self) -> i32 {
        self.daemon.as_ref().expect("no daemon running").id() as i32
    }

    /// SIGTERMs the daemon and waits for it to exit.
    pub fn stop_daemon(&mut self) -> ExitStatus {
        self.stop_daemon_with(libc::SIGTERM)
    }

    /// Sends `sig` (SIGTERM or SIGINT) to the daemon and waits for it to exit.
    pub fn stop_daemon_with(&mut self, sig: i32) -> ExitStatus {
        let pid = self.daemon_pid();
        signal(pid, sig);
        let deadline = Instant::now() + GENEROUS;
        loop {
            if let Some(st) = self.daemon_mut().try_wait().expect("try_wait daemon") {
                self.daemon = None;
                return st;
            }
            if Instant::now() >= deadline {
                signal(pid, libc::SIGKILL);
                panic!(
                    "daemon ignored SIGTERM for {GENEROUS:?}:\n{}",
                    self.daemon_log()
                );
            }
            std::thread::sleep(POLL);
        }
    }

    /// Panics (with the log) unless the daemon process is still running.
    pub fn assert_daemon_alive(&mut self) {
        if let Some(st) = self.daemon_mut().try_wait().expect("try_wait daemon") {
            panic!("daemon died with {st}:\n{}", self.daemon_log());
        }
    }

    /// All daemon logs of this world so far.
    pub fn daemon_log(&self) -> String {
        let mut s = String::new();
        for n in 1..=self.daemon_starts {
            let text = strip_ansi(&fs::read_to_string(self.log_path(n)).unwrap_or_default());
            // Keep failure messages readable: the tail is what matters.
            let tail: String = if text.len() > 20_000 {
                let mut cut = text.len() - 20_000;
                while !text.is_char_boundary(cut) {
                    cut += 1;
                }
                format!("[... cut ...]\n{}", &text[cut..])
            } else {
                text
            };
            s.push_str(&format!("----- daemon log #{n} -----\n{tail}\n"));
        }
        s
    }

    /// Waits for a line of the daemon's log holding every one of `needles`
    /// (a reason, a peer pid, ...); returns it.
    pub fn wait_log_line(&self, needles: &[&str], timeout: Duration) -> String {
        let what = format!("a daemon log line with {needles:?}");
        let deadline = Instant::now() + timeout;
        loop {
            let log = self.daemon_log();
            if let Some(l) = log.lines().find(|l| needles.iter().all(|n| l.contains(n))) {
                return l.to_string();
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {timeout:?} waiting for {what}\n{log}"
            );
            std::thread::sleep(POLL);
        }
    }

    /// Open file descriptors of the daemon (entries of /proc/<pid>/fd).
    pub fn daemon_fd_count(&self) -> usize {
        fs::read_dir(format!("/proc/{}/fd", self.daemon_pid()))
            .expect("read daemon fd dir")
            .count()
    }

    /// The daemon's fd count once two readings 200 ms apart agree (the last
    /// `ustd list` connection may still be closing).
    pub fn settled_fd_count(&self) -> usize {
        let mut last = usize::MAX;
        wait_until("the daemon's fd count to settle", GENEROUS, || {
            let n = self.daemon_fd_count();
            let stable = n == last;
            last = n;
            if !stable {
                std::thread::sleep(Duration::from_millis(200));
            }
            stable.then_some(n)
        })
    }

    /// Waits until the daemon holds exactly `expected` fds (e.g. a baseline
    /// taken while no app was connected).
    pub fn wait_fd_count(&self, expected: usize, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let n = self.daemon_fd_count();
            if n == expected {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "daemon holds {n} fds after {timeout:?}, expected {expected}\n{}",
                self.daemon_log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `ustd list --json`.
    pub fn try_list(&self) -> Result<Vec<AppEntry>, String> {
        let mut c = Command::new(ustd_bin());
        c.args(["list", "--json", "--rundir"]).arg(&self.rundir);
        let out = run_with_timeout(c, Duration::from_secs(10))?;
        if !out.status.success() {
            return Err(format!(
                "ustd list exited with {}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        serde_json::from_slice::<ListOutput>(&out.stdout)
            .map(|l| l.apps)
            .map_err(|e| {
                format!(
                    "bad `ustd list --json` output ({e}): {}",
                    String::from_utf8_lossy(&out.stdout)
                )
            })
    }

    pub fn list(&self) -> Vec<AppEntry> {
        self.try_list()
            .unwrap_or_else(|e| panic!("{e}\n{}", self.daemon_log()))
    }

    /// Waits until an entry with this (kernel) pid is live.
    pub fn wait_registered(&self, pid: i32, timeout: Duration) -> AppEntry {
        let deadline = Instant::now() + timeout;
        loop {
            let apps = self.list();
            if let Some(e) = apps.into_iter().find(|e| e.pid == pid && e.state == "live") {
                return e;
            }
            assert!(
                Instant::now() < deadline,
                "pid {pid} not registered after {timeout:?}\n{}",
                self.daemon_log()
            );
            std::thread::sleep(POLL);
        }
    }

    /// Waits until all these pids are live; returns their entries.
    pub fn wait_all_registered(&self, pids: &[i32], timeout: Duration) -> Vec<AppEntry> {
        let deadline = Instant::now() + timeout;
        loop {
            let apps = self.list();
            let found: Vec<AppEntry> = pids
                .iter()
                .filter_map(|p| {
                    apps.iter()
                        .find(|e| e.pid == *p && e.state == "live")
                        .cloned()
                })
                .collect();
            if found.len() == pids.len() {
                return found;
            }
            if Instant::now() >= deadline {
                let have: HashSet<i32> = found.iter().map(|e| e.pid).collect();
                let missing: Vec<i32> =
                    pids.iter().copied().filter(|p| !have.contains(p)).collect();
                panic!(
                    "{} of {} apps not registered after {timeout:?}: {missing:?}\n{}",
                    missing.len(),
                    pids.len(),
                    self.daemon_log()
                );
            }
            std::thread::sleep(POLL);
        }
    }

    /// Waits until no entry has any of these pids.
    pub fn wait_gone(&self, pids: &[i32], timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let apps = self.list();
            let left: Vec<&AppEntry> = apps.iter().filter(|e| pids.contains(&e.pid)).collect();
            if left.is_empty() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "entries still listed after {timeout:?}: {left:?}\n{}",
                self.daemon_log()
            );
            std::thread::sleep(POLL);
        }
    }

    /// Starts the fixture app inside the world (stdout captured).
    pub fn spawn_app(&self, args: &[&str]) -> App {
        self.spawn_app_env(args, &[])
    }

    /// Starts the fixture app with extra environment variables. They are set
    /// by `env` inside the namespace so that e.g. `LD_PRELOAD` reaches the
    /// app only, not nsenter.
    pub fn spawn_app_env(&self, args: &[&str], env: &[(&str, &Path)]) -> App {
        self.spawn_program(fixture_app(), args, env)
    }

    /// Starts another app `program` inside the world, as [`Self::spawn_app_env`].
    pub fn spawn_program(&self, program: &Path, args: &[&str], env: &[(&str, &Path)]) -> App {
        let mut c = self.command_in(Path::new("env"));
        for (k, v) in env {
            let mut kv = std::ffi::OsString::from(format!("{k}="));
            kv.push(v);
            c.arg(kv);
        }
        c.arg(program).args(args).env("LTTNG_HOME", &self.dir);
        App::spawn(c)
    }

    /// Reads the int32 of the per-user wait shm the daemon publishes.
    pub fn wait_shm_value(&self) -> Option<i32> {
        let mut c = self.command_in(Path::new("od"));
        c.args(["-An", "-td4", "-N4"])
            .arg(format!("/dev/shm/lttng-ust-wait-8-{}", euid()));
        let out = run_with_timeout(c, Duration::from_secs(10)).ok()?;
        if !out.status.success() {
            return None;
        }
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    }

    /// Pids of every process inside the world's mount namespace.
    fn namespace_pids(&self) -> Vec<i32> {
        let Ok(rd) = fs::read_dir("/proc") else {
            return Vec::new();
        };
        rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
            .filter(|pid| {
                fs::read_link(format!("/proc/{pid}/ns/mnt"))
                    .map(|l| l.to_string_lossy() == self.holder_mnt_ns)
                    .unwrap_or(false)
            })
            .collect()
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if std::thread::panicking() || std::env::var_os("USTD_TEST_SHOW_LOG").is_some() {
            eprintln!("{}", self.daemon_log());
        }
        // Kill everything in the namespace (daemon, apps, their children),
        // then reap our own children. Sweep until empty: a dying process may
        // still fork.
        for _ in 0..50 {
            let pids = self.namespace_pids();
            if pids.is_empty() {
                break;
            }
            for pid in pids {
                signal(pid, libc::SIGKILL);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if let Some(mut d) = self.daemon.take() {
            let _ = d.kill();
            let _ = d.wait();
        }
        let _ = self.holder.kill();
        let _ = self.holder.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

// ---------------------------------------------------------------------------
// Fixture app processes
// ---------------------------------------------------------------------------

type Lines = Arc<(Mutex<(Vec<String>, bool)>, Condvar)>;

/// A fixture app process; killed and reaped on drop.
pub struct App {
    child: Child,
    pid: i32,
    /// Stdout lines so far, and whether stdout reached EOF.
    lines: Lines,
}

impl App {
    /// Spawns `c` (stdout captured line by line).
    pub fn spawn(mut c: Command) -> App {
        let mut child = c
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn fixture app");
        let pid = child.id() as i32;
        let lines: Lines = Arc::new((Mutex::new((Vec::new(), false)), Condvar::new()));
        let stdout = child.stdout.take().expect("piped stdout");
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let (m, cv) = &*sink;
                m.lock().unwrap_or_else(|e| e.into_inner()).0.push(line);
                cv.notify_all();
            }
            let (m, cv) = &*sink;
            m.lock().unwrap_or_else(|e| e.into_inner()).1 = true;
            cv.notify_all();
        });
        App { child, pid, lines }
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Waits for a stdout line starting with `prefix`; returns the rest.
    pub fn wait_line(&self, prefix: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        let (m, cv) = &*self.lines;
        let mut g = m.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(l) = g.0.iter().find(|l| l.starts_with(prefix)) {
                return l[prefix.len()..].trim().to_string();
            }
            let now = Instant::now();
            assert!(
                !g.1 && now < deadline,
                "app {} printed no `{prefix}` line (output so far: {:?})",
                self.pid,
                g.0
            );
            g = cv
                .wait_timeout(g, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// The `main reached <ms>` value.
    pub fn main_reached_ms(&self) -> u64 {
        let v = self.wait_line("main reached ", GENEROUS);
        v.parse()
            .unwrap_or_else(|_| panic!("bad `main reached` value {v:?}"))
    }

    pub fn signal(&self, sig: i32) {
        signal(self.pid, sig);
    }

    /// Waits up to `timeout` for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(st) = self.child.try_wait().expect("try_wait app") {
                return st;
            }
            assert!(
                Instant::now() < deadline,
                "app {} did not exit within {timeout:?}",
                self.pid
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// SIGKILLs the app and reaps it.
    pub fn kill9(&mut self) {
        self.signal(libc::SIGKILL);
        let _ = self.child.wait();
    }

    /// Blocks until the process exits.
    pub fn wait(&mut self) -> ExitStatus {
        self.child.wait().expect("wait app")
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
