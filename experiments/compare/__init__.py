"""`handover compare`: scenarios x replications with common random numbers (driver,
paired statistics, plots)."""
