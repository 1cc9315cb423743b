"""Progress for long work (imports, training, evaluation), on stderr: a live line on a terminal, a line
every few seconds otherwise (so CI logs stay readable)."""
from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, label: str, total: int | None = None, stream=None, every: float = 2.0):
        self.label, self.total = label, total
        self.stream = stream or sys.stderr
        self.every = every
        self.count = 0
        self.start = self._last = time.monotonic()
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def update(self, n: int = 1, note: str = "") -> None:
        self.count += n
        now = time.monotonic()
        if now - self._last >= (0.2 if self.tty else self.every):
            self._last = now
            self._print(note)

    def stage(self, stage: str, fraction: float) -> None:
        """Adapter for callbacks of the form progress(stage, fraction)."""
        now = time.monotonic()
        if now - self._last >= (0.2 if self.tty else self.every) or fraction >= 1.0:
            self._last = now
            self._write(f"{self.label}: {stage} {fraction * 100:5.1f}%")

    def _print(self, note: str = "") -> None:
        elapsed = max(time.monotonic() - self.start, 1e-9)
        rate = self.count / elapsed
        if self.total:
            text = f"{self.label}: {self.count:,}/{self.total:,} ({self.count / self.total * 100:.1f}%) {rate:,.0f}/s"
        else:
            text = f"{self.label}: {self.count:,} {rate:,.0f}/s"
        self._write(text + (f" {note}" if note else ""))

    def _write(self, text: str) -> None:
        if self.tty:
            self.stream.write("\r\033[K" + text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def done(self, note: str = "") -> None:
        self._print(note)
        if self.tty:
            self.stream.write("\n")
        self.stream.flush()
