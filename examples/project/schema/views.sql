-- Views, functions and triggers may be kept as SQL beside the YAML (docs/schema-format.md).
CREATE VIEW published_posts AS
SELECT p.id, p.title, a.name AS author, p.published_at
FROM posts p
JOIN authors a ON a.id = p.author_id
WHERE p.published_at IS NOT NULL;
