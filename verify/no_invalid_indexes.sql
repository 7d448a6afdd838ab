-- No index is INVALID.
--
-- What: every index outside the system schemas whose pg_index.indisvalid is false.
-- Why: a CREATE INDEX CONCURRENTLY (or REINDEX CONCURRENTLY) that failed or was cancelled
-- leaves an INVALID index behind. The planner never uses it, yet every write still
-- maintains it, and a unique one can still reject rows. `reconcile apply` drops and rebuilds
-- the ones the desired state declares; any other must be dropped (DROP INDEX CONCURRENTLY)
-- or rebuilt by hand. An index being built concurrently right now is INVALID until the build
-- finishes, so a verify that overlaps a build may report it.
SELECT n.nspname AS schema,
       t.relname AS table_name,
       c.relname AS index_name,
       pg_get_indexdef(i.indexrelid) AS definition
  FROM pg_catalog.pg_index i
  JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
  JOIN pg_catalog.pg_class t ON t.oid = i.indrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE NOT i.indisvalid
   AND n.nspname <> 'information_schema'
   AND n.nspname NOT LIKE 'pg\_%'
 ORDER BY 1, 2, 3;
