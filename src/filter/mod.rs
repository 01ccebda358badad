//! Compiler from the lttng filter language to the bytecode lttng-ust 2.13
//! interprets: a pure function from expression text to bytecode + relocation
//! table, byte-identical to what liblttng-ctl 2.13 sends for the same text
//! (`lttng enable-event --filter`). No I/O.
//!
//! The pipeline mirrors lttng-tools 2.13's (facts only, no code taken):
//! [`lexer`] (flex rules, longest match) -> [`parser`] (shift-reduce on an
//! explicit stack that also counts bison's parser-stack entries, so nesting is
//! bounded exactly where lttng's is and nothing recurses) -> [`check`] (the IR
//! typing and string/glob validation passes) -> [`codegen`] (bytecode and
//! relocation table). Every phase is iterative: no input can overflow the stack.

mod check;
mod codegen;
mod error;
mod lexer;
mod number;
mod parser;

pub use error::{FilterError, FilterErrorKind};

/// Longest expression liblttng-ctl accepts, in bytes (`LTTNG_FILTER_MAX_LEN - 1`).
pub const MAX_EXPRESSION_LEN: usize = 65_535;
/// Largest `struct lttng_bytecode` (48-byte header + data) liblttng-ctl sends,
/// and the largest FILTER payload lttng-ust accepts.
pub const MAX_BYTECODE_LEN: usize = 65_536;
/// Size of liblttng-ctl's `struct lttng_bytecode` header (len, reloc offset,
/// seqnum, 32 bytes of padding), which counts against [`MAX_BYTECODE_LEN`].
pub const BYTECODE_HEADER_LEN: usize = 48;

/// A compiled filter: what lttng-ust receives in LTTNG_UST_ABI_FILTER.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Bytecode {
    /// Instructions followed by the relocation table (`data_size` bytes).
    pub data: Vec<u8>,
    /// Offset of the relocation table in `data` (`reloc_offset`).
    pub reloc_offset: u32,
}

impl Bytecode {
    /// The relocation table: (instruction offset, symbol name) pairs.
    pub fn relocations(&self) -> impl Iterator<Item = (u16, &[u8])> + '_ {
        let mut rest = self.data.get(self.reloc_offset as usize..).unwrap_or(&[]);
        std::iter::from_fn(move || {
            let (off, tail) = rest.split_first_chunk::<2>()?;
            let end = tail.iter().position(|&b| b == 0)?;
            let name = &tail[..end];
            rest = &tail[end + 1..];
            Some((u16::from_le_bytes(*off), name))
        })
    }
}

/// Compiles `expression` exactly as liblttng-ctl 2.13 would, or says where
/// and why it would refuse it.
pub fn compile(expression: &str) -> Result<Bytecode, FilterError> {
    let src = expression.as_bytes();
    if src.is_empty() {
        return Err(FilterError::new(0, FilterErrorKind::Empty));
    }
    if src.len() > MAX_EXPRESSION_LEN {
        return Err(FilterError::new(
            MAX_EXPRESSION_LEN,
            FilterErrorKind::ExpressionTooLong,
        ));
    }
    if let Some(nul) = src.iter().position(|&b| b == 0) {
        return Err(FilterError::new(nul, FilterErrorKind::Nul));
    }
    let ast = parser::parse(src)?;
    let types = check::check(&ast)?;
    codegen::generate(&ast, &types)
}

#[cfg(test)]
mod tests;
