"""An experiment: systems x datasets x measures, with the statistics of every table and work never done twice.

For each dataset, every system runs in order (:func:`~daft_retrieval.experiment.stages.run_system`); a system
whose content key (:func:`~daft_retrieval.experiment.spec.spec_key`) was already computed on that dataset is not
run again (two names for one spec, or the same retriever under a fusion and on its own), and with a ``runs``
store (:class:`~daft_retrieval.experiment.store.RunStore`) a run saved by an earlier experiment on the same data
is read back instead. A run is always evaluated as read back from its saved file, so the first and every later
run of an experiment give the same bytes. Per dataset: a systems x measures table with paired tests against each
baseline, corrected over the table (:func:`daft_retrieval.report.compare.compare`); over datasets: the mean of
each system's per-dataset means (BEIR's table).

    >>> import daft_retrieval as dr
    >>> systems = [dr.Retrieve(retriever="bm25"), dr.Retrieve(retriever="dense"), dr.Fuse(fuse="rrf")]
    >>> result = dr.Experiment(systems, ["data/demo"], ["nDCG@10", "R@100"]).run()  # doctest: +SKIP
    >>> result.mean["rrf(bm25, dense-all-MiniLM-L6-v2)"]["nDCG@10"]  # doctest: +SKIP
    >>> result.write("data/reports/demo")  # comparison.md, .json, .tex, .png, per_query.parquet  # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import daft

from daft_retrieval.errors import DataError
from daft_retrieval.experiment.against import against_exact, exact_counterpart
from daft_retrieval.experiment.spec import System, spec_key
from daft_retrieval.experiment.stages import check_system, labels, run_provenance, run_system, sources
from daft_retrieval.progress import QUIET

__all__ = ["Experiment", "ExperimentResult"]


@dataclass
class ExperimentResult:
    """``comparisons``: dataset name -> :class:`~daft_retrieval.report.compare.Comparison`; ``mean``: system ->
    measure -> the mean over datasets of its means; ``provenance``: per dataset and system, where its run came
    from (computed, shared, saved), its seconds, and the package, runner and device."""

    comparisons: dict[str, Any]
    mean: dict[str, dict[str, float]]
    provenance: dict[str, Any] = field(default_factory=dict)
    shown: dict[str, Any] = field(default_factory=dict)  # dataset -> report.views.Shown (the HTML report's lists)

    def to_json(self) -> dict:
        """``{"datasets": {NAME: {"table": ..., "tests": [...]}}, "mean": ...}`` (strict JSON: NaN is null)."""
        from daft_retrieval.report.compare import _strict

        datasets = {}
        for name, comparison in self.comparisons.items():
            body = {"table": comparison.table, "tests": comparison.tests, "baselines": comparison.baselines}
            if comparison.against_exact:  # approximate systems only: an exact one has no entry
                body["against_exact"] = comparison.against_exact
            if name in self.shown:
                body["judged"] = self.shown[name].judged  # Judged@10 per system: how far to trust the table
            datasets[name] = {**body, "tukey": comparison.tukey} if comparison.tukey else body
        return _strict({"datasets": datasets, "mean": self.mean})

    def markdown(self, alpha: float = 0.05) -> str:
        """Each dataset's report, then the mean over datasets."""
        parts = [c.markdown(alpha) for c in self.comparisons.values()]
        if len(self.comparisons) > 1:
            measures = list(next(iter(self.mean.values())))
            lines = [f"# Mean over {len(self.comparisons)} datasets ({', '.join(self.comparisons)})", ""]
            lines += ["| system | " + " | ".join(measures) + " |", "|---" * (len(measures) + 1) + "|"]
            lines += [f"| {s} | " + " | ".join(f"{v[m]:.4f}" for m in measures) + " |" for s, v in self.mean.items()]
            parts.append("\n".join(lines) + "\n")
        return "\n".join(parts)

    def latex(self, alpha: float = 0.05) -> str:
        """One LaTeX table per dataset (significance letters per baseline) and one of the means."""
        from daft_retrieval.report.latex import latex_table

        tables = []
        for name, c in self.comparisons.items():
            key = "".join(ch if ch.isalnum() else "-" for ch in name)
            tables.append(
                latex_table(c.table, c.tests, baselines=c.baselines, alpha=alpha, caption=name, label=f"tab:{key}")
            )
        if len(self.comparisons) > 1:
            first = next(iter(self.comparisons.values()))
            caption = f"Mean over {', '.join(self.comparisons)}."
            tables.append(latex_table(self.mean, [], baselines=first.baselines, alpha=alpha, caption=caption))
        return "\n".join(tables)

    def per_query(self) -> daft.DataFrame:
        """``dataset, system, query_id, measure, value`` over every dataset."""
        from daft import lit

        frames = [c.per_query.select(lit(n).alias("dataset"), "*") for n, c in self.comparisons.items()]
        out = frames[0]
        for frame in frames[1:]:
            out = out.concat(frame)
        return out

    def shown_tables(self) -> tuple:
        """The report's ``rankings`` and ``texts`` (:class:`~daft_retrieval.report.views.Shown`) of every dataset,
        as two Arrow tables with a first column ``dataset`` (None, None without them)."""
        import pyarrow as pa

        if not self.shown:
            return None, None
        return tuple(
            pa.concat_tables([_with_dataset(name, shown[part]) for name, shown in self.shown.items()])
            for part in (0, 1)
        )

    def report_data(self, title: str = "") -> dict:
        """The HTML report's data (:func:`~daft_retrieval.report.page.page_data`), as ``write`` renders it."""
        from daft_retrieval.report.page import page_data

        body = {**self.to_json(), "provenance": self.provenance}
        return page_data(body, self.per_query().to_arrow(), *self.shown_tables(), title=title)

    def write(self, folder: str, *, plot: bool = True, report: bool = True) -> list[str]:
        """``comparison.md``, ``comparison.json`` (with the provenance), ``comparison.tex``, ``per_query.parquet``,
        a PNG per dataset (``comparison.png``; ``comparison-<dataset>.png`` for several) and, with ``report``, the
        HTML report ``report.html`` with the ``rankings.parquet`` and ``texts.parquet`` it is built from
        (:mod:`daft_retrieval.report.page`) into ``folder``, each replaced atomically; nothing else there is
        touched. Returns the paths."""
        import pyarrow.parquet as pq

        from daft_retrieval.outputs import check_output_folder, make_folder, output_file, write_bytes
        from daft_retrieval.report.page import RANKINGS_FILE, TEXTS_FILE, write_report

        check_output_folder(folder)
        make_folder(folder, folder)
        body = {**self.to_json(), "provenance": self.provenance}
        texts = {
            "comparison.md": self.markdown(),
            "comparison.json": json.dumps(body, indent=1, allow_nan=False),
            "comparison.tex": self.latex(),
        }
        paths = []
        for name, text in texts.items():
            paths.append(os.path.join(folder, name))
            write_bytes(paths[-1], text.encode("utf-8"))
        paths.append(os.path.join(folder, "per_query.parquet"))
        with output_file(paths[-1]) as fh:
            pq.write_table(self.per_query().to_arrow(), fh)
        if plot:
            for name, comparison in self.comparisons.items():
                one = len(self.comparisons) == 1
                paths.append(os.path.join(folder, "comparison.png" if one else f"comparison-{name}.png"))
                comparison.plot(paths[-1])
        if report and self.shown:
            for file, table in zip((RANKINGS_FILE, TEXTS_FILE), self.shown_tables()):
                paths.append(os.path.join(folder, file))
                with output_file(paths[-1]) as fh:
                    pq.write_table(table, fh)
            paths.append(write_report(folder))
        return paths


def _with_dataset(name: str, table):
    """``table`` with a first column ``dataset`` = ``name``."""
    import pyarrow as pa

    return table.add_column(0, "dataset", pa.array([name] * table.num_rows, pa.string()))


@dataclass(frozen=True)
class Experiment:
    """``systems`` (specs, run in order) on every dataset of ``datasets`` (paths, ``beir:NAME`` or loaded
    :class:`~daft_retrieval.load.dataset.Dataset` values), scored by ``measures``.

    ``baselines``: the systems every other one is tested against (default the first); ``correction``: "holm",
    "bh" or "none" over each table's tests; ``trials``: of the randomisation test (and Tukey); ``tukey``: also the
    randomised Tukey HSD of all pairs; ``interval``: "t" or "bootstrap" (each difference's 95% interval);
    ``queries``: "qrels" or "both"; ``cache``: the embedding cache; ``runs``: a
    :class:`~daft_retrieval.experiment.store.RunStore` of saved runs (None: nothing saved); ``load``: options of
    :func:`~daft_retrieval.load.load_beir` for datasets given by path; ``report_depth``: the top k of each
    system the HTML report shows, ``snippet``: the characters of each document it keeps."""

    systems: Sequence[System]
    datasets: Sequence[Any]
    measures: Sequence[str]
    baselines: Sequence[str] | None = None
    correction: str = "holm"
    trials: int = 10_000
    tukey: bool = False
    interval: str = "t"
    queries: str = "qrels"
    cache: Any = None
    runs: Any = None
    load: dict = field(default_factory=dict)
    report_depth: int = 10
    snippet: int = 300

    def labels(self) -> list[str]:
        """The systems' names, in order (:func:`~daft_retrieval.experiment.stages.labels`)."""
        return labels(self.systems)

    def check(self) -> list[str]:
        """Every setting checked before any work (labels, baselines, measures, each system's model settings)."""
        from daft_retrieval.evaluation import parse_measures
        from daft_retrieval.report.views import check_report_options

        if not self.systems:
            raise DataError("an experiment needs at least one system")
        if not self.datasets:
            raise DataError("an experiment needs at least one dataset")
        labels = self.labels()
        for baseline in self.baselines or []:
            if baseline not in labels:
                raise DataError(f"--baseline {baseline!r} is not a system; the systems: {', '.join(labels)}")
        parse_measures(list(self.measures))
        check_report_options(self.report_depth, self.snippet)
        for spec in self.systems:
            check_system(spec)
        return labels

    def run(self) -> ExperimentResult:
        """Run every system on every dataset; the tables, tests, means and provenance."""
        from daft_retrieval.report.compare import compare
        from daft_retrieval.report.views import shown_rankings

        labels = self.check()
        comparisons, provenance, shown = {}, {"datasets": {}}, {}
        for given in self.datasets:
            started = time.perf_counter()
            dataset = self._dataset(given)
            if dataset.name in comparisons:
                raise DataError(f"two datasets are named {dataset.name!r}; give folders with distinct names")
            loaded = time.perf_counter() - started
            runs, exacts, steps = self._run_dataset(dataset, labels)
            started = time.perf_counter()
            comparison = comparisons[dataset.name] = compare(
                runs,
                dataset.qrels,
                list(self.measures),
                dataset=dataset.name,
                trials=self.trials,
                queries=self.queries,
                correction=self.correction,
                baselines=list(self.baselines or []) or None,
                tukey=self.tukey,
                interval=self.interval,
            )
            comparison.against_exact = self._against_exact(runs, exacts, comparison.table, dataset.qrels)
            shown[dataset.name] = shown_rankings(
                runs, dataset.qrels, dataset, k=self.report_depth, snippet=self.snippet
            )
            steps["seconds"] = {"load": round(loaded, 3), "evaluate": round(time.perf_counter() - started, 3)}
            provenance["datasets"][dataset.name] = steps
        return ExperimentResult(comparisons, _mean(comparisons), {"package": _package(), **provenance}, shown)

    def _dataset(self, given: Any):
        from daft_retrieval.load import Dataset, load_beir

        return given if isinstance(given, Dataset) else load_beir(str(given), **self.load)

    def _run_dataset(self, dataset, labels: list[str]) -> tuple[dict, dict, dict]:
        """Every system's run on ``dataset`` (each distinct content key computed once), the exact counterpart's
        run of each approximate one, and where each came from."""
        from daft_retrieval.experiment.fingerprint import dataset_fingerprint

        fingerprint = dataset_fingerprint(dataset)
        runs: dict[str, daft.DataFrame] = {}
        exacts: dict[str, daft.DataFrame] = {}  # approximate system -> the run of its exact counterpart
        keys: dict[str, str] = {}
        done: dict[str, daft.DataFrame] = {}
        steps: dict[str, Any] = {"fingerprint": fingerprint, "systems": {}}
        for spec, label in zip(self.systems, labels):
            read = sources(spec, list(runs))
            key = spec_key(spec, [keys[n] for n in read])
            started, origin, before = time.perf_counter(), "shared", _cache_counts(self.cache)
            if key not in done:
                done[key], origin = self._obtain(spec, key, dataset, runs, fingerprint)
            runs[label], keys[label] = done[key], key
            seconds = round(time.perf_counter() - started, 3)
            step = {"kind": type(spec).__name__, "key": key, "from": origin, "seconds": seconds}
            after = _cache_counts(self.cache)
            step["cache"] = {k: after[k] - before[k] for k in after}  # embedding-cache hits and misses (texts)
            step.update(self._made(spec, key, fingerprint, dataset.name))
            steps["systems"][label] = step
            if os.environ.get(QUIET) != "0":
                print(f"{dataset.name}: {label} ({origin})", file=sys.stderr)
        for spec, label in zip(self.systems, labels):
            exact = exact_counterpart(spec)
            if exact is None:
                continue
            key = spec_key(exact)  # the exact system's key: computed once, shared with it when it runs too
            origin = "shared"
            if key not in done:
                done[key], origin = self._obtain(exact, key, dataset, {}, fingerprint)
            exacts[label] = done[key]
            steps["systems"][label]["exact"] = {"key": key, "from": origin}
        return runs, exacts, steps

    def _obtain(self, spec: System, key: str, dataset, runs: dict, fingerprint: str) -> tuple[daft.DataFrame, str]:
        """The run of ``spec`` (content ``key``): read from the store when saved there, else computed (and saved);
        and where it came from ("saved" or "computed")."""
        from daft_retrieval.progress import finish_all
        from daft_retrieval.runner import materialize

        saved = self.runs.load(key, fingerprint) if self.runs is not None else None
        if saved is not None:
            return saved, "saved"
        started = time.perf_counter()
        run = materialize(run_system(spec, dataset, runs, self.cache))
        finish_all()
        return self._save(run, spec, key, fingerprint, dataset.name, time.perf_counter() - started), "computed"

    def _against_exact(self, runs: dict, exacts: dict, table: dict, qrels) -> dict:
        """Overlap@10 and the delta of each measure to exact of every approximate system (the exact run evaluated
        as the table's runs are, over the same ``queries``)."""
        from daft_retrieval.evaluation import evaluate

        out = {}
        for label, exact in exacts.items():
            reference = evaluate(exact, qrels, list(self.measures), queries=self.queries).aggregate
            out[label] = against_exact(runs[label], exact, table[label], reference)
        return out

    def _made(self, spec: System, key: str, fingerprint: str, dataset: str) -> dict:
        """The system's spec and model (weights digest, dtype; or BM25's tokenizer) as its saved run records them
        (what made that run, not what is installed now), or as they are now without a store."""
        from daft_retrieval.load.trec import read_provenance

        path = self.runs.path(key, fingerprint) if self.runs is not None else None
        made = read_provenance(path) if path and os.path.isfile(path) else run_provenance(spec, dataset, fingerprint, 0)
        return {"system": made.get("system"), "model": made.get("model")}

    def _save(self, run, spec: System, key: str, fingerprint: str, dataset: str, seconds: float):
        """``run`` saved with its provenance and read back (what every later experiment reads), or ``run`` itself
        without a store."""
        if self.runs is None:
            return run
        self.runs.save(run, key, fingerprint, run_provenance(spec, dataset, fingerprint, seconds))
        loaded = self.runs.load(key, fingerprint)
        return run if loaded is None else loaded


def _cache_counts(cache) -> dict[str, int]:
    """The embedding cache's hits and misses so far (0 without a cache)."""
    counts = getattr(cache, "counts", None) or {}
    return {k: sum(c[k] for c in counts.values()) for k in ("hits", "misses")}


def _package() -> dict:
    from daft_retrieval import __version__
    from daft_retrieval.runner import on_ray

    out = {"version": __version__, "runner": "ray" if on_ray() else "native", "python": sys.version.split()[0]}
    torch = sys.modules.get("torch")  # loaded by any model that ran; asking would load it for BM25 alone
    if torch is not None:
        out["device"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    return out


def _mean(comparisons: dict) -> dict[str, dict[str, float]]:
    """Each system's mean over datasets of its per-dataset means (exactly rounded sums, in dataset order)."""
    first = next(iter(comparisons.values()))
    return {
        system: {m: math.fsum(c.table[system][m] for c in comparisons.values()) / len(comparisons) for m in measures}
        for system, measures in first.table.items()
    }
