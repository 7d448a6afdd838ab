-- Schemas in scope: the requested ones that exist, or every non-system schema.
SELECT n.nspname::text AS name
FROM pg_catalog.pg_namespace n
WHERE (CASE WHEN $1::text[] IS NULL
            THEN n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
            ELSE n.nspname = ANY ($1::text[]) END)
  AND NOT n.nspname = ANY ($2::text[])
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                  WHERE d.classid = 'pg_catalog.pg_namespace'::regclass
                    AND d.objid = n.oid AND d.deptype = 'e')
ORDER BY 1
