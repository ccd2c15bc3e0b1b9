"""Dask plugins of the study executor (kept apart: importing `distributed` is slow)."""

from __future__ import annotations

from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

from experiments.study.executors import watch_parent


class ParentWatch(WorkerPlugin):
    """Starts `watch_parent` in every worker of a LocalCluster the study started itself.

    Args:
        parent: pid of the study's process (the workers' parent).
    """

    name = "handover-watch-parent"

    def __init__(self, parent: int):
        self.parent = parent

    def setup(self, worker: Any) -> None:
        """Called by Dask in each worker when it starts (or when the plugin is added)."""
        watch_parent(self.parent)
