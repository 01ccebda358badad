//! Why lttng 2.13 would refuse a filter expression, and where.

/// A refused filter expression: the byte offset of the problem and its kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("filter expression, column {}: {kind}", .offset + 1)]
pub struct FilterError {
    /// Byte offset in the expression (0-based; the message shows it 1-based).
    pub offset: usize,
    pub kind: FilterErrorKind,
}

impl FilterError {
    pub(crate) fn new(offset: usize, kind: FilterErrorKind) -> Self {
        Self { offset, kind }
    }

    /// The expression's line holding the error, with a caret under it.
    pub fn caret(&self, expression: &str) -> String {
        let mut at = self.offset.min(expression.len());
        while !expression.is_char_boundary(at) {
            at -= 1;
        }
        let start = expression[..at].rfind('\n').map_or(0, |i| i + 1);
        let end = expression[at..]
            .find('\n')
            .map_or(expression.len(), |i| at + i);
        let col = expression[start..at].chars().count();
        format!("{}\n{}^", &expression[start..end], " ".repeat(col))
    }
}

/// The problem, worded after lttng-tools' own messages where it has one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterErrorKind {
    #[error("empty filter expression")]
    Empty,
    #[error("expression longer than 65,535 bytes")]
    ExpressionTooLong,
    #[error("NUL character in the expression")]
    Nul,
    #[error("unexpected character {0:?}")]
    BadChar(char),
    #[error("syntax error: unexpected {found}")]
    Unexpected { found: String },
    #[error("syntax error: unexpected end of expression")]
    UnexpectedEnd,
    #[error("unterminated string literal")]
    UnterminatedString,
    #[error("empty character constant")]
    EmptyCharConstant,
    #[error(
        "escape sequences not supported (lttng's lexer reads the text `ESCSEQ` in quotes as one)"
    )]
    EscapeSequence,
    #[error("cannot scan {kind} constant {text:?}")]
    BadConstant { kind: &'static str, text: String },
    #[error("expression nests too deeply (lttng's parser stack holds 9,998 entries)")]
    TooDeep,
    #[error("binary operation '{0}' not supported")]
    UnsupportedOperator(&'static str),
    #[error("unary operation '{0}' not allowed on string literal")]
    UnaryOnString(&'static str),
    #[error("logical binary operation '{0}' cannot have string operand")]
    LogicalOnString(&'static str),
    #[error("bitwise binary operation '{0}' cannot have string operand")]
    BitwiseOnString(&'static str),
    #[error("bitwise binary operation '{0}' cannot have floating point operand")]
    BitwiseOnFloat(&'static str),
    #[error("binary operation '{0}' operand type mismatch (string vs number)")]
    TypeMismatch(&'static str),
    #[error("a string literal cannot be the whole filter")]
    StringRoot,
    #[error("a floating point value cannot be the whole filter")]
    FloatRoot,
    #[error("unexpected identifier '{0}' (only $ctx and $app are known)")]
    UnknownGlobal(String),
    #[error("expecting identifier after '{0}'")]
    MissingContextName(String),
    #[error("expecting constant index in array expression")]
    NonConstantIndex,
    #[error("unsupported escape character (only \\\\ and \\* are)")]
    BadEscape,
    #[error("cannot compare two globbing patterns")]
    GlobVsGlob,
    #[error("only the `==` and `!=` operators are allowed with a globbing pattern")]
    GlobOperator,
    #[error("bytecode of {0} bytes exceeds 65,536 bytes with its 48-byte header")]
    TooLarge(usize),
}
