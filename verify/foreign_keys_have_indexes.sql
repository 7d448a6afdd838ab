-- Every foreign key's columns are covered by an index.
--
-- What: foreign keys whose referencing columns are not the leading key columns (in any
-- order) of a valid, non-partial index on the referencing table.
-- Why: deleting or updating a referenced row makes PostgreSQL look for referencing rows; with
-- no index on the foreign key columns that is a sequential scan of the referencing table for
-- every such row (slow ON DELETE CASCADE, long lock waits), and joins along the key cannot use
-- an index either. PostgreSQL indexes the referenced side (it must be a key), never this side.
SELECT n.nspname AS schema,
       t.relname AS table_name,
       k.conname AS foreign_key,
       (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY x.ord)
          FROM unnest(k.conkey) WITH ORDINALITY AS x(attnum, ord)
          JOIN pg_catalog.pg_attribute a
            ON a.attrelid = k.conrelid AND a.attnum = x.attnum) AS columns,
       k.confrelid::pg_catalog.regclass::text AS referenced_table
  FROM pg_catalog.pg_constraint k
  JOIN pg_catalog.pg_class t ON t.oid = k.conrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace
 WHERE k.contype = 'f'
   AND n.nspname <> 'information_schema'
   AND n.nspname NOT LIKE 'pg\_%'
   AND NOT EXISTS (
         SELECT FROM pg_catalog.pg_index i
          WHERE i.indrelid = k.conrelid
            AND i.indisvalid
            AND i.indpred IS NULL
            AND i.indnkeyatts >= cardinality(k.conkey)
            -- indkey is an int2vector; its text form is the column numbers, space-separated.
            AND (string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(k.conkey)]
                @> k.conkey)
 ORDER BY 1, 2, 3;
