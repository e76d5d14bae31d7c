"""Canonical data model and adapters from lab file formats."""
