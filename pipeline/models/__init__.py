"""Classifiers built from the config, fitted, refitted on all labels, and saved and loaded safely."""
