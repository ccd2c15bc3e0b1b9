"""Drivers of the handover simulator: config composition, commands, studies, reports."""
