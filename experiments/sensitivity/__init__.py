"""`handover sensitivity`: Morris and Sobol global sensitivity analysis with SALib (driver,
sampling and analysis, plots)."""
