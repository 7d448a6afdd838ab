SELECT n.nspname::text AS schema, t.typname::text AS name,
       pg_catalog.format_type(t.typbasetype, t.typtypmod) AS data_type,
       t.typnotnull AS not_null,
       pg_catalog.pg_get_expr(t.typdefaultbin, 0) AS default_expr,
       CASE WHEN t.typcollation <> 0 AND t.typcollation <> bt.typcollation
            THEN CASE WHEN cn.nspname IN ('pg_catalog', 'public')
                      THEN quote_ident(co.collname)
                      ELSE quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END
       END AS collation,
       coalesce((SELECT array_agg(c.conname::text ORDER BY c.conname)
                 FROM pg_catalog.pg_constraint c
                 WHERE c.contypid = t.oid AND c.contype = 'c'), '{}') AS check_names,
       coalesce((SELECT array_agg(pg_catalog.pg_get_constraintdef(c.oid) ORDER BY c.conname)
                 FROM pg_catalog.pg_constraint c
                 WHERE c.contypid = t.oid AND c.contype = 'c'), '{}') AS check_defs
FROM pg_catalog.pg_type t
JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
JOIN pg_catalog.pg_type bt ON bt.oid = t.typbasetype
LEFT JOIN pg_catalog.pg_collation co ON co.oid = t.typcollation
LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
WHERE t.typtype = 'd'
  AND n.nspname = ANY ($1::text[])
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                  WHERE d.classid = 'pg_catalog.pg_type'::regclass
                    AND d.objid = t.oid AND d.deptype = 'e')
ORDER BY 1, 2
