//! Issue 3: tracing end to end. Real LTTng-UST fixture apps traced by
//! `ustd daemon` in a private mount namespace (see `common/mod.rs`), driven
//! with the `ustd` CLI; the traces are read back with `babeltrace2`.
//! Needs root, gcc, liblttng-ust-dev, liblttng-ust-ctl5 and babeltrace2.

mod common;

use common::{ustd_bin, wait_until, App, World, GENEROUS};
use serde_json::Value;
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

/// Bound on one CLI call; `stop` and `destroy` flush and write traces.
const CLI_TIMEOUT: Duration = Duration::from_secs(120);
/// Bound on one babeltrace2 run.
const READ_TIMEOUT: Duration = Duration::from_secs(120);
/// Iterations of the fixture's emit loop (each emits simple, rich, debug).
const K: usize = 20;
/// The fixture's process name ("comm", from its file name).
const PROCNAME: &str = "ustd-fixture";

// ---------------------------------------------------------------------------
// Running the CLI
// ---------------------------------------------------------------------------

/// `ustd --rundir <rundir> ARGS`, run inside the world's namespace.
fn ustd(w: &World, args: &[&str]) -> Output {
    let mut c = w.command_in(&ustd_bin());
    c.arg("--rundir").arg(&w.rundir).args(args);
    c.env("LTTNG_HOME", &w.dir);
    common::run_with_timeout(c, CLI_TIMEOUT).unwrap_or_else(|e| panic!("{e}\n{}", w.daemon_log()))
}

/// Runs a command that must succeed; returns its stdout.
fn ok(w: &World, args: &[&str]) -> String {
    let out = ustd(w, args);
    assert!(
        out.status.success(),
        "`ustd {}` failed with {}:\nstdout: {}\nstderr: {}\n{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        w.daemon_log()
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a command with `--json` that must succeed; returns its body.
fn ok_json(w: &World, args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.push("--json");
    let out = ok(w, &a);
    serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("`ustd {}`: bad JSON ({e}): {out}", a.join(" ")))
}

/// vpid, vtid and procname on every channel of the current session.
fn add_process_contexts(w: &World) {
    ok(
        w,
        &[
            "add-context",
            "-u",
            "-t",
            "vpid",
            "-t",
            "vtid",
            "-t",
            "procname",
        ],
    );
}

/// Runs a command that must fail; returns its stderr.
fn fails(w: &World, args: &[&str]) -> String {
    let out = ustd(w, args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "`ustd {}` succeeded but must fail:\nstdout: {}\nstderr: {stderr}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
    );
    assert!(
        stderr.contains("error"),
        "`ustd {}` failed without an error message: {stderr:?}",
        args.join(" ")
    );
    stderr
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("test paths are UTF-8")
}

/// `create NAME -o <world>/NAME`; returns the output directory.
fn create(w: &World, name: &str) -> PathBuf {
    let out = w.dir.join(name);
    ok(w, &["create", name, "-o", path_str(&out)]);
    out
}

/// Stops and destroys a session; checks `destroy` names the trace.
fn stop_destroy(w: &World, name: &str, out: &Path) {
    ok(w, &["stop", name]);
    let b = ok_json(w, &["destroy", name]);
    assert_eq!(b["trace"].as_str(), Some(path_str(out)), "destroy: {b}");
}

/// A fixture app whose lttng-ust constructor waits for the daemon as long
/// as it takes (no 3 s give-up), so that its first events after main() are
/// recorded however busy the machine is.
fn spawn_patient(w: &World, args: &[&str]) -> App {
    w.spawn_app_env(args, &[("LTTNG_UST_REGISTER_TIMEOUT", Path::new("-1"))])
}

/// Waits for a fixture app's `emitted <n> <pid>` line; checks n.
fn wait_emitted(app: &App, events: usize) {
    let line = app.wait_line("emitted ", GENEROUS);
    assert_eq!(line, format!("{events} {}", app.pid()), "app {}", app.pid());
}

// ---------------------------------------------------------------------------
// Reading traces: babeltrace2's text output
// ---------------------------------------------------------------------------

/// A value as babeltrace2 prints it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum V {
    Struct(Vec<(String, V)>),
    Array(Vec<V>),
    Str(String),
    /// Numbers and other bare words, as printed.
    Bare(String),
}

impl V {
    fn field(&self, name: &str) -> Option<&V> {
        match self {
            V::Struct(fs) => fs.iter().find(|(k, _)| k == name).map(|(_, v)| v),
            _ => None,
        }
    }

    fn bare(&self) -> Option<&str> {
        match self {
            V::Bare(s) => Some(s),
            _ => None,
        }
    }
}

/// One event line of `babeltrace2 --no-delta -n all`.
#[derive(Debug, Clone)]
struct Event {
    name: String,
    /// `stream.event.context` (the contexts added to the channel).
    context: V,
    /// `event.fields` (the payload).
    payload: V,
}

impl Event {
    fn ctx_int(&self, name: &str) -> i64 {
        self.context
            .field(name)
            .and_then(V::bare)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("event without integer context `{name}`: {self:?}"))
    }

    fn ctx_str(&self, name: &str) -> &str {
        match self.context.field(name) {
            Some(V::Str(s)) => s,
            _ => panic!("event without string context `{name}`: {self:?}"),
        }
    }
}

/// Recursive-descent parser of babeltrace2's pretty text.
struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn err(&self, what: &str) -> String {
        format!(
            "{what} at byte {} of {:?}",
            self.i,
            String::from_utf8_lossy(self.s)
        )
    }

    fn skip_spaces(&mut self) {
        while self.s.get(self.i) == Some(&b' ') {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.skip_spaces();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// `key = ` (a key is anything up to the next space).
    fn key(&mut self) -> Result<String, String> {
        self.skip_spaces();
        let start = self.i;
        while self.i < self.s.len() && self.s[self.i] != b' ' {
            self.i += 1;
        }
        let k = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
        if k.is_empty() || !self.eat(b'=') {
            return Err(self.err("expected `key =`"));
        }
        Ok(k)
    }

    fn value(&mut self) -> Result<V, String> {
        self.skip_spaces();
        match self.s.get(self.i) {
            Some(b'{') => {
                self.i += 1;
                let mut fields = Vec::new();
                if self.eat(b'}') {
                    return Ok(V::Struct(fields));
                }
                loop {
                    let k = self.key()?;
                    fields.push((k, self.value()?));
                    if self.eat(b'}') {
                        return Ok(V::Struct(fields));
                    }
                    if !self.eat(b',') {
                        return Err(self.err("expected `,` or `}`"));
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                if self.eat(b']') {
                    return Ok(V::Array(items));
                }
                loop {
                    let k = self.key()?;
                    if k != format!("[{}]", items.len()) {
                        return Err(self.err("array index out of order"));
                    }
                    items.push(self.value()?);
                    if self.eat(b']') {
                        return Ok(V::Array(items));
                    }
                    if !self.eat(b',') {
                        return Err(self.err("expected `,` or `]`"));
                    }
                }
            }
            Some(b'"') => {
                self.i += 1;
                let mut out = Vec::new();
                loop {
                    match self.s.get(self.i) {
                        None => return Err(self.err("unterminated string")),
                        Some(b'"') => {
                            self.i += 1;
                            return Ok(V::Str(String::from_utf8_lossy(&out).into_owned()));
                        }
                        Some(b'\\') => {
                            let c = *self
                                .s
                                .get(self.i + 1)
                                .ok_or_else(|| self.err("dangling escape"))?;
                            out.push(c);
                            self.i += 2;
                        }
                        Some(&c) => {
                            out.push(c);
                            self.i += 1;
                        }
                    }
                }
            }
            Some(_) => {
                let start = self.i;
                while self.i < self.s.len() && !matches!(self.s[self.i], b',' | b' ') {
                    self.i += 1;
                }
                Ok(V::Bare(
                    String::from_utf8_lossy(&self.s[start..self.i]).into_owned(),
                ))
            }
            None => Err(self.err("expected a value")),
        }
    }

    /// A whole line: `key = value, key = value, ...`.
    fn line(mut self) -> Result<Vec<(String, V)>, String> {
        let mut items = Vec::new();
        loop {
            let k = self.key()?;
            items.push((k, self.value()?));
            self.skip_spaces();
            if self.i == self.s.len() {
                return Ok(items);
            }
            if !self.eat(b',') {
                return Err(self.err("expected `,` between top-level items"));
            }
        }
    }
}

fn parse_event(line: &str) -> Result<Event, String> {
    let items = Parser {
        s: line.as_bytes(),
        i: 0,
    }
    .line()?;
    let get = |k: &str| items.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let name = match get("name") {
        Some(V::Bare(n)) => n,
        other => return Err(format!("no event name ({other:?}) in {line:?}")),
    };
    Ok(Event {
        name,
        context: get("stream.event.context").unwrap_or(V::Struct(Vec::new())),
        payload: get("event.fields").unwrap_or(V::Struct(Vec::new())),
    })
}

/// Every event of the trace(s) under `path`, as babeltrace2 reads them.
fn read_trace(path: &Path) -> Vec<Event> {
    let mut c = Command::new("babeltrace2");
    c.args(["--no-delta", "-n", "all"]).arg(path);
    let out = match common::run_with_timeout(c, READ_TIMEOUT) {
        Ok(o) => o,
        Err(e) => panic!("{e} (is babeltrace2 installed? `apt-get install babeltrace2`)"),
    };
    assert!(
        out.status.success(),
        "babeltrace2 {} failed with {}: {}",
        path.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| parse_event(l).unwrap_or_else(|e| panic!("babeltrace2 output: {e}")))
        .collect()
}

fn fixture_events(events: &[Event]) -> Vec<Event> {
    events
        .iter()
        .filter(|e| e.name.starts_with("ustd_fixture:"))
        .cloned()
        .collect()
}

// ---------------------------------------------------------------------------
// What the fixture emits (app.c, tp.h)
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum Ev {
    Simple,
    Rich,
    Debug,
}

const ALL: &[Ev] = &[Ev::Simple, Ev::Rich, Ev::Debug];

fn bare(x: impl ToString) -> V {
    V::Bare(x.to_string())
}

/// The event iteration `i` of the fixture's loop emits for `ev`: its name
/// and payload exactly as babeltrace2 prints them.
fn expected(ev: Ev, i: usize) -> (String, V) {
    let v = i as i64;
    let u8s = |xs: Vec<i64>| V::Array(xs.into_iter().map(|x| bare(x as u8)).collect());
    match ev {
        Ev::Simple => (
            "ustd_fixture:simple".into(),
            V::Struct(vec![("value".into(), bare(v))]),
        ),
        Ev::Debug => (
            "ustd_fixture:debug".into(),
            V::Struct(vec![("value".into(), bare(v))]),
        ),
        Ev::Rich => {
            let seq_len = v % 5;
            // The small multiples of 0.5 used here print exactly (as %g does).
            let dbl = v as f64 * 1.5;
            let flt = f64::from(v as f32 * 0.5f32);
            (
                "ustd_fixture:rich".into(),
                V::Struct(vec![
                    ("value".into(), bare(v)),
                    ("text".into(), V::Str(format!("text-{v}"))),
                    ("dbl".into(), bare(dbl)),
                    ("flt".into(), bare(flt)),
                    ("arr".into(), u8s((v..v + 4).collect())),
                    ("_seq_length".into(), bare(seq_len)),
                    ("seq".into(), u8s((0..seq_len).map(|k| v * 2 + k).collect())),
                ]),
            )
        }
    }
}

/// Checks that `events` are exactly what one fixture app emits for
/// `iterations` iterations of `kinds` (in any order: babeltrace2 merges
/// per-CPU streams by timestamp).
fn assert_exact(events: &[Event], kinds: &[Ev], iterations: usize, what: &str) {
    let mut want: Vec<(String, V)> = (0..iterations)
        .flat_map(|i| kinds.iter().map(move |&k| expected(k, i)))
        .collect();
    let mut got: Vec<(String, V)> = events
        .iter()
        .map(|e| (e.name.clone(), e.payload.clone()))
        .collect();
    want.sort();
    got.sort();
    if got != want {
        let missing: Vec<_> = want.iter().filter(|w| !got.contains(w)).take(5).collect();
        let extra: Vec<_> = got.iter().filter(|g| !want.contains(g)).take(5).collect();
        panic!(
            "{what}: {} events, expected {}; first missing: {missing:?}; first unexpected: {extra:?}",
            got.len(),
            want.len()
        );
    }
}

/// The events of one app (by its `vpid` context), each checked to carry
/// the app's vtid (single-threaded fixture: vtid = vpid) and procname.
fn events_of(events: &[Event], pid: i32) -> Vec<Event> {
    let mine: Vec<Event> = events
        .iter()
        .filter(|e| e.ctx_int("vpid") == i64::from(pid))
        .cloned()
        .collect();
    for e in &mine {
        assert_eq!(e.ctx_int("vtid"), i64::from(pid), "vtid of {e:?}");
        assert_eq!(e.ctx_str("procname"), PROCNAME, "procname of {e:?}");
    }
    mine
}

// ---------------------------------------------------------------------------
// Trace layout
// ---------------------------------------------------------------------------

/// CPUs the kernel may ever bring online (/sys/devices/system/cpu/possible,
/// e.g. `0-1` or `0,2-3`): lttng-ust has one stream per possible CPU.
fn possible_cpus() -> BTreeSet<u32> {
    let s = fs::read_to_string("/sys/devices/system/cpu/possible").expect("read possible CPUs");
    let mut cpus = BTreeSet::new();
    for part in s.trim().split(',') {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let (a, b): (u32, u32) = (a.parse().expect("cpu"), b.parse().expect("cpu"));
        cpus.extend(a..=b);
    }
    cpus
}

fn file_names(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .into_string()
                .expect("UTF-8 name")
        })
        .collect()
}

fn be_u32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn be_u64(b: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// Checks a CTF index file against its stream file: header (magic
/// 0xC1F1DCC1, version 1.1, entry length), then one entry per packet whose
/// offsets and sizes tile the stream file exactly. Returns the packet count.
fn check_index(stream: &Path, index: &Path) -> usize {
    let idx = fs::read(index).unwrap_or_else(|e| panic!("read {}: {e}", index.display()));
    let data_len = fs::metadata(stream)
        .unwrap_or_else(|e| panic!("stat {}: {e}", stream.display()))
        .len();
    let what = index.display();
    assert!(idx.len() >= 16, "{what}: no header ({} bytes)", idx.len());
    assert_eq!(be_u32(&idx, 0), 0xC1F1_DCC1, "{what}: magic");
    assert_eq!(
        (be_u32(&idx, 4), be_u32(&idx, 8)),
        (1, 1),
        "{what}: version"
    );
    let entry = be_u32(&idx, 12) as usize;
    assert!(entry >= 72, "{what}: entry length {entry} < 72");
    let body = &idx[16..];
    assert_eq!(body.len() % entry, 0, "{what}: partial entry");
    let mut offset = 0u64;
    for (n, e) in body.chunks_exact(entry).enumerate() {
        let (off, packet_bits, content_bits) = (be_u64(e, 0), be_u64(e, 8), be_u64(e, 16));
        let (ts_begin, ts_end) = (be_u64(e, 24), be_u64(e, 32));
        assert_eq!(off, offset, "{what}: packet {n} offset");
        assert!(
            packet_bits > 0 && packet_bits % 8 == 0 && content_bits <= packet_bits,
            "{what}: packet {n} sizes {packet_bits}/{content_bits} bits"
        );
        assert!(ts_begin <= ts_end, "{what}: packet {n} timestamps");
        assert_eq!(
            be_u64(e, 64),
            n as u64,
            "{what}: packet {n} sequence number"
        );
        offset += packet_bits / 8;
    }
    assert_eq!(
        offset,
        data_len,
        "{what}: packets do not cover {}",
        stream.display()
    );
    body.len() / entry
}

/// Checks one buffer set's directory: `metadata`, `<channel>_<cpu>` for
/// every possible CPU and nothing else, and a consistent
/// `index/<channel>_<cpu>.idx` for each. Returns the total packet count.
fn check_set_dir(dir: &Path, channel: &str) -> usize {
    let cpus = possible_cpus();
    let streams: BTreeSet<String> = cpus.iter().map(|c| format!("{channel}_{c}")).collect();
    let mut want: BTreeSet<String> = streams.clone();
    want.insert("metadata".into());
    want.insert("index".into());
    assert_eq!(file_names(dir), want, "files of {}", dir.display());
    let idx_want: BTreeSet<String> = streams.iter().map(|s| format!("{s}.idx")).collect();
    assert_eq!(
        file_names(&dir.join("index")),
        idx_want,
        "index files of {}",
        dir.display()
    );
    let metadata = fs::read(dir.join("metadata")).expect("read metadata");
    assert!(!metadata.is_empty(), "empty metadata in {}", dir.display());
    streams
        .iter()
        .map(|s| check_index(&dir.join(s), &dir.join("index").join(format!("{s}.idx"))))
        .sum()
}

fn uid_dir(out: &Path) -> PathBuf {
    out.join("ust/uid")
        .join(common::euid().to_string())
        .join("64-bit")
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[test]
fn record_gives_exactly_the_emitted_events() {
    let w = World::start();
    record_and_check(&w);
}

/// `record` with no daemon running starts one for itself, and stops it.
#[test]
fn record_starts_its_own_daemon_when_none_runs() {
    let w = World::builder().without_daemon();
    assert!(!w.ctl_socket().exists());
    record_and_check(&w);
    wait_until("record's own daemon is gone", GENEROUS, || {
        (!w.ctl_socket().exists()).then_some(())
    });
}

/// Runs `record` of the fixture and checks the trace holds exactly its events.
fn record_and_check(w: &World) {
    let out = w.dir.join("rec");
    let k = K.to_string();
    let b = ok(
        w,
        &[
            "record",
            "-o",
            path_str(&out),
            "-t",
            "vpid",
            "-t",
            "vtid",
            "-t",
            "procname",
            "--json",
            "--",
            path_str(common::fixture_app()),
            "-n",
            &k,
        ],
    );
    // The app's own lines come first (it shares record's stdout).
    let pid: i32 = b
        .lines()
        .find_map(|l| l.strip_prefix("exiting "))
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("no `exiting <pid>` line in {b:?}"));
    let json: Value = b
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("record printed no JSON summary: {b:?}"));
    assert_eq!(json["trace"].as_str(), Some(path_str(&out)), "{json}");
    assert_eq!(json["exit_status"], 0, "{json}");

    let all = read_trace(&out);
    let fixture = fixture_events(&all);
    assert_eq!(fixture.len(), 3 * K, "ustd_fixture events in {all:#?}");
    // record enables `*`: lttng-ust's own statedump is in the trace too.
    assert!(
        all.iter().any(|e| e.name == "lttng_ust_statedump:start"),
        "no statedump events: record did not enable `*`"
    );
    let mine = events_of(&fixture, pid);
    assert_eq!(mine.len(), fixture.len(), "events of another vpid");
    assert_exact(&mine, ALL, K, "recorded events");
}

#[test]
fn apps_registered_before_and_after_start_share_one_per_uid_trace() {
    let w = World::start();
    let out = create(&w, "s");
    ok(&w, &["enable-event", "-u", "ustd_fixture:*"]);
    add_process_contexts(&w);
    let k = K.to_string();
    let early: Vec<App> = (0..2)
        .map(|_| w.spawn_app(&["-s", "-n", &k, "-w"]))
        .collect();
    let pids: Vec<i32> = early.iter().map(App::pid).collect();
    w.wait_all_registered(&pids, GENEROUS);
    ok(&w, &["start"]);
    // Registers into the started session: its events right after main()
    // must be in the trace.
    let late = spawn_patient(&w, &["-n", &k, "-w"]);
    for a in &early {
        a.signal(libc::SIGUSR1);
    }
    for a in early.iter().chain([&late]) {
        wait_emitted(a, 3 * K);
    }
    stop_destroy(&w, "s", &out);

    assert_eq!(
        file_names(&out.join("ust")),
        BTreeSet::from(["uid".to_owned()])
    );
    let events = read_trace(&uid_dir(&out));
    assert!(
        events.iter().all(|e| e.name.starts_with("ustd_fixture:")),
        "only ustd_fixture:* was enabled"
    );
    assert_eq!(events.len(), 3 * 3 * K, "events of three apps");
    for a in early.iter().chain([&late]) {
        let mine = events_of(&events, a.pid());
        assert_exact(&mine, ALL, K, &format!("app {}", a.pid()));
    }
}

#[test]
fn exited_and_killed_apps_keep_their_events_and_session_still_stops() {
    let mut w = World::start();
    let out = create(&w, "s");
    ok(&w, &["enable-event", "-u", "ustd_fixture:*"]);
    add_process_contexts(&w);
    ok(&w, &["start"]);
    let k = K.to_string();
    let mut exits = spawn_patient(&w, &["-n", &k]);
    let mut killed = spawn_patient(&w, &["-n", &k, "-w"]);
    wait_emitted(&exits, 3 * K);
    assert!(exits.wait_exit(GENEROUS).success());
    // The session goes on after the app left.
    w.wait_gone(&[exits.pid()], GENEROUS);
    wait_emitted(&killed, 3 * K);
    killed.kill9();
    // Stop at once: the daemon may not have noticed the death yet.
    stop_destroy(&w, "s", &out);
    w.assert_daemon_alive();
    w.wait_gone(&[killed.pid()], GENEROUS);

    let events = read_trace(&uid_dir(&out));
    assert_eq!(events.len(), 2 * 3 * K, "events of two apps");
    assert_exact(&events_of(&events, exits.pid()), ALL, K, "app that exited");
    assert_exact(
        &events_of(&events, killed.pid()),
        ALL,
        K,
        "app killed with -9",
    );
    // The daemon still works: a new app registers.
    let app = w.spawn_app(&["-w"]);
    w.wait_registered(app.pid(), GENEROUS);
}

/// `<procname>-<pid>-<YYYYmmdd-HHMMSS>`.
fn is_pid_dir_name(name: &str, pid: i32) -> bool {
    let Some(rest) = name.strip_prefix(&format!("{PROCNAME}-{pid}-")) else {
        return false;
    };
    let b = rest.as_bytes();
    b.len() == 15
        && b[8] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 8 || c.is_ascii_digit())
}

#[test]
fn per_pid_buffers_give_one_trace_per_app() {
    let w = World::start();
    let out = create(&w, "s");
    ok(
        &w,
        &[
            "enable-channel",
            "-u",
            "channel0",
            "--buffers-pid",
            "--subbuf-size",
            "64k",
            "--num-subbuf",
            "4",
        ],
    );
    ok(
        &w,
        &["enable-event", "-u", "ustd_fixture:*", "-c", "channel0"],
    );
    ok(
        &w,
        &[
            "add-context",
            "-u",
            "-c",
            "channel0",
            "-t",
            "vpid",
            "-t",
            "vtid",
            "-t",
            "procname",
        ],
    );
    ok(&w, &["start"]);
    let k = K.to_string();
    // One app leaves before stop (its set closes then), one is still
    // running at destroy.
    let mut gone = spawn_patient(&w, &["-n", &k]);
    let running = spawn_patient(&w, &["-n", &k, "-w"]);
    wait_emitted(&gone, 3 * K);
    wait_emitted(&running, 3 * K);
    assert!(gone.wait_exit(GENEROUS).success());
    w.wait_gone(&[gone.pid()], GENEROUS);
    stop_destroy(&w, "s", &out);

    assert_eq!(
        file_names(&out.join("ust")),
        BTreeSet::from(["pid".to_owned()])
    );
    let dirs = file_names(&out.join("ust/pid"));
    assert_eq!(dirs.len(), 2, "per-PID directories: {dirs:?}");
    for app in [&gone, &running] {
        let name = dirs
            .iter()
            .find(|d| is_pid_dir_name(d, app.pid()))
            .unwrap_or_else(|| panic!("no directory for pid {} in {dirs:?}", app.pid()));
        let dir = out.join("ust/pid").join(name);
        check_set_dir(&dir, "channel0");
        let events = read_trace(&dir);
        assert_eq!(events.len(), 3 * K, "events in {}", dir.display());
        let mine = events_of(&events, app.pid());
        assert_exact(&mine, ALL, K, &format!("per-PID trace of {}", app.pid()));
    }
    // Both traces together, as one would read the session's output.
    assert_eq!(read_trace(&out).len(), 2 * 3 * K);
}

/// A started session `s` with channel `channel0` of 4 sub-buffers of
/// `subbuf`, every fixture event and the process contexts.
fn started_session(subbuf: &str) -> (World, PathBuf) {
    let w = World::start();
    let out = create(&w, "s");
    ok(
        &w,
        &[
            "enable-channel",
            "-u",
            "channel0",
            "--subbuf-size",
            subbuf,
            "--num-subbuf",
            "4",
        ],
    );
    ok(&w, &["enable-event", "-u", "ustd_fixture:*"]);
    add_process_contexts(&w);
    ok(&w, &["start"]);
    (w, out)
}

#[test]
fn per_uid_layout_and_indexes() {
    let (w, out) = started_session("64k");
    // Enough events to fill more than one 64 KiB sub-buffer, few enough
    // that four of them hold everything even if the consumer only reads at
    // stop (discard mode would drop the rest).
    let iterations = 600;
    let mut app = spawn_patient(&w, &["-n", &iterations.to_string()]);
    wait_emitted(&app, 3 * iterations);
    assert!(app.wait_exit(GENEROUS).success());
    stop_destroy(&w, "s", &out);

    assert_eq!(
        file_names(&out.join("ust/uid")),
        BTreeSet::from([common::euid().to_string()])
    );
    assert_eq!(
        file_names(&out.join("ust/uid").join(common::euid().to_string())),
        BTreeSet::from(["64-bit".to_owned()])
    );
    let dir = uid_dir(&out);
    let packets = check_set_dir(&dir, "channel0");
    assert!(
        packets >= 2,
        "{packets} packets: expected several sub-buffers' worth"
    );
    let events = read_trace(&dir);
    assert_exact(
        &events_of(&events, app.pid()),
        ALL,
        iterations,
        "per-UID trace",
    );
    assert_eq!(events.len(), 3 * iterations);
}

/// Two apps pinned to two CPUs each write less than a sub-buffer into
/// their per-UID stream, so nothing is delivered before `stop`, whose flush
/// closes each stream's last sub-buffer (`flush_buffer` in
/// `engine::consumer::Worker::flush`; without it, it fails): every event of
/// both is in the trace, in order.
#[test]
fn streams_flushed_at_stop_keep_every_packet() {
    let cpus: Vec<u32> = std::thread::available_parallelism()
        .map(|n| (0..n.get() as u32).collect())
        .unwrap_or_default();
    assert!(cpus.len() >= 2, "needs two CPUs (CI has 2), got {cpus:?}");
    let (w, out) = started_session("256k");
    // 300 events: far less than 256 KiB.
    let iterations = 100;
    let n = iterations.to_string();
    let mut apps: Vec<App> = cpus[..2]
        .iter()
        .map(|cpu| {
            let app = w.spawn_app(&["-s", "-n", &n, "-w"]);
            let pinned = Command::new("taskset")
                .args(["-a", "-p", "-c", &cpu.to_string(), &app.pid().to_string()])
                .output()
                .expect("run taskset");
            assert!(pinned.status.success(), "taskset: {pinned:?}");
            app
        })
        .collect();
    let pids: Vec<i32> = apps.iter().map(App::pid).collect();
    w.wait_all_registered(&pids, GENEROUS);
    for a in &apps {
        a.signal(libc::SIGUSR1);
    }
    for a in &apps {
        wait_emitted(a, 3 * iterations);
    }
    stop_destroy(&w, "s", &out);
    for a in &mut apps {
        a.signal(libc::SIGTERM);
        a.wait_exit(GENEROUS);
    }
    let dir = uid_dir(&out);
    let packets = check_set_dir(&dir, "channel0");
    assert!(packets >= 2, "{packets} packets: one or more per stream");
    let events = read_trace(&dir);
    for pid in pids {
        assert_exact(
            &events_of(&events, pid),
            ALL,
            iterations,
            &format!("events of {pid}"),
        );
    }
    assert_eq!(events.len(), 2 * 3 * iterations);
}

/// Runs one fixture app (K iterations of all events) in a session set up
/// by `setup` (commands after `create`), and returns the trace's events.
fn trace_with(setup: &[&[&str]]) -> Vec<Event> {
    let w = World::start();
    let out = create(&w, "s");
    for cmd in setup {
        ok(&w, cmd);
    }
    ok(&w, &["start"]);
    let mut app = spawn_patient(&w, &["-n", &K.to_string()]);
    wait_emitted(&app, 3 * K);
    assert!(app.wait_exit(GENEROUS).success());
    stop_destroy(&w, "s", &out);
    read_trace(&out)
}

#[test]
fn wildcard_selects_matching_events_only() {
    let events = trace_with(&[&["enable-event", "-u", "ustd_fixture:s*"]]);
    assert_exact(&events, &[Ev::Simple], K, "ustd_fixture:s*");
}

#[test]
fn loglevel_range_keeps_info_and_more_severe() {
    let events = trace_with(&[&[
        "enable-event",
        "-u",
        "ustd_fixture:*",
        "--loglevel",
        "TRACE_INFO",
    ]]);
    assert_exact(&events, &[Ev::Simple, Ev::Rich], K, "--loglevel TRACE_INFO");
}

#[test]
fn loglevel_only_keeps_exactly_that_level() {
    let events = trace_with(&[&[
        "enable-event",
        "-u",
        "ustd_fixture:*",
        "--loglevel-only",
        "TRACE_DEBUG",
    ]]);
    assert_exact(&events, &[Ev::Debug], K, "--loglevel-only TRACE_DEBUG");
}

#[test]
fn event_changes_while_active_reach_running_apps() {
    let w = World::start();
    let out = create(&w, "s");
    ok(
        &w,
        &[
            "enable-event",
            "-u",
            "ustd_fixture:simple,ustd_fixture:debug",
        ],
    );
    ok(&w, &["start"]);
    let mut app = w.spawn_app(&["-s", "-n", &K.to_string()]);
    w.wait_registered(app.pid(), GENEROUS);
    // The app already has the session; these reach it through the fan-out.
    ok(&w, &["enable-event", "-u", "ustd_fixture:rich"]);
    ok(&w, &["disable-event", "-u", "ustd_fixture:debug"]);
    app.signal(libc::SIGUSR1);
    wait_emitted(&app, 3 * K);
    assert!(app.wait_exit(GENEROUS).success());
    stop_destroy(&w, "s", &out);
    let events = read_trace(&out);
    assert_exact(
        &events,
        &[Ev::Simple, Ev::Rich],
        K,
        "after enable rich, disable debug",
    );
}

#[test]
fn missing_ustctl_library_fails_create_but_not_registration() {
    let w = World::builder()
        .daemon_env("USTD_USTCTL_LIB", "/nonexistent/liblttng-ust-ctl.so.5")
        .start();
    let out = w.dir.join("s");
    let err = fails(&w, &["create", "s", "-o", path_str(&out)]);
    assert!(
        err.contains("liblttng-ust-ctl5"),
        "message names no package: {err:?}"
    );
    assert!(!out.exists(), "a failed create left {}", out.display());
    // No session came of it.
    fails(&w, &["start", "s"]);
    let app = w.spawn_app(&["-w"]);
    w.wait_registered(app.pid(), GENEROUS);
    let text = ok(&w, &["list"]);
    assert!(
        text.contains(&app.pid().to_string()) && text.contains(PROCNAME),
        "`ustd list` does not show the app: {text}"
    );
    let tps = ok_json(&w, &["list", "-u"]);
    assert!(
        tps["apps"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x["pid"] == app.pid())),
        "`list -u` lost the app: {tps}"
    );
}

#[test]
fn cli_errors_exit_non_zero() {
    let w = World::start();
    // Unknown session.
    for cmd in [
        &["start", "nosuch"][..],
        &["stop", "nosuch"],
        &["destroy", "nosuch"],
        &["list", "nosuch"],
        &["enable-event", "-u", "-s", "nosuch", "ustd_fixture:simple"],
        &["enable-channel", "-u", "-s", "nosuch", "c1"],
    ] {
        let err = fails(&w, cmd);
        assert!(err.contains("nosuch"), "`{}`: {err:?}", cmd.join(" "));
    }
    // Duplicate name.
    create(&w, "s");
    let err = fails(&w, &["create", "s", "-o", path_str(&w.dir.join("s2"))]);
    assert!(err.contains("already exists"), "{err:?}");
    // Bad patterns are refused and leave the session unchanged.
    for bad in ["", "a b", "ustd_fixture:\tx"] {
        let err = fails(&w, &["enable-event", "-u", "-s", "s", bad]);
        assert!(err.contains("pattern"), "{bad:?}: {err:?}");
    }
    let show = ok_json(&w, &["list", "s"]);
    let events: usize = show["channels"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .map(|c| c["events"].as_array().map_or(0, Vec::len))
                .sum()
        })
        .unwrap_or(0);
    assert_eq!(events, 0, "a refused pattern was recorded: {show}");
    // A channel after start, also once stopped again.
    ok(&w, &["enable-event", "-u", "-s", "s", "ustd_fixture:*"]);
    ok(&w, &["start", "s"]);
    let err = fails(&w, &["enable-channel", "-u", "-s", "s", "late"]);
    assert!(err.contains("late"), "{err:?}");
    ok(&w, &["stop", "s"]);
    fails(&w, &["enable-channel", "-u", "-s", "s", "late"]);
    // Starting twice is an error too; the session is still usable after.
    ok(&w, &["start", "s"]);
    fails(&w, &["start", "s"]);
    ok(&w, &["destroy", "s"]);
    fails(&w, &["destroy", "s"]);
}

#[test]
fn list_userspace_shows_tracepoints_and_fields() {
    let w = World::start();
    let app = w.spawn_app(&["-w"]);
    w.wait_registered(app.pid(), GENEROUS);

    let b = ok_json(&w, &["list", "-u"]);
    let entry = b["apps"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["pid"] == app.pid()))
        .unwrap_or_else(|| panic!("app {} not in {b}", app.pid()))
        .clone();
    assert_eq!(entry["name"], PROCNAME);
    let tp = |name: &str| -> Value {
        entry["tracepoints"]
            .as_array()
            .and_then(|t| t.iter().find(|x| x["name"] == name))
            .unwrap_or_else(|| panic!("tracepoint {name} not in {entry}"))
            .clone()
    };
    for (name, level) in [
        ("ustd_fixture:simple", 6),
        ("ustd_fixture:rich", 6),
        ("ustd_fixture:debug", 14),
    ] {
        let t = tp(name);
        assert_eq!(t["loglevel"], level, "{t}");
        assert_eq!(t["fields"].as_array().map(Vec::len), Some(0), "no -f: {t}");
    }

    let b = ok_json(&w, &["list", "-u", "-f"]);
    let entry = b["apps"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["pid"] == app.pid()))
        .unwrap_or_else(|| panic!("app {} not in {b}", app.pid()))
        .clone();
    let fields = |name: &str| -> Vec<(String, String)> {
        entry["tracepoints"]
            .as_array()
            .and_then(|t| t.iter().find(|x| x["name"] == name))
            .and_then(|t| t["fields"].as_array())
            .unwrap_or_else(|| panic!("tracepoint {name} not in {entry}"))
            .iter()
            .map(|f| {
                (
                    f["name"].as_str().unwrap_or("?").to_owned(),
                    f["kind"].as_str().unwrap_or("?").to_owned(),
                )
            })
            .collect()
    };
    let f = |n: &str, k: &str| (n.to_owned(), k.to_owned());
    assert_eq!(fields("ustd_fixture:simple"), vec![f("value", "integer")]);
    assert_eq!(fields("ustd_fixture:debug"), vec![f("value", "integer")]);
    // Order-insensitive: lttng-ust happens to list fields last to first.
    let sorted = |mut v: Vec<(String, String)>| {
        v.sort();
        v
    };
    assert_eq!(
        sorted(fields("ustd_fixture:rich")),
        sorted(vec![
            f("value", "integer"),
            f("text", "string"),
            f("dbl", "float"),
            f("flt", "float"),
            // lttng-ust lists byte arrays and sequences as "other", and the
            // sequence's length as a field of its own.
            f("arr", "other"),
            f("_seq_length", "integer"),
            f("seq", "other"),
        ])
    );

    // The human-readable listing names them too.
    let text = ok(&w, &["list", "-u", "-f"]);
    for needle in [
        "ustd_fixture:simple (loglevel: 6)",
        "ustd_fixture:debug (loglevel: 14)",
        "field: text (string)",
    ] {
        assert!(
            text.contains(needle),
            "`list -u -f` lacks {needle:?}:\n{text}"
        );
    }
}

/// An app's event registrations reach the session's metadata file while
/// the session runs, before any packet of it is written (as lttng-sessiond
/// pushes each registration to its consumer): a reader of the running
/// session, or of what a killed daemon left, finds every event declared.
/// The app below is registered and waits; it has emitted nothing.
#[test]
fn registered_events_reach_the_metadata_file_before_any_packet() {
    let w = World::start();
    let out = create(&w, "s");
    ok(&w, &["enable-event", "-u", "ustd_fixture:*"]);
    ok(&w, &["start"]);
    let app = spawn_patient(&w, &["-s", "-n", "1"]);
    w.wait_registered(app.pid(), GENEROUS);
    let metadata = uid_dir(&out).join("metadata");
    wait_until(
        "the fixture's events in the metadata file",
        GENEROUS,
        || {
            let text = std::fs::read(&metadata).unwrap_or_default();
            let text = String::from_utf8_lossy(&text);
            ["ustd_fixture:simple", "ustd_fixture:rich"]
                .iter()
                .all(|e| text.contains(&format!("name = \"{e}\";")))
                .then_some(())
        },
    );
    app.signal(libc::SIGUSR1);
    wait_emitted(&app, 3);
    stop_destroy(&w, "s", &out);
}

/// The daemon's thread count, from `/proc/PID/status`.
fn threads_of(pid: i32) -> usize {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Each per-PID app has a buffer set of its own, so a metadata push of its
/// own, and every push waits on the consumer thread, which is busy
/// creating the other apps' buffers. A burst of such apps must not hold
/// one blocking thread per waiting push (`io::notify::schedule_push` runs
/// at most 4 at once; engine calls are bounded the same way): unbounded,
/// a per-PID soak grew the daemon from 149 to 290 threads.
#[test]
fn per_pid_app_burst_keeps_the_daemon_threads_bounded() {
    const APPS: usize = 96;
    let w = World::start();
    let out = create(&w, "s");
    ok(&w, &["enable-channel", "-u", "channel0", "--buffers-pid"]);
    ok(
        &w,
        &["enable-event", "-u", "ustd_fixture:*", "-c", "channel0"],
    );
    ok(&w, &["start"]);
    let daemon = w.daemon_pid();
    let idle = threads_of(daemon);
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut most = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                most = most.max(threads_of(daemon));
                std::thread::sleep(Duration::from_millis(2));
            }
            most
        })
    };
    let apps: Vec<App> = (0..APPS)
        .map(|_| spawn_patient(&w, &["-n", "1", "-e", "simple"]))
        .collect();
    for a in &apps {
        wait_emitted(a, 1);
    }
    for mut a in apps {
        assert!(a.wait_exit(GENEROUS).success());
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let most = sampler.join().unwrap();
    // Runtime workers, consumer, reaper and main thread at idle, plus at
    // most 4 engine calls, 4 pushes and a few other blocking jobs (measured:
    // 8 to 11 above idle); one thread per waiting push gave 33 to 49.
    assert!(
        most <= idle + 20,
        "{most} daemon threads during a burst of {APPS} per-PID apps ({idle} idle)"
    );
    stop_destroy(&w, "s", &out);
    assert_eq!(file_names(&out.join("ust/pid")).len(), APPS);
}

#[test]
fn per_pid_apps_killed_mid_session_keep_their_traces() {
    let w = World::start();
    // The race below is narrow: a few rounds make a regression likely to
    // show.
    for round in 0..4 {
        let name = format!("s{round}");
        let out = create(&w, &name);
        ok(
            &w,
            &[
                "enable-channel",
                "-u",
                "-s",
                &name,
                "channel0",
                "--buffers-pid",
            ],
        );
        ok(&w, &["enable-event", "-u", "-s", &name, "ustd_fixture:*"]);
        ok(
            &w,
            &[
                "add-context",
                "-u",
                "-s",
                &name,
                "-t",
                "vpid",
                "-t",
                "vtid",
                "-t",
                "procname",
            ],
        );
        ok(&w, &["start", &name]);
        let k = K.to_string();
        let apps: Vec<App> = (0..6)
            .map(|_| spawn_patient(&w, &["-n", &k, "-w"]))
            .collect();
        for a in &apps {
            wait_emitted(a, 3 * K);
        }
        for a in &apps {
            a.signal(libc::SIGKILL);
        }
        // Destroy at once, without stop, straight on the control socket: it
        // races with the daemon closing the dead apps' per-PID traces, and
        // must still write complete ones.
        let reply = ustd::control::call(
            &w.ctl_socket(),
            &ustd::command::Request::DestroySession {
                name: Some(name.clone()),
            },
            CLI_TIMEOUT,
        )
        .unwrap_or_else(|e| panic!("destroy {name}: {e}\n{}", w.daemon_log()));
        // The body `destroy --json` prints.
        let b = match reply {
            ustd::command::Reply::Destroyed(d) => serde_json::to_value(d).expect("JSON"),
            other => panic!("destroy {name}: {other:?}"),
        };
        assert_eq!(b["trace"].as_str(), Some(path_str(&out)), "destroy: {b}");
        let dirs = file_names(&out.join("ust/pid"));
        assert_eq!(dirs.len(), apps.len(), "per-PID directories: {dirs:?}");
        let events = read_trace(&out);
        assert_eq!(events.len(), apps.len() * 3 * K);
        for a in &apps {
            let mine = events_of(&events, a.pid());
            assert_exact(&mine, ALL, K, &format!("killed app {}", a.pid()));
        }
    }
}

#[test]
fn two_sessions_at_once_and_a_restarted_one() {
    let w = World::start();
    let out_a = create(&w, "a");
    ok(
        &w,
        &["enable-event", "-u", "-s", "a", "ustd_fixture:simple"],
    );
    let out_b = create(&w, "b");
    ok(&w, &["enable-event", "-u", "-s", "b", "ustd_fixture:rich"]);
    ok(&w, &["start", "a"]);
    ok(&w, &["start", "b"]);
    let k = K.to_string();
    let run_app = || {
        let mut app = spawn_patient(&w, &["-n", &k]);
        wait_emitted(&app, 3 * K);
        assert!(app.wait_exit(GENEROUS).success());
        // Gone from the daemon too: a command racing the app's exit would
        // report it as failed (exit 3), which is not what this test is about.
        w.wait_gone(&[app.pid()], GENEROUS);
    };
    run_app();
    // Stopped: this app's events are not recorded in `a`.
    ok(&w, &["stop", "a"]);
    run_app();
    ok(&w, &["start", "a"]);
    run_app();
    stop_destroy(&w, "a", &out_a);
    stop_destroy(&w, "b", &out_b);
    // Each session has only its own event, from the apps that ran while it
    // was active (the same payloads twice for `a`, three times for `b`).
    let a = read_trace(&out_a);
    assert_exact(&a[..], &[Ev::Simple, Ev::Simple], K, "session a");
    let b = read_trace(&out_b);
    assert_exact(&b[..], &[Ev::Rich, Ev::Rich, Ev::Rich], K, "session b");
}

/// A stopped app costs `start` its own deadline only: the others are
/// started, the report names the stopped one with its reason, and once it
/// runs again lttng-ust re-registers it and the global update starts it.
#[test]
fn a_stopped_app_is_reported_and_catches_up_after_it_resumes() {
    let w = World::builder()
        .daemon_env("LTTNG_APP_SOCKET_TIMEOUT", "1")
        .start();
    let out = create(&w, "s");
    ok(&w, &["enable-event", "-u", "ustd_fixture:*"]);
    add_process_contexts(&w);
    let k = K.to_string();
    let mut running = spawn_patient(&w, &["-s", "-n", &k, "-w"]);
    let mut stopped = spawn_patient(&w, &["-s", "-n", &k, "-w"]);
    let before = w.wait_all_registered(&[running.pid(), stopped.pid()], GENEROUS);
    let stopped_id = before
        .iter()
        .find(|e| e.pid == stopped.pid())
        .expect("registered")
        .app_id;
    stopped.signal(libc::SIGSTOP);

    // Carried out, but not by every app: a distinct exit status (3), a
    // summary on stderr, and the JSON report naming the app.
    let started = ustd(&w, &["start", "--json"]);
    let stderr = String::from_utf8_lossy(&started.stderr);
    assert_eq!(started.status.code(), Some(3), "start: {started:?}");
    assert!(stderr.contains("failed for 1 of 2 apps"), "{stderr}");
    let report: Value = serde_json::from_slice(&started.stdout).expect("JSON reply");
    let failed = report["report"]["failed"].as_array().expect("failed list");
    assert_eq!(failed.len(), 1, "{report}");
    assert_eq!(failed[0]["pid"], stopped.pid(), "{report}");
    assert!(
        !failed[0]["reason"].as_str().unwrap_or("").is_empty(),
        "{report}"
    );
    assert_eq!(report["report"]["applied"], 1, "{report}");

    // Resumed, it finds its sockets closed and registers again (a new app
    // id), getting the started session before its REGISTER_DONE.
    stopped.signal(libc::SIGCONT);
    wait_until(
        "the resumed app re-registers",
        Duration::from_secs(30),
        || {
            w.list()
                .into_iter()
                .find(|e| e.pid == stopped.pid() && e.app_id != stopped_id)
        },
    );
    for a in [&running, &stopped] {
        a.signal(libc::SIGUSR1);
        wait_emitted(a, 3 * K);
        a.signal(libc::SIGTERM);
    }
    running.wait_exit(GENEROUS);
    stopped.wait_exit(GENEROUS);
    ok(&w, &["stop"]);
    ok(&w, &["destroy"]);
    let events = fixture_events(&read_trace(&out));
    for a in [&running, &stopped] {
        assert_exact(
            &events_of(&events, a.pid()),
            ALL,
            K,
            &format!("app {}", a.pid()),
        );
    }
}

// ---------------------------------------------------------------------------
// Issue 13: fault campaign. After each fault the daemon is alive (unless it
// was the one killed), its fd count is back to its baseline once the
// session is destroyed and the apps gone, and the traced apps that were not
// hit have every event they emitted (discard mode, buffers far larger than
// K iterations).
// ---------------------------------------------------------------------------

/// The app deadline of the fault worlds. A fan-out stuck on a stopped app
/// waits this long; one whose app was killed must end well before: 2 s of
/// waiting on purpose plus the command, about 2.5 s on the loaded 2-core
/// machine, 6x under it.
const FAULT_DEADLINE: Duration = Duration::from_secs(15);

fn fault_world() -> (World, usize) {
    let w = World::builder()
        .daemon_env(
            "LTTNG_APP_SOCKET_TIMEOUT",
            &FAULT_DEADLINE.as_secs().to_string(),
        )
        .start();
    let fds = w.settled_fd_count();
    (w, fds)
}

/// A fault test's start: the fault world, a started session `s` recording
/// the fixture's events with process contexts, and one registered patient
/// app that emits K events at each SIGUSR1.
fn fault_session_with_app() -> (World, usize, PathBuf, App) {
    let (w, baseline) = fault_world();
    let out = create(&w, "s");
    ok(&w, &["enable-event", "-u", "ustd_fixture:*"]);
    add_process_contexts(&w);
    ok(&w, &["start"]);
    let k = K.to_string();
    let app = spawn_patient(&w, &["-s", "-n", &k, "-w"]);
    w.wait_registered(app.pid(), GENEROUS);
    (w, baseline, out, app)
}

/// A fault test's end for an app that has not emitted yet: it emits its
/// events, the session stops and is destroyed, then as
/// [`assert_complete_and_settled`].
fn emit_and_check(w: &mut World, out: &Path, app: &mut App, baseline: usize) {
    app.signal(libc::SIGUSR1);
    wait_emitted(app, 3 * K);
    stop_destroy(w, "s", out);
    assert_complete_and_settled(w, out, app, baseline);
}

/// A fault test's end: the daemon is up, `app`'s K events are all in the
/// trace at `out`, and once the app exits the daemon is back to `baseline`
/// fds.
fn assert_complete_and_settled(w: &mut World, out: &Path, app: &mut App, baseline: usize) {
    w.assert_daemon_alive();
    let events = fixture_events(&read_trace(out));
    assert_exact(&events_of(&events, app.pid()), ALL, K, "the traced app");
    app.signal(libc::SIGTERM);
    app.wait_exit(GENEROUS);
    w.wait_gone(&[app.pid()], GENEROUS);
    w.wait_fd_count(baseline, GENEROUS);
}

/// Runs `ustd ARGS` in the background.
fn ustd_bg(w: &World, args: &[&str]) -> std::sync::mpsc::Receiver<Output> {
    let mut c = w.command_in(&ustd_bin());
    c.arg("--rundir").arg(&w.rundir).args(args);
    c.env("LTTNG_HOME", &w.dir);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(common::run_with_timeout(c, CLI_TIMEOUT).expect("ustd runs"));
    });
    rx
}

/// Has `victim` (registered, its session state applied) SIGSTOPped, starts
/// `ustd ARGS`, checks it is still waiting on the victim after a while,
/// kills the victim with SIGKILL and checks the command then ends before
/// the deadline (a dead app costs nothing). Returns the command's output.
fn kill_victim_during(w: &World, victim: &mut App, args: &[&str]) -> Output {
    victim.signal(libc::SIGSTOP);
    let t0 = std::time::Instant::now();
    let rx = ustd_bg(w, args);
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        rx.try_recv().is_err(),
        "`ustd {}` did not wait on the stopped app",
        args.join(" ")
    );
    victim.kill9();
    let out = rx.recv().expect("command thread");
    let took = t0.elapsed();
    assert!(
        took < FAULT_DEADLINE,
        "`ustd {}` took {took:?}: the dead app held it until the deadline\n{}",
        args.join(" "),
        w.daemon_log()
    );
    w.wait_gone(&[victim.pid()], GENEROUS);
    out
}

/// A command carried out for every app but `pid`, which died under it:
/// an app that is gone is not a failure (lttng-sessiond skips a dead app),
/// so exit status 0, no failure, and a report naming that app alone as gone.
fn assert_gone_only_for(out: &Output, pid: i32) {
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    let pids = |list: &str| -> Vec<i64> {
        v["report"][list]
            .as_array()
            .map(|a| a.iter().map(|f| f["pid"].as_i64().expect("pid")).collect())
            .unwrap_or_default()
    };
    assert_eq!(pids("failed"), Vec::<i64>::new(), "{out:?}");
    assert_eq!(pids("gone"), vec![i64::from(pid)], "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("(pid {pid}, ")) && stderr.contains("exited during the command"),
        "{out:?}"
    );
}

/// kill -9 of an app while `start`, then `stop`, then `destroy` wait on it;
/// each command reports it as gone (exit 0, not a failure), and the app
/// traced all along keeps every event.
///
/// Breaks caught: `Ok(0) => continue` for `Ok(0) => return Err(Eof)` in
/// `io::stream::read_exact` (each command then waits out the deadline);
/// `AppIoError::Eof => false` in `AppIoError::is_gone` (exit 3).
#[test]
fn kill_9_during_start_stop_destroy_fan_outs() {
    let (mut w, baseline) = fault_world();
    let out = create(&w, "s");
    ok(&w, &["enable-event", "-u", "ustd_fixture:*"]);
    add_process_contexts(&w);
    let k = K.to_string();
    let mut traced = spawn_patient(&w, &["-s", "-n", &k, "-w"]);
    let mut victim = spawn_patient(&w, &["-w"]);
    w.wait_all_registered(&[traced.pid(), victim.pid()], GENEROUS);

    let start = kill_victim_during(&w, &mut victim, &["start", "--json"]);
    assert_gone_only_for(&start, victim.pid());
    traced.signal(libc::SIGUSR1);
    wait_emitted(&traced, 3 * K);

    // Registered while the session runs: the session is applied to it.
    let mut victim = spawn_patient(&w, &["-w"]);
    w.wait_registered(victim.pid(), GENEROUS);
    let stop = kill_victim_during(&w, &mut victim, &["stop", "--json"]);
    assert_gone_only_for(&stop, victim.pid());

    let mut victim = spawn_patient(&w, &["-w"]);
    w.wait_registered(victim.pid(), GENEROUS);
    let destroy = kill_victim_during(&w, &mut victim, &["destroy", "--json"]);
    assert_gone_only_for(&destroy, victim.pid());

    assert_complete_and_settled(&mut w, &out, &mut traced, baseline);
}

/// Garbage on the control socket while a session traces an app: each bad
/// request gets an error reply or a closed socket, each stalled client is dropped after the
/// control deadline, a request past the size bound is refused, `ustd list`
/// is answered meanwhile, and the session and its trace are undisturbed.
///
/// Break caught: `tokio::spawn(client(..))` made `client(..).await` in
/// `control_server::serve` (the five stalled clients hold the server 25 s,
/// past `ustd list`'s 10 s).
#[test]
fn control_socket_garbage_during_an_active_session() {
    use std::io::{BufRead, BufReader, Write};
    let (mut w, baseline, out, mut app) = fault_session_with_app();

    // Stalled clients first: a request never finished.
    let stalled: Vec<_> = (0..5)
        .map(|_| {
            let mut s = common::raw::connect(&w.ctl_socket());
            s.write_all(&[b'{'; 4096]).expect("send");
            s
        })
        .collect();
    let garbage: [&[u8]; 5] = [
        b"\x00\xff\xfe\x01 not json\n",
        b"{\"cmd\":\"destroy\",\"name\":\n",
        b"{\"cmd\":\"no-such-command\"}\n",
        b"[1,2,3]\n",
        b"\n",
    ];
    for g in garbage {
        let mut s = common::raw::connect(&w.ctl_socket());
        s.write_all(g).expect("send");
        s.set_read_timeout(Some(GENEROUS)).expect("timeout");
        let mut reply = String::new();
        BufReader::new(&s)
            .read_line(&mut reply)
            .unwrap_or_else(|e| panic!("no reply to {g:?}: {e}"));
        // An error reply, or (bytes that are not UTF-8) the socket closed.
        assert!(
            reply.is_empty() || reply.contains("error"),
            "reply to {g:?}: {reply:?}"
        );
    }
    // A line far past any request's size.
    let mut huge = common::raw::connect(&w.ctl_socket());
    let _ = huge.write_all(&vec![b'x'; 1 << 20]);
    w.try_list()
        .expect("the daemon answers while stalled clients are connected");
    for s in &stalled {
        common::raw::wait_closed(s, GENEROUS).expect("a stalled control client is dropped");
    }
    common::raw::wait_closed(&huge, GENEROUS).expect("an oversize request is dropped");

    emit_and_check(&mut w, &out, &mut app, baseline);
}

/// A paired app sends notify requests with valid headers and hostile bodies
/// (unknown session/channel ids, nesting past the decoder's bound, a field
/// count far past its bound) while a session traces a real app. Each is
/// refused (an error reply, or the app dropped when the framing cannot be
/// trusted), logged, and the real app's trace is complete.
///
/// Breaks caught: the length bound of notify tails disabled (`if len > max`
/// made `if false` in `notify::bounded`); bytes read past a request's end
/// dropped (`req = next` made `req = Vec::new()` in `io::notify`).
#[test]
fn hostile_notify_bodies_during_an_active_session() {
    use common::raw::{self, Answer, FakeApp};
    use std::io::{Read, Write};
    use ustd::wire::field::{Field, FieldType, StringEncoding};
    use ustd::wire::notify::{EventReg, NotifyRequest, EVENT_REPLY_LEN, HEADER_LEN};
    use ustd::wire::reg::SocketType;

    let (mut w, baseline, out, mut app) = fault_session_with_app();

    let event = |session_objd: u32, fields: Vec<Field>| {
        NotifyRequest::Event(EventReg {
            session_objd,
            channel_objd: session_objd,
            name: "hostile:event".into(),
            loglevel: 13,
            signature: String::new(),
            fields,
            model_emf_uri: None,
        })
        .encode()
    };
    let mut deep = FieldType::String(StringEncoding::Utf8);
    for _ in 0..(ustd::wire::field::MAX_NESTING + 8) {
        deep = FieldType::Struct {
            alignment: 0,
            fields: vec![Field {
                name: "f".into(),
                ty: deep,
            }],
        };
    }
    let nested = event(
        0,
        vec![Field {
            name: "deep".into(),
            ty: deep,
        }],
    );
    let unknown_ids = event(0x7fff_0000, Vec::new());
    let mut huge_count = event(0, Vec::new());
    // The event body's field-list length (body offset 272).
    huge_count[HEADER_LEN + 272..HEADER_LEN + 276].copy_from_slice(&0xffff_fff0u32.to_le_bytes());

    let fake = FakeApp::register_answering(
        &w.app_socket(),
        &raw::honest_reg(SocketType::Cmd),
        &raw::honest_reg(SocketType::Notify),
        Answer::VersionOnly,
    );
    // As a real app: nothing on the notify socket before the daemon has
    // read both registrations (bytes right behind a registration message
    // are unsolicited, and the app is dropped for them).
    // TRACER_VERSION comes once the daemon has paired the two sockets.
    wait_until("TRACER_VERSION to the fake app", GENEROUS, || {
        fake.saw(ustd::wire::cmd::op::TRACER_VERSION).then_some(())
    });
    let mut notify = &fake.notify;
    notify
        .set_read_timeout(Some(GENEROUS))
        .expect("read timeout");
    // Framing intact, content refused: an error reply each, the app kept.
    // The first two in one write: the bytes past the first request's end
    // are the second request (the daemon reads ahead), served in turn.
    use ustd::wire::cmd::ust_err;
    notify
        .write_all(&[unknown_ids.as_slice(), unknown_ids.as_slice()].concat())
        .expect("send");
    for (what, msg, want) in [
        ("unknown ids", None, -ust_err::NOENT),
        ("unknown ids, right behind the first", None, -ust_err::NOENT),
        ("nesting past the bound", Some(&nested), -ust_err::INVAL),
    ] {
        if let Some(msg) = msg {
            notify.write_all(msg).expect("send");
        }
        let mut reply = [0u8; EVENT_REPLY_LEN];
        notify
            .read_exact(&mut reply)
            .unwrap_or_else(|e| panic!("{what}: no reply ({e})\n{}", w.daemon_log()));
        let code = i32::from_le_bytes(reply[4..8].try_into().unwrap());
        assert_eq!(code, want, "{what}: reply code {code}, expected {want}");
    }
    let pid = format!("pid={}", std::process::id());
    w.wait_log_line(&["malformed notify request", &pid], GENEROUS);
    // A length past its bound: the stream cannot be resynchronised.
    notify.write_all(&huge_count).expect("send");
    raw::wait_closed(&fake.notify, GENEROUS).expect("the daemon drops the app");
    w.wait_log_line(&["notify socket", &pid, "exceeds the bound"], GENEROUS);
    drop(fake);

    emit_and_check(&mut w, &out, &mut app, baseline);
}

/// The daemon is killed with SIGKILL while apps run and a session is
/// active; a new daemon on the same rundir starts, the running apps
/// register again, and a new session traces them completely.
///
/// Break caught: the stale socket left by the killed daemon not removed
/// before bind (`let _ = std::fs::remove_file(path);` dropped in
/// `daemon::bind`).
#[test]
fn daemon_sigkill_and_restart_while_apps_run() {
    let mut w = World::start();
    let old = create(&w, "before");
    ok(&w, &["enable-event", "-u", "ustd_fixture:*"]);
    ok(&w, &["start"]);
    let k = K.to_string();
    let apps: Vec<App> = (0..2)
        .map(|_| spawn_patient(&w, &["-s", "-n", &k, "-w"]))
        .collect();
    let pids: Vec<i32> = apps.iter().map(App::pid).collect();
    w.wait_all_registered(&pids, GENEROUS);

    let st = w.stop_daemon_with(libc::SIGKILL);
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&st),
        Some(libc::SIGKILL)
    );
    w.start_daemon();
    // lttng-ust retries every 5 s after a lost daemon.
    w.wait_all_registered(&pids, Duration::from_secs(30));
    let out = create(&w, "after");
    ok(&w, &["enable-event", "-u", "ustd_fixture:*"]);
    add_process_contexts(&w);
    ok(&w, &["start"]);
    for a in &apps {
        a.signal(libc::SIGUSR1);
    }
    for a in &apps {
        wait_emitted(a, 3 * K);
    }
    stop_destroy(&w, "after", &out);
    w.assert_daemon_alive();
    let events = fixture_events(&read_trace(&out));
    for a in &apps {
        assert_exact(
            &events_of(&events, a.pid()),
            ALL,
            K,
            &format!("app {}", a.pid()),
        );
    }
    // The killed daemon's session is gone with it.
    assert!(
        !ok(&w, &["list"]).contains("before"),
        "a session survived the daemon"
    );
    let _ = old;
}

/// A daemon started with a low RLIMIT_NOFILE (its fd budget then admits a
/// few apps): the apps past it are refused with the reason logged, the
/// daemon and the app it traces are unharmed, and once the crowd is gone
/// its fd count is back to its baseline.
///
/// Break caught: the budget taken as unlimited (`fd_limit.saturating_sub(
/// FD_RESERVE)` made `usize::MAX` in `daemon::fd_budget`).
#[test]
fn low_rlimit_nofile_refuses_apps_not_the_daemon() {
    // 64 fds are the daemon's own reserve: this leaves a budget of 44, of
    // which the traced app's sockets and buffers (consumer, set, one
    // 2-stream channel) keep 26 after a peak of 35, so 9 more apps at most.
    let mut w = World::builder().daemon_nofile(108).start();
    let baseline = w.settled_fd_count();
    let out = create(&w, "s");
    ok(&w, &["enable-event", "-u", "ustd_fixture:*"]);
    add_process_contexts(&w);
    ok(&w, &["start"]);
    let k = K.to_string();
    let mut app = spawn_patient(&w, &["-s", "-n", &k, "-w"]);
    w.wait_registered(app.pid(), GENEROUS);

    let crowd: Vec<App> = (0..12).map(|_| w.spawn_app(&["-w"])).collect();
    for c in &crowd {
        c.wait_line("main reached", Duration::from_secs(60));
    }
    w.wait_log_line(&["fd budget exhausted"], GENEROUS);
    w.assert_daemon_alive();
    app.signal(libc::SIGUSR1);
    wait_emitted(&app, 3 * K);
    let pids: Vec<i32> = crowd.iter().map(App::pid).collect();
    drop(crowd);
    w.wait_gone(&pids, GENEROUS);
    stop_destroy(&w, "s", &out);
    assert_complete_and_settled(&mut w, &out, &mut app, baseline);
}

// ---------------------------------------------------------------------------
// Issue 15: crash-tolerant traces
// ---------------------------------------------------------------------------

/// Fixture apps writing in loops when they are all killed (CI-sized; the
/// issue's report used 200).
const CRASH_APPS: usize = 50;
/// Iterations of the app started after the kill (3 numbered events each).
const LATER: usize = 100;
/// `LTTNG_APP_SOCKET_TIMEOUT` of the crash tests' daemons, in seconds.
const APP_DEADLINE_S: u64 = 5;

fn crash_world() -> World {
    World::builder()
        .daemon_env("LTTNG_APP_SOCKET_TIMEOUT", &APP_DEADLINE_S.to_string())
        .start()
}

/// One channel `channel0` of 4 sub-buffers of `subbuf` bytes with every
/// fixture event and the process contexts; started.
fn crash_session(w: &World, per_pid: bool, subbuf: &str) -> PathBuf {
    let out = create(w, "s");
    let mut ch = vec![
        "enable-channel",
        "-u",
        "channel0",
        "--subbuf-size",
        subbuf,
        "--num-subbuf",
        "4",
    ];
    if per_pid {
        ch.push("--buffers-pid");
    }
    ok(w, &ch);
    ok(
        w,
        &["enable-event", "-u", "ustd_fixture:*", "-c", "channel0"],
    );
    ok(
        w,
        &[
            "add-context",
            "-u",
            "-c",
            "channel0",
            "-t",
            "vpid",
            "-t",
            "vtid",
            "-t",
            "procname",
        ],
    );
    ok(w, &["start"]);
    out
}

/// `channel0`'s loss figures in `ustd list s --json`.
fn channel_loss(w: &World) -> Value {
    let b = ok_json(w, &["list", "s"]);
    b["buffers"]["channel0"].clone()
}

fn loss_figure(w: &World, key: &str) -> u64 {
    channel_loss(w)[key].as_u64().unwrap_or(0)
}

/// Pins the calling test thread, and so every process it starts from now
/// on, to one CPU: the apps then share one per-CPU stream.
fn pin_to_one_cpu() {
    // SAFETY: `set` is a zeroed cpu_set_t filled by sched_getaffinity, then
    // reduced to one CPU; both calls only read/write it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        let size = std::mem::size_of::<libc::cpu_set_t>();
        assert_eq!(libc::sched_getaffinity(0, size, &mut set), 0);
        let cpu = (0..libc::CPU_SETSIZE as usize)
            .find(|&c| libc::CPU_ISSET(c, &set))
            .expect("an allowed CPU");
        libc::CPU_ZERO(&mut set);
        libc::CPU_SET(cpu, &mut set);
        assert_eq!(libc::sched_setaffinity(0, size, &set), 0);
    }
}

/// Stop, then destroy within the app deadline (with 3x margin: destroy
/// must not wait on a wedged or half-written buffer); returns destroy's
/// reply.
fn stop_destroy_bounded(w: &World, out: &Path) -> Value {
    ok(w, &["stop", "s"]);
    let t0 = std::time::Instant::now();
    let b = ok_json(w, &["destroy", "s"]);
    let took = t0.elapsed();
    assert!(
        took < Duration::from_secs(3 * APP_DEADLINE_S),
        "destroy took {took:?}"
    );
    assert_eq!(b["trace"].as_str(), Some(path_str(out)), "destroy: {b}");
    b
}

/// Every per-app (or per-UID) directory opens in babeltrace2 on its own.
fn each_trace_dir_opens(out: &Path) {
    for scheme in ["pid", "uid"] {
        let base = out.join("ust").join(scheme);
        if !base.exists() {
            continue;
        }
        let mut dirs = vec![base];
        while let Some(d) = dirs.pop() {
            if d.join("metadata").exists() {
                read_trace(&d);
                continue;
            }
            for e in fs::read_dir(&d).expect("read trace dir").flatten() {
                if e.path().is_dir() {
                    dirs.push(e.path());
                }
            }
        }
    }
}

/// The scenario: apps writing in loops, all killed with -9, then
/// one more app emitting numbered events; stop; destroy; babeltrace2.
fn crash_scenario(per_pid: bool) {
    let w = crash_world();
    // Room for the later app's events behind a sub-buffer wedged by a
    // writer killed last (read out at destroy).
    let out = crash_session(&w, per_pid, "64k");
    // They write every 5 ms: enough to be killed mid-loop, while a flood of
    // events would only make the trace slow to read. Per-UID, they register
    // first and then start writing together; per-PID they write at once,
    // being killed anywhere in their registration is the point there.
    let args = [
        if per_pid { "-w" } else { "-s" },
        "-i",
        "5",
        "-n",
        "1000000000",
    ];
    let mut writers: Vec<App> = (0..CRASH_APPS).map(|_| w.spawn_app(&args)).collect();
    let pids: Vec<i32> = writers.iter().map(App::pid).collect();
    if per_pid {
        // Kill while about half are registered: the others die anywhere
        // between connecting and their first event.
        wait_until("half the apps registered", GENEROUS, || {
            let live = w.list().iter().filter(|e| pids.contains(&e.pid)).count();
            (live >= CRASH_APPS / 2).then_some(())
        });
    } else {
        w.wait_all_registered(&pids, Duration::from_secs(60));
        for a in &writers {
            a.signal(libc::SIGUSR1);
        }
        // One writer dies between reserve and commit while the others
        // write on: the per-UID stream it wrote to wedges.
        let mut victim = spawn_patient(&w, &["-n", "1000000000", "-k", "1000"]);
        let st = victim.wait_exit(GENEROUS);
        assert_eq!(std::os::unix::process::ExitStatusExt::signal(&st), Some(9));
        // The live writers move to fresh buffers.
        wait_until(
            "the wedged per-UID buffers are retired",
            Duration::from_secs(60),
            || (loss_figure(&w, "recoveries") >= 1).then_some(()),
        );
    }
    for a in &mut writers {
        a.kill9();
    }
    // Every death is seen before the later app registers, and buffers
    // wedged by the last deaths are detected and retired: within two stall
    // periods (1 s, see engine) plus a watcher tick; 4 s leaves 30% margin
    // on 3 s.
    w.wait_gone(&pids, GENEROUS);
    if !per_pid {
        std::thread::sleep(Duration::from_secs(4));
    }
    let k = LATER.to_string();
    let mut later = spawn_patient(&w, &["-n", &k]);
    wait_emitted(&later, 3 * LATER);
    assert!(later.wait_exit(GENEROUS).success());
    let b = stop_destroy_bounded(&w, &out);
    each_trace_dir_opens(&out);
    let events = fixture_events(&read_trace(&out));
    assert_exact(
        &events_of(&events, later.pid()),
        ALL,
        LATER,
        "the later app",
    );
    assert!(b["buffers"]["channel0"].is_object(), "loss report: {b}");
}

#[test]
fn per_uid_apps_killed_mid_write_cost_no_later_events() {
    crash_scenario(false);
}

#[test]
fn per_pid_apps_killed_anywhere_leave_a_readable_trace() {
    crash_scenario(true);
}

/// An app of the UID dies between reserving an event and committing it
/// while other apps of the UID keep writing on the same CPU: the wedged
/// buffers are retired, live apps move to fresh ones, and both a live
/// app's later events and a new app's events are in the trace.
#[test]
fn per_uid_writer_killed_mid_event_other_apps_keep_their_events() {
    let w = crash_world();
    pin_to_one_cpu();
    let out = crash_session(&w, false, "4k");
    let k = K.to_string();
    let live = spawn_patient(&w, &["-s", "-n", &k, "-w"]);
    w.wait_registered(live.pid(), GENEROUS);
    let mut victim = spawn_patient(&w, &["-n", "1000", "-k", "5"]);
    let st = victim.wait_exit(GENEROUS);
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&st), Some(9));
    // Enough events after the hole to fill the sub-buffer and move on.
    let mut filler = spawn_patient(&w, &["-n", "2000", "-e", "simple"]);
    assert!(filler.wait_exit(GENEROUS).success());
    wait_until(
        "the wedged buffers are retired",
        Duration::from_secs(30),
        || (loss_figure(&w, "recoveries") >= 1).then_some(()),
    );
    // The live app emits only once it maps the fresh buffers: before, its
    // events would go to the wedged ones (what the stall watcher's move is
    // for, asynchronously after the retirement).
    let pid = format!("pid={}", live.pid());
    w.wait_log_line(&["app moved onto current buffers", &pid], GENEROUS);
    let mut live = live;
    live.signal(libc::SIGUSR1);
    wait_emitted(&live, 3 * K);
    live.signal(libc::SIGTERM);
    assert!(live.wait_exit(GENEROUS).success());
    let mut late = spawn_patient(&w, &["-n", &k]);
    wait_emitted(&late, 3 * K);
    assert!(late.wait_exit(GENEROUS).success());
    let b = stop_destroy_bounded(&w, &out);
    assert!(
        b["buffers"]["channel0"]["unreadable_subbufs"].as_u64() >= Some(1),
        "the wedged sub-buffer is reported lost: {b}"
    );
    let events = fixture_events(&read_trace(&out));
    assert_exact(&events_of(&events, live.pid()), ALL, K, "live app");
    assert_exact(&events_of(&events, late.pid()), ALL, K, "app started later");
}

/// A writer stopped (SIGSTOP) between reserve and commit while another
/// writer of the UID dies is not taken for a dead one: its buffers are
/// not retired and, once resumed, all its events are in the trace.
#[test]
fn per_uid_stopped_writer_is_not_taken_for_dead() {
    let w = crash_world();
    pin_to_one_cpu();
    let out = crash_session(&w, false, "4k");
    let k = K.to_string();
    let mut dead = spawn_patient(&w, &["-w"]);
    w.wait_registered(dead.pid(), GENEROUS);
    let stopped = spawn_patient(&w, &["-n", &k, "-S", "5", "-w"]);
    wait_until("the writer stops itself mid-event", GENEROUS, || {
        let stat = fs::read_to_string(format!("/proc/{}/stat", stopped.pid())).ok()?;
        let state = stat
            .rsplit_once(')')?
            .1
            .split_whitespace()
            .next()?
            .to_owned();
        (state == "T").then_some(())
    });
    dead.kill9();
    // Enough to close the stopped writer's sub-buffer, not to fill the
    // ring: its events after SIGCONT must find room.
    let mut filler = spawn_patient(&w, &["-n", "150", "-e", "simple"]);
    assert!(filler.wait_exit(GENEROUS).success());
    wait_until("the stall is seen", Duration::from_secs(30), || {
        (loss_figure(&w, "stalled_streams") >= 1).then_some(())
    });
    // Three stall periods (1 s, see engine) after it was seen: a dead
    // writer would have been recovered from by now.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(loss_figure(&w, "recoveries"), 0, "{}", channel_loss(&w));
    let mut stopped = stopped;
    stopped.signal(libc::SIGCONT);
    wait_emitted(&stopped, 3 * K);
    stopped.signal(libc::SIGTERM);
    assert!(stopped.wait_exit(GENEROUS).success());
    stop_destroy_bounded(&w, &out);
    let events = fixture_events(&read_trace(&out));
    assert_exact(&events_of(&events, stopped.pid()), ALL, K, "stopped writer");
}

/// An app killed after the daemon handed it its per-PID buffers and before
/// it registered its channel, while other apps write: every directory and
/// the whole trace open in babeltrace2 with the others' events.
#[test]
fn per_pid_app_killed_before_channel_registration_leaves_a_readable_trace() {
    let w = crash_world();
    let out = crash_session(&w, true, "4k");
    let k = K.to_string();
    let others: Vec<App> = (0..2)
        .map(|_| spawn_patient(&w, &["-s", "-n", &k, "-w"]))
        .collect();
    w.wait_all_registered(&others.iter().map(App::pid).collect::<Vec<_>>(), GENEROUS);
    let mut victim = w.spawn_app_env(
        &["-n", &k],
        &[
            ("LD_PRELOAD", common::die_at_lib()),
            ("USTD_DIE_AT", Path::new("register-channel")),
        ],
    );
    let st = victim.wait_exit(GENEROUS);
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&st), Some(9));
    w.wait_gone(&[victim.pid()], GENEROUS);
    for a in &others {
        a.signal(libc::SIGUSR1);
    }
    for a in &others {
        wait_emitted(a, 3 * K);
    }
    stop_destroy_bounded(&w, &out);
    each_trace_dir_opens(&out);
    for name in file_names(&out.join("ust/pid")) {
        if is_pid_dir_name(&name, victim.pid()) {
            let files = file_names(&out.join("ust/pid").join(&name));
            assert!(
                files.iter().all(|f| !f.starts_with("channel0_")),
                "data files of a channel its app never registered: {files:?}"
            );
        }
    }
    let events = fixture_events(&read_trace(&out));
    for a in &others {
        assert_exact(
            &events_of(&events, a.pid()),
            ALL,
            K,
            &format!("app {}", a.pid()),
        );
    }
}

/// 400 event rules, each an EVENT, then an ENABLE, in the app at `start`:
/// more replies than fit in the socket's buffer if the daemon wrote every
/// command before reading a reply (lttng-ust blocks writing its replies
/// and reads no more commands). The commands go out in groups whose
/// replies fit, so the app starts and traces. Break caught: no bound on a
/// group (`CMDS_PER_WRITE` = usize::MAX): lttng-ust gives up on its
/// blocked reply after its socket timeout (about 3 s) and closes the
/// socket, so the app leaves and records nothing.
#[test]
fn hundreds_of_event_rules_start_every_app() {
    const RULES: usize = 400;
    let w = World::start();
    let out = create(&w, "s");
    let mut names: Vec<String> = (1..RULES)
        .map(|i| format!("ustd_fixture:absent{i}"))
        .collect();
    names.push("ustd_fixture:simple".into());
    ok(&w, &["enable-event", "-u", &names.join(",")]);
    let mut app = w.spawn_app(&["-s", "-n", &K.to_string()]);
    w.wait_registered(app.pid(), GENEROUS);
    ok(&w, &["start"]);
    app.signal(libc::SIGUSR1);
    wait_emitted(&app, 3 * K);
    assert!(app.wait_exit(GENEROUS).success());
    stop_destroy(&w, "s", &out);
    assert_exact(
        &read_trace(&out),
        &[Ev::Simple],
        K,
        "400 rules, one of them simple",
    );
}
