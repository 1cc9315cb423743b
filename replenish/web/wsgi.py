"""WSGI entry point for gunicorn: `gunicorn -c infra/gunicorn.conf.py replenish.web.wsgi:app`."""
from replenish.web import create_app

app = create_app()
