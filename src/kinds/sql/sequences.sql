-- Standalone sequences (identity sequences belong to their column; see columns.sql).
SELECT n.nspname::text AS schema, c.relname::text AS name,
       pg_catalog.format_type(s.seqtypid, NULL) AS seq_type,
       s.seqstart AS seq_start, s.seqincrement AS seq_increment, s.seqmin AS seq_min,
       s.seqmax AS seq_max, s.seqcache AS seq_cache, s.seqcycle AS seq_cycle,
       owner_ns.nspname::text AS owner_schema, owner.relname::text AS owner_table,
       owner_col.attname::text AS owner_column
FROM pg_catalog.pg_sequence s
JOIN pg_catalog.pg_class c ON c.oid = s.seqrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_depend d
       ON d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid
      AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.deptype = 'a'
      AND d.refobjsubid > 0
LEFT JOIN pg_catalog.pg_class owner ON owner.oid = d.refobjid
LEFT JOIN pg_catalog.pg_namespace owner_ns ON owner_ns.oid = owner.relnamespace
LEFT JOIN pg_catalog.pg_attribute owner_col
       ON owner_col.attrelid = d.refobjid AND owner_col.attnum = d.refobjsubid
WHERE n.nspname = ANY ($1::text[])
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend i
                  WHERE i.classid = 'pg_catalog.pg_class'::regclass AND i.objid = c.oid
                    AND i.deptype IN ('i', 'e'))
ORDER BY 1, 2
