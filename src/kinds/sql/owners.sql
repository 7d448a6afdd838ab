-- Owners of the schemas in scope and of the tables, sequences, types, views, materialized
-- views, functions, procedures and aggregates in them (extension members have the
-- extension's: not read). A routine's argument types are printed as the functions and
-- aggregates queries print them: its identity in those kinds. A sequence OWNED BY a column
-- (serial) or an identity column always has its table's owner: the kind keeps only the owners
-- of sequences the model has as standalone (a serial's sequence an inheritance child shares
-- is one).
SELECT kind, schema, name, args, owner FROM (
  SELECT 'schema'::text AS kind, n.nspname::text AS schema, NULL::text AS name,
         NULL::text[] AS args, pg_catalog.pg_get_userbyid(n.nspowner)::text AS owner
  FROM pg_catalog.pg_namespace n
  WHERE n.nspname = ANY ($1::text[])
  UNION ALL
  SELECT CASE c.relkind WHEN 'S' THEN 'sequence' WHEN 'v' THEN 'view'
                        WHEN 'm' THEN 'materialized view' ELSE 'table' END, n.nspname::text,
         c.relname::text, NULL, pg_catalog.pg_get_userbyid(c.relowner)::text
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p', 'S', 'v', 'm') AND n.nspname = ANY ($1::text[])
    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                    WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid
                      AND d.deptype = 'e')
  UNION ALL
  SELECT CASE t.typtype WHEN 'd' THEN 'domain' ELSE 'type' END, n.nspname::text,
         t.typname::text, NULL, pg_catalog.pg_get_userbyid(t.typowner)::text
  FROM pg_catalog.pg_type t
  JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
  WHERE n.nspname = ANY ($1::text[])
    AND (t.typtype IN ('e', 'd')
         OR (t.typtype = 'c' AND EXISTS (SELECT 1 FROM pg_catalog.pg_class c
                                         WHERE c.oid = t.typrelid AND c.relkind = 'c')))
    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                    WHERE d.classid = 'pg_catalog.pg_type'::regclass AND d.objid = t.oid
                      AND d.deptype = 'e')
  UNION ALL
  SELECT CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate' ELSE 'function' END,
         n.nspname::text, p.proname::text,
         ARRAY(SELECT pg_catalog.format_type(x.t, NULL)
               FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY AS x(t, i)
               ORDER BY x.i),
         pg_catalog.pg_get_userbyid(p.proowner)::text
  FROM pg_catalog.pg_proc p
  JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
  WHERE p.prokind IN ('f', 'p', 'a') AND n.nspname = ANY ($1::text[])
    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                    WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid
                      AND d.deptype = 'e')
) o
ORDER BY 1, 2, 3, 4
