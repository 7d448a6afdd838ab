-- A worked example of a versioned migration: the data change that goes with schema/sales.yaml
-- (the tables themselves come from the desired state, through `reconcile apply`). It runs once,
-- after apply, with `reconcile migrate apply`, which records its checksum; `reconcile lint`
-- checks it in pull requests.
UPDATE leads SET email = lower(email) WHERE email <> lower(email);
