"""The SQL store: models, engine and session setup, and the queries that roll results up."""
