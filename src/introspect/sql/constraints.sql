SELECT c.conrelid::bigint AS table_oid, c.conname::text AS name, c.contype::text AS kind,
       c.condeferrable AS deferrable, c.condeferred AS deferred,
       c.convalidated AS validated, c.connoinherit AS no_inherit,
       CASE WHEN c.contype = 'c' THEN pg_catalog.pg_get_expr(c.conbin, c.conrelid) END AS check_expr,
       CASE WHEN c.contype = 'x' THEN pg_catalog.pg_get_constraintdef(c.oid) END AS definition,
       ARRAY(SELECT a.attname::text
             FROM unnest(c.conkey) WITH ORDINALITY k(attnum, ord)
             JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
             ORDER BY k.ord) AS columns,
       ARRAY(SELECT a.attname::text
             FROM pg_catalog.pg_index i,
                  unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
             JOIN pg_catalog.pg_attribute a ON a.attnum = k.attnum
             WHERE i.indexrelid = c.conindid AND a.attrelid = i.indrelid
               AND c.contype IN ('p', 'u') AND k.ord > i.indnkeyatts
             ORDER BY k.ord) AS include,
       coalesce((SELECT i.indnullsnotdistinct FROM pg_catalog.pg_index i
                 WHERE i.indexrelid = c.conindid AND c.contype = 'u'), false) AS nulls_not_distinct,
       fn.nspname::text AS ref_schema, f.relname::text AS ref_table,
       ARRAY(SELECT a.attname::text
             FROM unnest(c.confkey) WITH ORDINALITY k(attnum, ord)
             JOIN pg_catalog.pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum
             ORDER BY k.ord) AS ref_columns,
       c.confupdtype::text AS on_update, c.confdeltype::text AS on_delete,
       c.confmatchtype::text AS match_type
FROM pg_catalog.pg_constraint c
JOIN pg_catalog.pg_class t ON t.oid = c.conrelid
JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace
LEFT JOIN pg_catalog.pg_class f ON f.oid = c.confrelid
LEFT JOIN pg_catalog.pg_namespace fn ON fn.oid = f.relnamespace
WHERE t.relkind IN ('r', 'p')
  AND n.nspname = ANY ($1::text[])
  AND c.contype IN ('p', 'u', 'c', 'f', 'x')
  AND c.conparentid = 0
  -- A partition's copy of its parent's check (a key or foreign key has conparentid instead).
  AND c.conislocal
ORDER BY c.conrelid, c.conname
