-- Comments (COMMENT ON) on the objects in the schemas in scope, one row per comment, with
-- what identifies the object: its kind, schema and name, its table for a part of one (a
-- column, index, constraint, policy or trigger), and the argument types of a routine.
-- Comments on objects the model leaves out (extension members, skipped relations, the index
-- behind a key, domain constraints) are dropped once every object is read. The comment
-- every database has on `public` ('standard public schema') is not one anybody wrote.
SELECT kind, schema, name, parent, args, description FROM (
  SELECT CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                        WHEN 'S' THEN 'sequence' WHEN 'i' THEN 'index' WHEN 'I' THEN 'index'
                        ELSE 'table' END AS kind,
         n.nspname::text AS schema, c.relname::text AS name,
         (SELECT t.relname::text FROM pg_catalog.pg_index i
            JOIN pg_catalog.pg_class t ON t.oid = i.indrelid
           WHERE i.indexrelid = c.oid) AS parent,
         NULL::text AS args, d.description
  FROM pg_catalog.pg_description d
  JOIN pg_catalog.pg_class c ON c.oid = d.objoid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE d.classoid = 'pg_catalog.pg_class'::regclass AND d.objsubid = 0
    AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'i', 'I')
    AND n.nspname = ANY ($1::text[])
  UNION ALL
  SELECT 'column', n.nspname::text, a.attname::text, c.relname::text, NULL, d.description
  FROM pg_catalog.pg_description d
  JOIN pg_catalog.pg_class c ON c.oid = d.objoid
  JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.objsubid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE d.classoid = 'pg_catalog.pg_class'::regclass AND d.objsubid > 0
    AND NOT a.attisdropped AND n.nspname = ANY ($1::text[])
  UNION ALL
  SELECT 'constraint', n.nspname::text, k.conname::text, c.relname::text, NULL, d.description
  FROM pg_catalog.pg_description d
  JOIN pg_catalog.pg_constraint k ON k.oid = d.objoid
  JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE d.classoid = 'pg_catalog.pg_constraint'::regclass AND n.nspname = ANY ($1::text[])
  UNION ALL
  SELECT CASE t.typtype WHEN 'd' THEN 'domain' ELSE 'type' END, n.nspname::text,
         t.typname::text, NULL, NULL, d.description
  FROM pg_catalog.pg_description d
  JOIN pg_catalog.pg_type t ON t.oid = d.objoid
  JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
  LEFT JOIN pg_catalog.pg_class r ON r.oid = t.typrelid
  WHERE d.classoid = 'pg_catalog.pg_type'::regclass AND n.nspname = ANY ($1::text[])
    AND (t.typtype IN ('e', 'd') OR (t.typtype = 'c' AND r.relkind = 'c'))
  UNION ALL
  SELECT 'schema', n.nspname::text, n.nspname::text, NULL, NULL, d.description
  FROM pg_catalog.pg_description d
  JOIN pg_catalog.pg_namespace n ON n.oid = d.objoid
  WHERE d.classoid = 'pg_catalog.pg_namespace'::regclass AND n.nspname = ANY ($1::text[])
    AND NOT (n.nspname = 'public' AND d.description = 'standard public schema')
  UNION ALL
  SELECT 'policy', n.nspname::text, p.polname::text, c.relname::text, NULL, d.description
  FROM pg_catalog.pg_description d
  JOIN pg_catalog.pg_policy p ON p.oid = d.objoid
  JOIN pg_catalog.pg_class c ON c.oid = p.polrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE d.classoid = 'pg_catalog.pg_policy'::regclass AND n.nspname = ANY ($1::text[])
  UNION ALL
  SELECT 'trigger', n.nspname::text, g.tgname::text, c.relname::text, NULL, d.description
  FROM pg_catalog.pg_description d
  JOIN pg_catalog.pg_trigger g ON g.oid = d.objoid
  JOIN pg_catalog.pg_class c ON c.oid = g.tgrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE d.classoid = 'pg_catalog.pg_trigger'::regclass AND NOT g.tgisinternal
    AND n.nspname = ANY ($1::text[])
  UNION ALL
  SELECT CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate'
                        ELSE 'function' END,
         n.nspname::text, p.proname::text, NULL, pg_catalog.oidvectortypes(p.proargtypes),
         d.description
  FROM pg_catalog.pg_description d
  JOIN pg_catalog.pg_proc p ON p.oid = d.objoid
  JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
  WHERE d.classoid = 'pg_catalog.pg_proc'::regclass AND n.nspname = ANY ($1::text[])
) o
ORDER BY 1, 2, 3, 4, 5
