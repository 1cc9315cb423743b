"""Schema migrations match the models; the CLI's set-up commands work on a fresh SQLite file."""
import json

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
    assert "4 purchase lines" in result.output and "1 new households" in result.output
    assert "order_products__prior.csv line 5" in result.output  # the bad row, by file and line

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
