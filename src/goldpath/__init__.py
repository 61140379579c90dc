"""goldpath."""
