//! The grammar of `filter-parser.y` (lttng 2.13), parsed shift-reduce on an
//! explicit stack: no recursion, whatever the nesting. The parser also counts
//! the entries bison's stack would hold (one per grammar symbol) and refuses
//! the expression where bison runs out (YYMAXDEPTH = 10,000 states), so the
//! nesting bound is lttng's own.
//!
//! Precedence, loosest first: `||`, `&&`, `== !=`, `< > <= >=`, `|`, `^`,
//! `&`, `<< >>`, `+ -`, `* / %`, unary `+ - ! ~`. Note that the bitwise
//! operators bind tighter than the comparisons (unlike C).

use super::error::{FilterError, FilterErrorKind as K};
use super::lexer::{Lexer, Punct, Tok, Token};
use super::number;

/// Most grammar symbols bison's stack holds before "memory exhausted".
const MAX_STACK: usize = 9_998;

pub(crate) type NodeId = usize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnOp {
    Plus,
    Minus,
    Not,
    BitNot,
}

impl UnOp {
    pub(crate) fn text(self) -> &'static str {
        match self {
            UnOp::Plus => "+",
            UnOp::Minus => "-",
            UnOp::Not => "!",
            UnOp::BitNot => "~",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
    BitOr,
    BitXor,
    BitAnd,
    Shl,
    Shr,
    Plus,
    Minus,
    Mul,
    Div,
    Mod,
}

impl BinOp {
    fn from_punct(p: Punct) -> Option<Self> {
        Some(match p {
            Punct::OrOr => BinOp::Or,
            Punct::AndAnd => BinOp::And,
            Punct::EqEq => BinOp::Eq,
            Punct::Ne => BinOp::Ne,
            Punct::Lt => BinOp::Lt,
            Punct::Gt => BinOp::Gt,
            Punct::Le => BinOp::Le,
            Punct::Ge => BinOp::Ge,
            Punct::Pipe => BinOp::BitOr,
            Punct::Caret => BinOp::BitXor,
            Punct::Amp => BinOp::BitAnd,
            Punct::Shl => BinOp::Shl,
            Punct::Shr => BinOp::Shr,
            Punct::Plus => BinOp::Plus,
            Punct::Minus => BinOp::Minus,
            Punct::Star => BinOp::Mul,
            Punct::Slash => BinOp::Div,
            Punct::Percent => BinOp::Mod,
            _ => return None,
        })
    }

    fn precedence(self) -> u8 {
        match self {
            BinOp::Or => 1,
            BinOp::And => 2,
            BinOp::Eq | BinOp::Ne => 3,
            BinOp::Lt | BinOp::Gt | BinOp::Le | BinOp::Ge => 4,
            BinOp::BitOr => 5,
            BinOp::BitXor => 6,
            BinOp::BitAnd => 7,
            BinOp::Shl | BinOp::Shr => 8,
            BinOp::Plus | BinOp::Minus => 9,
            BinOp::Mul | BinOp::Div | BinOp::Mod => 10,
        }
    }

    pub(crate) fn text(self) -> &'static str {
        match self {
            BinOp::Or => "||",
            BinOp::And => "&&",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Gt => ">",
            BinOp::Le => "<=",
            BinOp::Ge => ">=",
            BinOp::BitOr => "|",
            BinOp::BitXor => "^",
            BinOp::BitAnd => "&",
            BinOp::Shl => "<<",
            BinOp::Shr => ">>",
            BinOp::Plus => "+",
            BinOp::Minus => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
        }
    }
}

/// What lttng reads from an element's first `[…]` (later ones it drops).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Index {
    Const(u64),
    /// Anything but a bare integer literal; refused where it is read.
    Other(usize),
}

/// One `name[index]…` of a `a.b[1]->c` chain.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Elem {
    pub(crate) name: Vec<u8>,
    pub(crate) global: bool,
    pub(crate) index: Option<Index>,
    pub(crate) pos: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Int(u64),
    Float(f64),
    Str(Vec<u8>),
    Field(Vec<Elem>),
    Unary(UnOp, NodeId),
    Binary(BinOp, NodeId, NodeId),
}

/// Nodes in creation order: every child comes before its parent. Nodes of
/// bracket contents are stored too but only the root's subtree matters.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Ast {
    pub(crate) nodes: Vec<Node>,
    pub(crate) pos: Vec<usize>,
    pub(crate) root: NodeId,
}

enum Frame {
    LParen,
    Unary(UnOp, usize),
    Bin(NodeId, BinOp, usize),
    /// A field chain being read; `dotted` once past its first element.
    Chain {
        elems: Vec<Elem>,
        dotted: bool,
        run: usize,
    },
    Bracket,
}

impl Frame {
    /// Grammar symbols this frame holds on bison's stack.
    fn weight(&self) -> usize {
        match self {
            Frame::LParen | Frame::Unary(..) | Frame::Bracket => 1,
            Frame::Bin(..) => 2,
            // [postfix_expression DOT] identifiers ([ unary ])*
            Frame::Chain { dotted, run, .. } => 2 * usize::from(*dotted) + 1 + 3 * run,
        }
    }
}

struct Operand {
    node: NodeId,
    bare_int: Option<u64>,
}

struct Parser<'a> {
    src: &'a [u8],
    lexer: Lexer<'a>,
    peeked: Option<Token>,
    stack: Vec<Frame>,
    depth: usize,
    ast: Ast,
}

pub(crate) fn parse(src: &[u8]) -> Result<Ast, FilterError> {
    let mut p = Parser {
        src,
        lexer: Lexer::new(src),
        peeked: None,
        stack: Vec::new(),
        depth: 0,
        ast: Ast {
            nodes: Vec::new(),
            pos: Vec::new(),
            root: 0,
        },
    };
    p.ast.root = p.run()?;
    Ok(p.ast)
}

fn unexpected(src: &[u8], t: &Token) -> FilterError {
    let kind = match &t.tok {
        Tok::Eof => K::UnexpectedEnd,
        Tok::Bad(_) => {
            let c = String::from_utf8_lossy(&src[t.start..])
                .chars()
                .next()
                .unwrap_or('?');
            K::BadChar(c)
        }
        _ => K::Unexpected {
            found: format!("'{}'", String::from_utf8_lossy(&src[t.start..t.end])),
        },
    };
    FilterError::new(t.start, kind)
}

impl Parser<'_> {
    fn peek(&mut self) -> &Token {
        if self.peeked.is_none() {
            self.peeked = Some(self.lexer.next_token());
        }
        self.peeked.as_ref().expect("just filled")
    }

    fn bump(&mut self) -> Token {
        self.peek();
        self.peeked.take().expect("just peeked")
    }

    /// Bison would push `extra` more symbols here: refuse past its limit.
    fn need(&self, extra: usize, at: usize) -> Result<(), FilterError> {
        if self.depth + extra > MAX_STACK {
            return Err(FilterError::new(at, K::TooDeep));
        }
        Ok(())
    }

    fn push(&mut self, f: Frame, at: usize) -> Result<(), FilterError> {
        self.need(f.weight(), at)?;
        self.depth += f.weight();
        self.stack.push(f);
        Ok(())
    }

    fn pop(&mut self) -> Option<Frame> {
        let f = self.stack.pop()?;
        self.depth -= f.weight();
        Some(f)
    }

    fn node(&mut self, n: Node, pos: usize) -> NodeId {
        self.ast.nodes.push(n);
        self.ast.pos.push(pos);
        self.ast.nodes.len() - 1
    }

    /// Grows the chain on top of the stack by one element or bracket.
    fn grow_chain(
        &mut self,
        at: usize,
        f: impl FnOnce(&mut Vec<Elem>, &mut bool, &mut usize),
    ) -> Result<(), FilterError> {
        let Some(Frame::Chain {
            mut elems,
            mut dotted,
            mut run,
        }) = self.pop()
        else {
            unreachable!("grow_chain is only called with a chain on top");
        };
        f(&mut elems, &mut dotted, &mut run);
        self.push(Frame::Chain { elems, dotted, run }, at)
    }

    fn run(&mut self) -> Result<NodeId, FilterError> {
        'operand: loop {
            // Expecting an operand: prefixes, then a leaf or a field chain.
            let t = self.bump();
            let mut operand = match t.tok {
                Tok::Punct(Punct::LParen) => {
                    self.push(Frame::LParen, t.start)?;
                    continue 'operand;
                }
                Tok::Punct(p @ (Punct::Plus | Punct::Minus | Punct::Not | Punct::Tilde)) => {
                    let op = match p {
                        Punct::Plus => UnOp::Plus,
                        Punct::Minus => UnOp::Minus,
                        Punct::Not => UnOp::Not,
                        _ => UnOp::BitNot,
                    };
                    self.push(Frame::Unary(op, t.start), t.start)?;
                    continue 'operand;
                }
                Tok::Int(kind) => {
                    self.need(1, t.start)?;
                    let text = &self.src[t.start..t.end];
                    let v = number::int_value(kind, text).ok_or_else(|| {
                        let kind = match kind {
                            super::lexer::IntKind::Decimal => "decimal",
                            super::lexer::IntKind::Octal => "octal",
                            super::lexer::IntKind::Hex => "hexadecimal",
                        };
                        FilterError::new(
                            t.start,
                            K::BadConstant {
                                kind,
                                text: String::from_utf8_lossy(text).into(),
                            },
                        )
                    })?;
                    Operand {
                        node: self.node(Node::Int(v), t.start),
                        bare_int: Some(v),
                    }
                }
                Tok::Float => {
                    self.need(1, t.start)?;
                    let v = number::float_value(&self.src[t.start..t.end]);
                    Operand {
                        node: self.node(Node::Float(v), t.start),
                        bare_int: None,
                    }
                }
                Tok::Str {
                    value,
                    char_const,
                    closed,
                    escseq,
                } => {
                    if let Some(at) = escseq {
                        return Err(FilterError::new(at, K::EscapeSequence));
                    }
                    if !closed {
                        return Err(FilterError::new(t.start, K::UnterminatedString));
                    }
                    if char_const && value.is_empty() {
                        return Err(FilterError::new(t.start, K::EmptyCharConstant));
                    }
                    // START s_char_sequence DQUOTE, or START DQUOTE.
                    self.need(if value.is_empty() { 2 } else { 3 }, t.start)?;
                    Operand {
                        node: self.node(Node::Str(value), t.start),
                        bare_int: None,
                    }
                }
                Tok::Ident | Tok::Global => {
                    let elem = self.elem(&t);
                    self.push(
                        Frame::Chain {
                            elems: vec![elem],
                            dotted: false,
                            run: 0,
                        },
                        t.start,
                    )?;
                    match self.chain()? {
                        Some(op) => op,
                        None => continue 'operand, // a `[` opened: read its index
                    }
                }
                _ => return Err(unexpected(self.src, &t)),
            };
            // Holding an operand: reduce, then decide on the next token.
            loop {
                while let Some(Frame::Unary(..)) = self.stack.last() {
                    let Some(Frame::Unary(op, pos)) = self.pop() else {
                        unreachable!()
                    };
                    operand = Operand {
                        node: self.node(Node::Unary(op, operand.node), pos),
                        bare_int: None,
                    };
                }
                if let Some(Frame::Bracket) = self.stack.last() {
                    let t = self.bump();
                    if t.tok != Tok::Punct(Punct::RBracket) {
                        return Err(unexpected(self.src, &t));
                    }
                    self.pop();
                    let index = operand
                        .bare_int
                        .map_or(Index::Other(self.ast.pos[operand.node]), Index::Const);
                    self.grow_chain(t.start, |elems, _, run| {
                        let last = elems.last_mut().expect("a chain has an element");
                        last.index.get_or_insert(index);
                        *run += 1;
                    })?;
                    match self.chain()? {
                        Some(op) => {
                            operand = op;
                            continue;
                        }
                        None => continue 'operand,
                    }
                }
                let t = self.peek().clone();
                match t.tok {
                    Tok::Punct(p) if BinOp::from_punct(p).is_some() => {
                        let op = BinOp::from_punct(p).expect("checked");
                        operand = self.reduce_binaries(operand, op.precedence());
                        self.bump();
                        self.push(Frame::Bin(operand.node, op, t.start), t.start)?;
                        continue 'operand;
                    }
                    Tok::Punct(Punct::RParen) => {
                        operand = self.reduce_binaries(operand, 0);
                        if !matches!(self.stack.last(), Some(Frame::LParen)) {
                            return Err(unexpected(self.src, &t));
                        }
                        // LPAREN expression RPAREN, then reduced to one primary.
                        self.need(2, t.start)?;
                        self.bump();
                        self.pop();
                        operand.bare_int = None;
                    }
                    Tok::Eof => {
                        operand = self.reduce_binaries(operand, 0);
                        if !self.stack.is_empty() {
                            return Err(unexpected(self.src, &t));
                        }
                        return Ok(operand.node);
                    }
                    _ => return Err(unexpected(self.src, &t)),
                }
            }
        }
    }

    fn elem(&self, t: &Token) -> Elem {
        Elem {
            name: self.src[t.start..t.end].to_vec(),
            global: t.tok == Tok::Global,
            index: None,
            pos: t.start,
        }
    }

    /// Extends the chain on top of the stack. `None`: a `[` was opened (the
    /// caller reads the index); `Some`: the chain ended and became a field.
    fn chain(&mut self) -> Result<Option<Operand>, FilterError> {
        loop {
            let t = self.peek().clone();
            match t.tok {
                Tok::Punct(Punct::LBracket) => {
                    self.bump();
                    self.push(Frame::Bracket, t.start)?;
                    return Ok(None);
                }
                Tok::Punct(Punct::Dot | Punct::Arrow) => {
                    self.bump();
                    // The chain so far reduces to postfix_expression; then DOT.
                    self.grow_chain(t.start, |_, dotted, run| {
                        *dotted = false;
                        *run = 0;
                    })?;
                    self.need(1, t.start)?;
                    let n = self.bump();
                    if !matches!(n.tok, Tok::Ident | Tok::Global) {
                        return Err(unexpected(self.src, &n));
                    }
                    let elem = self.elem(&n);
                    self.grow_chain(n.start, |elems, dotted, _| {
                        elems.push(elem);
                        *dotted = true;
                    })?;
                }
                _ => {
                    let Some(Frame::Chain { elems, .. }) = self.pop() else {
                        unreachable!()
                    };
                    let pos = elems[0].pos;
                    return Ok(Some(Operand {
                        node: self.node(Node::Field(elems), pos),
                        bare_int: None,
                    }));
                }
            }
        }
    }

    /// Folds pending binary operators binding at least as tight as `min`.
    fn reduce_binaries(&mut self, mut operand: Operand, min: u8) -> Operand {
        while let Some(Frame::Bin(_, op, _)) = self.stack.last() {
            if op.precedence() < min {
                break;
            }
            let Some(Frame::Bin(left, op, pos)) = self.pop() else {
                unreachable!()
            };
            operand = Operand {
                node: self.node(Node::Binary(op, left, operand.node), pos),
                bare_int: None,
            };
        }
        operand
    }
}
