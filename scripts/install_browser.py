"""Installs Debian's Chromium for the browser tests when it is missing and we may (root, apt available).

The end-to-end tests drive /usr/bin/chromium through Playwright; no browser is downloaded from elsewhere.
Where it cannot be installed, the browser tests skip with that reason (and fail under CI=true).
"""
import os
import shutil
import subprocess
import sys


def main() -> int:
    if shutil.which("chromium") or os.environ.get("REPLENISH_SKIP_BROWSER_INSTALL"):
        return 0
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        print("chromium not installed (needs root and apt-get); browser tests will skip", file=sys.stderr)
        return 0
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
    result = subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"],
                            check=False, env=env)
    if result.returncode != 0:
        print("could not install chromium; browser tests will skip", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
