SELECT a.attrelid::bigint AS table_oid, a.attname::text AS name,
       pg_catalog.format_type(a.atttypid, a.atttypmod) AS data_type,
       a.attnotnull AS not_null,
       pg_catalog.pg_get_expr(ad.adbin, ad.adrelid) AS default_expr,
       a.attidentity::text AS identity, a.attgenerated::text AS generated,
       CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation
            THEN CASE WHEN cn.nspname IN ('pg_catalog', 'public')
                      THEN quote_ident(co.collname)
                      ELSE quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END
       END AS collation,
       pg_catalog.format_type(s.seqtypid, NULL) AS seq_type,
       s.seqstart AS seq_start, s.seqincrement AS seq_increment, s.seqmin AS seq_min,
       s.seqmax AS seq_max, s.seqcache AS seq_cache, s.seqcycle AS seq_cycle
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation
LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
LEFT JOIN pg_catalog.pg_depend d
       ON a.attidentity <> '' AND d.refclassid = 'pg_catalog.pg_class'::regclass
      AND d.refobjid = a.attrelid AND d.refobjsubid = a.attnum AND d.deptype = 'i'
      AND d.classid = 'pg_catalog.pg_class'::regclass
LEFT JOIN pg_catalog.pg_sequence s ON s.seqrelid = d.objid
WHERE c.relkind IN ('r', 'p')
  AND n.nspname = ANY ($1::text[])
  AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum
