-- Views (not materialized), with their query as the server prints it (pg_get_viewdef, the
-- form reconcile compares), their columns (what CREATE OR REPLACE VIEW must keep), their
-- options, and the tables, views and functions their rules depend on (what must exist first).
SELECT n.nspname::text AS schema, c.relname::text AS name,
       pg_catalog.pg_get_viewdef(c.oid, true) AS definition,
       ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a
             WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
             ORDER BY a.attnum) AS column_names,
       ARRAY(SELECT pg_catalog.format_type(a.atttypid, a.atttypmod) FROM pg_catalog.pg_attribute a
             WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
             ORDER BY a.attnum) AS column_types,
       coalesce(c.reloptions, '{}') AS options,
       ARRAY(SELECT DISTINCT quote_ident(rn.nspname) || '.' || quote_ident(rc.relname)
             FROM pg_catalog.pg_rewrite r
             JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::regclass
                                        AND d.objid = r.oid
                                        AND d.refclassid = 'pg_catalog.pg_class'::regclass
             JOIN pg_catalog.pg_class rc ON rc.oid = d.refobjid
             JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace
             WHERE r.ev_class = c.oid AND d.refobjid <> c.oid
             ORDER BY 1) AS relations,
       ARRAY(SELECT DISTINCT quote_ident(rn.nspname) || '.' || quote_ident(rc.relname)
                            || '.' || quote_ident(ra.attname)
             FROM pg_catalog.pg_rewrite r
             JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::regclass
                                        AND d.objid = r.oid
                                        AND d.refclassid = 'pg_catalog.pg_class'::regclass
                                        AND d.refobjsubid > 0
             JOIN pg_catalog.pg_class rc ON rc.oid = d.refobjid
             JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace
             JOIN pg_catalog.pg_attribute ra ON ra.attrelid = rc.oid AND ra.attnum = d.refobjsubid
             WHERE r.ev_class = c.oid AND d.refobjid <> c.oid
             ORDER BY 1) AS columns_read,
       ARRAY(SELECT DISTINCT 'function ' || quote_ident(pn.nspname) || '.' || quote_ident(p.proname)
                            || '(' || pg_catalog.oidvectortypes(p.proargtypes) || ')'
             FROM pg_catalog.pg_rewrite r
             JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::regclass
                                        AND d.objid = r.oid
                                        AND d.refclassid = 'pg_catalog.pg_proc'::regclass
             JOIN pg_catalog.pg_proc p ON p.oid = d.refobjid
             JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace
             WHERE r.ev_class = c.oid AND pn.nspname NOT IN ('pg_catalog', 'information_schema')
               AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e
                               WHERE e.classid = 'pg_catalog.pg_proc'::regclass
                                 AND e.objid = p.oid AND e.deptype = 'e')
             ORDER BY 1) AS functions
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'v'
  AND n.nspname = ANY ($1::text[])
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                  WHERE d.classid = 'pg_catalog.pg_class'::regclass
                    AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1, 2
