#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Writes corpus.json: the filter expressions capture.py feeds the stock CLI.

One expression per line below; a few multi-line, size and nesting cases are
appended at the end. Every operator, operand kind and literal form of the
lttng 2.13 filter language appears, valid and invalid.
"""
import json
import os

LINES = r'''
a
1
0
a == 1
a != 1
a > 1
a < 1
a >= 1
a <= 1
a == 0
a == 1234567890
a == 9223372036854775807
a == 9223372036854775808
a == 18446744073709551615
a == 18446744073709551616
a == 99999999999999999999
a == 123456789012345678901234
a == 10u
a == 10U
a == 10l
a == 10L
a == 10ul
a == 10LL
a == 10llu
a == 10Lu
a == 10lU
a == 10lL
a == 0x1f
a == 0X1F
a == 0xdeadBEEF
a == 0xffffffffffffffff
a == 0x10000000000000000
a == 0x123456789abcdef0123
a == 0x1fu
a == 0x1fULL
a == 00
a == 017
a == 0777
a == 01777777777777777777777
a == 02000000000000000000000
a == 0u
a == 017l
a == 08
a == 0x
a == 10abc
a == 1.5
a == .5
a == 1.
a == 1e3
a == 1E-3
a == 1.5e+2
a == 1.5f
a == 2.5L
a == 3e2f
a == 0x1p3
a == 0x1.8p1
a == 0x.8p1
a == 0x1.8
a == 0x1.8f
a == 0XAP-2L
a == 0x1.fffffffffffff8p0
a == 0x1.00000000000008p0
a == 0x1.000000000000081p0
a == 0x1p-1074
a == 0x1p-1075
a == 0x1.8p-1074
a == 0x1p1024
a == 1e400
a == 1e-400
a == 0.1
a == 3.14159265358979323846264338327950288
a == 4.9406564584124654e-324
a == 2.4703282292062327e-324
a == 1.7976931348623157e308
a == 09.5
a == 09e1
a == 1e
1.5
-1.5 == a
1.5 == 1
1 == 1.5
a == "abc"
a == ""
a != "abc"
a == "a*"
a == "*"
a == "a*b"
a == "a**"
a == "a***b**"
a != "*x*"
a == "a\*b"
a == "a\\b"
a == "\\*"
a == "x\*"
a == "a\*"
a == "a\\"
a == "a\"
a == "a\nb"
a == "ESCSEQ"
a == "xESCSEQx"
a == "a\"b"
a == "é ü"
a == "has space"
a == "tab	in"
a == "/* not a comment */"
a == 'x'
a == 'abc'
a == ''
a == '"'
a == "'"
a == L"wide"
a == L'w'
a == "a" "b"
"abc"
"a" == "b"
"a*" == "b*"
"a*b" == "c*"
"a*b" == "c"
"a*b" == "c*d"
a < "x*y"
a < "x*"
a < "abc"
a >= "abc"
"a" == 1
1 == "a"
"a" == 1.5
a.b
a.b == 1
a->b == 1
a.b.c == 1
a.b->c.d == 1
a[2] == 1
a[0x10] == 1
a[010] == 1
a[0] == 1
a[18446744073709551615] == 1
a[1][2] == 1
a[1][2][3] == 1
a.b[3] == 1
a[2].b == 1
a[1].b[2].c == 1
a[b] == 1
a[-1] == 1
a[(1)] == 1
a[1.5] == 1
a["x"] == 1
a[] == 1
a[1 == 1
_x == 1
a1 == 1
a_b_c == 1
a:b == 1
a::b == 1
:a == 1
a\u00e9 == 1
a\U0001F600 == 1
a\u00e == 1
$ctx.vpid == 1
$ctx.procname == "ls"
$ctx.vpid
$ctx.a.b == 1
$ctx.a[1] == 1
$ctx.a[1].b == 1
$ctx[1].vpid == 1
$app.prov:ctx == 1
$app.myprovider:mycontext == "x*"
$app.a:b.c == 1
$app.a:b[1] == 1
$foo.x == 1
$ctx
$app
$ctx == 1
a.$ctx == 1
$ == 1
!a
~a
-a
+a
!!a
--a
-+-a
!1
-1
~0
+0
!a == 1
-a == -1
~a == 1
+a == +1
!1.5
-1.5
+1.5 == a
~1.5 == a
-"a" == a
!"a"
a == -"x"
a * 2
a / 2
a % 2
a + 2
a - 2
(a + 1) == 2
a << 2
a >> 2
a & 1
a | 1
a ^ 1
a << 1 >> 2
a | b ^ c & d
a & 1 == 1
a | 1 < 2
a == b & c
a & 1.5
1.5 | a
a | "x"
"x" ^ a
a && b
a || b
a && b || c
a || b && c
(a || b) && c
a == 1 || b == 2 && c == 3
(a == 1 || b == 2) && c == 3
a == 1 && b == 2 && c == 3 && d == 4 && e == 5
a == 1 || b == 2 || c == 3 || d == 4 || e == 5
1.5 && a
a && 1.5
a && -1.5
!a && -b
1 && 2
"a" && b
a || "b"
a && "b" == "c"
(a == 1) == (b == 2)
1 < 2 < 3
a == b == c
(a)
((((a))))
(a == 1)
((a == 1) && ((b) == (2)))
(1.5)
a	==	1
a == /* comment */ 1
a == 1 // trailing comment
a == 1 /* unterminated comment
/**/a/**/==/**/1
a ==
== 1
(a
a)
()
a = 1
a := 1
a; b
a, b
{a}
a...b
a @ 1
a # 1
a == 'x
a == "x
a == 1 2
a.1 == 1
a. == 1
.a == 1
a-> == 1
a == 1 $
a ==1
'''.strip("\n").split("\n")


def corpus():
    c = list(LINES)
    c += ["a ==\n1", "a == \"x\ny\"", "a == 1\r", "a == 1 // comment\n|| b == 2", ""]
    c += ["(" * 3000 + "a" + ")" * 3000 + " == 1"]
    c += ["!" * 3000 + "a"]
    # Size limits: data <= 65,536 - 48 bytes. `fNNNN == N ||` costs 24 bytes
    # (16 of code, 8 of relocation): 2,728 terms make 65,470 bytes, 2,729 65,494.
    c += [" || ".join(f"f{i:04} == {i}" for i in range(n)) for n in (2728, 2729)]
    # `a == "x…"` makes n + 11 bytes: 65,477 x's fill the 65,488 exactly.
    c += ["a == \"" + "x" * n + "\"" for n in (65477, 65478)]
    c += ["a == \"" + "x" * 65400]
    # Expression length: 65,535 bytes at most.
    c += ["a == 1" + " " * (n - 6) for n in (65535, 65536)]
    # Nesting: bison's stack holds 9,998 symbols (YYMAXDEPTH 10,000).
    c += ["(" * n + "a" + ")" * n for n in (9996, 9997)]
    c += ["!" * n + "a" for n in (9997, 9998)]
    c += ["a" + "[1]" * n + " == 1" for n in (3332, 3333)]
    c += ["a || (" * n + "a" + ")" * n for n in (3332, 3333)]
    c += ["(" * n + "a == \"ab\"" + ")" * n for n in (9992, 9993)]
    c += ["(" * n + "a == \"\"" + ")" * n for n in (9994, 9995)]
    c += ["(" * n + "a.b" + ")" * n for n in (9995, 9996)]
    c += ["(" * n + "a.b[1]" + ")" * n for n in (9992, 9993)]
    assert len(c) == len(set(c)), [x for x in c if c.count(x) > 1]
    return c


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "corpus.json"), "w") as f:
        json.dump(corpus(), f, indent=0, ensure_ascii=False)
        f.write("\n")
    print(len(corpus()), "expressions")
