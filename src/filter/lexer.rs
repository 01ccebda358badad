//! The lttng 2.13 filter lexer (flex rules of `filter-lexer.l`): longest match
//! wins, ties go to the earlier rule. Comments vanish; a string or character
//! literal comes back as one token.

/// Punctuators, in the lexer's rule order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Punct {
    LBracket,
    RBracket,
    LParen,
    RParen,
    LBrace,
    RBrace,
    Arrow,
    Star,
    Plus,
    Minus,
    Percent,
    Slash,
    Shr,
    Shl,
    EqEq,
    Ne,
    Le,
    Ge,
    Lt,
    Gt,
    AndAnd,
    OrOr,
    Not,
    Assign,
    Colon,
    Semicolon,
    Ellipsis,
    Dot,
    Equal,
    Comma,
    Caret,
    Amp,
    Pipe,
    Tilde,
}

const PUNCTS: &[(&[u8], Punct)] = &[
    (b"[", Punct::LBracket),
    (b"]", Punct::RBracket),
    (b"(", Punct::LParen),
    (b")", Punct::RParen),
    (b"{", Punct::LBrace),
    (b"}", Punct::RBrace),
    (b"->", Punct::Arrow),
    (b"*", Punct::Star),
    (b"+", Punct::Plus),
    (b"-", Punct::Minus),
    (b"%", Punct::Percent),
    (b"/", Punct::Slash),
    (b">>", Punct::Shr),
    (b"<<", Punct::Shl),
    (b"==", Punct::EqEq),
    (b"!=", Punct::Ne),
    (b"<=", Punct::Le),
    (b">=", Punct::Ge),
    (b"<", Punct::Lt),
    (b">", Punct::Gt),
    (b"&&", Punct::AndAnd),
    (b"||", Punct::OrOr),
    (b"!", Punct::Not),
    (b":=", Punct::Assign),
    (b":", Punct::Colon),
    (b";", Punct::Semicolon),
    (b"...", Punct::Ellipsis),
    (b".", Punct::Dot),
    (b"=", Punct::Equal),
    (b",", Punct::Comma),
    (b"^", Punct::Caret),
    (b"&", Punct::Amp),
    (b"|", Punct::Pipe),
    (b"~", Punct::Tilde),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IntKind {
    Decimal,
    Octal,
    Hex,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Int(IntKind),
    Float,
    /// A `"…"` or `'…'` literal: its bytes (newlines dropped, as flex does).
    Str {
        value: Vec<u8>,
        char_const: bool,
        closed: bool,
        /// Offset of the literal text `ESCSEQ`, which lttng's lexer turns into
        /// an escape-sequence token (its rule names the macro without braces).
        escseq: Option<usize>,
    },
    Ident,
    Global,
    Punct(Punct),
    /// A byte no rule matches.
    Bad(u8),
    Eof,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub(crate) tok: Tok,
    pub(crate) start: usize,
    pub(crate) end: usize,
}

pub(crate) struct Lexer<'a> {
    src: &'a [u8],
    pos: usize,
}

fn is_digit(b: u8) -> bool {
    b.is_ascii_digit()
}
fn is_hex(b: u8) -> bool {
    b.is_ascii_hexdigit()
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(src: &'a [u8]) -> Self {
        Self { src, pos: 0 }
    }

    fn at(&self, i: usize) -> u8 {
        self.src.get(i).copied().unwrap_or(0)
    }

    pub(crate) fn next_token(&mut self) -> Token {
        loop {
            let start = self.pos;
            let c = self.at(start);
            if start >= self.src.len() {
                return Token {
                    tok: Tok::Eof,
                    start,
                    end: start,
                };
            }
            match c {
                b' ' | b'\t' | b'\n' => {
                    self.pos += 1;
                    continue;
                }
                b'/' if self.at(start + 1) == b'*' => {
                    // Ends at the first `*/`; unterminated runs to the end.
                    self.pos = find(&self.src[start + 2..], b"*/")
                        .map_or(self.src.len(), |i| start + 2 + i + 2);
                    continue;
                }
                b'/' if self.at(start + 1) == b'/' => {
                    // Through the newline; without one, flex echoes the rest.
                    self.pos = self.src[start..]
                        .iter()
                        .position(|&b| b == b'\n')
                        .map_or(self.src.len(), |i| start + i + 1);
                    continue;
                }
                b'"' | b'\'' => return self.literal(start, start + 1, c),
                b'L' if matches!(self.at(start + 1), b'"' | b'\'') => {
                    return self.literal(start, start + 2, self.at(start + 1))
                }
                _ => {}
            }
            return self.plain(start);
        }
    }

    fn literal(&mut self, start: usize, body: usize, quote: u8) -> Token {
        let mut value = Vec::new();
        let mut escseq = None;
        let mut i = body;
        let closed = loop {
            match self.src.get(i) {
                None => break false,
                Some(&b) if b == quote => {
                    i += 1;
                    break true;
                }
                Some(b'\n') => i += 1,
                Some(_) if self.src[i..].starts_with(b"ESCSEQ") => {
                    escseq.get_or_insert(i);
                    value.extend_from_slice(b"ESCSEQ");
                    i += 6;
                }
                Some(&b) => {
                    value.push(b);
                    i += 1;
                }
            }
        };
        self.pos = i;
        let tok = Tok::Str {
            value,
            char_const: quote == b'\'',
            closed,
            escseq,
        };
        Token { tok, start, end: i }
    }

    /// Everything outside literals and comments: longest match over the
    /// number, punctuator and identifier rules, earlier rule on a tie.
    fn plain(&mut self, start: usize) -> Token {
        let mut best: (usize, Tok) = (1, Tok::Bad(self.at(start)));
        let mut consider = |len: usize, tok: Tok| {
            if len > best.0 || (len == best.0 && matches!(best.1, Tok::Bad(_))) {
                best = (len, tok);
            }
        };
        // Number rules first (rule order: hex, octal, decimal, floats).
        let c = self.at(start);
        if is_digit(c) || (c == b'.' && is_digit(self.at(start + 1))) {
            let s = &self.src[start..];
            for (len, tok) in number_candidates(s) {
                consider(len, tok);
            }
        }
        for (text, p) in PUNCTS {
            if self.src[start..].starts_with(text) {
                consider(text.len(), Tok::Punct(*p));
            }
        }
        if c == b'$' {
            let n = ident_len(&self.src[start + 1..]);
            if n > 0 {
                consider(1 + n, Tok::Global);
            }
        } else {
            let n = ident_len(&self.src[start..]);
            if n > 0 {
                consider(n, Tok::Ident);
            }
        }
        let (len, tok) = best;
        self.pos = start + len;
        Token {
            tok,
            start,
            end: start + len,
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Length of one identifier character at the start of `s`: `[A-Za-z_:]`,
/// digits (when `digits`), `\uXXXX` or `\UXXXXXXXX`.
fn ident_char(s: &[u8], digits: bool) -> usize {
    match s.first() {
        Some(b) if b.is_ascii_alphabetic() || *b == b'_' || *b == b':' => 1,
        Some(b) if digits && b.is_ascii_digit() => 1,
        Some(b'\\') => {
            let n = match s.get(1) {
                Some(b'u') => 4,
                Some(b'U') => 8,
                _ => return 0,
            };
            if s.len() >= 2 + n && s[2..2 + n].iter().all(|&b| is_hex(b)) {
                2 + n
            } else {
                0
            }
        }
        _ => 0,
    }
}

fn ident_len(s: &[u8]) -> usize {
    let mut n = ident_char(s, false);
    if n == 0 {
        return 0;
    }
    loop {
        let m = ident_char(&s[n..], true);
        if m == 0 {
            return n;
        }
        n += m;
    }
}

fn run(s: &[u8], from: usize, pred: fn(u8) -> bool) -> usize {
    s[from.min(s.len())..]
        .iter()
        .take_while(|&&b| pred(b))
        .count()
}

/// `{IS}`: longest integer suffix (`u`, `l`, `ll`, `ul`, `lu`, `ull`, `llu`, …).
fn int_suffix(s: &[u8]) -> usize {
    let u = |i: usize| matches!(s.get(i), Some(b'u' | b'U'));
    let l = |i: usize| -> usize {
        match (s.get(i), s.get(i + 1)) {
            (Some(b'l'), Some(b'l')) | (Some(b'L'), Some(b'L')) => 2,
            (Some(b'l' | b'L'), _) => 1,
            _ => 0,
        }
    };
    let mut best = 0;
    if u(0) {
        best = 1 + l(1);
    }
    let n = l(0);
    if n > 0 {
        best = best.max(n + usize::from(u(n)));
    }
    best
}

/// `[Ee][+-]?{D}+` (or `[Pp]…` for hex floats) at `i`: its length or 0.
fn exponent(s: &[u8], i: usize, marks: [u8; 2]) -> usize {
    if !matches!(s.get(i), Some(b) if marks.contains(b)) {
        return 0;
    }
    let sign = usize::from(matches!(s.get(i + 1), Some(b'+' | b'-')));
    let d = run(s, i + 1 + sign, is_digit);
    if d == 0 {
        0
    } else {
        1 + sign + d
    }
}

fn float_suffix(s: &[u8], i: usize) -> usize {
    usize::from(matches!(s.get(i), Some(b'f' | b'F' | b'l' | b'L')))
}

/// Every number rule matching at the start of `s`, with its length.
fn number_candidates(s: &[u8]) -> Vec<(usize, Tok)> {
    let mut out = Vec::new();
    let hex_prefix = s.len() >= 2 && s[0] == b'0' && matches!(s[1], b'x' | b'X');
    // 0[xX]{H}+{IS}?
    if hex_prefix {
        let h = run(s, 2, is_hex);
        if h > 0 {
            out.push((2 + h + int_suffix(&s[2 + h..]), Tok::Int(IntKind::Hex)));
        }
    }
    // 0[0-7]*{IS}?
    if s[0] == b'0' {
        let o = 1 + run(s, 1, |b| (b'0'..=b'7').contains(&b));
        out.push((o + int_suffix(&s[o..]), Tok::Int(IntKind::Octal)));
    }
    // [1-9]{D}*{IS}?
    if (b'1'..=b'9').contains(&s[0]) {
        let d = 1 + run(s, 1, is_digit);
        out.push((d + int_suffix(&s[d..]), Tok::Int(IntKind::Decimal)));
    }
    let d = run(s, 0, is_digit);
    // {D}+{E}{FS}?
    if d > 0 {
        let e = exponent(s, d, [b'e', b'E']);
        if e > 0 {
            out.push((d + e + float_suffix(s, d + e), Tok::Float));
        }
    }
    // {D}*"."{D}+{E}?{FS}?   and   {D}+"."{D}*{E}?{FS}?
    if s.get(d) == Some(&b'.') {
        let f = run(s, d + 1, is_digit);
        if f > 0 || d > 0 {
            let n = d + 1 + f;
            let n = n + exponent(s, n, [b'e', b'E']);
            out.push((n + float_suffix(s, n), Tok::Float));
        }
    }
    if hex_prefix {
        let h = run(s, 2, is_hex);
        // 0[xX]{H}+{P}{FS}?
        if h > 0 {
            let p = exponent(s, 2 + h, [b'p', b'P']);
            if p > 0 {
                out.push((2 + h + p + float_suffix(s, 2 + h + p), Tok::Float));
            }
        }
        // 0[xX]{H}*"."{H}+{P}?{FS}?   and   0[xX]{H}+"."{H}*{P}?{FS}?
        if s.get(2 + h) == Some(&b'.') {
            let f = run(s, 3 + h, is_hex);
            if f > 0 || h > 0 {
                let n = 3 + h + f;
                let n = n + exponent(s, n, [b'p', b'P']);
                out.push((n + float_suffix(s, n), Tok::Float));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<(Tok, &str)> {
        let mut lx = Lexer::new(s.as_bytes());
        let mut out = Vec::new();
        loop {
            let t = lx.next_token();
            if t.tok == Tok::Eof {
                return out;
            }
            out.push((t.tok, &s[t.start..t.end]));
        }
    }

    #[test]
    fn longest_match_and_rule_order() {
        use Tok::*;
        assert_eq!(toks("0x1p3f"), vec![(Float, "0x1p3f")]);
        assert_eq!(
            toks("10lL"),
            vec![(Int(IntKind::Decimal), "10l"), (Ident, "L")]
        );
        assert_eq!(
            toks("08"),
            vec![(Int(IntKind::Octal), "0"), (Int(IntKind::Decimal), "8")]
        );
        assert_eq!(toks("09.5"), vec![(Float, "09.5")]);
        assert_eq!(toks(":"), vec![(Punct(super::Punct::Colon), ":")]);
        assert_eq!(toks("::"), vec![(Ident, "::")]);
        assert_eq!(toks(":="), vec![(Punct(super::Punct::Assign), ":=")]);
        assert_eq!(toks("a.5"), vec![(Ident, "a"), (Float, ".5")]);
        assert_eq!(
            toks("$ctx.x"),
            vec![
                (Global, "$ctx"),
                (Punct(super::Punct::Dot), "."),
                (Ident, "x")
            ]
        );
        assert_eq!(toks("a\\u00e9"), vec![(Ident, "a\\u00e9")]);
        assert_eq!(toks("a /* x */ // y"), vec![(Ident, "a")]);
    }
}
