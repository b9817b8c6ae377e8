"""Shared builders of the tests (never imported by the library or by another test module)."""
