//! CREATE INDEX from the model.

use crate::ident::quote_ident;
use crate::model::{Ident, Index, IndexTarget, QualifiedName};

pub fn create_index(
    table: &QualifiedName,
    name: &Ident,
    index: &Index,
    concurrently: bool,
) -> String {
    create(table, name, index, concurrently, false)
}

/// `CREATE INDEX ... ON ONLY` a partitioned table: the parent's index alone, which the
/// partitions' indexes are attached to afterwards.
pub fn create_index_on_only(table: &QualifiedName, name: &Ident, index: &Index) -> String {
    create(table, name, index, false, true)
}

fn create(
    table: &QualifiedName,
    name: &Ident,
    index: &Index,
    concurrently: bool,
    only: bool,
) -> String {
    let keys: Vec<String> = index
        .keys
        .iter()
        .map(|k| {
            let mut key = match &k.target {
                IndexTarget::Column(c) => c.quoted(),
                IndexTarget::Expression(e) => format!("({e})"),
            };
            if let Some(collation) = &k.collation {
                key.push_str(&format!(" COLLATE {collation}"));
            }
            if let Some(opclass) = &k.opclass {
                key.push_str(&format!(" {opclass}"));
            }
            if k.descending {
                key.push_str(" DESC");
            }
            if k.nulls_first != k.descending {
                key.push_str(if k.nulls_first {
                    " NULLS FIRST"
                } else {
                    " NULLS LAST"
                });
            }
            key
        })
        .collect();
    let mut sql = format!(
        "CREATE {}INDEX {}IF NOT EXISTS {} ON {}{} USING {} ({})",
        if index.unique { "UNIQUE " } else { "" },
        if concurrently { "CONCURRENTLY " } else { "" },
        name.quoted(),
        if only { "ONLY " } else { "" },
        table.quoted(),
        quote_ident(&index.method),
        keys.join(", ")
    );
    if !index.include.is_empty() {
        let include: Vec<String> = index.include.iter().map(Ident::quoted).collect();
        sql.push_str(&format!(" INCLUDE ({})", include.join(", ")));
    }
    if index.nulls_not_distinct {
        sql.push_str(" NULLS NOT DISTINCT");
    }
    if let Some(predicate) = &index.predicate {
        sql.push_str(&format!(" WHERE ({predicate})"));
    }
    sql
}
