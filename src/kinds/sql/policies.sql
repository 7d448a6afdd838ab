-- Row-level security policies on the tables in scope: command, PERMISSIVE or RESTRICTIVE,
-- roles by name (PUBLIC, stored as role 0, as `public`), and the USING / WITH CHECK
-- expressions as the server prints them (pg_get_expr, the form reconcile compares). Policies
-- on relations the model leaves out (inheritance children) are dropped once every table is
-- read; introspection lists them as skipped (src/introspect/sql/unmanaged.sql).
SELECT n.nspname::text AS schema, c.relname::text AS table_name, p.polname::text AS name,
       p.polcmd::text AS command, p.polpermissive AS permissive,
       ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'public' ELSE pg_catalog.pg_get_userbyid(r.oid)::text END
             FROM unnest(p.polroles) AS r(oid)) AS roles,
       pg_catalog.pg_get_expr(p.polqual, p.polrelid) AS using_expr,
       pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) AS check_expr
FROM pg_catalog.pg_policy p
JOIN pg_catalog.pg_class c ON c.oid = p.polrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY ($1::text[])
ORDER BY 1, 2, 3
