"""`make lock`: requirements.lock, every package pinned with its hashes, from requirements.txt and
requirements-test.txt (pip-tools). The partner SDK is this repository's own (partner-sdk/), installed from its
folder, so it is left out of the lock; its dependencies are in requirements.txt."""
from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCAL = ("replenish-partner-sdk",)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        runtime = Path(tmp) / "requirements.txt"
        runtime.write_text("".join(line for line in (ROOT / "requirements.txt").read_text().splitlines(True)
                                   if not line.strip().startswith(LOCAL)))
        source = Path(tmp) / "requirements-test.txt"
        source.write_text((ROOT / "requirements-test.txt").read_text())
        command = [sys.executable, "-m", "piptools", "compile", "--quiet", "--generate-hashes", "--allow-unsafe",
                   "--strip-extras", "--no-header", "--no-emit-index-url", "--no-emit-find-links", "--annotation-style=line", "--output-file",
                   str(ROOT / "requirements.lock"), str(source)]
        done = subprocess.run(command, cwd=tmp)
    if done.returncode == 0:
        lock = ROOT / "requirements.lock"
        header = ("# requirements.lock: made by `make lock` (scripts/lock.py, pip-tools) from requirements.txt and\n"
                  "# requirements-test.txt; `make` installs from it with --require-hashes. Do not edit by hand.\n")
        lock.write_text(header + lock.read_text().replace(tmp + "/", ""))
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
