"""Training reads the history as numpy batches (from the database, or from Purchase objects), and a
merged public Instacart table converts to the layout `import instacart` and `evaluate` read."""
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from catalog.instacart import read_purchases
from replenish.adapters.purchase_arrays import purchase_chunks
from replenish.domain.history import Purchase
from replenish.importers import split_merged_instacart, store_purchases
from replenish.recommend.training import History, StoredHistory

T0 = datetime(2025, 1, 6, 9, tzinfo=UTC)
ROW_OF = {"milk": 0, "eggs": 1, "bread": 2}


def _history() -> list[Purchase]:
    out = []
    for week in range(6):
        at = T0 + timedelta(days=7 * week)
        out += [Purchase("anna", "milk", at, 1, f"a{week}"), Purchase("ben", "eggs", at + timedelta(hours=3), 2,
                                                                      f"b{week}")]
        if week % 2:
            out += [Purchase("anna", "bread", at, 1, f"a{week}"), Purchase("ben", "gone", at, 1, f"b{week}")]
    return out


def _lines(h: History) -> list[tuple]:
    return sorted(zip(h.hh.tolist(), h.rows.tolist(), h.days.tolist(), h.qty.tolist(), strict=True))


def _households(h: History) -> list[list[tuple]]:
    """Each household's lines (product, day, quantity), whatever number it was given."""
    return sorted([line[1:] for line in _lines(h) if line[0] == n] for n in range(h.n_households))


def test_batches_from_the_database_give_the_same_history_as_purchase_objects():
    purchases = _history()
    expected = History.collect(purchases, ROW_OF, None)
    assert expected.n_households == 2 and expected.rows.size == 15  # "gone" is not in the catalog

    def chunks(skus):
        assert skus == ["milk", "eggs", "bread"]  # each SKU at its row
        # any order, any batch size, households numbered however the database likes (here: 7 and 3)
        lines = [(7 if p.household_id == "anna" else 3, ROW_OF[p.sku], p.ordered_at.timestamp() / 86400,
                  p.quantity) for p in reversed(purchases) if p.sku in ROW_OF]
        for i in range(0, len(lines), 4):
            hh, rows, days, qty = zip(*lines[i:i + 4], strict=True)
            yield (np.array(hh, np.int32), np.array(rows, np.int32), np.array(days), np.array(qty, np.float32))

    stages = []
    got = History.collect(StoredHistory(chunks, total=15), ROW_OF, lambda s, f: stages.append((s, f)))
    assert got.n_households == 2 and list(got.start) == [0, 6, 15]  # ben (3) first, then anna (7)
    assert sorted(got.hh.tolist()) == [0] * 6 + [1] * 9
    assert _households(got) == _households(expected)
    assert (np.diff(got.days[:6]) >= 0).all()  # each household's lines in time order
    assert stages[-1] == ("reading purchase history", 1.0) and ("reading purchase history", 1.0) in stages[:-1]


def test_an_empty_history_reads_as_no_households():
    h = History.collect(StoredHistory(lambda skus: iter(())), ROW_OF, None)
    assert h.n_households == 0 and h.rows.size == 0 and list(h.start) == [0]


def test_sqlite_purchases_come_back_as_the_same_arrays(container):
    purchases = _history()
    store_purchases(container, purchases)
    with container.uow() as uow:
        got = History.collect(StoredHistory(uow.purchases.chunks, uow.purchases.count()), ROW_OF, None)
        small = list(purchase_chunks(uow.session, ["milk", "eggs", "bread"], batch=5))
    want = History.collect(purchases, ROW_OF, None)
    assert _lines(got) == _lines(want)
    assert sum(c[0].size for c in small) == 15 and all(c[1].dtype == np.int32 for c in small)


MERGED = (",order_id,user_id,order_number,order_dow,order_hour_of_day,days_since_prior_order,product_id,"
          "add_to_cart_order,reordered\n") + """0,11,1,1,2,8,,1,1.0,0.0
1,11,1,1,2,8,,2,2.0,0.0
2,12,1,2,3,7,15.0,1,1.0,1.0
3,21,2,1,0,10,,2,1.0,0.0
4,22,2,2,1,10,7.0,2,1.0,1.0
5,22,2,3,1,10,7.0,1,2.0,0.0
6,23,2,x,1,10,7.0,1,2.0,0.0
"""


def test_a_merged_instacart_table_splits_into_the_layout_evaluate_reads(tmp_path):
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    (catalog / "products.csv").write_text("product_id,product_name,aisle_id,department_id\n1,Whole Milk,1,1\n"
                                          "2,Large Eggs,1,1\n")
    (catalog / "aisles.csv").write_text("aisle_id,aisle\n1,milk\n")
    (catalog / "departments.csv").write_text("department_id,department\n1,dairy eggs\n")
    (tmp_path / "merged.csv").write_text(MERGED)
    report = split_merged_instacart(tmp_path / "merged.csv", catalog, tmp_path / "out")
    # order 22 disagrees with itself (two order numbers), and a non-numeric row: left out and reported
    assert report.orders == 4 and report.lines == 5
    assert [line for line, _ in report.bad_rows] == [7, 8]
    assert "order 22 disagrees" in report.bad_rows[0][1]
    anchor = datetime(2020, 1, 1, tzinfo=UTC)
    bad = []
    lines = sorted((p.household_id, p.order_ref, p.sku, p.ordered_at)
                   for p in read_purchases(tmp_path / "out", anchor=anchor, on_error=bad.append))
    assert bad == []
    assert lines == [("1", "11", "1", datetime(2019, 12, 17, 8, tzinfo=UTC)),
                     ("1", "11", "2", datetime(2019, 12, 17, 8, tzinfo=UTC)),
                     ("1", "12", "1", datetime(2020, 1, 1, 7, tzinfo=UTC)),
                     ("2", "21", "2", datetime(2019, 12, 25, 10, tzinfo=UTC)),
                     ("2", "22", "2", datetime(2020, 1, 1, 10, tzinfo=UTC))]


def test_a_merged_table_with_other_columns_is_refused(tmp_path):
    (tmp_path / "merged.csv").write_text("order_id,product_id\n1,2\n")
    with pytest.raises(ValueError, match="expected columns"):
        split_merged_instacart(tmp_path / "merged.csv", tmp_path, tmp_path / "out")
