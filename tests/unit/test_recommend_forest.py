import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier

from replenish.recommend.forest import FlatForest


def test_flat_forest_matches_scikit_learn_including_missing_values():
    rng = np.random.default_rng(0)
    X = rng.random((3000, 6))
    y = X[:, 0] + X[:, 1] * X[:, 2] > 0.8
    X[rng.random(X.shape) < 0.1] = np.nan
    model = HistGradientBoostingClassifier(max_iter=30).fit(X, y)
    np.testing.assert_allclose(FlatForest(model).proba(X[:200]), model.predict_proba(X[:200])[:, 1], atol=1e-9)
