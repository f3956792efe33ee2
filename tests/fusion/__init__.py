"""Tests of the fusion stage."""
