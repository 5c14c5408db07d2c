"""Simulations that test each theoretical claim numerically (see :mod:`sims.registry`)."""
