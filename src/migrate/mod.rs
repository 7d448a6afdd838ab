//! Versioned SQL migrations beside the declarative schema (issue 5; being built).
