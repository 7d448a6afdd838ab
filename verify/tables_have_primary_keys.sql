-- Every table has a primary key.
--
-- What: ordinary and partitioned tables outside the system schemas without a PRIMARY KEY
-- constraint (tables that belong to an extension are left out: they are not yours to change).
-- Why: without a key, a row cannot be addressed reliably (duplicates cannot be told apart or
-- cleaned up), logical replication cannot replicate UPDATE and DELETE (no replica identity),
-- and most tools that sync, audit or edit data assume one.
SELECT n.nspname AS schema,
       c.relname AS table_name
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p')
   AND n.nspname <> 'information_schema'
   AND n.nspname NOT LIKE 'pg\_%'
   AND NOT EXISTS (
         SELECT FROM pg_catalog.pg_constraint k
          WHERE k.conrelid = c.oid AND k.contype = 'p')
   AND NOT EXISTS (
         SELECT FROM pg_catalog.pg_depend d
          WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
            AND d.objid = c.oid
            AND d.deptype = 'e')
 ORDER BY 1, 2;
