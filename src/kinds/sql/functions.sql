-- Functions and procedures (not aggregates, which have their own query, nor window
-- functions), in the server's own words (pg_get_functiondef, the form reconcile compares);
-- what CREATE OR REPLACE must keep (the result, the names of the input arguments, the output
-- columns, how many arguments have defaults); and what they use, from pg_depend (the types of
-- their arguments and result — a relation's row type counts as the relation — the tables a
-- BEGIN ATOMIC body reads and the functions it calls): what must exist first. PostgreSQL's and
-- extensions' own objects are left out of what they use; functions of extensions are left out.
SELECT n.nspname::text AS schema, p.proname::text AS name, p.prokind = 'p' AS procedure,
       ARRAY(SELECT pg_catalog.format_type(x.t, NULL)
             FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY AS x(t, i)
             ORDER BY x.i) AS args,
       pg_catalog.pg_get_functiondef(p.oid) AS definition,
       pg_catalog.pg_get_function_result(p.oid) AS result,
       ARRAY(SELECT coalesce(p.proargnames[x.i], '')
             FROM unnest(coalesce(p.proallargtypes, p.proargtypes::oid[]))
                  WITH ORDINALITY AS x(t, i)
             WHERE coalesce(p.proargmodes[x.i], 'i') IN ('i', 'b', 'v')
             ORDER BY x.i) AS input_names,
       ARRAY(SELECT coalesce(quote_ident(p.proargnames[x.i]) || ' ', '')
                    || pg_catalog.format_type(x.t, NULL)
             FROM unnest(coalesce(p.proallargtypes, p.proargtypes::oid[]))
                  WITH ORDINALITY AS x(t, i)
             WHERE p.proargmodes[x.i] IN ('o', 'b', 't')
             ORDER BY x.i) AS outputs,
       p.pronargdefaults::integer AS defaults,
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
       ARRAY(SELECT quote_ident(rn.nspname) || '.' || quote_ident(rc.relname)
             FROM (SELECT d.refobjid AS rel
                   FROM pg_catalog.pg_depend d
                   WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid
                     AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.deptype = 'n'
                   UNION
                   SELECT t.typrelid
                   FROM pg_catalog.pg_depend d
                   JOIN pg_catalog.pg_type dt ON dt.oid = d.refobjid
                   JOIN pg_catalog.pg_type t
                     ON t.oid = CASE WHEN dt.typelem <> 0 AND dt.typsubscript = 'pg_catalog.array_subscript_handler'::regproc
                                     THEN dt.typelem ELSE dt.oid END
                   WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid
                     AND d.refclassid = 'pg_catalog.pg_type'::regclass AND d.deptype = 'n'
                     AND t.typrelid <> 0) AS r
             JOIN pg_catalog.pg_class rc ON rc.oid = r.rel AND rc.relkind <> 'c'
             JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace
             WHERE rn.nspname NOT IN ('pg_catalog', 'information_schema')
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
               AND f.oid <> p.oid
               AND fn.nspname NOT IN ('pg_catalog', 'information_schema')
               AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e
                               WHERE e.classid = 'pg_catalog.pg_proc'::regclass
                                 AND e.objid = f.oid AND e.deptype = 'e')
             ORDER BY 1) AS calls
FROM pg_catalog.pg_proc p
JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
WHERE p.prokind IN ('f', 'p')
  AND n.nspname = ANY ($1::text[])
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                  WHERE d.classid = 'pg_catalog.pg_proc'::regclass
                    AND d.objid = p.oid AND d.deptype = 'e')
ORDER BY 1, 2, 4
