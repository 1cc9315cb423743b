"""Secrets never reach the logs: one-time sign-in links in the request log of the development server and in
gunicorn's access log."""
import datetime
import logging

from replenish.web import logredact

SECRET = "Zq3xYv2JrK8mN0pT4sW6uA"


def test_the_development_servers_request_log_redacts_a_one_time_link(caplog):
    logredact.install("werkzeug")
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        logging.getLogger("werkzeug").info('%s - - [x] "%s" %s -', "127.0.0.1",
                                           f"GET /dashboard/link/{SECRET} HTTP/1.1", "200")
    assert SECRET not in caplog.text and "/dashboard/link/[redacted]" in caplog.text


def test_gunicorns_access_log_line_redacts_a_one_time_link():
    from gunicorn.config import Config

    class Response:
        status, sent, headers = "200 OK", 10, []

    environ = {"REQUEST_METHOD": "POST", "RAW_URI": f"/dashboard/link/{SECRET}?next=/dashboard/",
               "PATH_INFO": f"/dashboard/link/{SECRET}", "SERVER_PROTOCOL": "HTTP/1.1", "QUERY_STRING": "",
               "REMOTE_ADDR": "127.0.0.1", "HTTP_REFERER": f"https://example/dashboard/link/{SECRET}"}
    logger = logredact.GunicornLogger(Config())
    atoms = logger.atoms(Response(), [], environ, datetime.timedelta(milliseconds=3))
    line = logger.cfg.access_log_format % atoms
    assert SECRET not in line and "/dashboard/link/[redacted]" in line
    assert SECRET not in atoms["U"] and SECRET not in atoms["f"]


def test_paths_without_secrets_are_left_alone():
    assert logredact.redact("GET /v1/orders HTTP/1.1") == "GET /v1/orders HTTP/1.1"
    assert logredact.redact("GET /dashboard/links HTTP/1.1") == "GET /dashboard/links HTTP/1.1"
