"""Offline evaluation on an Instacart-layout directory.

Each household's last order is held out; the model and every baseline see only the orders before it
(popularity and interval priors included). We then ask, at the held-out order's time:
resolve   -- for one- and two-word phrases made from the held-out products' names, is a product the
             household actually bought in that order ranked first / in the top 3?
buy-again -- how many of the held-out products it had bought before are in the top 10?
timing    -- how far off (days) is the predicted gap from the last purchase to the held-out order?
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from catalog.instacart import OnError, read_products, read_purchases, user_ids
from replenish.recommend import features as F
from replenish.recommend.profile import Profile, from_day, to_day
from replenish.recommend.recommender import Recommender
from replenish.recommend.timing import COLUMNS as TIMING_COLUMNS
from replenish.recommend.timing import features as timing_features
from replenish.recommend.training import phrases_for

ANCHOR = datetime(2020, 1, 1, tzinfo=UTC)  # fixed so runs are reproducible
Progress = Callable[[str, float], None] | None


@dataclass
class Report:
    households: int = 0
    fit_seconds: float = 0.0
    # section -> method -> metric -> value
    sections: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    # section -> metric -> 95% bootstrap interval of "learned vs best rule" (points, or % for MAE)
    intervals: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)
    # section -> metric -> the same interval against the rule the section's target names (``TARGET_RULES``),
    # where that rule is not the best one
    target_intervals: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)


# The rule each target of the recommender issue is stated against (docs/recommender.md, "Evaluation"): the
# report adds a margin against it where another rule does better on the sample.
TARGET_RULES = {
    "resolve 1-word, bought a match before": "most recent",
    "resolve 2-word, bought a match before": "most recent",
    "resolve 1-word, never bought a match": "popularity",
    "buy-again": "personal top-frequency",
    "timing": "median interval",
}


def _first_users(data_dir: Path, n: int | None) -> Callable[[int], bool] | None:
    if n is None:
        return None
    keep = set(sorted(user_ids(data_dir))[:n])
    return keep.__contains__


def _split(purchases):
    """household -> (train purchases, held-out purchases); households with one order are dropped."""
    by_hh = defaultdict(list)
    for p in purchases:
        by_hh[p.household_id].append(p)
    out = {}
    for hh, ps in by_hh.items():
        last = max(p.ordered_at for p in ps)
        held = [p for p in ps if p.ordered_at == last]
        train = [p for p in ps if p.ordered_at != last]
        if train:
            out[hh] = (train, held)
    return out


def _top(scores: np.ndarray, *tie_breaks: np.ndarray, k: int) -> np.ndarray:
    keys = [np.nan_to_num(-t, nan=np.inf) for t in reversed(tie_breaks)] + [np.nan_to_num(-scores, nan=np.inf)]
    return np.lexsort(keys)[:k]


def _resolve_methods(rec: Recommender, prof: Profile, X: np.ndarray) -> dict[str, list[np.ndarray]]:
    c = {n: X[:, i] for i, n in enumerate(F.RESOLVE_COLUMNS)}
    last_rank = np.where(c["bought"] > 0, -c["log_days_since"], np.nan)
    return {
        "learned": [rec.resolve_scores(prof, X)],
        "text match": [c["text"], c["log_pop"]],
        "popularity": [c["log_pop"], c["text"]],
        "most recent": [last_rank, c["log_pop"]],
        "most frequent": [c["log_count"], last_rank, c["log_pop"]],
    }


class _Tally:
    """Per (section, method, metric), the sum of what each household scored; per section, how many requests,
    products or intervals each household had. Totals are their sums; kept per household so that a margin's
    uncertainty can be resampled."""

    def __init__(self):
        self.values: dict[str, dict[str, dict[str, dict[int, float]]]] = defaultdict(
            lambda: defaultdict(lambda: defaultdict(lambda: defaultdict(float))))
        self.counts: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        self.household = 0  # the household being evaluated (0, 1, ...)

    def count(self, section: str, n: int = 1) -> None:
        """``n`` more requests, households or intervals measured in ``section``."""
        self.counts[section][self.household] += n

    def add(self, section: str, method: str, metric: str, value: float) -> None:
        self.values[section][method][metric][self.household] += value

    def report(self, report: Report) -> Report:
        report.counts = {section: sum(per_hh.values()) for section, per_hh in self.counts.items()}
        for section, sums in self.values.items():
            n = max(report.counts.get(section, 0), 1)
            report.sections[section] = {m: {k: sum(v.values()) / n for k, v in ms.items()} for m, ms in sums.items()}
        rng = np.random.default_rng(0)
        for section, methods in report.sections.items():
            if "learned" not in methods or len(methods) < 2 or len(self.counts[section]) < 2:
                continue
            draws = self._draws(section, rng)
            metrics = [m for m in next(iter(methods.values())) if m != "listed"]
            report.intervals[section] = {m: self._interval(section, m, _best_rule(methods, m), draws) for m in metrics}
            named = TARGET_RULES.get(section, "")
            if target := _target_metrics(methods, named):
                report.target_intervals[section] = {m: self._interval(section, m, named, draws) for m in target}
        return report

    def _draws(self, section: str, rng: np.random.Generator) -> list[np.ndarray]:
        """``BOOTSTRAP`` resamples of the section's households (all of a household's requests together, as
        they are not independent), as weights: how often each household is drawn, a block at a time."""
        n = len(self.counts[section])
        return [rng.multinomial(n, np.full(n, 1.0 / n), size=min(BLOCK, BOOTSTRAP - b)).astype(np.float32)
                for b in range(0, BOOTSTRAP, BLOCK)]

    def _interval(self, section: str, metric: str, rule: str, draws: list[np.ndarray]) -> tuple[float, float]:
        """95% bootstrap interval of the "learned vs ``rule``" margin on ``metric``."""
        hh = sorted(self.counts[section])
        counts = np.array([self.counts[section][h] for h in hh], np.float64)
        learned, base = (np.array([self.values[section][m][metric].get(h, 0.0) for h in hh]) for m in ("learned", rule))
        margins = []
        for w in draws:
            n = np.maximum(w @ counts, 1.0)
            margins.append(_margin(metric, (w @ learned) / n, (w @ base) / n))
        lo, hi = np.percentile(np.concatenate(margins), [2.5, 97.5])
        return float(lo), float(hi)


def _best_rule(methods: dict[str, dict[str, float]], metric: str) -> str:
    """The simple rule that does best on ``metric`` (lowest for an MAE, highest otherwise)."""
    rules = {k: v[metric] for k, v in methods.items() if k != "learned"}
    return (min if "MAE" in metric else max)(rules, key=rules.__getitem__)


def _target_metrics(methods: dict[str, dict[str, float]], named: str) -> list[str]:
    """The metrics on which a section's report needs a margin against its target's rule ``named``: those
    where that rule is measured but is not the best one (elsewhere the best rule's margin is that margin)."""
    if named not in methods:
        return []
    return [m for m in next(iter(methods.values())) if m != "listed" and _best_rule(methods, m) != named]


def _margin(metric: str, learned, rule):
    """Learned over a rule: points for a rate, percent of the rule's error for an MAE (0 against no error)."""
    if "MAE" in metric:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(rule != 0, (learned - rule) / np.where(rule != 0, rule, 1.0) * 100, 0.0)
    return (learned - rule) * 100


BOOTSTRAP = 1000  # resamples of the households for each margin's interval
BLOCK = 50        # resamples drawn at a time: a block is BLOCK x households weights


def _eval_resolve(rec, prof, held_rows, now, t: _Tally) -> None:
    bought_col = F.RESOLVE_COLUMNS.index("bought")
    for phrase, ok in phrases_for(rec, held_rows).items():
        rows, X = rec.resolve_inputs(phrase, prof, now)
        keep = rec.attr.available[rows]
        rows, X = rows[keep], X[keep]
        if rows.size == 0:
            continue
        before = "bought a match before" if X[:, bought_col].any() else "never bought a match"
        section = f"resolve {len(phrase.split())}-word, {before}"
        t.count(section)
        for method, keys in _resolve_methods(rec, prof, X).items():
            top = rows[_top(*keys, k=3)]
            t.add(section, method, "top-1", float(top[:1].size > 0 and top[0] in ok))
            t.add(section, method, "top-3", float(np.isin(top, ok).any()))


def _eval_buy_again(rec, prof, held_rows, now, t: _Tally) -> None:
    relevant = np.intersect1d(held_rows, prof.rows)
    if relevant.size == 0:
        return
    t.count("buy-again")
    last = prof.last
    ideal = np.sum(1.0 / np.log2(np.arange(2, min(10, relevant.size) + 2)))
    for method, keys in {"learned": [rec.buy_again_scores(prof, now)],
                         "personal top-frequency": [prof.count, last],
                         "most recent": [last, prof.count]}.items():
        top = prof.rows[_top(*keys, k=10)]
        hit = np.isin(top, relevant)
        t.add("buy-again", method, "Recall@10", hit.sum() / relevant.size)
        t.add("buy-again", method, "NDCG@10", float(np.sum(hit / np.log2(np.arange(2, top.size + 2))) / ideal))


def _eval_timing(rec, prof, held_rows, now, t: _Tally) -> None:
    """Every method predicts from what was known at the product's last purchase; none sees the gap
    already elapsed at the cut-off, which in this set (products that *were* bought in the held-out
    order) would give the answer away."""
    pos, bought = prof.lookup(held_rows)
    pos = pos[bought]
    if pos.size == 0:
        return
    rows = prof.rows[pos]
    truth = now - prof.last[pos]
    mid, _, _ = rec.timing.predict(prof, pos, rows, rec.usage)
    X = timing_features(prof, pos, rows, rec.usage, rec.timing.k)
    prior = rec.usage.interval[rows]  # a household's only purchase: the product's pooled interval
    cols = {name: X[:, i] for i, name in enumerate(TIMING_COLUMNS)}
    t.count("timing", pos.size)
    for method, pred in {"learned": mid,
                         "mean interval": np.where(prof.count[pos] > 1, cols["mean_int"], prior),
                         "median interval": np.where(prof.count[pos] > 1, cols["median_int"], prior),
                         "poisson-gamma": cols["pg"]}.items():
        t.add("timing", method, "MAE days", float(np.abs(pred - truth).sum()))


def _eval_running_low(rec, train, prof, held_rows, now, t: _Tally) -> None:
    """Precision of the top 5 "running low within the next order gap" against the held-out order, beside
    "most overdue by median interval" (products bought twice or more, due by then, most overdue first)."""
    gap = prof.order_gap
    if gap != gap or gap <= 0 or not (prof.count >= 2).any():
        return
    at = from_day(now)
    learned = np.array([rec.index.row_of[x.sku] for x in rec.running_low(train, now=at, horizon_days=gap, k=5)],
                       np.int64)
    regular = np.flatnonzero(prof.count >= 2)
    X = timing_features(prof, regular, prof.rows[regular], rec.usage, rec.timing.k)
    median = X[:, TIMING_COLUMNS.index("median_int")]
    overdue = (now - prof.last[regular]) / np.maximum(median, 0.5)
    due = prof.last[regular] + median <= now + gap
    pick = regular[due][np.argsort(-overdue[due], kind="stable")[:5]]
    baseline = prof.rows[pick]
    t.count("running low")
    for method, top in {"learned": learned, "most overdue by median interval": baseline}.items():
        t.add("running low", method, "precision@5", float(np.isin(top, held_rows).mean()) if top.size else 0.0)
        t.add("running low", method, "listed", float(top.size))


class NothingToEvaluate(ValueError):
    """No household in the data has an order to hold out and one before it."""


def evaluate(data_dir, progress: Progress = None, max_households: int | None = None,
             on_error: OnError = None) -> Report:
    """``on_error`` hears of each row the reader skipped (see ``catalog.instacart``)."""
    import time

    d = Path(data_dir)
    if progress is not None:
        progress("reading", 0.0)
    products = list(read_products(d, on_error=on_error))
    purchases = read_purchases(d, anchor=ANCHOR, households=_first_users(d, max_households), on_error=on_error,
                               progress=(lambda n: progress(f"reading ({n:,} lines)", 0.0)) if progress else None)
    split = _split(purchases)
    if not split:
        raise NothingToEvaluate(f"no household in {d} has two orders with products in them: nothing to hold "
                                "out and learn from")
    start = time.time()
    rec = Recommender.fit(products, (p for train, _ in split.values() for p in train), progress=progress)
    report = Report(households=len(split), fit_seconds=time.time() - start)
    tally = _Tally()
    step = max(1, len(split) // 100)  # a report each 1% (Progress prints every few seconds at most)
    for i, (train, held) in enumerate(split.values()):
        tally.household = i
        prof = rec.profile(train)
        now = to_day(held[0].ordered_at)
        held_rows = np.unique([rec.index.row_of[p.sku] for p in held if p.sku in rec.index.row_of])
        _eval_resolve(rec, prof, held_rows, now, tally)
        _eval_buy_again(rec, prof, held_rows, now, tally)
        _eval_timing(rec, prof, held_rows, now, tally)
        _eval_running_low(rec, train, prof, held_rows, now, tally)
        if progress is not None and (i + 1) % step == 0:
            progress("evaluating", (i + 1) / len(split))
    if progress is not None:
        progress("evaluating", 1.0)
    return tally.report(report)


def format_report(report: Report) -> str:
    """Each section's methods side by side; then the learned model's margin over the best simple rule, per
    metric (positive: learned is better; for MAE, lower is better), and that margin's 95% bootstrap
    interval (households resampled), where the households measured are enough to resample."""
    lines = [f"households: {report.households}   fit: {report.fit_seconds:.1f}s"]
    printed = margins(report)
    for section, methods in report.sections.items():
        metrics = list(next(iter(methods.values())).keys())
        lines.append("")
        lines.append(f"{section} (n={report.counts.get(section, 0)})")
        lines.append(f"  {'method':<34}" + "".join(f"{m:>12}" for m in metrics))
        for method, values in methods.items():
            lines.append(f"  {method:<34}" + "".join(f"{values[m]:>12.4f}" for m in metrics))
        for target in (False, True):
            mine = {m.metric: m for m in printed if m.section == section and m.target == target}
            if mine:
                label = f"learned vs {next(iter(mine.values())).rule} (target)" if target else "learned vs best rule"
                lines += _margin_lines(label, metrics, mine)
    return "\n".join(lines)


@dataclass(frozen=True)
class Margin:
    """One margin the report prints: the learned model over ``rule`` on ``metric`` (points, or percent of the
    rule's error for an MAE) and its 95% bootstrap interval (None where too few households to resample)."""

    section: str
    metric: str
    rule: str
    value: float
    low: float | None
    high: float | None
    target: bool  # against the rule the section's target names, printed because another rule is best

    @property
    def lower_is_better(self) -> bool:
        return "MAE" in self.metric


def margins(report: Report) -> list[Margin]:
    """Every margin ``format_report`` prints, in its order."""
    out = []
    for section, methods in report.sections.items():
        if "learned" not in methods or len(methods) < 2:
            continue
        metrics = [m for m in next(iter(methods.values())) if m != "listed"]
        named = TARGET_RULES.get(section, "")
        lines = [(False, {m: _best_rule(methods, m) for m in metrics}, report.intervals.get(section, {})),
                 (True, dict.fromkeys(_target_metrics(methods, named), named),
                  report.target_intervals.get(section, {}))]
        for target, rule, bounds in lines:
            for m in rule:
                lo, hi = bounds.get(m, (None, None))
                out.append(Margin(section, m, rule[m], float(_margin(m, methods["learned"][m], methods[rule[m]][m])),
                                  lo, hi, target))
    return out


def _margin_lines(label: str, metrics: list[str], by_metric: dict[str, Margin]) -> list[str]:
    """A line of margins under the section's columns (blank where a column has none), and beneath it their
    intervals."""
    cells, bounds = [], []
    for metric in metrics:
        m = by_metric.get(metric)
        if m is None:
            cells.append(f"{'':>12}")
        else:
            cells.append(f"{m.value:>+11.1f}%" if m.lower_is_better else f"{m.value:>+10.1f}pt")
        bounds.append(f" {f'{m.low:+.1f}..{m.high:+.1f}':>11}" if m is not None and m.low is not None else f"{'':>12}")
    lines = [f"  {label:<34}" + "".join(cells)]
    if any(m.low is not None for m in by_metric.values()):  # in the units of the line above
        lines.append(f"  {'  95% interval (bootstrap)':<34}" + "".join(bounds))
    return lines
