"""The ``zentra`` command line: thin typer commands that call the services."""
