from datetime import UTC, datetime

from catalog.instacart import Order, read_products, read_purchases, write_dataset

ANCHOR = datetime(2024, 3, 10, tzinfo=UTC)


def make(tmp_path):
    products = [(1, 'Milk, "Organic", Whole', "dairy eggs", "milk"), (2, "Bananas", "produce", "fruit")]
    orders = [
        Order(1, 7, 1, None, (1, 2), hour=9),
        Order(2, 7, 2, 10, (1,), hour=18),
        Order(3, 7, 3, 5, (1, 2), eval_set="train", hour=8),
        Order(4, 8, 1, None, (2,)),
    ]
    write_dataset(tmp_path, products, orders)
    return tmp_path


def test_products_round_trip_with_commas_and_quotes(tmp_path):
    ps = list(read_products(make(tmp_path)))
    assert [p.sku for p in ps] == ["1", "2"]
    assert ps[0].title == 'Milk, "Organic", Whole'
    assert ps[0].category == "dairy eggs/milk"


def test_dates_count_back_from_anchor(tmp_path):
    ps = list(read_purchases(make(tmp_path), anchor=ANCHOR))
    by_order = {p.order_ref: p.ordered_at for p in ps if p.household_id == "7"}
    assert by_order["3"] == datetime(2024, 3, 10, 8, tzinfo=UTC)  # last order at the anchor day
    assert by_order["2"] == datetime(2024, 3, 5, 18, tzinfo=UTC)
    assert by_order["1"] == datetime(2024, 2, 24, 9, tzinfo=UTC)
    assert len(ps) == 6 and all(p.quantity == 1 for p in ps)


def test_bad_rows_are_reported_with_file_and_line_and_skipped(tmp_path):
    d = make(tmp_path)
    with open(d / "order_products__prior.csv", "a") as f:
        f.write("999,1,1,0\n")       # unknown order
        f.write("1,abc,1,0\n")       # not an integer
        f.write("1,42,1,0\n")        # unknown product
        f.write("1,2\n")             # wrong field count
    bad = []
    ps = list(read_purchases(d, anchor=ANCHOR, on_error=bad.append))
    assert len(ps) == 6
    assert [(b.file, b.line) for b in bad] == [("order_products__prior.csv", n) for n in (6, 7, 8, 9)]
    assert "unknown order_id 999" in bad[0].reason


def test_missing_train_file_is_fine_and_progress_is_reported(tmp_path):
    d = make(tmp_path)
    (d / "order_products__train.csv").unlink()
    seen = []
    ps = list(read_purchases(d, anchor=ANCHOR, progress=seen.append))
    assert len(ps) == 4 and seen[-1] == 4


def test_where_a_file_stops_being_text_or_csv_is_reported_and_the_rows_before_it_are_kept(tmp_path):
    d = make(tmp_path)
    good = (d / "order_products__prior.csv").read_bytes() + b"1,1,3,1\n" * 5000  # beyond the first block read
    (d / "order_products__prior.csv").write_bytes(good + b"\xff\xfe\x00\x9a garbage\n")
    huge = "x" * 200_000  # past the csv module's field size limit
    (d / "products.csv").write_text(f'product_id,product_name,aisle_id,department_id\n1,Milk,1,1\n2,"{huge}",1,1\n')
    bad = []
    products = list(read_products(d, on_error=bad.append))
    purchases = list(read_purchases(d, anchor=ANCHOR, on_error=bad.append))
    assert [p.sku for p in products] == ["1"]
    assert sum(p.order_ref == "1" for p in purchases) > 1000  # the prior lines well before the garbage
    reasons = {(b.file, b.reason.split(" (")[0].split(";")[0]) for b in bad}
    assert ("products.csv", "not CSV") in reasons and ("order_products__prior.csv", "not UTF-8 text") in reasons


def test_missing_files_names_what_an_instacart_directory_lacks(tmp_path):
    from catalog.instacart import missing_files
    assert missing_files(make(tmp_path)) == []
    (tmp_path / "order_products__prior.csv").unlink()
    assert missing_files(tmp_path) == []  # the train lines are enough
    (tmp_path / "order_products__train.csv").unlink()
    (tmp_path / "orders.csv").unlink()
    assert missing_files(tmp_path) == ["orders.csv", "order lines (order_products__prior.csv or "
                                                     "order_products__train.csv)"]
