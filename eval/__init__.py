"""Evaluation: benchmark loaders, frame choosers, answer extraction, metrics and reports."""
