"""Scoring and evaluation: toxicity scorers, the emotional-awareness proxy, generation."""
