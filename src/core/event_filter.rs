//! The filter of an event rule: the expression the user wrote and the
//! bytecode lttng-ust runs (compiled by `crate::filter` for ustd's own
//! front end, or by liblttng-ctl for the lttng CLI). Pure data.

use std::hash::{Hash, Hasher};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Largest bytecode (data + relocation table) an event rule may carry:
/// liblttng-ctl sends at most 65,536 bytes including its 48-byte header.
pub const MAX_FILTER_DATA: usize = 65_536 - 48;

/// A compiled filter. Two filters are the same rule key when their bytecode
/// is, whatever the spelling of the expression (as lttng-sessiond matches
/// event rules: `trace_ust_ht_match_event` compares the bytecode).
#[derive(Debug, Clone)]
pub struct EventFilter {
    expression: String,
    bytecode: Vec<u8>,
    reloc_offset: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventFilterError {
    #[error("filter bytecode is empty")]
    Empty,
    #[error("filter bytecode of {0} bytes is larger than {MAX_FILTER_DATA}")]
    TooLarge(usize),
    #[error("filter relocation table offset {0} is past the bytecode's {1} bytes")]
    RelocOutside(u32, usize),
}

impl EventFilter {
    /// Checks the bounds lttng-ust checks before it reads the bytecode.
    pub fn new(
        expression: String,
        bytecode: Vec<u8>,
        reloc_offset: u32,
    ) -> Result<Self, EventFilterError> {
        if bytecode.is_empty() {
            return Err(EventFilterError::Empty);
        }
        if bytecode.len() > MAX_FILTER_DATA {
            return Err(EventFilterError::TooLarge(bytecode.len()));
        }
        if reloc_offset as usize > bytecode.len() {
            return Err(EventFilterError::RelocOutside(reloc_offset, bytecode.len()));
        }
        Ok(Self {
            expression,
            bytecode,
            reloc_offset,
        })
    }

    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// Instructions then relocation table: the FILTER payload.
    pub fn bytecode(&self) -> &[u8] {
        &self.bytecode
    }

    pub fn reloc_offset(&self) -> u32 {
        self.reloc_offset
    }
}

impl PartialEq for EventFilter {
    fn eq(&self, other: &Self) -> bool {
        self.bytecode == other.bytecode && self.reloc_offset == other.reloc_offset
    }
}

impl Eq for EventFilter {}

impl Hash for EventFilter {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.bytecode.hash(state);
        self.reloc_offset.hash(state);
    }
}

/// On the wire (ustd's JSON control, `list --json`): the expression, the
/// bytecode as hex and the relocation offset.
#[derive(Serialize, Deserialize)]
struct Repr {
    expression: String,
    bytecode: String,
    reloc_offset: u32,
}

impl Serialize for EventFilter {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let bytecode = self.bytecode.iter().map(|b| format!("{b:02x}")).collect();
        Repr {
            expression: self.expression.clone(),
            bytecode,
            reloc_offset: self.reloc_offset,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for EventFilter {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let r = Repr::deserialize(d)?;
        if r.bytecode.len() % 2 != 0 {
            return Err(D::Error::custom("odd-length bytecode hex"));
        }
        let bytecode = (0..r.bytecode.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(r.bytecode.get(i..i + 2).unwrap_or("zz"), 16))
            .collect::<Result<Vec<u8>, _>>()
            .map_err(D::Error::custom)?;
        Self::new(r.expression, bytecode, r.reloc_offset).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_bytecode_same_key_whatever_the_spelling() {
        let a = EventFilter::new("a==1".into(), vec![1, 2], 1).expect("valid");
        let b = EventFilter::new("a == 1".into(), vec![1, 2], 1).expect("valid");
        let c = EventFilter::new("a == 2".into(), vec![1, 3], 1).expect("valid");
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn json_round_trip_and_bounds() {
        let f = EventFilter::new("x".into(), vec![0x3b, 0xff], 2).expect("valid");
        let j = serde_json::to_string(&f).expect("serialize");
        assert_eq!(
            j,
            r#"{"expression":"x","bytecode":"3bff","reloc_offset":2}"#
        );
        let back: EventFilter = serde_json::from_str(&j).expect("deserialize");
        assert_eq!(back.expression(), "x");
        assert_eq!(back.bytecode(), &[0x3b, 0xff]);
        assert!(EventFilter::new("x".into(), vec![1], 2).is_err());
        assert!(EventFilter::new("x".into(), vec![0; MAX_FILTER_DATA + 1], 0).is_err());
        assert!(serde_json::from_str::<EventFilter>(
            r#"{"expression":"x","bytecode":"3","reloc_offset":0}"#
        )
        .is_err());
    }
}
