"""The deployment definitions agree with each other and are valid: the Procfile (what `make services` runs),
compose.yaml, the Dockerfile, and the skill's SAM template (checked by cfn-lint)."""
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def procfile() -> dict[str, str]:
    entries = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, command = line.partition(":")
            entries[name.strip()] = command.strip()
    return entries


def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def as_words(command) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else list(command)


def test_the_procfile_runs_web_worker_and_beat():
    assert set(procfile()) == {"web", "worker", "beat"}
    assert procfile()["web"].startswith("gunicorn -c infra/gunicorn.conf.py ")


def test_compose_runs_the_procfiles_commands():
    services = compose()["services"]
    for name, command in procfile().items():
        assert as_words(services[name]["command"]) == shlex.split(command), name
    assert {"postgres", "redis"} <= set(services)
    for name in procfile():  # the app's containers start after the schema is there and Redis answers
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert services[name]["environment"]["DATABASE_URL"].startswith("postgresql://")


def test_the_image_is_slim_unprivileged_runtime_only_and_serves_the_procfiles_web():
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", text, re.M)
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users and users[-1] not in ("root", "0")
    assert "--require-hashes -r requirements.lock" in text and "requirements-test" not in text
    cmd = re.search(r"^CMD\s+(\[.*\])\s*$", text, re.M)
    assert cmd and yaml.safe_load(cmd.group(1)) == shlex.split(procfile()["web"])
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", "tests", "var"} <= set(ignored)


def test_the_sam_template_deploys_the_skills_lambda_entry_for_one_skill():
    template = yaml.safe_load((ROOT / "template.yaml").read_text().replace("!Ref ", "").replace("!GetAtt ", ""))
    function = template["Resources"]["SkillFunction"]
    assert function["Type"] == "AWS::Serverless::Function"
    events = function["Properties"]["Events"]
    assert [e["Type"] for e in events.values()] == ["AlexaSkill"]
    assert list(events.values())[0]["Properties"]["SkillId"] == "AlexaSkillId"
    dockerfile = (ROOT / function["Metadata"]["Dockerfile"]).read_text()
    handler = yaml.safe_load(re.search(r"^CMD\s+(\[.*\])", dockerfile, re.M).group(1))[0]
    module, _, name = handler.rpartition(".")
    import importlib
    assert callable(getattr(importlib.import_module(module), name))


def test_cfn_lint_finds_nothing_in_the_sam_template():
    script = Path(sys.executable).parent / "cfn-lint"  # requirements-test.txt installs it beside this Python
    command = [str(script)] if script.exists() else [shutil.which("cfn-lint") or "cfn-lint"]
    result = subprocess.run([*command, str(ROOT / "template.yaml")], capture_output=True, text=True, timeout=300,
                            cwd=ROOT)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr
