"""`replenish skill package` on a fresh SQLite file: it writes a package that validates, built from the catalog
in the database; every refusal names the option, shows no traceback and writes nothing."""
from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from catalog.model import Product
from skills.skill_package import validate
from tests.cli_runs import run

GOOD = ["--endpoint", "https://replenish.shop/alexa", "--privacy-url", "https://replenish.shop/privacy",
        "--terms-url", "https://replenish.shop/terms"]




def add_products(*products: Product) -> None:
    from replenish.bootstrap import bootstrap
    from replenish.config import Settings
    from replenish.db import migrate
    settings = Settings.from_env()
    migrate(settings.database_url)
    container = bootstrap(settings)
    with container.uow() as uow:
        uow.products.upsert_many(list(products))
        uow.commit()


def png(size: int, colour=(200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def test_writes_a_package_that_validates_from_the_catalog(cli_env):
    add_products(Product("Z1", "Zesty Dish Soap", brand="Zesty", category="household/kitchen/dish_soap"),
                 Product("Q1", "Quux Gizmo Wax", brand="Quux", category="household/care/gizmo_wax"))
    out = cli_env / "skill-package"
    code, output = run("skill", "package", *GOOD, "--out", str(out))
    assert code == 0, output
    assert validate.validate_dir(out) == []
    assert sorted(p.name for p in (out / "interactionModels/custom").iterdir()) == \
        ["de-DE.json", "en-GB.json", "en-US.json"]
    us = (out / "interactionModels/custom/en-US.json").read_text(encoding="utf-8")
    de = (out / "interactionModels/custom/de-DE.json").read_text(encoding="utf-8")
    assert "zesty dish soap" in us and "zesty spülmittel" in de  # the catalog, in each locale's words
    assert "gizmo wax" in us and "gizmo" not in de
    assert "2 catalog products" in output and '"home replenish"' in output
    assert "1 catalog category without a name in this language, left out: gizmo wax" in output
    manifest = json.loads((out / "skill.json").read_text(encoding="utf-8"))["manifest"]
    assert manifest["apis"]["custom"]["endpoint"]["uri"] == "https://replenish.shop/alexa"


def test_icons_from_a_directory_and_custom_options(cli_env):
    icons = cli_env / "icons"
    icons.mkdir()
    (icons / "logo.png").write_bytes(png(512))
    (icons / "notes.txt").write_text("not an icon")
    out = cli_env / "pkg"
    code, output = run("skill", "package", *GOOD, "--icons", str(icons), "--invocation-name", "kitchen restock",
                       "--ssl-certificate-type", "Trusted", "--locale", "de-DE", "--out", str(out))
    assert code == 0, output
    assert validate.validate_dir(out) == []
    assert (out / "assets/images/icon-512.png").read_bytes() == png(512)
    with Image.open(out / "assets/images/icon-108.png") as small:
        assert small.size == (108, 108) and small.getpixel((54, 54)) == (200, 30, 30)
    manifest = json.loads((out / "skill.json").read_text(encoding="utf-8"))["manifest"]
    assert list(manifest["publishingInformation"]["locales"]) == ["de-DE"]
    assert manifest["apis"]["custom"]["endpoint"]["sslCertificateType"] == "Trusted"
    model = json.loads((out / "interactionModels/custom/de-DE.json").read_text(encoding="utf-8"))
    assert model["interactionModel"]["languageModel"]["invocationName"] == "kitchen restock"


def test_a_lambda_function_endpoint(cli_env):
    arn = "arn:aws:lambda:eu-west-1:123456789012:function:replenish-skill"
    out = cli_env / "pkg"
    code, output = run("skill", "package", *_replace(GOOD, "--endpoint", arn), "--out", str(out))
    assert code == 0, output
    assert validate.validate_dir(out) == []
    manifest = json.loads((out / "skill.json").read_text(encoding="utf-8"))["manifest"]
    assert manifest["apis"]["custom"]["endpoint"] == {"uri": arn}  # no certificate type for a Lambda


def test_rebuilding_with_fewer_locales_drops_the_old_models(cli_env):
    out = cli_env / "pkg"
    assert run("skill", "package", *GOOD, "--out", str(out))[0] == 0
    (out / "ask-resources-note.txt").write_text("mine")
    assert run("skill", "package", *GOOD, "--locale", "en-US", "--out", str(out))[0] == 0
    assert [p.name for p in (out / "interactionModels/custom").iterdir()] == ["en-US.json"]
    assert (out / "ask-resources-note.txt").read_text() == "mine"  # not ours: left alone
    assert validate.problems({k: v for k, v in validate.read_dir(out).items() if k.endswith((".json", ".png"))}) == []


def _replace(args: list[str], option: str, value: str) -> list[str]:
    args = list(args)
    args[args.index(option) + 1] = value
    return args


@pytest.mark.parametrize("args, option, says", [
    (_replace(GOOD, "--endpoint", "http://replenish.shop/alexa"), "'--endpoint'", "not an https URL"),
    (_replace(GOOD, "--endpoint", "https://example.invalid/alexa"), "'--endpoint'", "placeholder"),
    (_replace(GOOD, "--endpoint", "https://localhost/alexa"), "'--endpoint'", "placeholder or local host"),
    (_replace(GOOD, "--endpoint", "https://127.0.0.1/alexa"), "'--endpoint'", "private or local address"),
    (_replace(GOOD, "--endpoint", "https://replenish.shop:8443/alexa"), "'--endpoint'", "port 443"),
    (_replace(GOOD, "--endpoint", "arn:aws:lambda:eu-west-1:1234:function:x"), "'--endpoint'", "not an AWS Lambda"),
    (_replace(GOOD, "--privacy-url", "arn:aws:lambda:eu-west-1:123456789012:function:x"), "'--privacy-url'",
     "not an https URL"),
    (_replace(GOOD, "--privacy-url", "http://replenish.shop/privacy"), "'--privacy-url'", "not an https URL"),
    (_replace(GOOD, "--privacy-url", "https://example.invalid/privacy"), "'--privacy-url'", "placeholder"),
    (_replace(GOOD, "--terms-url", "ftp://replenish.shop/terms"), "'--terms-url'", "not an https URL"),
    (GOOD + ["--invocation-name", "replenish"], "'--invocation-name'", "is one word"),
    (GOOD + ["--invocation-name", "open replenish"], "'--invocation-name'", "'open'"),
    (GOOD + ["--invocation-name", "ask replenish"], "'--invocation-name'", "'ask'"),
    (GOOD + ["--invocation-name", "alexa shopping"], "'--invocation-name'", "'alexa'"),
    (GOOD + ["--invocation-name", "amazon restock"], "'--invocation-name'", "'amazon'"),
    (GOOD + ["--invocation-name", "replenish skill"], "'--invocation-name'", "'skill'"),
    (GOOD + ["--invocation-name", "replenish app"], "'--invocation-name'", "'app'"),
    (GOOD + ["--invocation-name", "Home Replenish"], "'--invocation-name'", "lower-case"),
    (GOOD + ["--invocation-name", "frag vorrat"], "'--invocation-name'", "(de-DE)"),
    (GOOD + ["--locale", "fr-FR"], "'--locale'", "no locale file for fr-FR"),
])
def test_refusals_name_the_option_and_write_nothing(cli_env, args, option, says):
    out = cli_env / "refused"
    code, output = run("skill", "package", *args, "--out", str(out))
    assert code == 2, output
    assert option in output and says in output, output
    assert not out.exists()
    assert not (cli_env / "var").exists()  # refused before the database was even opened


def test_icons_of_the_wrong_size_are_refused(cli_env):
    icons = cli_env / "icons"
    icons.mkdir()
    (icons / "small.png").write_bytes(png(100))
    (icons / "broken.png").write_bytes(b"not a png")
    out = cli_env / "refused"
    code, output = run("skill", "package", *GOOD, "--icons", str(icons), "--out", str(out))
    assert code == 2, output
    assert "'--icons'" in output and "no 512x512 PNG" in output and "small.png is 100x100" in output
    assert "broken.png is not a PNG" in output
    assert not out.exists()


def test_missing_required_option_is_a_usage_error(cli_env):
    code, output = run("skill", "package", "--endpoint", "https://replenish.shop/alexa", "--out", str(cli_env / "o"))
    assert code == 2 and "--privacy-url" in output
    assert not (cli_env / "o").exists()


def test_the_command_is_listed(cli_env):
    code, output = run("skill", "--help")
    assert code == 0 and "package" in output
