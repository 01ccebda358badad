//! lttng 2.13's IR passes over the parsed expression: operand typing (which
//! operators take strings, floats, fields), the root's type, string escapes
//! (`\\` and `\*` only) and globbing-pattern rules. Iterative: node ids are
//! in post-order, so one forward sweep sees children before parents.

use super::error::{FilterError, FilterErrorKind as K};
use super::parser::{Ast, BinOp, Index, Node, NodeId};

/// What a string literal is as a pattern (lttng's `ir_load_string_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Glob {
    Plain,
    /// One unescaped star, at the very end (`"abc*"`): a legacy string.
    StarEnd,
    /// Any other unescaped star: a full star-glob pattern.
    Star,
}

/// Where lttng puts the first unescaped `*` of a literal.
pub(crate) fn glob_kind(s: &[u8]) -> Glob {
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'*' if i + 1 == s.len() => return Glob::StarEnd,
            b'*' => return Glob::Star,
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
    Glob::Plain
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ty {
    Str(Glob),
    Num,
    Float,
    /// A field or context load, typed only at run time.
    Field,
}

/// Which root a field chain starts from, and where its symbols begin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Root {
    Payload,
    Context,
    AppContext,
}

pub(crate) fn field_root(elems: &[super::parser::Elem]) -> Result<(Root, usize), FilterError> {
    let first = &elems[0];
    let root = match (first.global, first.name.as_slice()) {
        (false, _) => return Ok((Root::Payload, 0)),
        (true, b"$ctx") => Root::Context,
        (true, b"$app") => Root::AppContext,
        (true, name) => {
            return Err(FilterError::new(
                first.pos,
                K::UnknownGlobal(String::from_utf8_lossy(name).into()),
            ))
        }
    };
    if elems.len() < 2 {
        let name = String::from_utf8_lossy(&first.name).into();
        return Err(FilterError::new(first.pos, K::MissingContextName(name)));
    }
    Ok((root, 1))
}

/// The ids reachable from the root, in increasing (post-)order.
pub(crate) fn live_nodes(ast: &Ast) -> Vec<NodeId> {
    let mut live = vec![false; ast.nodes.len()];
    let mut todo = vec![ast.root];
    while let Some(n) = todo.pop() {
        live[n] = true;
        match ast.nodes[n] {
            Node::Unary(_, c) => todo.push(c),
            Node::Binary(_, l, r) => todo.extend([l, r]),
            _ => {}
        }
    }
    (0..ast.nodes.len()).filter(|&n| live[n]).collect()
}

/// Runs the passes in lttng's order; the first refusal wins.
pub(crate) fn check(ast: &Ast) -> Result<Vec<Ty>, FilterError> {
    let live = live_nodes(ast);
    let mut ty = vec![Ty::Num; ast.nodes.len()];
    for &n in &live {
        let at = ast.pos[n];
        ty[n] = match &ast.nodes[n] {
            Node::Int(_) => Ty::Num,
            Node::Float(_) => Ty::Float,
            Node::Str(s) => Ty::Str(glob_kind(s)),
            Node::Field(elems) => {
                let (_, first) = field_root(elems)?;
                if let Some(e) = elems[first..]
                    .iter()
                    .find(|e| matches!(e.index, Some(Index::Other(_))))
                {
                    let Some(Index::Other(pos)) = e.index else {
                        unreachable!()
                    };
                    return Err(FilterError::new(pos, K::NonConstantIndex));
                }
                Ty::Field
            }
            Node::Unary(op, c) => match ty[*c] {
                Ty::Str(_) => return Err(FilterError::new(at, K::UnaryOnString(op.text()))),
                t => t,
            },
            Node::Binary(op, l, r) => {
                binary_type(*op, ty[*l], ty[*r]).map_err(|k| FilterError::new(at, k))?
            }
        };
    }
    match ty[ast.root] {
        Ty::Str(_) => return Err(FilterError::new(ast.pos[ast.root], K::StringRoot)),
        Ty::Float => return Err(FilterError::new(ast.pos[ast.root], K::FloatRoot)),
        _ => {}
    }
    // Escapes: a backslash escapes only `\` or `*`.
    for &n in &live {
        if let Node::Str(s) = &ast.nodes[n] {
            let mut i = 0;
            while i < s.len() {
                if s[i] == b'\\' {
                    if !matches!(s.get(i + 1), Some(b'\\' | b'*')) {
                        return Err(FilterError::new(ast.pos[n], K::BadEscape));
                    }
                    i += 1;
                }
                i += 1;
            }
        }
    }
    // Globbing: no two patterns compared, full patterns only with == and !=.
    for &n in &live {
        if let Node::Binary(op, l, r) = ast.nodes[n] {
            let (lt, rt) = (ty[l], ty[r]);
            let star = |t| t == Ty::Str(Glob::Star);
            if let (Ty::Str(a), Ty::Str(b)) = (lt, rt) {
                if (a == Glob::Star && b != Glob::Plain) || (b == Glob::Star && a != Glob::Plain) {
                    return Err(FilterError::new(ast.pos[n], K::GlobVsGlob));
                }
            }
            if (star(lt) || star(rt)) && !matches!(op, BinOp::Eq | BinOp::Ne) {
                return Err(FilterError::new(ast.pos[n], K::GlobOperator));
            }
        }
    }
    Ok(ty)
}

fn binary_type(op: BinOp, l: Ty, r: Ty) -> Result<Ty, K> {
    let is_str = |t| matches!(t, Ty::Str(_));
    let is_number = |t| matches!(t, Ty::Num | Ty::Float);
    match op {
        BinOp::Mul | BinOp::Div | BinOp::Mod | BinOp::Plus | BinOp::Minus => {
            Err(K::UnsupportedOperator(op.text()))
        }
        BinOp::Or | BinOp::And if is_str(l) || is_str(r) => Err(K::LogicalOnString(op.text())),
        BinOp::Shl | BinOp::Shr | BinOp::BitAnd | BinOp::BitOr | BinOp::BitXor => {
            if is_str(l) || is_str(r) {
                Err(K::BitwiseOnString(op.text()))
            } else if l == Ty::Float || r == Ty::Float {
                Err(K::BitwiseOnFloat(op.text()))
            } else {
                Ok(Ty::Num)
            }
        }
        BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Gt | BinOp::Le | BinOp::Ge
            if (is_str(l) && is_number(r)) || (is_number(l) && is_str(r)) =>
        {
            Err(K::TypeMismatch(op.text()))
        }
        _ => Ok(Ty::Num),
    }
}
