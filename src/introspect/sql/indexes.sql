-- Indexes that do not back a primary key, unique or exclusion constraint; and, flagged
-- `attached`, every partition's index that is part of its partitioned table's index (it
-- belongs to the parent's index: only its name is of use, as a name taken).
SELECT i.indrelid::bigint AS table_oid, ic.relname::text AS name,
       ic.relkind = 'I' AS partitioned, ic.relispartition AS attached,
       i.indisunique AS is_unique, am.amname::text AS method,
       i.indnkeyatts::int AS key_count, i.indisvalid AS valid,
       i.indnullsnotdistinct AS nulls_not_distinct,
       pg_catalog.pg_get_indexdef(i.indexrelid) AS definition,
       ARRAY(SELECT pg_catalog.pg_get_indexdef(i.indexrelid, k.ord::int, true)
             FROM generate_series(1, i.indnatts) AS k(ord) ORDER BY k.ord) AS key_texts,
       ARRAY(SELECT k.attnum::int FROM unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
             ORDER BY k.ord) AS key_columns,
       ARRAY(SELECT o.opt::int FROM unnest(i.indoption) WITH ORDINALITY o(opt, ord)
             ORDER BY o.ord) AS key_options,
       pg_catalog.pg_get_expr(i.indpred, i.indrelid) AS predicate
FROM pg_catalog.pg_index i
JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
JOIN pg_catalog.pg_class t ON t.oid = i.indrelid
JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace
JOIN pg_catalog.pg_am am ON am.oid = ic.relam
WHERE t.relkind IN ('r', 'p')
  AND n.nspname = ANY ($1::text[])
  AND (ic.relispartition
       OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint c
                      WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid
                        AND c.contype IN ('p', 'u', 'x')))
ORDER BY i.indrelid, ic.relname
