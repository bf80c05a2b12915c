"""Turning statements into features: the text step, n-gram vectorizers and sentence embeddings."""
