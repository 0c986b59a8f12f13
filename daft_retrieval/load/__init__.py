"""Loading collections, queries, judgements and runs into Daft frames."""

from daft_retrieval.load.beir import load_beir
from daft_retrieval.load.dataset import Dataset, DataWarning, LoadReport, check_dataset
from daft_retrieval.load.tables import read_corpus, read_queries, read_table
from daft_retrieval.load.trec import read_qrels, read_run, write_qrels, write_run

__all__ = [
    "DataWarning",
    "Dataset",
    "LoadReport",
    "check_dataset",
    "load_beir",
    "read_corpus",
    "read_qrels",
    "read_queries",
    "read_run",
    "read_table",
    "write_qrels",
    "write_run",
]
