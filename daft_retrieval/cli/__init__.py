"""The command-line interface (``daft-retrieval``)."""
