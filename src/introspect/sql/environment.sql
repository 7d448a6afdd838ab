-- What a desired state may name without declaring it, read from the target: its roles
-- (cluster-wide; a policy's TO list and a grant's grantee must name existing ones) and its functions outside
-- pg_catalog and information_schema with their signatures — the scratch server gets a stub of
-- each one a policy's expression calls, so that the expression prints there as it does here
-- (`auth.uid()` of an ignored schema, say). $1 (the schemas in scope) marks the functions of
-- managed schemas. Functions returning trigger or event_trigger are never called in an
-- expression. The role reconcile runs as is kind `current_role` (the objects it creates get its
-- default privileges).
SELECT CASE WHEN r.rolname = current_user THEN 'current_role' ELSE 'role' END AS kind, NULL::text AS schema, r.rolname::text AS name, NULL::text AS arguments,
       NULL::text AS result, false AS in_scope
FROM pg_catalog.pg_roles r
UNION ALL
SELECT 'function', n.nspname::text, p.proname::text,
       pg_catalog.pg_get_function_arguments(p.oid), pg_catalog.pg_get_function_result(p.oid),
       n.nspname = ANY ($1::text[])
FROM pg_catalog.pg_proc p
JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
WHERE p.prokind = 'f'
  AND p.prorettype NOT IN ('pg_catalog.trigger'::pg_catalog.regtype,
                           'pg_catalog.event_trigger'::pg_catalog.regtype)
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname !~ '^pg_(toast|temp)'
ORDER BY 1, 2, 3, 4
