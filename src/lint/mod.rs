//! Static checks of SQL migration files with the PostgreSQL parser (issue 5; being built).
