"""Runs around the MLflow store: names, descriptions, owners, sweeps, DVC experiments and servers."""
