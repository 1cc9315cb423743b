"""Recommender benchmark (prints figures; does not pass or fail).

    .venv/bin/python bench/recommend.py [--quick]
    .venv/bin/python bench/recommend.py --full [--households N]

``--full``: the whole pipeline as an operator runs it, each step a separate process so its peak RSS
is its own: ``replenish synth --orders instacart`` of N households (206,209 = Instacart's size, the default;
orders per household shaped like Instacart's, so the full size has its 3.4M orders and 33M lines), ``replenish
migrate`` + ``replenish import instacart`` into a scratch PostgreSQL database (BENCH_PG, default
postgresql+psycopg://postgres@127.0.0.1:5432; dropped at the end) and ``replenish recommend train``,
with their progress lines, wall time and peak RSS. ``--households 5000 20000`` runs each size and
extrapolates CPU time and peak RSS along the line through them to Instacart's 32.4M prior lines
(labelled as an estimate: fit is sampled, so its growth is below linear).

Builds a large synthetic catalog (50k products; 10k with --quick) and ~1M history lines (100k),
then reports fit time and peak memory, and -- learned model beside the heuristic baseline, same run --
resolve latency for a household with 3 years of history (warm, and its first request), single-core
batch throughput and uncached catalog search latency. Latency figures are medians over repeated runs:
the machine may be shared.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # serving is measured on one core
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from catalog.model import Product  # noqa: E402
from replenish.domain.history import Purchase  # noqa: E402
from replenish.recommend import Recommender  # noqa: E402
from replenish.recommend.batch import run_batch  # noqa: E402
from replenish.recommend.synth import NEEDS, simulate_household  # noqa: E402

NOW = datetime(2024, 6, 1, tzinfo=UTC)


def catalog(n: int, rng: np.random.Generator) -> tuple[list[Product], list[np.ndarray], np.ndarray]:
    """n products spread over the synth needs: real brand names plus invented store brands."""
    products, by_need, pop = [], [[] for _ in NEEDS], [0.0]
    for i in range(n):
        k = i % len(NEEDS)
        dept, aisle, head, _, brands, variants, sizes, _ = NEEDS[k]
        brand = rng.choice(brands.split("|")) if rng.random() < 0.3 else f"Brand{rng.integers(0, 3000)}"
        title = f"{brand} {rng.choice(variants.split('|'))} {head}, {rng.choice(sizes.split('|'))}"
        products.append(Product(str(i + 1), title, brand, f"{dept}/{aisle}", price_cents=int(rng.integers(99, 2999))))
        by_need[k].append(i + 1)
        pop.append(1.0 / (len(by_need[k])) ** 0.9)
    return products, [np.array(b) for b in by_need], np.array(pop)


def histories(n_lines: int, by_need, pop, rng) -> dict[str, list[Purchase]]:
    out: dict[str, list[Purchase]] = {}
    total = 0
    while total < n_lines:
        hh = str(len(out) + 1)
        day, lines = 0.0, []
        for gap, basket in simulate_household(rng, by_need, pop):
            day += gap
            lines.append((day, basket))
        ps = [Purchase(hh, str(pid), NOW - timedelta(days=day - d), 1, f"{hh}-{j}")
              for j, (d, basket) in enumerate(lines) for pid in basket]
        out[hh] = ps
        total += len(ps)
    return out


def three_years(products: list[Product], rng) -> list[Purchase]:
    """A weekly shopper over 3 years: ~150 orders of ~12 lines from a stable set of ~120 products."""
    favourites = rng.choice(len(products), 120, replace=False)
    return [Purchase("big", products[int(p)].sku, NOW - timedelta(days=7 * w + 1), 1, f"w{w}")
            for w in range(156) for p in rng.choice(favourites, 12, replace=False)]


def _pcts(times: list[float]) -> tuple[float, float]:
    return float(np.percentile(times, 50) * 1e3), float(np.percentile(times, 99) * 1e3)


def latency(rec: Recommender, history, phrases, n: int, cold: bool = False) -> tuple[float, ...]:
    """(wall p50, wall p99, cpu p50, cpu p99) ms of resolve; CPU time is this thread's own, which
    a busy shared machine does not inflate. ``cold``: household and phrase not cached (first request)."""
    wall, cpu = [], []
    for i in range(n):
        if cold:
            rec._cache.clear()
            rec._profiles.clear()
        t, c = time.perf_counter(), time.thread_time()
        rec.resolve(phrases[i % len(phrases)], history, k=3, now=NOW)
        cpu.append(time.thread_time() - c)
        wall.append(time.perf_counter() - t)
    return _pcts(wall) + _pcts(cpu)


def median_of(runs: list[tuple[float, ...]]) -> tuple[float, ...]:
    return tuple(float(np.median(col)) for col in zip(*runs, strict=False))


def search_latency(rec: Recommender, phrases: list[str], rounds: int) -> tuple[float, ...]:
    wall, cpu = [], []
    for i, p in enumerate(phrases * rounds):
        t, c = time.perf_counter(), time.thread_time()
        rec.index.search(f"{p} organic" if i % 2 else p)
        cpu.append(time.thread_time() - c)
        wall.append(time.perf_counter() - t)
    return _pcts(wall) + _pcts(cpu)


def batch_rate(rec: Recommender, hist, lines) -> tuple[float, float]:
    """(requests per wall second, requests per CPU second of this thread)."""
    rec._cache.clear()
    rec._profiles.clear()
    t, c = time.perf_counter(), time.thread_time()
    n = sum(1 for _ in run_batch(rec, hist.__getitem__, lines))
    return n / (time.perf_counter() - t), n / max(time.thread_time() - c, 1e-9)


INSTACART_HOUSEHOLDS = 206_209
INSTACART_PRIOR_LINES = 32_434_489


def _step(name: str, args: list[str], env: dict) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, peak RSS MB) of one ``replenish`` command in its own process."""
    import subprocess
    code = ("import resource, sys\nfrom replenish.cli import main\nsys.argv = ['replenish'] + sys.argv[1:]\n"
            "try:\n    main()\nexcept SystemExit as e:\n    code = e.code\nelse:\n    code = 0\n"
            "u = resource.getrusage(resource.RUSAGE_SELF)\n"
            "print(f'PEAK_RSS_MB {u.ru_maxrss / 1024:.0f} {u.ru_utime + u.ru_stime:.1f}', file=sys.stderr)\n"
            "sys.exit(code)\n")
    print(f"\n== {name}: replenish {' '.join(args)}", flush=True)
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code, *args], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    wall = time.perf_counter() - t
    lines = proc.stdout.strip().splitlines()
    rss, cpu = next(((float(x.split()[1]), float(x.split()[2])) for x in lines if x.startswith("PEAK_RSS_MB")),
                    (float("nan"), float("nan")))
    shown = [x for x in lines if not x.startswith("PEAK_RSS_MB")]
    for x in shown[-8:]:
        print(f"   {x}")
    if proc.returncode:
        raise SystemExit(f"{name} failed ({proc.returncode})")
    return wall, cpu, rss


def full_one(households: int, orders: str) -> tuple[int, list[tuple[str, float, float, float]]]:
    """(prior lines, [(step, wall s, CPU s, peak RSS MB)]) of synth, import and train at one size."""
    import shutil
    import tempfile
    import uuid

    from sqlalchemy import create_engine, text
    base = os.environ.get("BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
    name = f"rpl_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    work = Path(tempfile.mkdtemp(prefix="rpl_bench_"))
    env = {**os.environ, "DATABASE_URL": f"{base}/{name}", "REPLENISH_VAR_DIR": str(work / "var"),
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")])}
    rows = []
    try:
        rows.append(("synth", *_step("synth", ["synth", "--households", str(households), "--orders", orders,
                                               "--out", str(work / "data")], env)))
        with open(work / "data" / "order_products__prior.csv") as prior:
            lines = sum(1 for _ in prior) - 1
        _step("migrate", ["migrate"], env)
        rows.append(("import instacart", *_step("import", ["import", "instacart", str(work / "data")], env)))
        rows.append(("recommend train", *_step("train", ["recommend", "train"], env)))
    finally:
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                         {"n": name})
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()
        shutil.rmtree(work, ignore_errors=True)  # the data set and the model: 650 MB at Instacart's size
    print(f"\n{households:,} households, {lines:,} prior lines (Instacart: 206,209 households, 32.4M prior lines)")
    print(f"{'step':20}{'wall':>10}{'CPU':>10}{'peak RSS':>12}")
    for step, wall, cpu, rss in rows:
        print(f"{step:20}{wall:>9.1f}s{cpu:>9.1f}s{rss:>9.0f} MB")
    return lines, rows


def full(sizes: list[int], orders: str = "instacart") -> None:
    """Each size in turn; with two sizes or more, CPU time and peak RSS are also extrapolated to Instacart's
    size along the straight line through the measured sizes (least squares in prior lines)."""
    runs = [full_one(n, orders) for n in sizes]
    if len(runs) >= 2 and max(lines for lines, _ in runs) * 1.05 < INSTACART_PRIOR_LINES:
        x = np.array([lines for lines, _ in runs], np.float64)
        print(f"\nESTIMATE at {INSTACART_PRIOR_LINES:,} prior lines, not a measurement: the line through "
              f"{len(runs)} sizes ({', '.join(f'{int(v):,}' for v in x)} lines); training samples households "
              "for its examples, so its CPU grows below this line; wall time on a shared machine is mostly waiting")
        print(f"{'step':20}{'CPU':>12}{'peak RSS':>12}")
        for i, (step, *_rest) in enumerate(runs[0][1]):
            cpu = np.polyval(np.polyfit(x, [r[i][2] for _, r in runs], 1), INSTACART_PRIOR_LINES)
            rss = np.polyval(np.polyfit(x, [r[i][3] for _, r in runs], 1), INSTACART_PRIOR_LINES)
            print(f"{step:20}{cpu / 60:>9.1f} min{rss:>9.0f} MB")
    print("targets: import < 10 min, train < 15 min and < 8 GB at full size")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="10k products, 100k lines, fewer repeats (< 60 s)")
    ap.add_argument("--repeats", type=int, default=None, help="runs per latency figure (median reported)")
    ap.add_argument("--full", action="store_true", help="synth, import into PostgreSQL and train, each timed")
    ap.add_argument("--households", type=int, nargs="+", default=[INSTACART_HOUSEHOLDS],
                    help="with --full: one size or several (scaled-down runs, extrapolated when two or more)")
    ap.add_argument("--orders", choices=("instacart", "wide"), default="instacart",
                    help="with --full: orders per household (`replenish synth --orders`); instacart: 206,209 "
                         "households make about Instacart's 3.4M orders and 33M lines")
    args = ap.parse_args()
    if args.full:
        full(args.households, args.orders)
        return
    n_products, n_lines = (10_000, 100_000) if args.quick else (50_000, 1_000_000)
    repeats = args.repeats or (2 if args.quick else 3)
    n_calls, n_batch = (300, 2000) if args.quick else (1000, 5000)
    started = time.perf_counter()
    rng = np.random.default_rng(0)
    products, by_need, pop = catalog(n_products, rng)
    hist = histories(n_lines, by_need, pop, rng)
    purchases = [p for ps in hist.values() for p in ps]
    print(f"catalog {len(products)} products, {len(purchases)} history lines, {len(hist)} households; "
          f"figures are medians of {repeats} runs, one core (OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']})")

    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t = time.perf_counter()
    rec = Recommender.fit(products, purchases, now=NOW)
    fit_s = time.perf_counter() - t
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"fit: {fit_s:.1f} s; peak RSS {rss1:.0f} MB (process incl. data; {rss0:.0f} MB before fit)")
    base = Recommender.baseline(products)
    base.usage = rec.usage  # same popularity, no learned parts

    big = three_years(products, rng)
    phrases = ["milk", "almond milk", "detergent", "tide pots", "tp", "paper towels", "greek yogurt",
               "bananas", "coffee", "sparkling water", "eggs", "bread", "cat litter", "dish soap"]
    ids = list(hist)
    vocab = phrases + [p.title.split(",")[0].split()[-1].lower() for p in products[:300]]
    lines = [json.dumps({"id": f"r{i}", "kind": "resolve", "household": ids[i % len(ids)],
                         "query": vocab[int(rng.integers(len(vocab)))], "k": 3}) for i in range(n_batch)]
    # learned and baseline take turns within each repeat, so a burst of load on a shared machine
    # lands on both rather than on one
    runs: dict[str, dict[str, list]] = {"learned": {}, "baseline": {}}
    searches = []
    for _ in range(repeats):
        for name, r in (("learned", rec), ("baseline", base)):
            latency(r, big, phrases, 50)  # warm caches, as a server would be
            got = runs[name]
            got.setdefault("warm", []).append(latency(r, big, phrases, n_calls))
            got.setdefault("cold", []).append(latency(r, big, phrases, n_calls // 3, cold=True))
            got.setdefault("rate", []).append(batch_rate(r, hist, lines))
        searches.append(search_latency(rec, phrases, 10 if args.quick else 20))
    rows = [(name, median_of(got["warm"]), median_of(got["cold"]), median_of(got["rate"]))
            for name, got in runs.items()]
    search = median_of(searches)

    print(f"\n{'wall clock (CPU time of this thread)':40}{'learned':>30}{'baseline':>30}")
    ms = lambda v: f"{v[0]:.2f} / {v[1]:.2f} ({v[2]:.2f} / {v[3]:.2f}) ms"  # noqa: E731
    rate = lambda v: f"{v[0]:.0f} ({v[1]:.0f})"  # noqa: E731
    print(f"{'resolve, warm: p50 / p99':40}{ms(rows[0][1]):>30}{ms(rows[1][1]):>30}")
    print(f"{'resolve, first request: p50 / p99':40}{ms(rows[0][2]):>30}{ms(rows[1][2]):>30}")
    print(f"{'batch resolve: requests/s':40}{rate(rows[0][3]):>30}{rate(rows[1][3]):>30}")
    print(f"{'catalog search, uncached: p50 / p99':40}{ms(search):>30}{'(same index)':>30}")
    print(f"\nresolve: household with {len(big)} lines over 3 years; warm = its profile and the phrase "
          f"cached, first request = neither. batch: {len(lines)} requests from {len(ids)} households.")
    print(f"targets: resolve p99 < 10 ms, search p99 < 5 ms, batch >= 1000 requests/s; "
          f"bench took {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
