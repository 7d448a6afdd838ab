//! Statement classification with the real PostgreSQL parser (placeholder, filled in below).
