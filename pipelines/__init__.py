"""Prefect flows: extract, features, train, evaluate, register, promote."""
