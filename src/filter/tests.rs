//! Unit tests of the filter compiler: bytes for each construct (checked
//! against the stock CLI by tests/filter_corpus.rs) and error positions.

use super::*;

fn hex(b: &Bytecode) -> String {
    b.data.iter().map(|x| format!("{x:02x}")).collect()
}

fn err(expr: &str) -> FilterError {
    compile(expr).expect_err(expr)
}

#[test]
fn field_compare_bytes_and_relocation() {
    let b = compile("a == 1").expect("valid");
    // LOAD_FIELD_REF 0xffff, LOAD_S64 1, EQ, RETURN | reloc (0, "a")
    assert_eq!(hex(&b), "3bffff4101000000000000000c0100006100");
    assert_eq!(b.reloc_offset, 14);
    assert_eq!(b.relocations().collect::<Vec<_>>(), vec![(0, &b"a"[..])]);
}

#[test]
fn logical_jumps_land_after_the_right_operand() {
    let b = compile("a && b").expect("valid");
    // a, CAST_TO_S64, AND -> 11, b, CAST_TO_S64 | RETURN at 11
    assert_eq!(
        &b.data[..12],
        &[0x3b, 0xff, 0xff, 0x43, 0x39, 0x0b, 0x00, 0x3b, 0xff, 0xff, 0x43, 0x01]
    );
}

#[test]
fn indexed_fields_use_the_structured_loads() {
    let b = compile("$ctx.a[1].b == 1").expect("valid");
    let names: Vec<_> = b.relocations().map(|(_, n)| n.to_vec()).collect();
    assert_eq!(names, vec![b"a".to_vec(), b"b".to_vec()]);
    assert_eq!(b.data[0], 79, "GET_CONTEXT_ROOT");
}

#[test]
fn errors_name_the_position() {
    let cases: &[(&str, usize, &str)] = &[
        ("a ==", 4, "unexpected end"),
        ("a == 1 2", 7, "unexpected '2'"),
        ("a @ 1", 2, "unexpected character '@'"),
        ("(a == 1", 7, "unexpected end"),
        ("a * 2", 2, "'*' not supported"),
        ("a == \"x", 5, "unterminated"),
        ("a == 0X1F", 5, "cannot scan hexadecimal"),
        ("a == \"ESCSEQ\"", 6, "escape sequences"),
        ("a == -\"x\"", 5, "unary operation '-'"),
        ("a && \"x\"", 2, "logical binary operation '&&'"),
        ("a & 1.5", 2, "floating point"),
        ("\"a\" == 1", 4, "type mismatch"),
        ("\"abc\"", 0, "string literal cannot be the whole"),
        ("1.5", 0, "floating point value cannot be the whole"),
        ("x == 1 && $foo.x == 1", 10, "'$foo'"),
        ("$ctx == 1", 0, "after '$ctx'"),
        ("a[b] == 1", 2, "constant index"),
        ("a == \"\\n\"", 5, "escape character"),
        ("\"a*b\" == \"c*\"", 6, "two globbing patterns"),
        ("a < \"x*y\"", 2, "`==` and `!=`"),
        ("a == ''", 5, "empty character constant"),
        ("", 0, "empty filter"),
    ];
    for &(expr, offset, text) in cases {
        let e = err(expr);
        let msg = e.to_string();
        assert_eq!(e.offset, offset, "{expr:?}: {msg}");
        assert!(msg.contains(text), "{expr:?}: {msg:?} lacks {text:?}");
        assert!(msg.contains(&format!("column {}", offset + 1)), "{msg}");
    }
}

#[test]
fn caret_points_at_the_error() {
    let e = err("a == 1 &&\n  b @ 2");
    assert_eq!(e.caret("a == 1 &&\n  b @ 2"), "  b @ 2\n    ^");
    // An offset inside a multi-byte character points at that character.
    let e = err("a == \"é\" é");
    assert_eq!(e.caret("a == \"é\" é"), "a == \"é\" é\n         ^");
    let long = format!("a == \"{}\"", "é".repeat(40_000));
    let e = err(&long);
    assert_eq!(e.kind, FilterErrorKind::ExpressionTooLong);
    let _ = e.caret(&long);
}

#[test]
fn limits_are_errors_not_crashes() {
    let deep = "(".repeat(60_000) + "a";
    assert_eq!(err(&deep).kind, FilterErrorKind::TooDeep);
    let long = "!".repeat(70_000) + "a";
    assert_eq!(err(&long).kind, FilterErrorKind::ExpressionTooLong);
    let big = ["a == 1"; 5000].join(" || ");
    assert!(matches!(err(&big).kind, FilterErrorKind::TooLarge(_)));
    assert_eq!(err("a\0").kind, FilterErrorKind::Nul);
}
