//! The stock `lttng` CLI and babeltrace2 in a world: a session daemon (ustd
//! or lttng-sessiond) as the root daemon of the world's namespace, so the
//! CLI finds it at `/var/run/lttng/client-lttng-sessiond` there, as users' do.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Instant;

use super::*;

/// `/var/run/lttng/client-lttng-sessiond` without the `/var/run -> /run` symlink, which
/// would resolve outside the namespace when reached through `/proc/PID/root`.
pub const CLIENT_SOCKET: &str = "/run/lttng/client-lttng-sessiond";

/// A session daemon (ustd or lttng-sessiond) running in a world's namespace.
pub struct Sessiond {
    child: Child,
}

impl Sessiond {
    pub fn ustd(w: &World) -> Sessiond {
        let mut c = w.command_in(&ustd_bin());
        c.arg("daemon").env("RUST_LOG", "info");
        Self::spawn(w, c, "ustd")
    }

    pub fn lttng(w: &World) -> Sessiond {
        let mut c = w.command_in(Path::new("lttng-sessiond"));
        c.arg("--no-kernel")
            .env("LTTNG_HOME", &w.dir)
            .env("HOME", &w.dir);
        Self::spawn(w, c, "lttng-sessiond")
    }

    fn spawn(w: &World, mut c: Command, name: &str) -> Sessiond {
        let log = std::fs::File::create(w.dir.join(format!("{name}.log"))).unwrap();
        let child = c
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {name}: {e}"));
        let d = Sessiond { child };
        wait_until(&format!("{name} client socket"), GENEROUS, || {
            d.socket().exists().then_some(())
        });
        // lttng-sessiond creates the socket before it accepts; a probe settles it.
        wait_until(&format!("{name} answering"), GENEROUS, || {
            lttng(w, &["list"]).status.success().then_some(())
        });
        d
    }

    /// The client socket as seen from outside the namespace.
    pub fn socket(&self) -> PathBuf {
        PathBuf::from(format!("/proc/{}/root{CLIENT_SOCKET}", self.child.id()))
    }

    pub fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for Sessiond {
    fn drop(&mut self) {
        signal(self.child.id() as i32, libc::SIGTERM);
        let t = Instant::now();
        while self.child.try_wait().ok().flatten().is_none() && t.elapsed() < GENEROUS {
            std::thread::sleep(POLL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A world with ustd as its root daemon (stopped when dropped) and session
/// `s`, created by the stock CLI, writing to `<world>/trace`.
pub fn ustd_session() -> (World, Sessiond, PathBuf) {
    let w = World::builder().without_daemon();
    let d = Sessiond::ustd(&w);
    let trace = w.dir.join("trace");
    ok(&w, &["create", "s", "--output", trace.to_str().unwrap()]);
    (w, d, trace)
}

/// Runs the stock CLI in the world, as root, with the world's `LTTNG_HOME`.
pub fn lttng(w: &World, args: &[&str]) -> Output {
    let mut c = w.command_in(Path::new("lttng"));
    c.args(args).env("LTTNG_HOME", &w.dir).env("HOME", &w.dir);
    run_with_timeout(c, GENEROUS).unwrap()
}

pub fn ok(w: &World, args: &[&str]) -> String {
    let o = lttng(w, args);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "lttng {args:?} failed: {out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

/// A command-line front end: the stock `lttng` CLI, or ustd's own, which
/// takes the same arguments for the common commands.
pub type Cli = fn(&World, &[&str]) -> Output;

/// ustd's CLI in the world, talking to the root daemon there.
pub fn ustd_cli(w: &World, args: &[&str]) -> Output {
    let mut c = w.command_in(&ustd_bin());
    c.args(args);
    run_with_timeout(c, GENEROUS).unwrap()
}

pub fn ok_with(cli: Cli, w: &World, args: &[&str]) -> String {
    let o = cli(w, args);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{args:?} failed: {out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

pub fn babeltrace(dir: &Path) -> Vec<String> {
    let mut c = Command::new("babeltrace2");
    c.arg(dir);
    let o = run_with_timeout(c, GENEROUS).expect("babeltrace2");
    assert!(
        o.status.success(),
        "babeltrace2 {}: {}",
        dir.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}
