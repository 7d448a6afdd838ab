-- Objects in scope that reconcile does not manage yet, so plans can list them as skipped.
-- Extension members are left out (the extension owns them).
SELECT kind, schema, name, on_table, args FROM (
  -- Functions, procedures and aggregates are kinds of their own; window functions (C only)
  -- are not.
  SELECT 'function' AS kind,
         n.nspname::text AS schema, p.proname::text AS name, NULL::text AS on_table,
         pg_catalog.oidvectortypes(p.proargtypes) AS args, p.oid,
         'pg_catalog.pg_proc'::regclass AS catalog
  FROM pg_catalog.pg_proc p
  JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
  WHERE p.prokind = 'w' AND n.nspname = ANY ($1::text[])
  UNION ALL
  -- Policies of the tables the model leaves out (src/introspect/sql/tables.sql); the others
  -- are managed (src/kinds/sql/policies.sql).
  SELECT 'policy', n.nspname::text, pol.polname::text, c.relname::text, NULL, pol.oid,
         'pg_catalog.pg_policy'::regclass
  FROM pg_catalog.pg_policy pol
  JOIN pg_catalog.pg_class c ON c.oid = pol.polrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = ANY ($1::text[])
    AND (c.relkind NOT IN ('r', 'p')
         OR (NOT c.relispartition
             AND EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i WHERE i.inhrelid = c.oid)))
) o
WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                  WHERE d.classid = o.catalog AND d.objid = o.oid AND d.deptype = 'e')
ORDER BY kind, schema, name, on_table, args
