//! Typed rows of the catalog queries, one struct per `sql/*.sql` file.

use sqlx::Row;
use sqlx::postgres::PgRow;

use crate::model::{SequenceOptions, SequenceType};

type R<T> = Result<T, sqlx::Error>;

pub struct EnumRow {
    pub schema: String,
    pub name: String,
    pub labels: Vec<String>,
}

impl EnumRow {
    pub fn read(row: &PgRow) -> R<Self> {
        Ok(Self {
            schema: row.try_get("schema")?,
            name: row.try_get("name")?,
            labels: row.try_get("labels")?,
        })
    }
}

pub struct SeqValues {
    pub data_type: String,
    pub start: i64,
    pub increment: i64,
    pub min_value: i64,
    pub max_value: i64,
    pub cache: i64,
    pub cycle: bool,
}

impl SeqValues {
    /// Reads the `seq_*` columns shared by sequences.sql and columns.sql.
    pub(crate) fn read(row: &PgRow, data_type: String) -> R<Self> {
        Ok(Self {
            data_type,
            start: row.try_get("seq_start")?,
            increment: row.try_get("seq_increment")?,
            min_value: row.try_get("seq_min")?,
            max_value: row.try_get("seq_max")?,
            cache: row.try_get("seq_cache")?,
            cycle: row.try_get("seq_cycle")?,
        })
    }

    pub fn options(&self) -> Result<SequenceOptions, String> {
        Ok(SequenceOptions {
            data_type: SequenceType::from_type(&self.data_type)
                .ok_or_else(|| format!("a sequence of type {}", self.data_type))?,
            start: self.start,
            increment: self.increment,
            min_value: self.min_value,
            max_value: self.max_value,
            cache: self.cache,
            cycle: self.cycle,
        })
    }
}

pub struct TableRow {
    pub oid: i64,
    pub schema: String,
    pub name: String,
    pub is_partition: bool,
    pub inherits: bool,
    pub rls: bool,
    pub force_rls: bool,
    pub estimated_rows: f64,
    /// Columns the table has had room for (`relnatts`: its columns, dropped ones included).
    pub column_slots: i32,
    pub partition_by: Option<String>,
    pub parent_schema: Option<String>,
    pub parent_name: Option<String>,
    pub bound: Option<String>,
}

impl TableRow {
    pub fn read(row: &PgRow) -> R<Self> {
        Ok(Self {
            oid: row.try_get("oid")?,
            schema: row.try_get("schema")?,
            name: row.try_get("name")?,
            is_partition: row.try_get("is_partition")?,
            inherits: row.try_get("inherits")?,
            rls: row.try_get("rls")?,
            force_rls: row.try_get("force_rls")?,
            estimated_rows: row.try_get("estimated_rows")?,
            column_slots: row.try_get("column_slots")?,
            partition_by: row.try_get("partition_by")?,
            parent_schema: row.try_get("parent_schema")?,
            parent_name: row.try_get("parent_name")?,
            bound: row.try_get("bound")?,
        })
    }
}

pub struct ColumnRow {
    pub table_oid: i64,
    pub name: String,
    pub data_type: String,
    pub not_null: bool,
    pub default_expr: Option<String>,
    pub identity: String,
    pub generated: String,
    pub collation: Option<String>,
    pub seq: Option<SeqValues>,
}

impl ColumnRow {
    pub fn read(row: &PgRow) -> R<Self> {
        let seq_type: Option<String> = row.try_get("seq_type")?;
        let seq = seq_type.map(|t| SeqValues::read(row, t)).transpose()?;
        Ok(Self {
            table_oid: row.try_get("table_oid")?,
            name: row.try_get("name")?,
            data_type: row.try_get("data_type")?,
            not_null: row.try_get("not_null")?,
            default_expr: row.try_get("default_expr")?,
            identity: row.try_get("identity")?,
            generated: row.try_get("generated")?,
            collation: row.try_get("collation")?,
            seq,
        })
    }
}

pub struct ConstraintRow {
    pub table_oid: i64,
    pub name: String,
    pub kind: String,
    pub deferrable: bool,
    pub deferred: bool,
    pub validated: bool,
    pub no_inherit: bool,
    pub check_expr: Option<String>,
    pub definition: Option<String>,
    pub columns: Vec<String>,
    pub include: Vec<String>,
    pub nulls_not_distinct: bool,
    pub ref_schema: Option<String>,
    pub ref_table: Option<String>,
    pub ref_columns: Vec<String>,
    pub on_update: String,
    pub on_delete: String,
    pub match_type: String,
}

impl ConstraintRow {
    pub fn read(row: &PgRow) -> R<Self> {
        Ok(Self {
            table_oid: row.try_get("table_oid")?,
            name: row.try_get("name")?,
            kind: row.try_get("kind")?,
            deferrable: row.try_get("deferrable")?,
            deferred: row.try_get("deferred")?,
            validated: row.try_get("validated")?,
            no_inherit: row.try_get("no_inherit")?,
            check_expr: row.try_get("check_expr")?,
            definition: row.try_get("definition")?,
            columns: row.try_get("columns")?,
            include: row.try_get("include")?,
            nulls_not_distinct: row.try_get("nulls_not_distinct")?,
            ref_schema: row.try_get("ref_schema")?,
            ref_table: row.try_get("ref_table")?,
            ref_columns: row.try_get("ref_columns")?,
            on_update: row.try_get("on_update")?,
            on_delete: row.try_get("on_delete")?,
            match_type: row.try_get("match_type")?,
        })
    }
}

pub struct IndexRow {
    pub table_oid: i64,
    pub name: String,
    /// The index of a partitioned table (relkind `I`).
    pub partitioned: bool,
    /// A partition's index attached to its partitioned table's index.
    pub attached: bool,
    pub is_unique: bool,
    pub method: String,
    pub key_count: i32,
    pub valid: bool,
    pub nulls_not_distinct: bool,
    pub definition: String,
    pub key_texts: Vec<String>,
    pub key_columns: Vec<i32>,
    pub key_options: Vec<i32>,
    pub predicate: Option<String>,
}

impl IndexRow {
    pub fn read(row: &PgRow) -> R<Self> {
        Ok(Self {
            table_oid: row.try_get("table_oid")?,
            name: row.try_get("name")?,
            partitioned: row.try_get("partitioned")?,
            attached: row.try_get("attached")?,
            is_unique: row.try_get("is_unique")?,
            method: row.try_get("method")?,
            key_count: row.try_get("key_count")?,
            valid: row.try_get("valid")?,
            nulls_not_distinct: row.try_get("nulls_not_distinct")?,
            definition: row.try_get("definition")?,
            key_texts: row.try_get("key_texts")?,
            key_columns: row.try_get("key_columns")?,
            key_options: row.try_get("key_options")?,
            predicate: row.try_get("predicate")?,
        })
    }
}
