"""Recommendation: resolve phrases to products, quantities, repurchase timing, buy-again."""
