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
    match serde_json::to_vec(schema) {
        Ok(bytes) => hasher.update(&bytes),
        // The model is plain data with string keys; should that ever change, hash its
        // (equally deterministic) debug form rather than a constant.
        Err(_) => hasher.update(format!("{schema:?}").as_bytes()),
    }
    let digest = hasher.finalize();
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for byte in digest {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::fingerprint;
    use crate::model::{Ident, QualifiedName, Schema, Table};

    #[test]
    fn differs_when_the_model_differs() {
        let empty = Schema::default();
        let mut one = Schema::default();
        one.tables.insert(
            QualifiedName::new(
                Ident::new("public").unwrap(),
                Ident::new("My Table").unwrap(),
            ),
            Table::default(),
        );
        assert_ne!(fingerprint(&empty), fingerprint(&one));
        assert_eq!(fingerprint(&one), fingerprint(&one.clone()));
        let json = serde_json::to_string(&one).unwrap();
        assert!(json.contains(r#""public.\"My Table\"""#), "{json}");
    }
}
