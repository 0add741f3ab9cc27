"""Exchange with other tools: CISO Assistant libraries, mapping tables (OLIR, CSV)."""
