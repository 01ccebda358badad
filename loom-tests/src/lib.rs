//! Loom models of ustd core code; see tests/.
