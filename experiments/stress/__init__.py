"""`handover stress`: exit strategies across sampled futures (driver, robustness measures,
PRIM scenario discovery, plots and donor report)."""
