"""`handover sweep`: a grid or list of parameter settings x scenarios x replications."""
