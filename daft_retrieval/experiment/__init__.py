"""Experiments: typed system specs (from files or flags, by one path), systems x datasets runs with work done
once and saved runs keyed by content, and the statistics of every table."""

from daft_retrieval.experiment.experiment import Experiment, ExperimentResult
from daft_retrieval.experiment.fingerprint import dataset_fingerprint
from daft_retrieval.experiment.read import ExperimentFile, read_experiment
from daft_retrieval.experiment.spec import Fuse, Rerank, Retrieve, System, spec_key, system_from_mapping
from daft_retrieval.experiment.stages import run_system
from daft_retrieval.experiment.store import RunStore

__all__ = [
    "Experiment",
    "ExperimentFile",
    "ExperimentResult",
    "Fuse",
    "Rerank",
    "Retrieve",
    "RunStore",
    "System",
    "dataset_fingerprint",
    "read_experiment",
    "run_system",
    "spec_key",
    "system_from_mapping",
]
