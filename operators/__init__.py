"""Operators: thin wrappers turning scene properties into submitter calls."""
