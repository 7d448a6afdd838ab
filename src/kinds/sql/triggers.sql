-- Triggers on tables and views, as the server prints them (pg_get_triggerdef, the form
-- reconcile compares), with when they fire (tgenabled: ALTER TABLE ... ENABLE/DISABLE
-- [REPLICA | ALWAYS] TRIGGER, which the definition does not say) and the function they run
-- when it is the database's own (not PostgreSQL's or an extension's): what must exist first.
-- Left out: the server's own triggers (foreign keys, deferred uniqueness), the clones a
-- partitioned table's trigger makes on its partitions (they follow the parent's), and
-- extension members (and triggers on them).
SELECT n.nspname::text AS schema, c.relname::text AS table_name, t.tgname::text AS name,
       pg_catalog.pg_get_triggerdef(t.oid, true) AS definition,
       t.tgenabled::text AS enabled,
       CASE WHEN pn.nspname NOT IN ('pg_catalog', 'information_schema')
                 AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e
                                 WHERE e.classid = 'pg_catalog.pg_proc'::regclass
                                   AND e.objid = p.oid AND e.deptype = 'e')
            THEN 'function ' || quote_ident(pn.nspname) || '.' || quote_ident(p.proname)
                 || '(' || pg_catalog.oidvectortypes(p.proargtypes) || ')'
       END AS function
FROM pg_catalog.pg_trigger t
JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid
JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace
WHERE NOT t.tgisinternal
  AND t.tgparentid = 0
  AND n.nspname = ANY ($1::text[])
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                  WHERE ((d.classid = 'pg_catalog.pg_trigger'::regclass AND d.objid = t.oid)
                         OR (d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid))
                    AND d.deptype = 'e')
ORDER BY 1, 2, 3
