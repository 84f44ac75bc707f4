"""Measuring speed: throughput of training and inference steps, and a per-layer profile."""
