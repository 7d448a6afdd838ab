-- A read-only assertion: `reconcile verify` fails (exit 4) when this returns rows.
SELECT p.id
FROM posts p
LEFT JOIN authors a ON a.id = p.author_id
WHERE a.id IS NULL;
