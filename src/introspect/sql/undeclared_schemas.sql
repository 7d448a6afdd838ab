-- Schemas outside the scope and not ignored, with what they hold: a drift audit must never be
-- blind to them. System schemas, schemas an extension created and objects that belong to an
-- extension are left out; `reconcile_tables` counts tables named like reconcile's own history
-- (runs, steps, migrations), so a schema holding only those can be recognised as reconcile's.
WITH ns AS (
  SELECT n.oid, n.nspname
  FROM pg_catalog.pg_namespace n
  WHERE $1::text[] IS NOT NULL
    AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
    AND NOT n.nspname = ANY ($1::text[])
    AND NOT n.nspname = ANY ($2::text[])
    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                    WHERE d.classid = 'pg_catalog.pg_namespace'::regclass
                      AND d.objid = n.oid AND d.deptype = 'e')
),
rel AS (
  SELECT c.relnamespace AS ns, c.relkind, c.relname
  FROM pg_catalog.pg_class c
  WHERE c.relnamespace IN (SELECT oid FROM ns)
    AND c.relkind IN ('r', 'p', 'f', 'v', 'm', 'S')
    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                    WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid
                      AND d.deptype IN ('e', 'i'))
)
SELECT ns.nspname::text AS name,
  (SELECT count(*) FROM rel WHERE rel.ns = ns.oid AND rel.relkind IN ('r', 'p', 'f')) AS tables,
  (SELECT count(*) FROM rel WHERE rel.ns = ns.oid AND rel.relkind IN ('r', 'p')
     AND rel.relname IN ('runs', 'steps', 'migrations')) AS reconcile_tables,
  (SELECT count(*) FROM rel WHERE rel.ns = ns.oid AND rel.relkind IN ('v', 'm')) AS views,
  (SELECT count(*) FROM rel r WHERE r.ns = ns.oid AND r.relkind = 'S') AS sequences,
  (SELECT count(*) FROM pg_catalog.pg_proc p
    WHERE p.pronamespace = ns.oid
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                      WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid
                        AND d.deptype = 'e')) AS routines,
  (SELECT count(*) FROM pg_catalog.pg_type t
    WHERE t.typnamespace = ns.oid AND t.typtype IN ('e', 'd', 'r', 'm')
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                      WHERE d.classid = 'pg_catalog.pg_type'::regclass AND d.objid = t.oid
                        AND d.deptype = 'e')) AS types
FROM ns
ORDER BY 1
