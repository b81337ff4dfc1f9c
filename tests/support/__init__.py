"""Helpers shared by the functional and e2e tests."""
