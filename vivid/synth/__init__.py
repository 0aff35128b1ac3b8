"""Synthetic data with exact labels: rendered bodies and flying layers."""
