"""`make lock`: two locks, every package pinned with its hashes (pip-tools).

- ``requirements-test.lock`` from requirements-test.txt (which includes requirements.txt): what `make test`
  installs, the test tools included.
- ``requirements.lock`` from requirements.txt alone: what `make run` and the container image install. It is
  compiled with the test lock's pins preferred, and checked to pin every package exactly as the test lock does,
  so the product runs on the versions it was tested with.

The partner SDK is this repository's own (partner-sdk/), installed from its folder, so it is left out of both
locks; its dependencies are in requirements.txt."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCAL = ("replenish-partner-sdk",)
HEADER = ("# {name}: made by `make lock` (scripts/lock.py, pip-tools) from {source}; `make` installs from it\n"
          "# with --require-hashes. Do not edit by hand.\n")


def _compile(tmp: Path, source: Path, output: Path) -> int:
    command = [sys.executable, "-m", "piptools", "compile", "--quiet", "--generate-hashes", "--allow-unsafe",
               "--strip-extras", "--no-header", "--no-emit-index-url", "--no-emit-find-links",
               "--annotation-style=line", "--output-file", str(output), str(source)]
    return subprocess.run(command, cwd=tmp).returncode


def _pins(lock: Path) -> dict[str, str]:
    return {m.group(1).lower(): m.group(2)
            for m in re.finditer(r"^([A-Za-z0-9_.-]+)==([^ \\]+)", lock.read_text(), re.MULTILINE)}


def main() -> int:
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        (tmp / "requirements.txt").write_text("".join(
            line for line in (ROOT / "requirements.txt").read_text().splitlines(True)
            if not line.strip().startswith(LOCAL)))
        (tmp / "requirements-test.txt").write_text((ROOT / "requirements-test.txt").read_text())
        test_lock, runtime_lock = tmp / "requirements-test.lock", tmp / "requirements.lock"
        for lock in (test_lock, runtime_lock):  # the current pins are kept where they still fit
            if (ROOT / lock.name).exists():
                shutil.copy(ROOT / lock.name, lock)
        if _compile(tmp, tmp / "requirements-test.txt", test_lock):
            return 1
        shutil.copy(test_lock, runtime_lock)  # the runtime lock prefers exactly the tested pins
        if _compile(tmp, tmp / "requirements.txt", runtime_lock):
            return 1
        tested = _pins(test_lock)
        differ = {n: (v, tested.get(n)) for n, v in _pins(runtime_lock).items() if tested.get(n) != v}
        if differ:
            print(f"the runtime lock pins differently from the test lock: {differ}", file=sys.stderr)
            return 1
        for lock, source in ((test_lock, "requirements-test.txt"), (runtime_lock, "requirements.txt")):
            text = lock.read_text().replace(name + "/", "")
            (ROOT / lock.name).write_text(HEADER.format(name=lock.name, source=source) + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
