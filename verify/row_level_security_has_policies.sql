-- Row-level security and policies go together.
--
-- What: tables with row-level security enabled and no policy (every role but the owner, and
-- roles with BYPASSRLS, sees no rows and can write none), and tables with policies whose
-- row-level security is disabled (the policies are not applied: every role with a privilege
-- on the table sees every row). Tables that belong to an extension are left out.
-- Why: either is almost always a half-done change — a policy forgotten, or an
-- `ENABLE ROW LEVEL SECURITY` never run — and the second one exposes rows the policies were
-- written to hide.
SELECT n.nspname AS schema,
       c.relname AS table_name,
       CASE WHEN c.relrowsecurity THEN 'row-level security enabled, no policy'
            ELSE 'policies, row-level security disabled' END AS problem
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p')
   AND n.nspname <> 'information_schema'
   AND n.nspname NOT LIKE 'pg\_%'
   AND c.relrowsecurity <> EXISTS (
         SELECT FROM pg_catalog.pg_policy p WHERE p.polrelid = c.oid)
   AND NOT EXISTS (
         SELECT FROM pg_catalog.pg_depend d
          WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
            AND d.objid = c.oid
            AND d.deptype = 'e')
 ORDER BY 1, 2;
