"""Aggregation shared by the S-layer products: roll-ups to area levels and expansion to people."""
