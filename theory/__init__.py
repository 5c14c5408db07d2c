"""Exact math of the lottery toolkit: numpy, scipy and sympy only, float64, no training loops."""
