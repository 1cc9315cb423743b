"""`replenish recommend train|batch`, `replenish evaluate`, `replenish synth`: thin wrappers over the recommender."""
from __future__ import annotations

import json

import click


def register(main: click.Group) -> None:
    main.add_command(recommend)
    main.add_command(evaluate)
    main.add_command(synth)


@click.group()
def recommend() -> None:
    """Train and query the recommender."""


@recommend.command()
def train() -> None:
    """Fit all models on the stored purchase history and serve the new version."""
    from replenish.cli import _container
    from replenish.progress import Progress
    container = _container()
    progress = Progress("train")
    version = container.recommendations.retrain(progress=progress.stage)
    if version is None:
        raise click.ClickException("the catalog is empty: import or seed products first")
    click.echo(f"trained model version {version} in {container.recommendations.model_dir}; {peak_memory()}")


def peak_memory() -> str:
    """This process's peak resident memory, for commands whose memory must stay bounded (train, import)."""
    import resource
    return f"peak memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB"


@recommend.command()
@click.option("--input", "input_path", required=True, type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option("--output", "output_path", required=True, type=click.Path(dir_okay=False, allow_dash=True))
def batch(input_path: str, output_path: str) -> None:
    """Answer one JSON request per line (resolve, buy_again, next_purchase) with one JSON object per line."""
    from replenish.cli import _container
    service = _container().recommendations
    with click.open_file(input_path, "r", encoding="utf-8", errors="surrogateescape") as source, \
            click.open_file(output_path, "w", encoding="utf-8") as sink:
        answered = errors = 0
        # the service's own path: the model, clock, histories and catalog filter the API answers with
        for answer in service.batch(source):
            sink.write(json.dumps(answer) + "\n")
            answered += 1
            errors += "error" in answer
    status = service.status()
    if status.get("model") == "baseline":
        click.echo(f"note: answered with catalog baselines: {status.get('detail')}", err=True)
    from replenish.services.messages import plural
    click.echo(f"answered {plural(answered, 'request')} ({plural(errors, 'error') if errors else 'no errors'})",
               err=True)


def instacart_directory(directory: str) -> None:
    """Refuses, with a message naming them, a directory without the files an Instacart directory holds."""
    from catalog.instacart import missing_files
    from replenish.services.messages import and_list
    missing = missing_files(directory)
    if missing:
        raise click.ClickException(f"{directory} is not an Instacart directory: it lacks {and_list(missing)}")


def report_bad_rows(bad: list, shown: int = 50) -> None:
    """The first ``shown`` rows a reader skipped, by file and line, and how many more there were."""
    for row in bad[:shown]:
        click.echo(f"bad row: {row.file} line {row.line}: {row.reason}", err=True)
    if len(bad) > shown:
        click.echo(f"... and {len(bad) - shown:,} more bad rows", err=True)


@click.command()
@click.option("--data", "data_dir", required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--max-households", type=click.IntRange(min=1), default=None,
              help="Evaluate on the first N households only.")
@click.option("--chart", "chart_path", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Also draw the margins and their intervals as an SVG forest plot to this file.")
def evaluate(data_dir: str, max_households: int | None, chart_path: str | None) -> None:
    """Offline evaluation on an Instacart-format directory: each household's last order held out."""
    from replenish.progress import Progress
    from replenish.recommend.evaluate import NothingToEvaluate, format_report
    from replenish.recommend.evaluate import evaluate as run
    instacart_directory(data_dir)
    progress = Progress("evaluate")
    bad: list = []
    try:
        report = run(data_dir, progress=progress.stage, max_households=max_households, on_error=bad.append)
    except NothingToEvaluate as exc:
        report_bad_rows(bad)
        raise click.ClickException(str(exc)) from None
    report_bad_rows(bad)
    click.echo(format_report(report))
    if chart_path:
        from pathlib import Path

        from replenish.recommend.evaluate_chart import forest_svg
        svg = forest_svg(report, f"Learned vs simple rules: {Path(data_dir).name}, {report.households:,} households")
        if not svg:
            click.echo("no chart: too few households to put an interval on any margin", err=True)
            return
        try:
            Path(chart_path).write_text(svg, encoding="utf-8")
        except OSError as exc:
            raise click.ClickException(f"could not write the chart to {chart_path}: {exc.strerror}") from None
        click.echo(f"chart: {chart_path}", err=True)


@click.command()
@click.option("--households", required=True, type=click.IntRange(1, 1_000_000))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False))
@click.option("--seed", default=0, type=int)
@click.option("--orders", "order_counts", default="wide", show_default=True, type=click.Choice(["wide", "instacart"]),
              help="Orders per household: wide (6 to 69, evenly) or shaped like Instacart's users (4 to 100, "
                   "16.6 on average: 206,209 households make about 3.4M orders and 33M lines).")
def synth(households: int, out_dir: str, seed: int, order_counts: str) -> None:
    """Write a synthetic Instacart-format dataset with realistic shopping habits."""
    from replenish.progress import Progress
    from replenish.recommend.synth import generate
    progress = Progress("synth")
    generate(households, out_dir, seed=seed, progress=progress.stage, order_counts=order_counts)
    click.echo(f"wrote {households} households to {out_dir}")
