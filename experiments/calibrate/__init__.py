"""Targets from the source, `handover validate` and `handover calibrate` (docs/calibration.md)."""
