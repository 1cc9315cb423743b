"""Seeing inside a running deployment: structured logs with a request id (``logs``), Prometheus metrics
(``metrics``), their web side (``web``: request ids, ``/metrics``) and their Celery side (``celery``)."""
