//! Property tests of the filter compiler: it never panics, on arbitrary text
//! or on generated valid expressions, and compiles every valid expression.
//!
//! CI runs 2,000 cases per property. The long run (>= 1,000,000 cases each):
//!     PROPTEST_CASES=1000000 cargo test --release --test filter_props
//! (about N minutes on one core; see README "Filter compiler").

use proptest::prelude::*;
use proptest::test_runner::Config;

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Ty {
    Num,
    Float,
    Field,
}

fn int_literal() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<u64>().prop_map(|v| format!("{}", v.max(1))),
        any::<u64>().prop_map(|v| format!("0x{v:x}")),
        any::<u64>().prop_map(|v| format!("0{v:o}")),
        Just("0".to_string()),
        (
            1u32..1000,
            prop::sample::select(vec!["u", "U", "l", "LL", "ul", "llu", "Lu"])
        )
            .prop_map(|(v, s)| format!("{v}{s}")),
    ]
}

fn float_literal() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<f64>()
            .prop_filter("finite", |v| v.is_finite())
            .prop_map(|v| format!("{:e}", v.abs())),
        (0u32..10_000, 0u32..10_000).prop_map(|(a, b)| format!("{a}.{b}")),
        (0u32..100).prop_map(|b| format!(".{b}5f")),
        (1u32..0xffff, -1100i32..1100).prop_map(|(m, e)| format!("0x{m:x}.8p{e}")),
    ]
}

fn string_literal() -> impl Strategy<Value = String> {
    "[a-z *]{0,12}(\\\\\\*|\\\\\\\\)?[a-z]{0,3}".prop_map(|s| format!("\"{s}\""))
}

fn field() -> impl Strategy<Value = String> {
    let name = "[a-z_][a-z0-9_]{0,6}";
    prop_oneof![
        name.prop_map(String::from),
        (name, name).prop_map(|(a, b)| format!("{a}.{b}")),
        (name, 0u64..100).prop_map(|(a, i)| format!("{a}[{i}]")),
        (name, 0u64..100, name).prop_map(|(a, i, b)| format!("{a}[{i}]->{b}")),
        name.prop_map(|n| format!("$ctx.{n}")),
        (name, name).prop_map(|(p, c)| format!("$app.{p}:{c}")),
    ]
}

/// A valid expression with its lttng IR type, built bottom-up.
fn expr() -> impl Strategy<Value = (String, Ty)> {
    let leaf = prop_oneof![
        int_literal().prop_map(|s| (s, Ty::Num)),
        float_literal().prop_map(|s| (s, Ty::Float)),
        field().prop_map(|s| (s, Ty::Field)),
    ];
    leaf.prop_recursive(6, 64, 2, |inner| {
        let not_str = inner.clone();
        prop_oneof![
            (
                prop::sample::select(vec!["!", "-", "~", "+"]),
                not_str.clone()
            )
                .prop_map(|(op, (e, t))| (format!("{op}({e})"), t)),
            (
                prop::sample::select(vec!["&&", "||"]),
                inner.clone(),
                inner.clone()
            )
                .prop_map(|(op, (a, _), (b, _))| (format!("({a}) {op} ({b})"), Ty::Num)),
            (
                prop::sample::select(vec!["==", "!=", "<", ">", "<=", ">="]),
                inner.clone(),
                inner.clone()
            )
                .prop_map(|(op, (a, _), (b, _))| (format!("({a}) {op} ({b})"), Ty::Num)),
            (
                prop::sample::select(vec!["<<", ">>", "&", "|", "^"]),
                inner.clone(),
                inner.clone()
            )
                .prop_map(|(op, a, b)| (
                    format!("({}) {op} ({})", integral(a), integral(b)),
                    Ty::Num
                )),
            (
                field(),
                prop::sample::select(vec!["==", "!="]),
                string_literal()
            )
                .prop_map(|(f, op, s)| (format!("{f} {op} {s}"), Ty::Num)),
            (inner.clone(), "[ \t\n]{0,2}(/\\* c \\*/)?")
                .prop_map(|((e, t), ws)| (format!("{ws}({e}){ws}"), t)),
        ]
    })
    // lttng refuses a float (or string) as the whole filter.
    .prop_map(|e| (integral(e), Ty::Num))
}

/// An operand lttng accepts where floats are refused (bitwise operators,
/// the root): a float becomes a comparison. No filtering, so long runs never
/// hit proptest's reject limit.
fn integral((e, t): (String, Ty)) -> String {
    match t {
        Ty::Float => format!("({e}) != 0.5"),
        _ => e,
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_text_never_panics(s in "\\PC{0,200}") {
        if let Err(e) = ustd::filter::compile(&s) {
            prop_assert!(e.offset <= s.len());
            let _ = e.caret(&s);
        }
    }

    #[test]
    fn filter_alphabet_never_panics(s in "[a-z0-9$.:\\[\\]()!~+\\-*/%<>=&|^ \"'\\\\xXpPeEuUlL_]{0,120}") {
        if let Err(e) = ustd::filter::compile(&s) {
            prop_assert!(e.offset <= s.len());
        }
    }

    #[test]
    fn valid_expressions_compile((e, _) in expr()) {
        let b = ustd::filter::compile(&e).map_err(|err| TestCaseError::fail(format!("{e:?}: {err}")))?;
        let code_end = b.reloc_offset as usize;
        prop_assert!(b.data.len() + ustd::filter::BYTECODE_HEADER_LEN <= ustd::filter::MAX_BYTECODE_LEN);
        prop_assert_eq!(b.data[code_end - 1], 1, "RETURN ends the code");
        for (at, _) in b.relocations() {
            prop_assert!([59u8, 70, 82].contains(&b.data[at as usize]), "relocation points at a load");
        }
    }

    #[test]
    fn mutated_valid_expressions_never_panic((e, _) in expr(), edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4)) {
        let mut bytes = e.into_bytes();
        for (at, b) in edits {
            let i = at.index(bytes.len() + 1);
            bytes.insert(i, b & 0x7f);
        }
        let s = String::from_utf8(bytes).expect("ASCII");
        let _ = ustd::filter::compile(&s);
    }
}
