-- Privileges in scope, one row per (object, grantee, privilege): the ACL of every schema,
-- table, view, materialized view, column, sequence, type and routine that has one, exploded,
-- without the owner's own entries (the owner holds them implicitly) and with the grantors
-- merged (`grantable` is true when any grantor gave the grant option). Objects whose ACL is NULL have PostgreSQL's
-- built-in default and give no row, and PUBLIC's default privilege is no row either. A type or routine whose ACL lacks PUBLIC's built-in
-- default privilege, and schema public lacking the PUBLIC USAGE initdb gives it, give a row
-- with `grantable` NULL: the default is revoked. An identity column's sequence (an internal
-- dependency of its table) has no privileges of its own in the model; a partitioned table's
-- internal dependency on its own partition key is no reason to leave its privileges out.
WITH objects AS (
  SELECT 'schema'::text AS kind, n.nspname::text AS schema, NULL::text AS name,
         NULL::text AS column_name, NULL::text AS args, n.nspacl AS acl, n.nspowner AS owner,
         CASE WHEN n.nspname = 'public' THEN 'USAGE' END AS public_default
  FROM pg_catalog.pg_namespace n
  WHERE n.nspacl IS NOT NULL AND n.nspname = ANY ($1::text[])
  UNION ALL
  SELECT CASE c.relkind WHEN 'S' THEN 'sequence' WHEN 'v' THEN 'view'
                        WHEN 'm' THEN 'materialized view' ELSE 'table' END,
         n.nspname::text,
         c.relname::text, NULL, NULL, c.relacl, c.relowner, NULL
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relacl IS NOT NULL AND c.relkind IN ('r', 'p', 'S', 'v', 'm')
    AND n.nspname = ANY ($1::text[])
    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                    WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid
                      AND (d.deptype = 'e' OR (d.deptype = 'i' AND c.relkind = 'S')))
  UNION ALL
  SELECT 'column', n.nspname::text, c.relname::text, a.attname::text, NULL, a.attacl,
         c.relowner, NULL
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid
  WHERE c.relkind IN ('r', 'p') AND n.nspname = ANY ($1::text[])
    AND a.attnum > 0 AND NOT a.attisdropped AND a.attacl IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                    WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid
                      AND d.deptype = 'e')
  UNION ALL
  SELECT CASE t.typtype WHEN 'd' THEN 'domain' ELSE 'type' END, n.nspname::text,
         t.typname::text, NULL, NULL, t.typacl, t.typowner, 'USAGE'
  FROM pg_catalog.pg_type t
  JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
  WHERE t.typacl IS NOT NULL AND n.nspname = ANY ($1::text[])
    AND (t.typtype IN ('e', 'd')
         OR (t.typtype = 'c' AND EXISTS (SELECT 1 FROM pg_catalog.pg_class c
                                         WHERE c.oid = t.typrelid AND c.relkind = 'c')))
    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                    WHERE d.classid = 'pg_catalog.pg_type'::regclass AND d.objid = t.oid
                      AND d.deptype = 'e')
  UNION ALL
  SELECT CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END, n.nspname::text,
         p.proname::text, NULL, pg_catalog.oidvectortypes(p.proargtypes), p.proacl,
         p.proowner, 'EXECUTE'
  FROM pg_catalog.pg_proc p
  JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
  WHERE p.proacl IS NOT NULL AND p.prokind IN ('f', 'p', 'w')
    AND n.nspname = ANY ($1::text[])
    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                    WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid
                      AND d.deptype = 'e')
)
SELECT o.kind, o.schema, o.name, o.column_name, o.args,
       CASE WHEN e.grantee = 0 THEN NULL ELSE r.rolname::text END AS grantee,
       e.privilege_type::text AS privilege, bool_or(e.is_grantable) AS grantable
FROM objects o
CROSS JOIN LATERAL pg_catalog.aclexplode(o.acl) e
LEFT JOIN pg_catalog.pg_roles r ON r.oid = e.grantee
WHERE e.grantee <> o.owner AND (e.grantee = 0 OR r.rolname IS NOT NULL)
  AND NOT (e.grantee = 0 AND e.privilege_type IS NOT DISTINCT FROM o.public_default)
GROUP BY 1, 2, 3, 4, 5, 6, 7
UNION ALL
SELECT o.kind, o.schema, o.name, o.column_name, o.args, NULL, o.public_default, NULL
FROM objects o
WHERE o.public_default IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.aclexplode(o.acl) e
                  WHERE e.grantee = 0 AND e.privilege_type = o.public_default)
ORDER BY 1, 2, 3, 4, 5, 6, 7
