"""Side-by-side comparison of systems on one collection: a systems x measures table, the per-query frame, paired
significance tests against the first system, and Markdown, JSON and PNG reports.

Every system is evaluated over the same queries, so per-query values pair up: every qrels query, 0 when a run
misses it (trec_eval -c; the default), or with ``queries="both"`` only the qrels queries that every run answers.
For each other system and measure, one :class:`daft_retrieval.statistics.PairedComparison` against the first
system (as a dict): the mean difference, the paired t-test and randomisation-test p-values, the t-test p-value
corrected over all the comparisons of the table (Holm by default; ``correction="bh"`` or ``"none"``), the 95%
t-based confidence interval of the mean difference, Cohen's d_z and per-query wins / ties / losses
(:mod:`daft_retrieval.statistics`).

    >>> result = compare({"bm25": run_a, "minilm": run_b}, ds.qrels, ["nDCG@10", "R@100"])  # doctest: +SKIP
    >>> result.write("data/reports/scifact")  # comparison.md, .json, .png  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import daft
import numpy as np
from daft import col, lit

from daft_retrieval import schema as S
from daft_retrieval.errors import DataError
from daft_retrieval.outputs import check_output_folder, make_folder, output_file, write_bytes
from daft_retrieval.runner import persist
from daft_retrieval.statistics import CORRECTIONS, correct, paired_comparison, randomized_tukey_hsd

__all__ = ["SYSTEM", "Comparison", "compare"]

SYSTEM = "system"


@dataclass(repr=False)
class Comparison:
    """``table``: system -> measure -> mean; ``per_query``: frame ``system, query_id, measure, value``;
    ``tests``: one dict per (baseline, other system, measure); ``baselines``: the systems tested against (default
    the first); ``tukey``: the randomised Tukey HSD p-value of every pair of systems per measure, when asked."""

    table: dict[str, dict[str, float]]
    per_query: daft.DataFrame
    tests: list[dict]
    dataset: str = ""
    baselines: list[str] = field(default_factory=list)
    tukey: list[dict] = field(default_factory=list)
    # approximate system -> {"Overlap@10": ..., "delta_to_exact": {measure: ...}} (experiment.against_exact)
    against_exact: dict[str, dict] = field(default_factory=dict)

    @property
    def baseline(self) -> str:
        return self.baselines[0] if self.baselines else next(iter(self.table))

    def markdown(self, alpha: float = 0.05) -> str:
        """The table with each mean marked + / - where it is significantly above / below the baseline (both tests
        at ``alpha``), then the tests."""
        measures = list(next(iter(self.table.values())))
        marks = {
            (t[SYSTEM], t["measure"]): ("+" if t["difference"] > 0 else "-")
            for t in self.tests
            if t["baseline"] == self.baseline and t["p_t_test"] < alpha and t["p_randomization"] < alpha
        }
        extra = _exact_header(self.against_exact, measures[0])
        lines = [f"# {self.dataset} comparison" if self.dataset else "# Comparison", ""]
        lines += ["| system | " + " | ".join(measures + extra) + " |", "|---" * (len(measures) + len(extra) + 1) + "|"]
        for system, values in self.table.items():
            cells = [f"{values[m]:.4f}{marks.get((system, m), '')}" for m in measures]
            cells += _exact_cells(self.against_exact.get(system), measures[0]) if extra else []
            lines.append(f"| {system} | " + " | ".join(cells) + " |")
        lines += [
            "",
            f"+ / -: significantly above / below {self.baseline} (paired t-test and randomisation, p < {alpha}).",
            "",
            "| system | baseline | measure | difference | p (t-test) | p (randomisation) | p (corrected) | 95% CI "
            "| d_z | wins / ties / losses |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for t in self.tests:
            lines.append(
                f"| {t[SYSTEM]} | {t['baseline']} | {t['measure']} | {t['difference']:+.4f} | {t['p_t_test']:.4g} "
                f"| {t['p_randomization']:.4g} | {t['p_corrected']:.4g} ({t['correction']}) "
                f"| [{t['ci_low']:+.4f}, {t['ci_high']:+.4f}] | {t['effect_size']:.3f} "
                f"| {t['wins']} / {t['ties']} / {t['losses']} |"
            )
        if self.tukey:
            lines += ["", "Randomised Tukey HSD (all pairs; Carterette 2012, Sakai 2014):", ""]
            lines += ["| measure | system | system | p |", "|---|---|---|---|"]
            lines += [f"| {t['measure']} | {t['a']} | {t['b']} | {t['p']:.4g} |" for t in self.tukey]
        return "\n".join(lines) + "\n"

    def __repr__(self) -> str:  # the terminal table (IPython shows it for a bare `result`)
        from daft_retrieval.report.table import format_aggregate

        return format_aggregate(self.table)

    def _repr_markdown_(self) -> str:  # Jupyter renders the Markdown report
        return self.markdown()

    def to_json(self) -> dict:
        """The report as strict JSON values: a NaN (no p-value over fewer than 2 queries) becomes ``null``."""
        body = {"dataset": self.dataset, "baselines": self.baselines, "table": self.table, "tests": self.tests}
        body = {**body, "tukey": self.tukey} if self.tukey else body
        return _strict({**body, "against_exact": self.against_exact} if self.against_exact else body)

    def plot(self, path: str) -> None:
        """A PNG: means per measure and system (grouped bars), and the per-query differences to the baseline on
        the first measure, sorted (where each system wins and loses)."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        measures, systems = list(next(iter(self.table.values()))), list(self.table)
        fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8))
        width = 0.8 / len(systems)
        for i, system in enumerate(systems):
            x = np.arange(len(measures)) + i * width
            left.bar(x, [self.table[system][m] for m in measures], width, label=system)
        left.set_xticks(np.arange(len(measures)) + 0.4 - width / 2, measures)
        left.set_ylabel("mean over queries")
        left.set_title(f"{self.dataset}: means".strip(": "))
        left.legend(fontsize=8)
        first = measures[0]
        values = self._values(first)
        base = values[self.baseline]
        for system in (s for s in systems if s != self.baseline):
            diff = np.sort(values[system] - base)[::-1]
            right.plot(np.arange(len(diff)), diff, label=f"{system} - {self.baseline}")
        right.axhline(0, color="grey", linewidth=0.8)
        right.set_xlabel("queries, sorted by difference")
        right.set_ylabel(f"{first} difference")
        right.set_title(f"per-query {first} against {self.baseline}")
        if len(systems) > 1:
            right.legend(fontsize=8)
        fig.tight_layout()
        try:
            with output_file(path) as fh:  # atomically, or in place into a pipe or device
                fig.savefig(fh, format="png", dpi=110)
        finally:
            plt.close(fig)

    def _values(self, measure: str) -> dict[str, np.ndarray]:
        rows = self.per_query.where(col(S.MEASURE) == measure).sort([SYSTEM, S.QUERY_ID]).to_pydict()
        out: dict[str, list[float]] = {}
        for system, value in zip(rows[SYSTEM], rows[S.VALUE]):
            out.setdefault(system, []).append(value)
        return {s: np.asarray(v) for s, v in out.items()}

    def write(self, folder: str, *, plot: bool = True) -> list[str]:
        """Write ``comparison.md``, ``comparison.json``, ``per_query.parquet`` (and ``comparison.png``) into
        ``folder``; returns the paths. Each file is replaced atomically (:func:`daft_retrieval.outputs.output_file`);
        nothing else in ``folder`` is touched."""
        import pyarrow.parquet as pq

        check_output_folder(folder)
        make_folder(folder, folder)
        paths = [os.path.join(folder, name) for name in ("comparison.md", "comparison.json")]
        for path, text in zip(paths, (self.markdown(), json.dumps(self.to_json(), indent=1, allow_nan=False))):
            write_bytes(path, text.encode("utf-8"))
        table = os.path.join(folder, "per_query.parquet")
        frame = self.per_query.to_arrow()
        with output_file(table) as fh:
            pq.write_table(frame, fh)
        paths.append(table)
        if plot:
            self.plot(os.path.join(folder, "comparison.png"))
            paths.append(os.path.join(folder, "comparison.png"))
        return paths


def compare(
    runs: dict[str, daft.DataFrame],
    qrels: daft.DataFrame,
    measures: list[str],
    *,
    dataset: str = "",
    trials: int = 10_000,
    queries: str = "qrels",
    correction: str = "holm",
    baselines: list[str] | None = None,
    tukey: bool = False,
    interval: str = "t",
) -> Comparison:
    """Evaluate every run on ``qrels`` and test every other system against each of ``baselines`` (default: the
    first system), on every measure; ``tukey``: also the randomised Tukey HSD over all pairs (``trials``);
    ``interval``: the 95% interval of each difference, "t" (Student) or "bootstrap" (paired percentile bootstrap,
    seeded).

    ``queries``: "qrels" (every judged query; a run missing one scores 0 there) or "both" (the judged queries
    that every run answers: the systems are still compared on one set of queries). ``correction``: "holm"
    (Holm-Bonferroni), "bh" (Benjamini-Hochberg) or "none", of the t-test p-values over all the table's tests.
    """
    from daft_retrieval.evaluation import evaluate

    if not isinstance(runs, dict):
        raise DataError('compare takes a dict of named runs, e.g. compare({"bm25": bm25, "dense": dense}, ...)')
    if len(runs) < 1:
        raise DataError("compare needs at least one system")
    if queries not in ("qrels", "both"):
        raise DataError(f"queries must be 'qrels' or 'both', not {queries!r}")
    if correction not in CORRECTIONS:
        raise DataError(f"correction must be one of {', '.join(CORRECTIONS)}, not {correction!r}")
    baselines = list(dict.fromkeys(baselines or [next(iter(runs))]))
    unknown = [b for b in baselines if b not in runs]
    if unknown:
        raise DataError(f"baseline {unknown[0]!r} is not a system; the systems: {', '.join(runs)}")
    if queries == "both":
        common = qrels.select(S.QUERY_ID).distinct()
        for run in runs.values():
            common = common.join(run.select(S.QUERY_ID).distinct(), on=S.QUERY_ID)
        qrels = persist(qrels.join(persist(common), on=S.QUERY_ID))
    table, frames = {}, []
    for name, run in runs.items():
        result = evaluate(run, qrels, measures)
        table[name] = result.aggregate
        frames.append(result.per_query.with_column(SYSTEM, lit(name)))
    per_query = frames[0]
    for frame in frames[1:]:
        per_query = per_query.concat(frame)
    per_query = persist(per_query.select(SYSTEM, S.QUERY_ID, S.MEASURE, S.VALUE))
    result = Comparison(table, per_query, [], dataset, baselines)
    tests = []
    for measure in next(iter(table.values())):
        values = result._values(measure)
        for baseline in baselines:
            for name in (n for n in runs if n != baseline):
                test = paired_comparison(
                    values[baseline],
                    values[name],
                    system=name,
                    baseline=baseline,
                    measure=measure,
                    trials=trials,
                    interval=interval,
                )
                tests.append(test)
        if tukey and len(runs) > 1:
            p = randomized_tukey_hsd(values, trials=trials)
            names = list(runs)
            pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]
            result.tukey.extend({"measure": measure, "a": a, "b": b, "p": p[(a, b)]} for a, b in pairs)
    result.tests.extend(t.to_dict() for t in correct(tests, correction))
    return result


def _exact_header(against: dict, first: str) -> list[str]:
    """The table's columns for approximate systems (none when every system is exact)."""
    return ["Overlap@10", f"Δ {first} to exact"] if against else []


def _exact_cells(entry: dict | None, first: str) -> list[str]:
    """Overlap@10 and the first measure's delta to exact of one system; empty cells for an exact system."""
    if entry is None:
        return ["", ""]
    return [f"{entry['Overlap@10']:.4f}", f"{entry['delta_to_exact'][first]:+.4f}"]


def _strict(value):
    """``value`` with every non-finite float replaced by ``None``, so ``json.dumps(allow_nan=False)`` holds."""
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
