"""The HTTP API: the FastAPI app, its dependencies, and the one place errors become problems."""
