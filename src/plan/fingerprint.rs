//! A fingerprint of the live model a plan was made against.
//!
//! A plan reviewed in a pull request is only safe to apply to the database it was made for;
//! `apply` re-introspects and compares fingerprints before running anything. The model is
//! made of sorted maps, so its JSON form — and this hash — is deterministic.

use sha2::{Digest, Sha256};

use crate::model::Schema;

/// `sha256:<hex>` of the model's canonical JSON.
pub fn fingerprint(schema: &Schema) -> String {
    // Streamed into the hash: at 10,000 tables the JSON text alone is ~70 MB. Buffered: the
    // serializer writes a token at a time.
    let mut buffered = std::io::BufWriter::with_capacity(64 * 1024, Sha256::new());
    let written = serde_json::to_writer(&mut buffered, schema).is_ok();
    let digest = match buffered.into_inner() {
        Ok(hashing) if written => hashing.finalize(),
        // The model is plain data with string keys; should that ever change, hash its
        // (equally deterministic) debug form rather than a constant.
        _ => Sha256::digest(format!("{schema:?}").as_bytes()),
    };
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
    use sha2::{Digest, Sha256};

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
        // The same hash as of the whole JSON text (plans written before streaming still
        // match).
        let whole = Sha256::digest(serde_json::to_vec(&one).unwrap());
        let hex: String = whole.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(fingerprint(&one), format!("sha256:{hex}"));
        let json = serde_json::to_string(&one).unwrap();
        assert!(json.contains(r#""public.\"My Table\"""#), "{json}");
    }

    /// A model whose JSON is many times the hashing buffer hashes as its whole text does.
    #[test]
    fn a_large_model_hashes_as_its_whole_text() {
        let mut large = Schema::default();
        for i in 0..5_000 {
            large.tables.insert(
                QualifiedName::new(
                    Ident::new("public").unwrap(),
                    Ident::new(format!("table_{i}")).unwrap(),
                ),
                Table::default(),
            );
        }
        let text = serde_json::to_vec(&large).unwrap();
        assert!(text.len() > 4 * 64 * 1024, "{} bytes", text.len());
        let hex: String = Sha256::digest(&text)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(fingerprint(&large), format!("sha256:{hex}"));
    }
}
