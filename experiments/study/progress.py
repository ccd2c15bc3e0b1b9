"""Progress reporting for studies: a tqdm bar on a terminal, plain periodic lines otherwise.

Counts shown: done (finished in this session, including failures), failed, and resumed
(found finished in the result store and skipped). The ETA counts only work left to do.
"""

from __future__ import annotations

import sys
import time
from typing import IO


def _fmt_seconds(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s" if m else f"{s}s"


class Progress:
    """Progress of a study of `total` jobs, of which `resumed` were already finished.

    Args:
        total: number of jobs in the study.
        label: short name shown in front of the bar / lines (e.g. "sweep").
        resumed: jobs skipped because the store already holds their results.
        enabled: False shows nothing (tests, nested use).
        interval: seconds between plain lines when the stream is not a terminal.
        stream: where to write (default sys.stderr).
    """

    def __init__(
        self,
        total: int,
        label: str = "study",
        resumed: int = 0,
        enabled: bool = True,
        interval: float = 10.0,
        stream: IO[str] | None = None,
    ):
        self.total = total
        self.label = label
        self.resumed = resumed
        self.done = 0
        self.failed = 0
        self.enabled = enabled
        self.interval = interval
        self.stream = stream if stream is not None else sys.stderr
        self._start = time.monotonic()
        self._last_line = self._start
        self._bar = None
        if not enabled:
            return
        if _isatty(self.stream):
            from tqdm import tqdm

            self._bar = tqdm(
                total=total,
                initial=resumed,
                desc=label,
                unit="run",
                file=self.stream,
                dynamic_ncols=True,
                smoothing=0.1,
            )
            self._bar.set_postfix_str(self._counts(), refresh=True)
        else:
            self._line(start=True)

    def _counts(self) -> str:
        return f"done={self.done} failed={self.failed} resumed={self.resumed}"

    def _line(self, start: bool = False, final: bool = False) -> None:
        elapsed = time.monotonic() - self._start
        finished = self.resumed + self.done
        left = self.total - finished
        if start:
            text = f"{self.total} jobs, {self.resumed} already in the store, {left} to run"
        else:
            rate = self.done / elapsed if elapsed > 0 else 0.0
            eta = f", ETA {_fmt_seconds(left / rate)}" if rate > 0 and left > 0 else ""
            text = (
                f"{finished}/{self.total} ({self._counts()}) "
                f"{rate * 60:.1f} runs/min, elapsed {_fmt_seconds(elapsed)}{eta}"
            )
            if final:
                text = "finished: " + text
        print(f"[{self.label}] {text}", file=self.stream, flush=True)
        self._last_line = time.monotonic()

    def update(self, done: int = 0, failed: int = 0) -> None:
        """Record `done` more finished jobs, `failed` of which failed."""
        self.done += done
        self.failed += failed
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.set_postfix_str(self._counts(), refresh=False)
            self._bar.update(done)
        elif time.monotonic() - self._last_line >= self.interval:
            self._line()

    def close(self) -> None:
        """Finish the bar, or print a last line."""
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.set_postfix_str(self._counts(), refresh=True)
            self._bar.close()
            self._bar = None
        else:
            self._line(final=True)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _isatty(stream: IO[str]) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
