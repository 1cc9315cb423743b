"""`make audit`: pip-audit over requirements-test.lock (the runtime pins and the test tools) for known
vulnerabilities, from PyPI's advisory data.

Exit status: 1 when a locked package has a known vulnerability; 0 when none has. When the advisory service
cannot be reached (a machine with no way out), it says so plainly and exits 0: an audit that could not run is
reported, not mistaken for a failure of the build, nor for a clean result."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UNREACHABLE = ("ConnectionError", "Max retries exceeded", "Name or service not known", "Temporary failure",
               "timed out", "Failed to establish a new connection", "HTTPSConnectionPool")


def main() -> int:
    command = [sys.executable, "-m", "pip_audit", "--requirement", str(ROOT / "requirements-test.lock"),
               "--require-hashes", "--disable-pip", "--progress-spinner", "off"]
    done = subprocess.run(command, capture_output=True, text=True)
    output = (done.stdout or "") + (done.stderr or "")
    if done.returncode != 0 and any(marker in output for marker in UNREACHABLE):
        print("audit NOT RUN: the vulnerability service could not be reached from this machine.\n"
              + "\n".join(output.strip().splitlines()[-3:]))
        return 0
    locked = sum(1 for line in (ROOT / "requirements-test.lock").read_text().splitlines() if "==" in line
                 and not line.startswith((" ", "#")))
    unchecked = sum(1 for line in output.splitlines() if "could not be audited" in line)
    if unchecked and done.returncode == 0:
        # pip-audit says "No known vulnerabilities found" even when it could look none up: do not repeat that
        print(f"audit NOT RUN for {unchecked} of {locked} locked packages: their advisories could not be fetched "
              "(PyPI's JSON API is not reachable from this machine). Nothing is known either way about them.")
        return 0
    print(output.strip())
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
