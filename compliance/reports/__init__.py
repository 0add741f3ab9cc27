"""Reports: view models built from the store, rendered to HTML, PDF and Excel."""
