-- No constraint is left NOT VALID.
--
-- What: table and domain constraints (checks, foreign keys, NOT NULL) whose convalidated is
-- false.
-- Why: a constraint added with NOT VALID is enforced for new and updated rows only; the rows
-- that were there before were never checked and may violate it, so queries (and people) that
-- trust it can be wrong. Finish the job with ALTER TABLE ... VALIDATE CONSTRAINT (it takes a
-- SHARE UPDATE EXCLUSIVE lock: reads and writes continue). `reconcile apply` adds checks and
-- foreign keys NOT VALID and validates them in a later step, so a verify that overlaps an
-- apply may report one briefly.
SELECT n.nspname AS schema,
       coalesce(c.relname, pg_catalog.format_type(k.contypid, NULL)) AS on_object,
       k.conname AS constraint_name,
       pg_catalog.pg_get_constraintdef(k.oid) AS definition
  FROM pg_catalog.pg_constraint k
  JOIN pg_catalog.pg_namespace n ON n.oid = k.connamespace
  LEFT JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
 WHERE NOT k.convalidated
   AND n.nspname <> 'information_schema'
   AND n.nspname NOT LIKE 'pg\_%'
 ORDER BY 1, 2, 3;
