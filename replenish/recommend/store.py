"""Model persistence: one directory per version, metadata beside it, a LATEST pointer file.

The pointer is replaced atomically (write then rename) so a server never reads a half-written model.
"""
from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path

import joblib

from replenish import __version__

log = logging.getLogger(__name__)

# Bumped when features change meaning: a model trained on other features must not be served.
# 2: timing features describe each product as of its last purchase (no elapsed-time leakage).
# 3: churn/succession and category-name features; a database fingerprint in meta.json.
# 4: timing features of the household's order rhythm and of how recent a training interval is.
MODEL_FORMAT = 4
POINTER = "LATEST"
MODEL_FILE = "model.joblib"
META_FILE = "meta.json"


def save(rec, model_dir) -> str:
    root = Path(model_dir)
    root.mkdir(parents=True, exist_ok=True)
    created = datetime.now(UTC)
    version = created.strftime("%Y%m%dT%H%M%S%fZ")
    path = root / version
    path.mkdir()
    joblib.dump(rec, path / MODEL_FILE, compress=3)
    meta = {"version": version, "created_at": created.isoformat(), "code_version": __version__,
            "n_purchases": 0, "n_households": 0, "n_products": len(rec.products), "metrics": {}}
    meta.update(rec.meta)
    meta["format"] = MODEL_FORMAT
    (path / META_FILE).write_text(json.dumps(meta, indent=2, default=str))
    tmp = root / f".{POINTER}.{os.getpid()}"
    tmp.write_text(version)
    os.replace(tmp, root / POINTER)
    return str(path)


def read_latest_meta(model_dir) -> dict | None:
    """The newest model's metadata (version, fingerprint, ...) without loading the model."""
    root = Path(model_dir)
    try:
        version = (root / POINTER).read_text().strip()
        return json.loads((root / version / META_FILE).read_text())
    except (OSError, ValueError):
        return None


def load_latest(model_dir):
    root = Path(model_dir)
    pointer = root / POINTER
    if not pointer.exists():
        return None
    path = root / pointer.read_text().strip() / MODEL_FILE
    if not path.exists():
        return None
    meta = json.loads((path.parent / META_FILE).read_text())
    if meta.get("format") != MODEL_FORMAT:
        log.warning("model %s has format %s, this code serves format %s: retrain it",
                    path.parent.name, meta.get("format"), MODEL_FORMAT)
        return None
    rec = joblib.load(path)
    rec.meta = meta
    return rec
