//! Rollback guides: the inverse SQL of an applied run or migration, for a human to review
//! (issue 5; being built). reconcile never executes it.
