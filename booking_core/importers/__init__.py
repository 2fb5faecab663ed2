"""Importers that load public real-world data sets into the ledger."""
