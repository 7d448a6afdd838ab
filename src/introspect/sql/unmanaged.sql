-- Objects in scope that reconcile does not manage yet, so plans can list them as skipped.
-- Extension members are left out (the extension owns them).
SELECT kind, schema, name, on_table, args FROM (
  SELECT 'materialized view' AS kind,
         n.nspname::text AS schema, c.relname::text AS name, NULL::text AS on_table,
         NULL::text AS args, c.oid,
         'pg_catalog.pg_class'::regclass AS catalog
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind = 'm' AND n.nspname = ANY ($1::text[])
  UNION ALL
  SELECT CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate' ELSE 'function' END,
         n.nspname::text, p.proname::text, NULL::text,
         pg_catalog.oidvectortypes(p.proargtypes), p.oid, 'pg_catalog.pg_proc'::regclass
  FROM pg_catalog.pg_proc p
  JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
  WHERE n.nspname = ANY ($1::text[])
  UNION ALL
  SELECT 'trigger', n.nspname::text, t.tgname::text, c.relname::text, NULL, t.oid,
         'pg_catalog.pg_trigger'::regclass
  FROM pg_catalog.pg_trigger t
  JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE NOT t.tgisinternal AND n.nspname = ANY ($1::text[])
  UNION ALL
  SELECT 'policy', n.nspname::text, pol.polname::text, c.relname::text, NULL, pol.oid,
         'pg_catalog.pg_policy'::regclass
  FROM pg_catalog.pg_policy pol
  JOIN pg_catalog.pg_class c ON c.oid = pol.polrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = ANY ($1::text[])
) o
WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                  WHERE d.classid = o.catalog AND d.objid = o.oid AND d.deptype = 'e')
ORDER BY kind, schema, name, on_table, args
