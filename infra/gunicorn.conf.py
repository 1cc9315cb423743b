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
# The app writes one structured line per request (route, status, duration, request id: see
# replenish/observability/web.py), so gunicorn's own access log is off unless ACCESS_LOG=1.
accesslog = "-" if os.environ.get("ACCESS_LOG") == "1" else None
errorlog = "-"
logger_class = "replenish.web.logredact.GunicornLogger"  # one-time sign-in links never reach the access log
# The app is created in each worker after the fork, so no database connection crosses a fork.
preload_app = False


def _configure_logs():
    from replenish.observability import logs
    logs.configure(level=os.environ.get("LOG_LEVEL", "INFO"))


def on_starting(server):
    _configure_logs()


def post_fork(server, worker):
    _configure_logs()  # JSON lines (or a readable console on a terminal), with the request id


def child_exit(server, worker):
    # Prometheus multiprocess mode (PROMETHEUS_MULTIPROC_DIR): a dead worker's live gauges are dropped.
    from replenish.observability import metrics
    metrics.mark_process_dead(worker.pid)
