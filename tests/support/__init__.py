"""Test support: real servers started by the tests themselves, and builders of test data."""
