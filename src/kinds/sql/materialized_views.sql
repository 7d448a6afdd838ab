-- Materialized views, with their query as the server prints it (pg_get_viewdef, the form
-- reconcile compares), their storage options, their indexes (read as indexes.sql reads a
-- table's, one JSON array per materialized view) and the tables, views and functions their
-- query depends on (what must exist first).
SELECT n.nspname::text AS schema, c.relname::text AS name,
       pg_catalog.pg_get_viewdef(c.oid, true) AS definition,
       coalesce(c.reloptions, '{}') AS options,
       c.reltuples::float8 AS estimated_rows,
       ARRAY(SELECT DISTINCT quote_ident(rn.nspname) || '.' || quote_ident(rc.relname)
             FROM pg_catalog.pg_rewrite r
             JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::regclass
                                        AND d.objid = r.oid
                                        AND d.refclassid = 'pg_catalog.pg_class'::regclass
             JOIN pg_catalog.pg_class rc ON rc.oid = d.refobjid
             JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace
             WHERE r.ev_class = c.oid AND d.refobjid <> c.oid
             ORDER BY 1) AS relations,
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
             ORDER BY 1) AS functions,
       coalesce((SELECT json_agg(json_build_object(
                   'name', ic.relname::text,
                   'is_unique', i.indisunique,
                   'method', am.amname::text,
                   'key_count', i.indnkeyatts::int,
                   'valid', i.indisvalid,
                   'nulls_not_distinct', i.indnullsnotdistinct,
                   'definition', pg_catalog.pg_get_indexdef(i.indexrelid),
                   'key_texts', ARRAY(SELECT pg_catalog.pg_get_indexdef(i.indexrelid, k.ord::int, true)
                                      FROM generate_series(1, i.indnatts) AS k(ord) ORDER BY k.ord),
                   'key_columns', ARRAY(SELECT k.attnum::int
                                        FROM unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
                                        ORDER BY k.ord),
                   'key_options', ARRAY(SELECT o.opt::int
                                        FROM unnest(i.indoption) WITH ORDINALITY o(opt, ord)
                                        ORDER BY o.ord),
                   'predicate', pg_catalog.pg_get_expr(i.indpred, i.indrelid))
                 ORDER BY ic.relname)
                 FROM pg_catalog.pg_index i
                 JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
                 JOIN pg_catalog.pg_am am ON am.oid = ic.relam
                 WHERE i.indrelid = c.oid), '[]')::text AS indexes
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'm'
  AND n.nspname = ANY ($1::text[])
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                  WHERE d.classid = 'pg_catalog.pg_class'::regclass
                    AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1, 2
