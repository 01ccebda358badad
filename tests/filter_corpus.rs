//! The filter compiler against the stock lttng 2.13 CLI.
//!
//! `tests/data/filter/expected.json` holds what `lttng enable-event --filter`
//! (liblttng-ctl 2.13.9) sent to a real lttng-sessiond for every expression of
//! `corpus.json`: the bytecode and relocation offset, or nothing when the CLI
//! refused the expression. `capture.py` (next to it) made it.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn data_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/filter"))
}

fn load(path: &Path) -> Vec<Value> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str::<Value>(&text)
        .expect("valid JSON")
        .as_array()
        .expect("a list")
        .clone()
}

fn short(e: &str) -> String {
    let mut s: String = e.chars().take(70).collect();
    if s.len() < e.len() {
        s += &format!("…({} bytes)", e.len());
    }
    s
}

/// Byte identity with liblttng-ctl on every captured expression, and the
/// same verdict on every refused one.
#[test]
fn corpus_matches_stock_lttng() {
    let expected = load(&data_dir().join("expected.json"));
    assert!(
        expected.len() >= 100,
        "the corpus has at least 100 expressions"
    );
    let mut wrong = Vec::new();
    for entry in &expected {
        let expr = entry["expr"].as_str().expect("expr");
        let got = ustd::filter::compile(expr);
        match (entry["accepted"].as_bool().expect("accepted"), got) {
            (true, Ok(b)) => {
                let want = entry["bytecode"].as_str().expect("bytecode");
                let reloc = entry["reloc_offset"].as_u64().expect("reloc_offset");
                let have: String = b.data.iter().map(|x| format!("{x:02x}")).collect();
                if have != want || u64::from(b.reloc_offset) != reloc {
                    wrong.push(format!(
                        "{:?}: lttng {want}@{reloc}, ustd {have}@{}",
                        short(expr),
                        b.reloc_offset
                    ));
                }
            }
            (true, Err(e)) => wrong.push(format!(
                "{:?}: lttng accepts, ustd refuses: {e}",
                short(expr)
            )),
            (false, Ok(_)) => wrong.push(format!("{:?}: lttng refuses, ustd accepts", short(expr))),
            (false, Err(_)) => {}
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} differ:\n{}",
        wrong.len(),
        expected.len(),
        wrong.join("\n")
    );
}

/// What lttng-ust really received from lttng-sessiond (LTTNG_UST_ABI_FILTER,
/// read on the fixture app's command socket) is ustd's bytecode too.
#[test]
fn app_receives_the_same_bytecode() {
    let received = load(&data_dir().join("expected_app.json"));
    assert!(!received.is_empty());
    for entry in &received {
        let expr = entry["expr"].as_str().expect("expr");
        let b = ustd::filter::compile(expr).unwrap_or_else(|e| panic!("{expr:?}: {e}"));
        let got = entry["received"].as_array().expect("received");
        assert_eq!(got.len(), 1, "{expr:?}: the app got this bytecode once");
        let have: String = b.data.iter().map(|x| format!("{x:02x}")).collect();
        assert_eq!(got[0]["bytecode"].as_str(), Some(have.as_str()), "{expr:?}");
        assert_eq!(
            got[0]["reloc_offset"].as_u64(),
            Some(u64::from(b.reloc_offset)),
            "{expr:?}"
        );
    }
}

/// Re-runs the capture with the installed stock CLI, so the committed
/// expectations cannot silently go stale (needs root, lttng, strace).
#[test]
fn capture_is_current() {
    let out =
        std::env::temp_dir().join(format!("ustd-filter-expected-{}.json", std::process::id()));
    let status = Command::new("python3")
        .arg(data_dir().join("capture.py"))
        .arg("--out")
        .arg(&out)
        .status()
        .expect("run capture.py");
    assert!(status.success(), "capture.py failed: {status}");
    let app_out = out.with_file_name(format!(
        "ustd-filter-expected-{}_app.json",
        std::process::id()
    ));
    let (fresh, fresh_app) = (load(&out), load(&app_out));
    let _ = std::fs::remove_file(&out);
    let _ = std::fs::remove_file(&app_out);
    let committed = load(&data_dir().join("expected.json"));
    assert_eq!(fresh.len(), committed.len());
    for (f, c) in fresh.iter().zip(&committed) {
        assert_eq!(
            f,
            c,
            "stock lttng now sends something else for {:?}",
            short(c["expr"].as_str().unwrap_or(""))
        );
    }
    assert_eq!(
        fresh_app,
        load(&data_dir().join("expected_app.json")),
        "lttng-ust now receives something else"
    );
}
