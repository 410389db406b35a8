"""Audit policy engine: load, validate, evaluate, lint, migrate."""
