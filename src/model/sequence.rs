//! Sequence options with PostgreSQL's defaults made explicit.
//!
//! The catalog always reports every option; YAML writes only the ones that differ from the
//! defaults. Keeping the full set in the model (and computing defaults in one place) makes both
//! producers agree without either guessing.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum SequenceType {
    Smallint,
    Integer,
    Bigint,
}

impl SequenceType {
    pub fn sql(self) -> &'static str {
        match self {
            SequenceType::Smallint => "smallint",
            SequenceType::Integer => "integer",
            SequenceType::Bigint => "bigint",
        }
    }

    /// From canonical type text (`format_type` spelling).
    pub fn from_type(data_type: &str) -> Option<Self> {
        match data_type {
            "smallint" => Some(SequenceType::Smallint),
            "integer" => Some(SequenceType::Integer),
            "bigint" => Some(SequenceType::Bigint),
            _ => None,
        }
    }

    fn max(self) -> i64 {
        match self {
            SequenceType::Smallint => i64::from(i16::MAX),
            SequenceType::Integer => i64::from(i32::MAX),
            SequenceType::Bigint => i64::MAX,
        }
    }

    fn min(self) -> i64 {
        match self {
            SequenceType::Smallint => i64::from(i16::MIN),
            SequenceType::Integer => i64::from(i32::MIN),
            SequenceType::Bigint => i64::MIN,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SequenceOptions {
    pub data_type: SequenceType,
    pub start: i64,
    pub increment: i64,
    pub min_value: i64,
    pub max_value: i64,
    pub cache: i64,
    pub cycle: bool,
}

impl SequenceOptions {
    /// What `CREATE SEQUENCE s AS <type> INCREMENT <increment>` gives.
    pub fn defaults(data_type: SequenceType, increment: i64) -> Self {
        let (min_value, max_value) = if increment < 0 {
            (data_type.min(), -1)
        } else {
            (1, data_type.max())
        };
        Self {
            data_type,
            start: if increment < 0 { max_value } else { min_value },
            increment,
            min_value,
            max_value,
            cache: 1,
            cycle: false,
        }
    }

    /// Builds options from the explicitly given ones, filling the rest as PostgreSQL would.
    pub fn with(
        data_type: SequenceType,
        increment: Option<i64>,
        min_value: Option<i64>,
        max_value: Option<i64>,
        start: Option<i64>,
        cache: Option<i64>,
        cycle: Option<bool>,
    ) -> Self {
        let base = Self::defaults(data_type, increment.unwrap_or(1));
        let min_value = min_value.unwrap_or(base.min_value);
        let max_value = max_value.unwrap_or(base.max_value);
        let start = start.unwrap_or(if base.increment < 0 {
            max_value
        } else {
            min_value
        });
        Self {
            start,
            min_value,
            max_value,
            cache: cache.unwrap_or(1),
            cycle: cycle.unwrap_or(false),
            ..base
        }
    }

    /// True when every option is what a bare sequence of this type would get.
    pub fn is_default(&self) -> bool {
        *self == Self::defaults(self.data_type, 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descending_defaults_start_at_max() {
        let o = SequenceOptions::with(
            SequenceType::Integer,
            Some(-1),
            None,
            None,
            None,
            None,
            None,
        );
        assert_eq!(
            (o.min_value, o.max_value, o.start),
            (i64::from(i32::MIN), -1, -1)
        );
    }

    #[test]
    fn explicit_min_moves_default_start() {
        let o = SequenceOptions::with(
            SequenceType::Bigint,
            None,
            Some(100),
            None,
            None,
            None,
            None,
        );
        assert_eq!(o.start, 100);
        assert!(!o.is_default());
    }
}
