-- Versioned migrations carry what a declarative schema cannot say: data changes. The
-- tables themselves come from schema/ (reconcile apply); this runs once, tracked by
-- `reconcile migrate apply`, and `reconcile lint` checks it in pull requests.
UPDATE authors SET name = split_part(email, '@', 1) WHERE name = '';
