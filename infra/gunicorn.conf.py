"""gunicorn settings for the web tier: `gunicorn -c infra/gunicorn.conf.py replenish.web.wsgi:app`."""
import multiprocessing
import os

bind = os.environ.get("BIND", f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("WEB_THREADS", "4"))
worker_class = "gthread"
timeout = 30
graceful_timeout = 20
keepalive = 5
max_requests = 5000  # recycle workers now and then, so a slow leak never becomes an outage
max_requests_jitter = 500
accesslog = "-"
errorlog = "-"
logger_class = "replenish.web.logredact.GunicornLogger"  # one-time sign-in links never reach the access log
# The app is created in each worker after the fork, so no database connection crosses a fork.
preload_app = False
