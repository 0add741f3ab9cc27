"""Importing assessment files: validate everything first, then write it in one transaction."""
