"""The FastAPI application: the only package that speaks HTTP."""
