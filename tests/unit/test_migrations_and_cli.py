"""Schema migrations match the models; the CLI's set-up commands work on a fresh SQLite file."""
import json
import re

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import create_engine

from replenish.adapters import orm
from replenish.cli import main
from replenish.db import migrate


def test_alembic_head_matches_the_models(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    migrate(url)
    engine = create_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), orm.metadata)
    # SQLite cannot tell timezone-aware from naive columns; everything else must match.
    assert [d for d in diff if not (isinstance(d, list) and d and d[0][0] == "modify_type")] == []


def test_seed_demo_json_then_import_instacart(tmp_path, monkeypatch):
    monkeypatch.setenv("REPLENISH_VAR_DIR", str(tmp_path / "var"))
    for name in ("DATABASE_URL", "REDIS_URL", "BROKER_URL"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()
    result = runner.invoke(main, ["seed-demo", "--json"])
    assert result.exit_code == 0, result.output
    seeded = json.loads(result.output.strip().splitlines()[-1])
    assert seeded["household_id"] == "demo" and seeded["token"].startswith("rpl_")
    again = json.loads(runner.invoke(main, ["seed-demo", "--json"]).output.strip().splitlines()[-1])
    assert again["token"] != seeded["token"]  # a fresh token each time; the household is not seeded twice

    data = tmp_path / "instacart"
    data.mkdir()
    (data / "departments.csv").write_text("department_id,department\n1,dairy eggs\n")
    (data / "aisles.csv").write_text("aisle_id,aisle\n1,milk\n")
    (data / "products.csv").write_text('product_id,product_name,aisle_id,department_id\n'
                                       '10,"Organic Whole Milk, Half Gallon",1,1\n11,Almond Milk,1,1\n')
    (data / "orders.csv").write_text(
        "order_id,user_id,eval_set,order_number,order_dow,order_hour_of_day,days_since_prior_order\n"
        "1,7,prior,1,0,9,\n2,7,prior,2,3,10,7.0\n3,7,train,3,1,11,14.0\n")
    (data / "order_products__prior.csv").write_text(
        "order_id,product_id,add_to_cart_order,reordered\n1,10,1,0\n2,10,1,1\n2,11,2,0\n2,oops,3,0\n")
    (data / "order_products__train.csv").write_text("order_id,product_id,add_to_cart_order,reordered\n3,10,1,1\n")
    result = runner.invoke(main, ["import", "instacart", str(data), "--anchor", "2026-03-01"])
    assert result.exit_code == 0, result.output
    assert "4 purchase lines" in result.output and "1 new household;" in result.output and "1 bad row " in result.output
    assert re.search(r"peak memory [\d,]+ MB", result.output)  # an import's memory must stay bounded: it says
    assert result.output.count("order_products__prior.csv line 5") == 1  # the bad row, by file and line, once

    from replenish.bootstrap import bootstrap
    from replenish.config import Settings
    container = bootstrap(Settings.from_env())
    history = container.recommendations.history("7")
    assert [p.sku for p in history] == ["10", "10", "11", "10"]
    assert history[-1].ordered_at.date().isoformat() == "2026-03-01"
    assert (history[-1].ordered_at - history[0].ordered_at).days == 21


def test_bad_anchor_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("REPLENISH_VAR_DIR", str(tmp_path / "var"))
    result = CliRunner().invoke(main, ["import", "instacart", str(tmp_path), "--anchor", "yesterday"])
    assert result.exit_code == 2 and "--anchor" in result.output


def test_a_directory_that_is_not_instacart_is_named_and_nothing_is_imported(tmp_path, monkeypatch):
    monkeypatch.setenv("REPLENISH_VAR_DIR", str(tmp_path / "var"))
    for name in ("DATABASE_URL", "REDIS_URL", "BROKER_URL"):
        monkeypatch.delenv(name, raising=False)
    data = tmp_path / "downloads"
    data.mkdir()
    (data / "products.csv").write_text("product_id,product_name,aisle_id,department_id\n10,Milk,1,1\n")
    runner = CliRunner()
    assert runner.invoke(main, ["seed-demo"]).exit_code == 0
    from replenish.bootstrap import bootstrap
    from replenish.config import Settings
    container = bootstrap(Settings.from_env())
    with container.uow() as uow:
        before = len(uow.products.all())
    for args in (["import", "instacart", str(data)], ["evaluate", "--data", str(data)]):
        result = runner.invoke(main, args)
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert "is not an Instacart directory: it lacks orders.csv and order lines " \
               "(order_products__prior.csv or order_products__train.csv)" in result.output, result.output
    with container.uow() as uow:
        assert len(uow.products.all()) == before  # the products.csv that was there was not imported either


def test_evaluate_reports_a_file_that_is_not_text_and_says_there_is_nothing_to_evaluate(tmp_path):
    data = tmp_path / "instacart"
    data.mkdir()
    (data / "products.csv").write_text("product_id,product_name,aisle_id,department_id\n10,Milk,1,1\n")
    (data / "orders.csv").write_bytes(b"\x9a\xff\x00binary" * 50)
    (data / "order_products__prior.csv").write_text("order_id,product_id,add_to_cart_order,reordered\n1,10,1,0\n")
    result = CliRunner().invoke(main, ["evaluate", "--data", str(data)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "bad row: orders.csv line 1: not UTF-8 text; the rest of the file was skipped" in result.output
    assert "nothing to hold out and learn from" in result.output
    refused = CliRunner().invoke(main, ["evaluate", "--data", str(data), "--max-households", "0"])
    assert refused.exit_code == 2 and "--max-households" in refused.output


def test_household_create_refusals_are_messages_and_create_nothing(cli_env):
    runner = CliRunner()
    assert runner.invoke(main, ["household", "create", "smith"]).exit_code == 0
    twice = runner.invoke(main, ["household", "create", "smith"])
    assert twice.exit_code == 1 and "Household 'smith' already exists." in twice.output
    empty = runner.invoke(main, ["household", "create", ""])
    assert empty.exit_code == 1 and "household id" in empty.output
    mars = runner.invoke(main, ["household", "create", "jones", "--time-zone", "Mars/Olympus"])
    assert mars.exit_code == 1 and "Unknown time zone 'Mars/Olympus'" in mars.output
    for result in (twice, empty, mars):
        assert result.exception is None or isinstance(result.exception, SystemExit)  # no traceback
        assert "Traceback" not in result.output

    from replenish.bootstrap import bootstrap
    from replenish.config import Settings
    with bootstrap(Settings.from_env()).uow() as uow:
        assert uow.households.count() == 1  # only smith


def test_a_worker_without_a_broker_is_refused(cli_env):
    result = CliRunner().invoke(main, ["worker"])
    assert result.exit_code == 1 and "no broker is configured" in result.output and "BROKER_URL" in result.output


def test_serve_on_a_busy_port_says_so_before_saying_it_is_up(cli_env):
    import socket
    runner = CliRunner()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = runner.invoke(main, ["serve", "--port", str(port), "--no-seed"])
    assert result.exit_code == 1 and f"cannot listen on 127.0.0.1:{port}" in result.output
    assert "Replenish is up" not in result.output


def test_migrate_a_missing_postgres_database_says_how_to_create_it(cli_env, monkeypatch):
    from tests.integration.services import PG_HOST, PG_PORT, require
    require("PostgreSQL", PG_HOST, PG_PORT)
    runner = CliRunner()
    monkeypatch.setenv("DATABASE_URL", f"postgresql://postgres@{PG_HOST}:{PG_PORT}/rpl_no_such_db")
    result = runner.invoke(main, ["migrate"])
    assert result.exit_code == 1 and "does not exist" in result.output and "createdb" in result.output
