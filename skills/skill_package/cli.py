"""``replenish skill package``: write a submission-ready skill package for the current catalog."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from skills.skill_package import build, validate
from skills.skill_package.icons import IconError, generated_icons, icons_from


def _check_url(ctx: click.Context, param: click.Parameter, value: str) -> str:
    problem = validate.url_problem(value)
    if problem:
        raise click.BadParameter(problem, ctx=ctx, param=param)
    return value


def _check_endpoint(ctx: click.Context, param: click.Parameter, value: str) -> str:
    problem = validate.endpoint_problem(value)
    if problem:
        raise click.BadParameter(problem, ctx=ctx, param=param)
    return value


def _check_invocation(ctx: click.Context, param: click.Parameter, value: str) -> str:
    problems = validate.invocation_problems(value)
    if problems:
        raise click.BadParameter("; ".join(problems), ctx=ctx, param=param)
    return value


def _check_locales(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> list[str]:
    known = build.available_locales()
    unknown = [code for code in value if code not in known]
    if unknown:
        raise click.BadParameter(f"no locale file for {', '.join(unknown)} (known: {', '.join(known)}; a locale is "
                                 "a file in skills/skill_package/data/locales/)", ctx=ctx, param=param)
    return list(dict.fromkeys(value)) or known


def register(main: click.Group, container_factory: Callable[[], object]) -> None:
    @main.group("skill")
    def skill() -> None:
        """The Alexa skill: build its package for the developer console or the ASK CLI."""

    @skill.command("package")
    @click.option("--endpoint", required=True, callback=_check_endpoint,
                  help="The https URL Alexa posts requests to (this server's /alexa), or the ARN of the AWS Lambda "
                       "function running skills/lambda_function.py.")
    @click.option("--privacy-url", required=True, callback=_check_url, help="The https privacy policy URL.")
    @click.option("--terms-url", required=True, callback=_check_url, help="The https terms of use URL.")
    @click.option("--icons", "icons_dir", type=click.Path(file_okay=False, path_type=Path),
                  help="A directory with a 512x512 PNG icon (and a 108x108 one; else scaled down). Default: drawn.")
    @click.option("--invocation-name", default=build.skill_data()["defaultInvocationName"],
                  show_default=True, callback=_check_invocation,
                  help="What people say after \"Alexa, open\": two or more lower-case words.")
    @click.option("--ssl-certificate-type", type=click.Choice(validate.SSL_CERTIFICATE_TYPES),
                  default=build.skill_data()["sslCertificateType"], show_default=True,
                  help="The endpoint's certificate: Trusted (a CA's), Wildcard (a CA's wildcard), SelfSigned.")
    @click.option("--locale", "locales", multiple=True, callback=_check_locales,
                  help="Only these locales (repeatable). Default: every locale file.")
    @click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
                  help="The skill-package directory to write (created if missing).")
    def package(endpoint: str, privacy_url: str, terms_url: str, icons_dir: Path | None, invocation_name: str,
                ssl_certificate_type: str, locales: list[str], out: Path) -> None:
        """Write skill.json, an interaction model per locale and the icons, checked against Amazon's rules."""
        try:
            icons = icons_from(icons_dir) if icons_dir is not None else generated_icons()
        except IconError as exc:
            raise click.BadParameter(str(exc), param_hint="'--icons'") from exc
        products = _catalog(container_factory)
        made = build.build_package(products, endpoint=endpoint, privacy_url=privacy_url, terms_url=terms_url,
                                   icons=icons, invocation_name=invocation_name, locales=locales,
                                   ssl_certificate_type=ssl_certificate_type)
        problems = validate.problems(made.files)
        if problems:
            raise click.ClickException("the package would not pass certification, nothing written:\n  "
                                       + "\n  ".join(problems))
        build.write_package(made, out)
        click.echo(f"skill package written to {out} ({len(products):,} catalog products; "
                   f"invocation name \"{invocation_name}\")")
        for code in locales:
            merge = made.merges.get(code, {})
            model = made.json(f"{build.MODEL_DIR}/{code}.json")["interactionModel"]["languageModel"]
            samples = sum(len(i.get("samples", [])) for i in model["intents"])
            line = f"  {code}: {samples} sample utterances, {merge.get('values', 0)} item values"
            untranslated = merge.get("untranslated") or []
            if untranslated:
                shown = ", ".join(untranslated[:8]) + (f" and {len(untranslated) - 8} more" if len(untranslated) > 8
                                                       else "")
                line += (f"; {len(untranslated)} catalog categor{'y' if len(untranslated) == 1 else 'ies'} "
                         f"without a name in this language, left out: {shown} "
                         f"(add them to catalogNames in {code}.json)")
            click.echo(line)


def _catalog(container_factory: Callable[[], Any]) -> list:
    try:
        container = container_factory()
        with container.uow() as uow:
            return uow.products.all()
    except Exception as exc:  # the database is the operator's to fix; say which and stop
        raise click.ClickException(f"could not read the catalog from the database: {exc}") from exc
