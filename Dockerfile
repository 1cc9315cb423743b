# Replenish for the real-service mode: one image for web, worker and beat (compose.yaml runs the Procfile's
# commands). Runtime requirements only; no compilers, no tests, runs as an unprivileged user.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    REPLENISH_VAR_DIR=/app/var \
    HOST=0.0.0.0 \
    PORT=8000

WORKDIR /app
RUN groupadd --system --gid 10001 replenish \
 && useradd --system --uid 10001 --gid replenish --home-dir /app --shell /usr/sbin/nologin replenish

# Dependencies first (a layer that changes only with the lock): exactly the runtime pins the tests ran on, with
# their hashes (requirements.lock, made by `make lock`); then the partner SDK, this repository's own.
COPY partner-sdk /app/partner-sdk
COPY requirements.lock /app/requirements.lock
RUN pip install --require-hashes -r requirements.lock && pip install --no-deps ./partner-sdk

COPY pyproject.toml Procfile /app/
COPY replenish /app/replenish
COPY catalog /app/catalog
COPY skills /app/skills
COPY workers /app/workers
COPY infra/gunicorn.conf.py /app/infra/gunicorn.conf.py
RUN pip install --no-deps . \
 && mkdir -p /app/var && chown replenish:replenish /app/var

USER replenish
EXPOSE 8000
# The web container's health check is in compose.yaml (worker and beat use this image too).
CMD ["gunicorn", "-c", "infra/gunicorn.conf.py", "replenish.web.wsgi:app"]
