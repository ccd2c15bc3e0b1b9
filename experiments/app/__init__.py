"""`handover app`: the scenario explorer in the browser (Solara). See docs/app.md."""
