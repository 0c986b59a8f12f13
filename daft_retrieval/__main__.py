"""``python -m daft_retrieval``: the same as the ``daft-retrieval`` command."""

import sys

from daft_retrieval.cli.main import main

sys.exit(main())
