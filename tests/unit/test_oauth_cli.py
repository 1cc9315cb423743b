"""`replenish oauth-client create|list|revoke` and `replenish oauth-token` on a fresh SQLite file, their JSON
answers and refusals (never a traceback), and the README's "Alexa account linking" example run as written."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from replenish.domain.model import hash_secret
from tests.cli_runs import run

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
REDIRECT = "https://pitangui.amazon.com/api/skill/link/M2AAAAAAAAAAAA"




def last_json(output: str) -> dict:
    return json.loads(output.strip().splitlines()[-1])


def container_for_env():
    from replenish.bootstrap import bootstrap
    from replenish.config import Settings
    return bootstrap(Settings.from_env())


def test_create_list_token_and_revoke(cli_env):
    code, out = run("household", "create", "h9", "--name", "Nine", "--json")
    assert code == 0, out
    code, out = run("oauth-client", "create", "--name", "alexa", "--redirect-uri", REDIRECT, "--json")
    assert code == 0, out
    client = last_json(out)
    assert client["client_id"].startswith("rpc_") and client["client_secret"].startswith("rpcs_")
    assert client["display_name"] == "Replenish for Alexa" and client["redirect_uris"] == [REDIRECT]
    assert client["scope"] == "orders:place orders:cancel orders:read"

    code, out = run("oauth-token", "--household", "h9", "--client", "alexa", "--scope", "orders:read orders:place",
                    "--json")
    assert code == 0, out
    token = last_json(out)
    assert token["token_type"] == "Bearer" and token["expires_in"] == 3600
    assert token["access_token"].startswith("rpa_") and token["refresh_token"].startswith("rpr_")
    assert token["scope"] == "orders:place orders:read"

    container = container_for_env()
    from replenish.oauth import service
    assert [a["can"] for a in service.linked_apps(container, "h9")] == [["order", "check orders"]]
    with container.uow() as uow:
        household, scope = uow.oauth.household_for_access_token(hash_secret(token["access_token"]),
                                                                container.clock())
        assert household.id == "h9" and scope == "orders:place orders:read"

    code, out = run("oauth-client", "list", "--json")
    assert code == 0 and [(c["name"], c["linked_households"]) for c in last_json(out)["clients"]] == [("alexa", 1)]
    assert "client_secret" not in out and client["client_secret"] not in out
    code, out = run("oauth-client", "list")
    assert code == 0 and "alexa" in out and "1 linked" in out

    code, out = run("oauth-client", "revoke", "alexa", "--json")
    assert code == 0 and last_json(out) == {"revoked": "alexa", "client_id": client["client_id"],
                                            "households_unlinked": 1}
    assert service.linked_apps(container, "h9") == []
    code, out = run("oauth-client", "list", "--json")
    assert last_json(out) == {"clients": []}


@pytest.mark.parametrize("args, field, code_name", [
    (["oauth-client", "create", "--name", "Alexa Skill", "--redirect-uri", REDIRECT], "--name", "invalid"),
    (["oauth-client", "create", "--name", "alexa", "--redirect-uri", "http://evil.example/cb"], "--redirect-uri",
     "invalid"),
    (["oauth-client", "create", "--name", "alexa", "--redirect-uri", "not a url"], "--redirect-uri", "invalid"),
    (["oauth-client", "create", "--name", "alexa", "--redirect-uri", REDIRECT + "#x"], "--redirect-uri", "invalid"),
    (["oauth-client", "create", "--name", "alexa", "--redirect-uri", REDIRECT, "--scope", "orders:everything"],
     "--scope", "invalid_scope"),
    (["oauth-client", "create", "--name", "dup", "--redirect-uri", REDIRECT], "--name", "conflict"),
    (["oauth-token", "--household", "demo-nobody", "--client", "dup"], "--household", "not_found"),
    (["oauth-token", "--household", "h9", "--client", "nobody"], "--client", "not_found"),
    (["oauth-token", "--household", "h9", "--client", "dup", "--scope", "household:limits"], "--scope",
     "invalid_scope"),
    (["oauth-token", "--household", "h9", "--client", "narrow", "--scope", "orders:place"], "--scope",
     "invalid_scope"),
    (["oauth-client", "revoke", "nobody"], "NAME", "not_found"),
])
def test_bad_input_is_a_json_refusal_naming_the_option(cli_env, args, field, code_name):
    run("household", "create", "h9", "--json")
    run("oauth-client", "create", "--name", "dup", "--redirect-uri", REDIRECT, "--json")
    run("oauth-client", "create", "--name", "narrow", "--redirect-uri", REDIRECT, "--scope", "orders:read", "--json")
    code, out = run(*args, "--json")
    assert code == 2, out
    error = last_json(out)["error"]
    assert error["field"] == field and error["code"] == code_name and error["message"]
    code, out = run(*args)  # without --json: click's one-line error naming the option
    assert code == 2 and "Error: Invalid value for" in out and field in out


def test_a_client_without_redirect_uri_or_name_is_a_usage_error(cli_env):
    code, out = run("oauth-client", "create", "--name", "alexa", "--json")
    assert code == 2 and "--redirect-uri" in out


# -- the README's example, as written -----------------------------------------------------------------------
def _section() -> str:
    text = README.read_text()
    start = text.index("## Alexa account linking")
    end = text.find("\n## ", start + 10)
    return text[start:end if end > 0 else None]


def _bash(script: str, cwd: Path) -> str:
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=cwd, capture_output=True, text=True,
                          timeout=240, env={**os.environ, "PATH": path})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    return done.stdout


def test_the_readme_example_works_as_written(cli_env, monkeypatch):
    blocks = re.findall(r"```sh\n(.*?)```", _section(), re.S)
    local = next(b for b in blocks if "replenish oauth-token" in b and "curl" not in b)
    voice = next(b for b in blocks if "curl" in b)
    assert "replenish oauth-token --household demo --client alexa --scope " \
           '"orders:place orders:cancel orders:read" --json' in local

    printed = _bash(local, cli_env).strip().splitlines()
    client, token = json.loads(printed[-2]), json.loads(printed[-1])
    assert client["name"] == "alexa" and client["client_id"] and client["client_secret"]
    assert token["access_token"].startswith("rpa_") and token["expires_in"] == 3600

    # The server the block starts in the background runs here in a thread, on a free port, without signatures.
    assert voice.splitlines()[0] == "REPLENISH_ALEXA_VERIFY=0 replenish serve &"
    monkeypatch.setenv("REPLENISH_ALEXA_VERIFY", "0")
    from replenish.web import create_app
    container = container_for_env()
    httpd = make_server("127.0.0.1", 0, create_app(container), threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        script = "\n".join(voice.splitlines()[1:]).replace("http://127.0.0.1:8000", f"http://127.0.0.1:"
                                                                                   f"{httpd.server_port}")
        answer = json.loads(_bash(script, cli_env))
    finally:
        httpd.shutdown()
        thread.join(5)
    speech = answer["response"]["outputSpeech"]["ssml"]
    assert speech.startswith("<speak>I found ") and "Should I order it?" in speech, speech
    assert answer["response"].get("card") is None
