-- Tables in scope: ordinary and partitioned tables, partitions with their parent and bound.
-- Inheritance children (INHERITS, not partitions) are reported so the caller can say they
-- were skipped.
SELECT c.oid::bigint AS oid, n.nspname::text AS schema, c.relname::text AS name,
       c.relispartition AS is_partition,
       (NOT c.relispartition
        AND EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i WHERE i.inhrelid = c.oid)) AS inherits,
       c.relrowsecurity AS rls, c.relforcerowsecurity AS force_rls,
       c.reltuples::float8 AS estimated_rows,
       c.relnatts::int4 AS column_slots,
       CASE WHEN c.relkind = 'p' THEN pg_catalog.pg_get_partkeydef(c.oid) END AS partition_by,
       pn.nspname::text AS parent_schema, p.relname::text AS parent_name,
       CASE WHEN c.relispartition THEN pg_catalog.pg_get_expr(c.relpartbound, c.oid) END AS bound
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_inherits pi ON c.relispartition AND pi.inhrelid = c.oid
LEFT JOIN pg_catalog.pg_class p ON p.oid = pi.inhparent
LEFT JOIN pg_catalog.pg_namespace pn ON pn.oid = p.relnamespace
WHERE c.relkind IN ('r', 'p')
  AND n.nspname = ANY ($1::text[])
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                  WHERE d.classid = 'pg_catalog.pg_class'::regclass
                    AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 2, 3
