-- Owners of the schemas in scope and of the tables, sequences and types in them (extension
-- members have the extension's: not read). A sequence OWNED BY a column (serial) or an
-- identity column always has its table's owner: the kind keeps only the owners of sequences
-- the model has as standalone (a serial's sequence an inheritance child shares is one).
SELECT kind, schema, name, owner FROM (
  SELECT 'schema'::text AS kind, n.nspname::text AS schema, NULL::text AS name,
         pg_catalog.pg_get_userbyid(n.nspowner)::text AS owner
  FROM pg_catalog.pg_namespace n
  WHERE n.nspname = ANY ($1::text[])
  UNION ALL
  SELECT CASE c.relkind WHEN 'S' THEN 'sequence' ELSE 'table' END, n.nspname::text,
         c.relname::text, pg_catalog.pg_get_userbyid(c.relowner)::text
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p', 'S') AND n.nspname = ANY ($1::text[])
    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                    WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid
                      AND d.deptype = 'e')
  UNION ALL
  SELECT CASE t.typtype WHEN 'd' THEN 'domain' ELSE 'type' END, n.nspname::text,
         t.typname::text, pg_catalog.pg_get_userbyid(t.typowner)::text
  FROM pg_catalog.pg_type t
  JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
  WHERE n.nspname = ANY ($1::text[])
    AND (t.typtype IN ('e', 'd')
         OR (t.typtype = 'c' AND EXISTS (SELECT 1 FROM pg_catalog.pg_class c
                                         WHERE c.oid = t.typrelid AND c.relkind = 'c')))
    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                    WHERE d.classid = 'pg_catalog.pg_type'::regclass AND d.objid = t.oid
                      AND d.deptype = 'e')
) o
ORDER BY 1, 2, 3
