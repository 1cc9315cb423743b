"""What can be bought: products, categories, synonyms, pack sizes; importers; text search."""
