-- Every role of the server (roles are cluster-wide): the roles a desired state names must
-- exist before it is planned (reconcile creates none).
-- `current` marks the role reconcile runs as: the objects it creates get its default
-- privileges.
SELECT rolname::text AS name, rolname = current_user AS current FROM pg_catalog.pg_roles
