//! A fingerprint of the live model a plan was made against.
//!
//! A plan reviewed in a pull request is only safe to apply to the database it was made for;
//! `apply` re-introspects and compares fingerprints before running anything. The model is
//! made of sorted maps, so its JSON form — and this hash — is deterministic.

use sha2::{Digest, Sha256};

use crate::model::Schema;

/// `sha256:<hex>` of the model's canonical JSON.
pub fn fingerprint(schema: &Schema) -> String {
    let mut hasher = Sha256::new();
    // Serialising plain data into a Vec cannot fail; an empty hash would still be stable.
    let bytes = serde_json::to_vec(schema).unwrap_or_default();
    hasher.update(&bytes);
    let digest = hasher.finalize();
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for byte in digest {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}
