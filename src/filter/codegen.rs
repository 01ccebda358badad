//! Bytecode generation (lttng 2.13's `filter-visitor-generate-bytecode.c` and
//! `bytecode.c`, opcodes of `bytecode.h`): post-order, no padding, the
//! relocation table appended after the final RETURN.

use super::check::{field_root, glob_kind, Glob, Root, Ty};
use super::error::{FilterError, FilterErrorKind as K};
use super::parser::{Ast, BinOp, Elem, Index, Node, NodeId, UnOp};
use super::{Bytecode, BYTECODE_HEADER_LEN, MAX_BYTECODE_LEN};

/// Opcodes of `enum bytecode_op` that lttng 2.13's generator emits.
mod op {
    pub(super) const RETURN: u8 = 1;
    pub(super) const BIT_RSHIFT: u8 = 7;
    pub(super) const BIT_LSHIFT: u8 = 8;
    pub(super) const BIT_AND: u8 = 9;
    pub(super) const BIT_OR: u8 = 10;
    pub(super) const BIT_XOR: u8 = 11;
    pub(super) const EQ: u8 = 12;
    pub(super) const NE: u8 = 13;
    pub(super) const GT: u8 = 14;
    pub(super) const LT: u8 = 15;
    pub(super) const GE: u8 = 16;
    pub(super) const LE: u8 = 17;
    pub(super) const UNARY_MINUS: u8 = 49;
    pub(super) const UNARY_NOT: u8 = 50;
    pub(super) const AND: u8 = 57;
    pub(super) const OR: u8 = 58;
    pub(super) const LOAD_FIELD_REF: u8 = 59;
    pub(super) const LOAD_STRING: u8 = 64;
    pub(super) const LOAD_S64: u8 = 65;
    pub(super) const LOAD_DOUBLE: u8 = 66;
    pub(super) const CAST_TO_S64: u8 = 67;
    pub(super) const CAST_DOUBLE_TO_S64: u8 = 68;
    pub(super) const GET_CONTEXT_REF: u8 = 70;
    pub(super) const LOAD_STAR_GLOB_STRING: u8 = 76;
    pub(super) const GET_CONTEXT_ROOT: u8 = 79;
    pub(super) const GET_APP_CONTEXT_ROOT: u8 = 80;
    pub(super) const GET_PAYLOAD_ROOT: u8 = 81;
    pub(super) const GET_SYMBOL: u8 = 82;
    pub(super) const GET_INDEX_U64: u8 = 85;
    pub(super) const LOAD_FIELD: u8 = 86;
    pub(super) const UNARY_BIT_NOT: u8 = 98;
}

/// Largest `data` that fits in a 65,536-byte `struct lttng_bytecode`.
const MAX_DATA: usize = MAX_BYTECODE_LEN - BYTECODE_HEADER_LEN;

enum Task {
    Visit(NodeId),
    /// After a logical operator's left side: cast, emit the jump.
    LogicalMid(NodeId),
    /// After its right side: cast, patch the jump to here.
    LogicalEnd(NodeId, usize),
    Emit(u8),
}

struct Gen {
    code: Vec<u8>,
    reloc: Vec<u8>,
}

impl Gen {
    fn cast(&mut self, t: Ty) {
        match t {
            Ty::Field => self.code.push(op::CAST_TO_S64),
            Ty::Float => self.code.push(op::CAST_DOUBLE_TO_S64),
            _ => {}
        }
    }

    fn relocate(&mut self, insn_at: usize, symbol: &[u8]) {
        self.reloc
            .extend_from_slice(&(insn_at as u16).to_le_bytes());
        self.reloc.extend_from_slice(symbol);
        self.reloc.push(0);
    }

    fn field(&mut self, elems: &[Elem]) -> Result<(), FilterError> {
        let (root, first) = field_root(elems)?;
        let symbols = &elems[first..];
        let index = |e: &Elem| match e.index {
            Some(Index::Const(v)) => Some(v),
            _ => None,
        };
        if symbols.iter().all(|e| index(e).is_none()) {
            // "Legacy" field/context reference: one instruction, dotted name.
            let (opcode, mut name) = match root {
                Root::Payload => (op::LOAD_FIELD_REF, Vec::new()),
                Root::Context => (op::GET_CONTEXT_REF, b"$ctx.".to_vec()),
                Root::AppContext => (op::GET_CONTEXT_REF, b"$app.".to_vec()),
            };
            for (i, e) in symbols.iter().enumerate() {
                if i > 0 {
                    name.push(b'.');
                }
                name.extend_from_slice(&e.name);
            }
            let at = self.code.len();
            self.code.extend_from_slice(&[opcode, 0xff, 0xff]);
            self.relocate(at, &name);
            return Ok(());
        }
        self.code.push(match root {
            Root::Payload => op::GET_PAYLOAD_ROOT,
            Root::Context => op::GET_CONTEXT_ROOT,
            Root::AppContext => op::GET_APP_CONTEXT_ROOT,
        });
        for e in symbols {
            let at = self.code.len();
            // The operand points at the name, just past its 2-byte reloc entry.
            let name_at = (self.reloc.len() + 2) as u16;
            self.code.push(op::GET_SYMBOL);
            self.code.extend_from_slice(&name_at.to_le_bytes());
            self.relocate(at, &e.name);
            if let Some(v) = index(e) {
                self.code.push(op::GET_INDEX_U64);
                self.code.extend_from_slice(&v.to_le_bytes());
            }
        }
        self.code.push(op::LOAD_FIELD);
        Ok(())
    }

    fn leaf(&mut self, node: &Node) -> Result<(), FilterError> {
        match node {
            Node::Int(v) => {
                self.code.push(op::LOAD_S64);
                self.code.extend_from_slice(&v.to_le_bytes());
            }
            Node::Float(v) => {
                self.code.push(op::LOAD_DOUBLE);
                self.code.extend_from_slice(&v.to_bits().to_le_bytes());
            }
            Node::Str(s) => {
                let glob = glob_kind(s);
                self.code.push(if glob == Glob::Star {
                    op::LOAD_STAR_GLOB_STRING
                } else {
                    op::LOAD_STRING
                });
                if glob == Glob::Plain {
                    self.code.extend_from_slice(s);
                } else {
                    normalize_stars(s, &mut self.code);
                }
                self.code.push(0);
            }
            Node::Field(elems) => self.field(elems)?,
            Node::Unary(..) | Node::Binary(..) => unreachable!("not a leaf"),
        }
        Ok(())
    }
}

/// Crushes runs of unescaped `*` into one, keeping escapes as they are.
fn normalize_stars(s: &[u8], out: &mut Vec<u8>) {
    let mut star = false;
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'*' if star => {}
            b'*' => {
                star = true;
                out.push(b'*');
            }
            b'\\' => {
                star = false;
                out.extend_from_slice(&s[i..(i + 2).min(s.len())]);
                i += 1;
            }
            b => {
                star = false;
                out.push(b);
            }
        }
        i += 1;
    }
}

fn binary_opcode(op: BinOp) -> u8 {
    match op {
        BinOp::Shr => op::BIT_RSHIFT,
        BinOp::Shl => op::BIT_LSHIFT,
        BinOp::BitAnd => op::BIT_AND,
        BinOp::BitOr => op::BIT_OR,
        BinOp::BitXor => op::BIT_XOR,
        BinOp::Eq => op::EQ,
        BinOp::Ne => op::NE,
        BinOp::Gt => op::GT,
        BinOp::Lt => op::LT,
        BinOp::Ge => op::GE,
        BinOp::Le => op::LE,
        _ => unreachable!("refused by the checks"),
    }
}

pub(crate) fn generate(ast: &Ast, ty: &[Ty]) -> Result<Bytecode, FilterError> {
    let mut g = Gen {
        code: Vec::new(),
        reloc: Vec::new(),
    };
    let mut todo = vec![Task::Emit(op::RETURN), Task::Visit(ast.root)];
    while let Some(task) = todo.pop() {
        // Past the limit nothing can fit any more: stop early.
        if g.code.len() + g.reloc.len() > MAX_DATA {
            break;
        }
        match task {
            Task::Emit(b) => g.code.push(b),
            Task::Visit(n) => match ast.nodes[n] {
                Node::Unary(op, c) => {
                    match op {
                        UnOp::Plus => {}
                        UnOp::Minus => todo.push(Task::Emit(op::UNARY_MINUS)),
                        UnOp::Not => todo.push(Task::Emit(op::UNARY_NOT)),
                        UnOp::BitNot => todo.push(Task::Emit(op::UNARY_BIT_NOT)),
                    }
                    todo.push(Task::Visit(c));
                }
                Node::Binary(BinOp::And | BinOp::Or, l, _) => {
                    todo.push(Task::LogicalMid(n));
                    todo.push(Task::Visit(l));
                }
                Node::Binary(op, l, r) => {
                    todo.push(Task::Emit(binary_opcode(op)));
                    todo.push(Task::Visit(r));
                    todo.push(Task::Visit(l));
                }
                ref leaf => g.leaf(leaf)?,
            },
            Task::LogicalMid(n) => {
                let Node::Binary(op, l, r) = ast.nodes[n] else {
                    unreachable!()
                };
                g.cast(ty[l]);
                g.code.push(if op == BinOp::And { op::AND } else { op::OR });
                let skip_at = g.code.len();
                g.code.extend_from_slice(&[0xff, 0xff]);
                todo.push(Task::LogicalEnd(n, skip_at));
                todo.push(Task::Visit(r));
            }
            Task::LogicalEnd(n, skip_at) => {
                let Node::Binary(_, _, r) = ast.nodes[n] else {
                    unreachable!()
                };
                g.cast(ty[r]);
                let target = (g.code.len() as u16).to_le_bytes();
                g.code[skip_at..skip_at + 2].copy_from_slice(&target);
            }
        }
    }
    let total = g.code.len() + g.reloc.len();
    if total > MAX_DATA {
        return Err(FilterError::new(
            0,
            K::TooLarge(total + BYTECODE_HEADER_LEN),
        ));
    }
    let reloc_offset = g.code.len() as u32;
    let mut data = g.code;
    data.extend_from_slice(&g.reloc);
    Ok(Bytecode { data, reloc_offset })
}
