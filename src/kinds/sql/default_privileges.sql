-- Default privileges of the schemas in scope (`ALTER DEFAULT PRIVILEGES FOR ROLE r IN SCHEMA
-- s GRANT ...`), one row per (role, schema, kind of object, grantee, privilege), the grantor
-- merged. Database-wide default privileges (no IN SCHEMA) belong to no schema and are not read.
SELECT r.rolname::text AS role, n.nspname::text AS schema, d.defaclobjtype::text AS objtype,
       CASE WHEN e.grantee = 0 THEN NULL ELSE g.rolname::text END AS grantee,
       e.privilege_type::text AS privilege, bool_or(e.is_grantable) AS grantable
FROM pg_catalog.pg_default_acl d
JOIN pg_catalog.pg_namespace n ON n.oid = d.defaclnamespace
JOIN pg_catalog.pg_roles r ON r.oid = d.defaclrole
CROSS JOIN LATERAL pg_catalog.aclexplode(d.defaclacl) e
LEFT JOIN pg_catalog.pg_roles g ON g.oid = e.grantee
WHERE n.nspname = ANY ($1::text[]) AND d.defaclobjtype IN ('r', 'S', 'f', 'T')
  AND (e.grantee = 0 OR g.rolname IS NOT NULL)
GROUP BY 1, 2, 3, 4, 5
ORDER BY 1, 2, 3, 4, 5
