-- Aggregates, with the pieces of their CREATE AGGREGATE as pg_dump prints them
-- (pg_get_functiondef does not print aggregates): support functions as regproc (qualified
-- when not visible or ambiguous under the session's search_path), types as format_type,
-- initial states as stored; what CREATE OR REPLACE AGGREGATE must keep (the result type, the
-- kind, the number of direct arguments); and what they use, from pg_depend, as for functions.
SELECT n.nspname::text AS schema, p.proname::text AS name,
       ARRAY(SELECT pg_catalog.format_type(x.t, NULL)
             FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY AS x(t, i)
             ORDER BY x.i) AS args,
       pg_catalog.pg_get_function_arguments(p.oid) AS arguments,
       pg_catalog.pg_get_function_identity_arguments(p.oid) AS identity,
       pg_catalog.format_type(p.prorettype, NULL) AS result,
       a.aggkind::text AS aggkind,
       a.aggnumdirectargs::integer AS direct_args,
       a.aggtransfn::regproc::text AS sfunc,
       pg_catalog.format_type(a.aggtranstype, NULL) AS stype,
       a.aggtransspace AS sspace,
       CASE WHEN a.aggfinalfn <> 0 THEN a.aggfinalfn::regproc::text END AS finalfunc,
       a.aggfinalextra AS finalfunc_extra,
       a.aggfinalmodify::text AS finalfunc_modify,
       CASE WHEN a.aggcombinefn <> 0 THEN a.aggcombinefn::regproc::text END AS combinefunc,
       CASE WHEN a.aggserialfn <> 0 THEN a.aggserialfn::regproc::text END AS serialfunc,
       CASE WHEN a.aggdeserialfn <> 0 THEN a.aggdeserialfn::regproc::text END AS deserialfunc,
       a.agginitval AS initcond,
       CASE WHEN a.aggmtransfn <> 0 THEN a.aggmtransfn::regproc::text END AS msfunc,
       CASE WHEN a.aggminvtransfn <> 0 THEN a.aggminvtransfn::regproc::text END AS minvfunc,
       CASE WHEN a.aggmtranstype <> 0 THEN pg_catalog.format_type(a.aggmtranstype, NULL) END AS mstype,
       a.aggmtransspace AS msspace,
       CASE WHEN a.aggmfinalfn <> 0 THEN a.aggmfinalfn::regproc::text END AS mfinalfunc,
       a.aggmfinalextra AS mfinalfunc_extra,
       a.aggmfinalmodify::text AS mfinalfunc_modify,
       a.aggminitval AS minitcond,
       (SELECT 'OPERATOR(' || quote_ident(opn.nspname) || '.' || o.oprname || ')'
        FROM pg_catalog.pg_operator o
        JOIN pg_catalog.pg_namespace opn ON opn.oid = o.oprnamespace
        WHERE o.oid = a.aggsortop) AS sortop,
       p.proparallel::text AS parallel,
       ARRAY(SELECT DISTINCT quote_ident(tn.nspname) || '.' || quote_ident(t.typname)
             FROM pg_catalog.pg_depend d
             JOIN pg_catalog.pg_type dt ON dt.oid = d.refobjid
             JOIN pg_catalog.pg_type t
               ON t.oid = CASE WHEN dt.typelem <> 0 AND dt.typsubscript = 'pg_catalog.array_subscript_handler'::regproc
                               THEN dt.typelem ELSE dt.oid END
             JOIN pg_catalog.pg_namespace tn ON tn.oid = t.typnamespace
             LEFT JOIN pg_catalog.pg_class tc ON tc.oid = t.typrelid
             WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid
               AND d.refclassid = 'pg_catalog.pg_type'::regclass AND d.deptype = 'n'
               AND coalesce(tc.relkind, 'c') = 'c'
               AND tn.nspname NOT IN ('pg_catalog', 'information_schema')
               AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e
                               WHERE e.classid = 'pg_catalog.pg_type'::regclass
                                 AND e.objid = t.oid AND e.deptype = 'e')
             ORDER BY 1) AS types,
       ARRAY(SELECT DISTINCT quote_ident(rn.nspname) || '.' || quote_ident(rc.relname)
             FROM pg_catalog.pg_depend d
             JOIN pg_catalog.pg_type dt ON dt.oid = d.refobjid
             JOIN pg_catalog.pg_type t
               ON t.oid = CASE WHEN dt.typelem <> 0 AND dt.typsubscript = 'pg_catalog.array_subscript_handler'::regproc
                               THEN dt.typelem ELSE dt.oid END
             JOIN pg_catalog.pg_class rc ON rc.oid = t.typrelid AND rc.relkind <> 'c'
             JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace
             WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid
               AND d.refclassid = 'pg_catalog.pg_type'::regclass AND d.deptype = 'n'
               AND rn.nspname NOT IN ('pg_catalog', 'information_schema')
               AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e
                               WHERE e.classid = 'pg_catalog.pg_class'::regclass
                                 AND e.objid = rc.oid AND e.deptype = 'e')
             ORDER BY 1) AS relations,
       ARRAY(SELECT DISTINCT 'function ' || quote_ident(fn.nspname) || '.' || quote_ident(f.proname)
                            || '(' || pg_catalog.oidvectortypes(f.proargtypes) || ')'
             FROM pg_catalog.pg_depend d
             JOIN pg_catalog.pg_proc f ON f.oid = d.refobjid
             JOIN pg_catalog.pg_namespace fn ON fn.oid = f.pronamespace
             WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid
               AND d.refclassid = 'pg_catalog.pg_proc'::regclass AND d.deptype = 'n'
               AND fn.nspname NOT IN ('pg_catalog', 'information_schema')
               AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e
                               WHERE e.classid = 'pg_catalog.pg_proc'::regclass
                                 AND e.objid = f.oid AND e.deptype = 'e')
             ORDER BY 1) AS calls
FROM pg_catalog.pg_proc p
JOIN pg_catalog.pg_aggregate a ON a.aggfnoid = p.oid
JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
WHERE p.prokind = 'a'
  AND n.nspname = ANY ($1::text[])
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                  WHERE d.classid = 'pg_catalog.pg_proc'::regclass
                    AND d.objid = p.oid AND d.deptype = 'e')
ORDER BY 1, 2, 3
