"""Recommendation: resolve phrases to products, quantities, repurchase timing, buy-again."""
from replenish.recommend.recommender import Candidate, Recommender, Timing, packs_for_slot

__all__ = ["Candidate", "Recommender", "Timing", "packs_for_slot"]
