"""Voice round-trip benchmark (prints figures; does not pass or fail).

    .venv/bin/python bench/voice.py [--requests 500] [--catalog 50000] [--trained]

POSTs signed Alexa envelopes (a test CA; verification ON) to the Flask app in-process and times the whole
round trip: signature and certificate check, envelope parsing, account-linking lookup, recommender resolve,
speech, serialization. OrderItemIntent ("order detergent") and LaunchRequest are measured in the same run,
interleaved. The catalog is synthetic (the demo catalog padded to --catalog products) and the household has
three years of history. The recommender is the project's: catalog baselines by default, a model fitted on the
stored history with --trained. Targets: OrderItemIntent p99 under 50 ms, and within 3x LaunchRequest's p99.
"""
from __future__ import annotations

import argparse
import logging
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from catalog.model import Product  # noqa: E402
from replenish.adapters import orm  # noqa: E402
from replenish.adapters.clock import system_clock  # noqa: E402
from replenish.bootstrap import bootstrap  # noqa: E402
from replenish.config import Settings  # noqa: E402
from replenish.db import make_engine  # noqa: E402
from replenish.domain import commands  # noqa: E402

HOUSEHOLD = "bench-household"
PHRASES = ["detergent", "toilet paper", "paper towels", "coffee", "dish soap", "trash bags", "milk"]


def synthetic_catalog(n: int, rng: random.Random) -> list[Product]:
    """The demo catalog (real-looking consumables) padded with invented products across the same aisles."""
    from catalog.demo import demo_catalog
    base = demo_catalog()
    categories = sorted({p.category for p in base})
    brands = sorted({p.brand for p in base if p.brand}) + [f"Store Brand {i}" for i in range(300)]
    out, i = list(base), 0
    while len(out) < n:
        category = rng.choice(categories)
        leaf = category.rsplit("/", 1)[-1].replace("_", " ")
        brand = rng.choice(brands)
        size = rng.choice([6, 12, 24, 32, 42, 64, 81, 100])
        unit = rng.choice(["count", "oz", "rolls", "fl oz"])
        out.append(Product(f"SYN-{i:06d}", f"{brand} {leaf.title()} Variety {i % 97}, {size} {unit.title()}", brand,
                           category, size, unit, rng.randint(199, 4999), available=rng.random() > 0.03))
        i += 1
    return out[:n]


def setup(catalog_size: int, trained: bool, tmp: Path):
    from catalog.demo import demo_history
    from tests.alexa_certs import SKILL_ID, make_pki
    from tests.doubles import RecordingQueue

    settings = Settings(var_dir=tmp, database_url=f"sqlite:///{tmp / 'bench.db'}", model_dir=tmp / "models",
                        alexa_skill_ids=(SKILL_ID,))
    orm.start_mappers()
    engine = make_engine(settings.database_url)
    orm.metadata.create_all(engine)
    container = bootstrap(settings, clock=system_clock, queue=RecordingQueue(), engine=engine)
    rng = random.Random(11)
    products = synthetic_catalog(catalog_size, rng)
    with container.uow() as uow:
        for start in range(0, len(products), 5000):
            uow.products.upsert_many(products[start:start + 5000])
        uow.session.commit()
    container.bus.handle(commands.CreateHousehold(HOUSEHOLD, "Bench", "1 Main St", "America/New_York"))
    from replenish.oauth import service as oauth
    oauth.create_client(container, "alexa", ["https://pitangui.amazon.com/api/skill/link/M2AAAAAAAAAAAA"])
    token = oauth.issue_token(container, HOUSEHOLD, "alexa", None)["access_token"]  # what Alexa presents once linked
    history = demo_history(HOUSEHOLD, products, datetime.now(UTC), years=3.0)
    with container.uow() as uow:
        uow.purchases.add_many(history)
        uow.session.commit()
    if trained:
        version = container.recommendations.retrain()
        print(f"trained model: {version}")
    pki = make_pki()
    container.alexa_cert_store, container.alexa_fetch_cert = pki.store, pki.fetch
    return container, token, pki, len(history)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--catalog", type=int, default=50_000)
    parser.add_argument("--trained", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)

    from replenish.web import create_app
    from tests.alexa_certs import envelope_bytes, intent_request, launch_request

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        container, token, pki, lines = setup(args.catalog, args.trained, Path(tmp))
        client = create_app(container).test_client()
        print(f"setup: {args.catalog} products, {lines} history lines, {time.perf_counter() - started:.1f} s")
        try:
            import replenish.recommend  # noqa: F401
            kind = (getattr(container.recommendations.model, "meta", {}) or {}).get("kind", "trained")
            print(f"recommender: replenish.recommend ({kind})")
        except ImportError as exc:  # the bench still measures the HTTP and skill path
            print(f"recommender: not importable ({exc})")

        def post(env) -> tuple[float, dict]:
            body = envelope_bytes(env)
            headers = pki.headers(body)  # signing is Alexa's cost, not ours: outside the timed part
            t0 = time.perf_counter()
            response = client.post("/alexa", data=body, headers=headers)
            elapsed = (time.perf_counter() - t0) * 1000
            assert response.status_code == 200, response.get_data(as_text=True)
            return elapsed, response.get_json()

        # Warm up: certificate chain fetch and validation, model load, first queries.
        _, first = post(intent_request("OrderItemIntent", {"item": "detergent"}, access_token=token))
        print("sample answer:", first["response"]["outputSpeech"]["ssml"][7:-8])
        for _ in range(20):
            post(launch_request(access_token=token))
            post(intent_request("OrderItemIntent", {"item": "detergent"}, access_token=token))

        from skills.recommending import HISTORIES
        cold_ms, warm_ms, launch_ms = [], [], []
        for i in range(args.requests):
            phrase = PHRASES[i % len(PHRASES)]
            slots = {"item": phrase, "quantity": "2" if i % 5 == 0 else None}
            HISTORIES.clear()  # the first turn of a conversation: history read from the database
            cold_ms.append(post(intent_request("OrderItemIntent", slots, access_token=token))[0])
            # a later turn of the same conversation (a new phrase after "something else"): history kept
            warm_ms.append(post(intent_request("OrderItemIntent", {"item": PHRASES[(i + 3) % len(PHRASES)]},
                                               access_token=token))[0])
            launch_ms.append(post(launch_request(access_token=token))[0])

    print(f"\n{'request':<28}{'n':>6}{'p50 ms':>10}{'p90 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    for name, values in (("OrderItemIntent (1st turn)", cold_ms), ("OrderItemIntent (next turn)", warm_ms),
                         ("LaunchRequest", launch_ms)):
        print(f"{name:<28}{len(values):>6}{statistics.median(values):>10.2f}{percentile(values, 90):>10.2f}"
              f"{percentile(values, 99):>10.2f}{max(values):>10.2f}")
    launch_p99 = percentile(launch_ms, 99)
    for name, values in (("first turn", cold_ms), ("next turn", warm_ms)):
        p99 = percentile(values, 99)
        print(f"OrderItemIntent {name} p99 {p99:.1f} ms: {'within' if p99 < 50 else 'OVER'} the 50 ms target; "
              f"{p99 / launch_p99:.1f}x LaunchRequest p99 ({'within' if p99 <= 3 * launch_p99 else 'OVER'} 3x)")


if __name__ == "__main__":
    main()
