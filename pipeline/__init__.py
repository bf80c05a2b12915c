"""Stance classification pipeline: prepare, train and evaluate classifiers of quoted statements."""
