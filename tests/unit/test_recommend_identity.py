"""Model identity: a model answers only for the database it was trained on, only with SKUs of today's
catalog, and ``recommend batch`` answers what the API answers at the same moment."""
from __future__ import annotations

import json
import logging
import shutil
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import delete

from catalog.model import Product
from replenish.adapters import orm
from replenish.adapters.clock import ManualClock
from replenish.config import Settings
from replenish.db import make_engine
from replenish.domain import commands
from replenish.domain.history import Purchase

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)

CATALOG = [Product(f"MILK-{i}", f"Brand{i} Whole Milk, 64 oz", f"Brand{i}", "grocery/dairy/milk", 64, "oz", 399 + i)
           for i in range(6)] + \
          [Product(f"EGGS-{i}", f"Farm{i} Large Eggs, 12 ct", f"Farm{i}", "grocery/dairy/eggs", 12, "count", 499)
           for i in range(4)] + \
          [Product("GONE-1", "Brand9 Oat Milk, 64 oz", "Brand9", "grocery/dairy alternatives/oat milk", 64, "oz", 499)]


def _history(n_households: int = 30) -> list[Purchase]:
    out = []
    for h in range(n_households):
        milk, eggs = f"MILK-{h % 6}", f"EGGS-{h % 4}"
        for w in range(12):
            at = NOW - timedelta(days=7 * w + 1 + h % 3)
            out.append(Purchase(f"h{h}", milk, at, 1, f"{h}-{w}"))
            if w % 2 == 0:
                out.append(Purchase(f"h{h}", eggs, at, 1, f"{h}-{w}"))
            if h == 0 and w % 3 == 0:
                out.append(Purchase(f"h{h}", "GONE-1", at, 1, f"{h}-{w}"))
    return out


def build(tmp_path, name: str, models, clock):
    from replenish.bootstrap import bootstrap
    from tests.conftest import FakeLocks
    from tests.doubles import RecordingQueue
    settings = Settings(var_dir=tmp_path, database_url=f"sqlite:///{tmp_path / name}.db", model_dir=models)
    orm.start_mappers()
    engine = make_engine(settings.database_url)
    orm.metadata.create_all(engine)
    container = bootstrap(settings, clock=clock, queue=RecordingQueue(), locks=FakeLocks(), engine=engine)
    with container.uow() as uow:
        if not uow.products.all():
            uow.products.upsert_many(CATALOG)
            uow.session.commit()
            container.bus.handle(commands.CreateHousehold("h0", "Test Household", "1 Main St", "UTC"))
            uow.purchases.add_many(_history())
            uow.session.commit()
    container.recommendations.check_seconds = 0  # re-check on every request
    return container


@pytest.fixture
def clock():
    return ManualClock(NOW)


@pytest.fixture
def trained(tmp_path, clock):
    a = build(tmp_path, "a", tmp_path / "models", clock)
    version = a.recommendations.retrain()
    assert version and a.recommendations.status()["model"] == "learned"
    return a


def test_models_are_kept_per_database_and_never_served_against_another(tmp_path, clock, trained, caplog):
    b = build(tmp_path, "b", tmp_path / "models", clock)
    assert trained.recommendations.model_dir != b.recommendations.model_dir
    assert b.recommendations.status() == {**b.recommendations.status(), "model": "baseline", "loaded": False}
    assert "no trained model for this database" in b.recommendations.status()["detail"]
    # a model copied by hand into b's directory is still recognised as another database's
    shutil.rmtree(b.recommendations.model_dir, ignore_errors=True)
    shutil.copytree(trained.recommendations.model_dir, b.recommendations.model_dir)
    b.recommendations.reload()
    assert b.recommendations.status()["reason"] == "other_database"  # said before loading too
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            b.recommendations.resolve("h0", "milk")
    status = b.recommendations.status()
    assert status["model"] == "baseline" and status["reason"] == "other_database"
    assert "trained on another database" in status["detail"]
    said = [r for r in caplog.records if "another database" in r.getMessage()]
    assert len(said) == 1  # said once, not once per request


def test_answers_name_only_products_of_todays_catalog(trained):
    rec = trained.recommendations
    assert any(c.sku == "GONE-1" for c in rec.buy_again("h0", k=5))
    with trained.uow() as uow:
        uow.session.execute(delete(orm.products).where(orm.products.c.sku == "GONE-1"))
        uow.session.commit()
    status = rec.status()
    assert status["model"] == "learned" and status["reason"] == "catalog_changed"
    assert all(c.sku != "GONE-1" for c in rec.buy_again("h0", k=10))
    assert all(c.sku != "GONE-1" for c in rec.resolve("h0", "oat milk", k=5))
    assert all(t.sku != "GONE-1" for t in rec.running_low("h0", horizon_days=365, k=50))
    assert rec.next_purchase("h0", "GONE-1") is None
    out = list(rec.batch([json.dumps({"id": "1", "kind": "next_purchase", "household": "h0", "product": "GONE-1"}),
                          json.dumps({"id": "2", "kind": "buy_again", "household": "h0", "k": 10})]))
    assert "unknown product" in out[0]["error"]
    assert all(r["product"] != "GONE-1" for r in out[1]["results"])


def test_a_replaced_history_is_not_served_by_the_old_model(trained):
    with trained.uow() as uow:
        uow.session.execute(delete(orm.purchases))
        uow.session.commit()
        uow.purchases.add_many([Purchase("h0", "MILK-1", NOW - timedelta(days=2), 1, "x")])
        uow.session.commit()
    status = trained.recommendations.status()
    assert status["model"] == "baseline" and status["reason"] == "history_replaced"


def test_batch_and_api_give_the_same_answer_at_the_same_moment(tmp_path, clock, trained):
    # the API's process loaded its model before another process trained a new one
    api = build(tmp_path, "a", tmp_path / "models", clock)
    api.recommendations.model  # noqa: B018
    clock.advance(days=3)
    trained.recommendations.retrain()
    lines = [json.dumps({"id": "b", "kind": "buy_again", "household": "h0", "k": 3}),
             json.dumps({"id": "r", "kind": "resolve", "household": "h0", "query": "milk", "k": 3})]
    batch = {a["id"]: [(r["product"], r["score"]) for r in a["results"]] for a in trained.recommendations.batch(lines)}
    assert batch["b"] == [(c.sku, c.score) for c in api.recommendations.buy_again("h0", k=3)]
    assert batch["r"] == [(c.sku, c.score) for c in api.recommendations.resolve("h0", "milk", k=3)]
    assert api.recommendations.status()["version"] == trained.recommendations.status()["version"]


def test_cli_batch_uses_the_service(tmp_path, monkeypatch, trained):
    from replenish import cli
    monkeypatch.setattr(cli, "_container", lambda: trained)
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": "b", "kind": "buy_again", "household": "h0", "k": 2}) + "\n")
    result = CliRunner().invoke(cli.main, ["recommend", "batch", "--input", str(src), "--output", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert "answered 1 request (no errors)" in result.output
    answer = json.loads((tmp_path / "o").read_text().splitlines()[0])
    assert [r["product"] for r in answer["results"]] == [c.sku for c in trained.recommendations.buy_again("h0", k=2)]


def test_batch_names_a_household_that_does_not_exist(tmp_path, monkeypatch, trained):
    from replenish import cli
    monkeypatch.setattr(cli, "_container", lambda: trained)
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(json.dumps(line) for line in (
        {"id": "a", "kind": "resolve", "household": "h0", "query": "milk"},
        {"id": "b", "kind": "resolve", "household": "h-typo", "query": "milk"},
        {"id": "c", "kind": "buy_again", "household": "h-typo"},
        {"id": "d", "kind": "buy_again", "household": "h0", "k": 2},
        {"id": "e", "kind": "resolve", "household": "h-new", "query": "milk"})) + "\n")
    trained.bus.handle(commands.CreateHousehold("h-new", "New Household", "2 Main St", "UTC"))
    result = CliRunner().invoke(cli.main, ["recommend", "batch", "--input", str(src), "--output", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert "answered 5 requests (2 errors)" in result.output
    answers = {a["id"]: a for a in map(json.loads, (tmp_path / "o").read_text().splitlines())}
    assert answers["b"] == {"id": "b", "error": "there is no household 'h-typo'"} == {**answers["c"], "id": "b"}
    assert answers["a"]["results"] and len(answers["d"]["results"]) == 2
    # a household with no purchases yet is not a typo: it gets the cold-start answer
    assert answers["e"]["results"] and all("bought this" not in r["reason"] for r in answers["e"]["results"])


def test_batch_answers_every_line_of_a_file_that_is_not_all_text(tmp_path, monkeypatch, trained):
    from replenish import cli
    monkeypatch.setattr(cli, "_container", lambda: trained)
    src = tmp_path / "in.jsonl"
    src.write_bytes(json.dumps({"id": "a", "kind": "buy_again", "household": "h0", "k": 1}).encode() + b"\n"
                    + b"\x9a\xff\x00 not text\n"
                    + json.dumps({"id": "c", "kind": "buy_again", "household": "h0", "k": 1}).encode() + b"\n")
    result = CliRunner().invoke(cli.main, ["recommend", "batch", "--input", str(src), "--output", str(tmp_path / "o")])
    assert result.exit_code == 0 and "answered 3 requests (1 error)" in result.output, result.output
    answers = [json.loads(line) for line in (tmp_path / "o").read_text().splitlines()]
    assert [a["id"] for a in answers] == ["a", None, "c"] and "invalid JSON" in answers[1]["error"]


def test_fingerprint_verdicts():
    from replenish.recommend.identity import Fingerprint, verdict
    fp = Fingerprint("postgresql://db:5432/app#1", 10, "abc", 100)
    assert verdict(fp, fp)[0] == "ok"
    assert verdict(fp, replace(fp, history_max_id=150))[0] == "ok"  # history grows after training
    assert verdict(fp, replace(fp, database="postgresql://db:5432/app#2"))[0] == "other_database"
    assert verdict(fp, replace(fp, history_max_id=50))[0] == "history_replaced"
    assert verdict(fp, replace(fp, sku_hash="def"))[0] == "catalog_changed"
    assert verdict(None, fp)[0] == "unknown"
    assert Fingerprint.from_dict(fp.as_dict()) == fp and Fingerprint.from_dict({"x": 1}) is None
