"""Helpers shared by the test tiers (schema validation of generated manifests)."""
