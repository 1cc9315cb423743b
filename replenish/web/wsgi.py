"""WSGI entry point for gunicorn: `gunicorn -c infra/gunicorn.conf.py replenish.web.wsgi:app`."""
import sys

from replenish.config import ConfigError
from replenish.web import create_app

try:
    app = create_app()
except ConfigError as exc:  # a setting we refuse to run with: say which, without a traceback
    print(f"replenish: {exc}", file=sys.stderr)
    sys.exit(3)
