"""The registries (daft_retrieval.registry) are the one list of names: every entry loads, each library table is
the registry's, each library dispatch accepts exactly the registry's names, and the CLI offers exactly them."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import daft
import pytest

from daft_retrieval import registry as R
from daft_retrieval.errors import DataError
from tests.conftest import ROOT

REGISTRIES = [R.RETRIEVERS, R.FUSIONS, R.NORMALIZATIONS, R.RERANKERS, R.BM25_VARIANTS, R.CORRECTIONS, R.MEASURES]


@pytest.mark.parametrize("registry", REGISTRIES, ids=lambda r: r.kind)
def test_every_entry_loads_a_callable_and_has_help(registry):
    assert len(registry) > 0
    for entry in registry.entries():
        assert callable(entry.load()), entry
        assert entry.help and "\n" not in entry.help, entry
    if registry is not R.MEASURES:
        assert registry.default in registry


def test_a_registry_refuses_unknown_names_twice_registered_names_and_bad_targets():
    with pytest.raises(DataError, match="unknown fusion 'rff': expected one of rrf, combsum, combmnz, wsum"):
        R.FUSIONS.get("rff")
    colours = R.Registry("colour")
    colours.add("red", "colorsys:rgb_to_hsv", help="fire")
    with pytest.raises(ValueError, match="registered twice"):
        colours.add("red", "colorsys:rgb_to_hls", help="fire")
    with pytest.raises(ValueError, match="'module:attribute'"):
        colours.add("blue", "colorsys.rgb_to_hls", help="sea")
    with pytest.raises(LookupError, match="no default colour"):
        colours.default  # noqa: B018


def test_the_library_tables_are_the_registries():
    from daft_retrieval.evaluation.measures import REGISTRY
    from daft_retrieval.fusion import FUSIONS, NORMALIZATIONS
    from daft_retrieval.reranking import RERANKERS
    from daft_retrieval.score import VARIANTS

    assert {e.name: e.load() for e in R.FUSIONS.entries()} == FUSIONS
    assert list(NORMALIZATIONS) == R.NORMALIZATIONS.names()
    assert list(RERANKERS) == R.RERANKERS.names()
    assert list(VARIANTS) == R.BM25_VARIANTS.names()
    assert list(REGISTRY) == R.MEASURES.names()
    for name in R.MEASURES:
        assert type(REGISTRY[name]) is R.MEASURES.get(name) and REGISTRY[name].doc == R.MEASURES.help(name)


def test_the_dispatch_of_normalize_bm25_and_rerank_accepts_exactly_the_registered_names():
    from daft_retrieval.fusion import normalize
    from daft_retrieval.index.bm25 import _check
    from daft_retrieval.reranking import rerank
    from daft_retrieval.score import bm25_weight

    run = daft.from_pydict({"query_id": ["q", "q"], "doc_id": ["a", "b"], "score": [1.0, 3.0]})
    for method in R.NORMALIZATIONS:
        assert len(normalize(run, method).to_pylist()) == 2
    with pytest.raises(DataError, match="unknown normalisation 'l2'"):
        normalize(run, "l2")
    for variant in R.BM25_VARIANTS:
        assert bm25_weight(variant, tf=1, df=1, dl=2, n_docs=3, avgdl=2.0, k1=1.2, b=0.75) > 0
        _check(1.2, 0.75, variant)
    with pytest.raises(DataError, match="unknown BM25 variant 'okapi'"):
        bm25_weight("okapi", tf=1, df=1, dl=2, n_docs=3, avgdl=2.0, k1=1.2, b=0.75)
    with pytest.raises(DataError, match="unknown BM25 variant 'okapi'"):
        _check(1.2, 0.75, "okapi")
    ranked = run.with_column("rank", daft.lit(1))
    for method in R.RERANKERS:  # a known method gets past the name check (to the model's, which fails)
        with pytest.raises(Exception) as failed:
            rerank(ranked, run, run, method=method, model="")
        assert "unknown reranker" not in str(failed.value), method
    with pytest.raises(DataError, match="unknown reranker 'colbert'"):
        rerank(ranked, run, run, method="colbert", model="m")


def _choices(parser: argparse.ArgumentParser, command: str) -> dict[str, list]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {a.dest: list(a.choices) for a in sub.choices[command]._actions if a.choices is not None}


def test_the_cli_offers_exactly_the_registered_names_with_the_registered_defaults():
    from daft_retrieval.cli.main import build_parser

    parser = build_parser()
    for command in ("search", "eval", "compare"):
        choices = _choices(parser, command)
        assert choices["retriever"] == R.RETRIEVERS.names()
        assert choices["fuse"] == R.FUSIONS.names()
        assert choices["norm"] == R.NORMALIZATIONS.names()
        assert choices["reranker"] == R.RERANKERS.names()
        assert choices["bm25_variant"] == R.BM25_VARIANTS.names()
    assert _choices(parser, "fuse") == {"method": R.FUSIONS.names(), "norm": R.NORMALIZATIONS.names()}
    args = parser.parse_args(["eval"])
    assert (args.norm, args.reranker, args.bm25_variant) == ("min-max", "cross", "lucene")
    for entry in R.RETRIEVERS.entries():
        if "model_dest" in entry.info:
            assert getattr(args, entry.info["model_dest"]) == entry.info["default_model"]
    assert parser.parse_args(["fuse", "a", "--output-run", "o"]).method == R.FUSIONS.default


def test_help_lists_every_registered_name_without_importing_daft():
    code = (
        "import sys, io, contextlib, daft_retrieval.cli.main as m\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit): m.main(['eval', '--help'])\n"
        "print('daft' in sys.modules); print(out.getvalue())\n"
    )
    env = {**os.environ, "COLUMNS": "100000"}  # one line per option: no name is cut at a hyphen
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    first, _, text = out.stdout.partition("\n")
    assert first == "False", out.stderr
    text = " ".join(text.split())
    for registry in (R.RETRIEVERS, R.NORMALIZATIONS, R.RERANKERS, R.BM25_VARIANTS):
        for entry in registry.entries():
            assert f"{entry.name} ({' '.join(entry.help.split())})" in text, entry
    assert all(e.info["example"] in text for e in R.MEASURES.entries())
