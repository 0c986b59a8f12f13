"""Loading corpora, queries and BEIR folders: fixed columns, string ids, errors naming the file:line or the id,
the load report, and real-collection checks (scifact counts; a bm25s run evaluated equal to pytrec_eval)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import warnings

import daft
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from daft_retrieval.errors import DataError
from daft_retrieval.evaluation import evaluate
from daft_retrieval.load import DataWarning, load_beir, read_corpus, read_queries, read_run, write_run
from tests.conftest import shared_dataset


def write_jsonl(path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def write_text(path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def make_beir(root, corpus: list[dict], queries: list[dict], qrels: list[tuple[str, str, int]]) -> str:
    (root / "qrels").mkdir(parents=True)
    write_jsonl(root / "corpus.jsonl", corpus)
    write_jsonl(root / "queries.jsonl", queries)
    lines = "".join(f"{q}\t{d}\t{r}\n" for q, d, r in qrels)
    write_text(root / "qrels" / "test.tsv", "query-id\tcorpus-id\tscore\n" + lines)
    return str(root)


def error_of(call, *args, **kwargs) -> str:
    with pytest.raises(DataError) as info:
        call(*args, **kwargs)
    return str(info.value)


# --- BEIR folders --------------------------------------------------------------------------------------------


def test_beir_folder_loads_fixed_columns_and_string_ids(tmp_path):
    path = make_beir(
        tmp_path / "mini",
        corpus=[
            {"_id": "007", "title": "Bond", "text": "shaken"},
            {"_id": 12, "title": "Twelve", "text": "numeric id"},  # a JSON number becomes "12"
            {"_id": "d3", "text": "no title"},  # missing title -> ""
        ],
        queries=[{"_id": "001", "text": "martini"}, {"_id": "q2", "text": "numbers"}],
        qrels=[("001", "007", 1), ("q2", "12", 2), ("q2", "d3", 0)],
    )
    ds = load_beir(path)

    assert ds.name == "mini"
    assert ds.corpus.column_names == ["doc_id", "title", "text"]
    assert ds.queries.column_names == ["query_id", "text"]
    assert ds.qrels.column_names == ["query_id", "doc_id", "relevance"]
    assert {f.name: str(f.dtype) for f in ds.corpus.schema()} == {
        "doc_id": "String",
        "title": "String",
        "text": "String",
    }
    assert {f.name: str(f.dtype) for f in ds.qrels.schema()}["relevance"] == "Int64"
    assert ds.corpus.sort("doc_id").to_pydict() == {
        "doc_id": ["007", "12", "d3"],
        "title": ["Bond", "Twelve", ""],
        "text": ["shaken", "numeric id", "no title"],
    }
    assert ds.queries.sort("query_id").to_pydict() == {"query_id": ["001", "q2"], "text": ["martini", "numbers"]}
    assert sorted(map(tuple, (r.values() for r in ds.qrels.to_pylist()))) == [
        ("001", "007", 1),
        ("q2", "12", 2),
        ("q2", "d3", 0),
    ]
    # the qrels ids match the corpus and query ids exactly (no "7" vs "007"), so nothing is reported
    assert ds.report.documents == 3 and ds.report.queries == 2 and ds.report.judgements == 3
    assert ds.report.problems() == []


def test_beir_folder_missing_a_file_is_named(tmp_path):
    path = make_beir(tmp_path / "mini", [{"_id": "d", "text": "t"}], [{"_id": "q", "text": "t"}], [("q", "d", 1)])
    (tmp_path / "mini" / "queries.jsonl").unlink()
    assert "queries.jsonl is missing" in error_of(load_beir, path)
    assert "no such folder" in error_of(load_beir, str(tmp_path / "nowhere"))


def test_unknown_qrels_ids_are_counted_warned_and_kept(tmp_path):
    path = make_beir(
        tmp_path / "mini",
        corpus=[{"_id": "d1", "text": "a"}, {"_id": "d2", "text": "b"}],
        queries=[{"_id": "q1", "text": "x"}],
        qrels=[("q1", "d1", 1), ("q1", "gone1", 1), ("q1", "gone2", 0), ("qX", "d2", 1)],
    )
    with pytest.warns(DataWarning) as caught:
        ds = load_beir(path)
    message = str(caught[0].message)
    assert "2 judgements name a document absent" in message
    assert "1 judgements name a query absent" in message
    assert "'qX'" in message
    assert (ds.report.qrels_unknown_query, ds.report.qrels_unknown_doc) == (1, 2)
    assert ds.report.judgements == 4 and ds.qrels.count_rows() == 4  # nothing dropped

    # q1 has 2 relevant docs (d1 and the unknown gone1): retrieving d1 alone gives R@2 = 1/2, not 1/1.
    # qX (unknown query, absent from the run) scores 0 and counts in the mean: (1/2 + 0) / 2.
    run = daft.from_pydict({"query_id": ["q1", "q1"], "doc_id": ["d1", "d2"], "score": [2.0, 1.0]})
    result = evaluate(run, ds.qrels, ["R@2"])
    per_query = {r["query_id"]: r["value"] for r in result.per_query.to_pylist()}
    assert per_query == {"q1": 1 / 2, "qX": 0.0}
    assert result.aggregate["R@2"] == (1 / 2 + 0) / 2


def test_empty_texts_are_allowed_and_counted(tmp_path):
    path = make_beir(
        tmp_path / "mini",
        corpus=[
            {"_id": "d1", "title": "", "text": ""},
            {"_id": "d2", "title": " ", "text": "  "},
            {"_id": "d3", "title": "only a title", "text": ""},  # not empty: the title is text
            {"_id": "d4", "title": "", "text": "body"},
        ],
        queries=[{"_id": "q1", "text": ""}, {"_id": "q2", "text": "fine"}],
        qrels=[("q1", "d1", 1), ("q2", "d4", 1)],
    )
    with pytest.warns(DataWarning, match="2 documents have an empty title and text"):
        ds = load_beir(path)
    assert ds.report.empty_documents == 2
    assert ds.report.empty_queries == 1
    assert ds.corpus.count_rows() == 4 and ds.queries.count_rows() == 2


# --- corpus and query tables with a column mapping -----------------------------------------------------------


# ids that all look like numbers: a CSV reader inferring integers would make "007" into 7
CORPUS = {"pid": ["007", "12", "3"], "passage": ["shaken, not stirred", "twelve", "three"]}
QUERIES = {"qid": ["001", "2"], "query": ["martini", "numbers"]}


def write_table(path, table: dict[str, list]) -> str:
    suffix = path.suffix
    if suffix == ".jsonl":
        return write_jsonl(path, [dict(zip(table, row)) for row in zip(*table.values())])
    if suffix == ".parquet":
        pq.write_table(pa.table(table), path)
        return str(path)
    sep = "\t" if suffix == ".tsv" else ","
    quote = (lambda v: f'"{v}"' if "," in v else v) if sep == "," else (lambda v: v)
    lines = [sep.join(table)] + [sep.join(quote(str(v)) for v in row) for row in zip(*table.values())]
    return write_text(path, "\n".join(lines) + "\n")


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet", ".csv", ".tsv"])
def test_corpus_and_queries_with_a_column_mapping(tmp_path, suffix):
    corpus = read_corpus(write_table(tmp_path / f"c{suffix}", CORPUS), columns={"doc_id": "pid", "text": "passage"})
    assert corpus.column_names == ["doc_id", "title", "text"]
    assert corpus.sort("doc_id").to_pydict() == {  # "007" keeps its zeros in CSV/TSV too; no title -> ""
        "doc_id": ["007", "12", "3"],
        "title": ["", "", ""],
        "text": ["shaken, not stirred", "twelve", "three"],
    }
    queries = read_queries(write_table(tmp_path / f"q{suffix}", QUERIES), columns={"query_id": "qid", "text": "query"})
    assert queries.column_names == ["query_id", "text"]
    assert queries.sort("query_id").to_pydict() == {"query_id": ["001", "2"], "text": ["martini", "numbers"]}


def test_numeric_ids_become_strings(tmp_path):
    pq.write_table(pa.table({"id": [7, 12], "contents": ["a", "b"]}), tmp_path / "c.parquet")
    corpus = read_corpus(str(tmp_path / "c.parquet"))  # id/contents found by their usual names
    assert corpus.sort("text").to_pydict()["doc_id"] == ["7", "12"]
    queries = read_queries(write_jsonl(tmp_path / "q.jsonl", [{"_id": 1, "text": "x"}, {"_id": 20, "text": "y"}]))
    assert queries.sort("text").to_pydict()["query_id"] == ["1", "20"]


def test_title_missing_on_some_rows_becomes_empty(tmp_path):
    rows = [
        {"_id": "a", "title": "A", "text": "x"},
        {"_id": "b", "text": "y"},
        {"_id": "c", "title": None, "text": "z"},
    ]
    corpus = read_corpus(write_jsonl(tmp_path / "c.jsonl", rows))
    assert corpus.sort("doc_id").to_pydict()["title"] == ["A", "", ""]


def test_unknown_column_in_a_mapping_is_named(tmp_path):
    path = write_table(tmp_path / "c.csv", CORPUS)
    message = error_of(read_corpus, path, columns={"doc_id": "pid", "text": "body_text"})
    assert path in message and "'body_text'" in message and "pid" in message  # what was found


# --- bad corpus / query files --------------------------------------------------------------------------------


GOOD = '{"_id": "a", "text": "x"}\n{"_id": "b", "text": "y"}\n'


def test_malformed_json_line_is_named(tmp_path):
    path = write_text(tmp_path / "corpus.jsonl", GOOD + '{"_id": "c", "text": \n{"_id": "d", "text": "w"}\n')
    message = error_of(read_corpus, path)
    assert f"{path}:3:" in message and "invalid JSON" in message


def test_malformed_json_line_far_down_the_file_is_named(tmp_path):
    lines = "".join(f'{{"_id": "d{i}", "text": "x"}}\n' for i in range(3000))
    path = write_text(tmp_path / "corpus.jsonl", lines + "not json\n")
    assert f"{path}:3001:" in error_of(read_corpus, path)


def test_json_line_that_is_not_an_object_is_named(tmp_path):
    path = write_text(tmp_path / "queries.jsonl", GOOD + "[1, 2]\n")
    message = error_of(read_queries, path)
    assert f"{path}:3:" in message and "JSON object" in message


def test_corpus_row_without_id_names_the_line(tmp_path):
    path = write_text(tmp_path / "corpus.jsonl", GOOD + '{"title": "t", "text": "no id"}\n')
    message = error_of(read_corpus, path)
    assert f"{path}:3:" in message and "'_id'" in message


def test_document_without_text_names_the_id(tmp_path):
    path = write_text(tmp_path / "corpus.jsonl", GOOD + '{"_id": "lonely", "title": "t"}\n')
    message = error_of(read_corpus, path)
    assert path in message and "'lonely'" in message and "'text'" in message


def test_duplicate_doc_id_is_named(tmp_path):
    path = write_text(tmp_path / "corpus.jsonl", GOOD + '{"_id": "a", "text": "again"}\n')
    message = error_of(read_corpus, path)
    assert path in message and "duplicate document id 'a'" in message


def test_duplicate_query_id_is_named(tmp_path):
    path = write_text(tmp_path / "q.tsv", "qid\ttext\n007\tx\n7\ty\n007\tz\n")  # "7" is not "007"
    message = error_of(read_queries, path, columns={"query_id": "qid"})
    assert path in message and "duplicate query id '007' (2x)" in message


# --- a real collection ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scifact():
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)  # a clean collection warns about nothing
        return load_beir(str(shared_dataset("scifact")))


@pytest.mark.slow
def test_scifact_loads_with_its_counts(scifact):
    r = scifact.report
    assert (r.documents, r.queries, r.judgements) == (5183, 300, 339)
    assert scifact.report.problems() == []
    assert scifact.qrels.select("query_id").distinct().count_rows() == 300


# ours -> key in pytrec_eval's output (MRR@10 is computed from recip_rank over runs truncated to 10)
PYTREC_KEYS = {
    "nDCG@10": "ndcg_cut_10",
    "R@100": "recall_100",
    "AP@100": "map_cut_100",
    "P@5": "P_5",
    "RR": "recip_rank",
    "R-Prec": "Rprec",
    "Success@10": "success_10",
}

# pytrec_eval runs in a child process: trec_eval keeps measure parameters in process-wide tables, so evaluators
# built with another measure set elsewhere in the test session (tests/test_metrics_parity.py) could interfere,
# and pytrec-eval-terrier 0.5.11 can hang when an evaluator is freed. The child builds both evaluators with one
# measure set, keeps them alive in a module-level list, and leaves with os._exit (nothing is ever freed).
PYTREC_CHILD = """
import json, os, sys
import pytrec_eval

MEASURES = {"ndcg_cut.10", "recall.100", "map_cut.100", "P.5", "recip_rank", "Rprec", "success.10"}
EVALUATORS = []

def run_eval(qrels, run):
    evaluator = pytrec_eval.RelevanceEvaluator(qrels, MEASURES)
    EVALUATORS.append(evaluator)
    return evaluator.evaluate(run)

data = json.load(sys.stdin)
out = {"full": run_eval(data["qrels"], data["run"]), "top10": run_eval(data["qrels"], data["top10"])}
sys.stdout.write(json.dumps(out))
sys.stdout.flush()
os._exit(0)
"""


def pytrec_reference(qrels: dict, run: dict) -> dict[str, dict[str, float]]:
    """pytrec_eval values per our measure name per query (queries in both run and qrels)."""
    top10 = {  # trec_eval order: score desc, then doc id desc
        q: dict(sorted(ds.items(), key=lambda x: (x[1], x[0]), reverse=True)[:10]) for q, ds in run.items()
    }
    pytest.importorskip("pytrec_eval", reason="pytrec-eval-terrier is a dev dependency")
    done = subprocess.run(
        [sys.executable, "-c", PYTREC_CHILD],
        input=json.dumps({"qrels": qrels, "run": run, "top10": top10}),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    out = json.loads(done.stdout)
    ref = {ours: {q: v[key] for q, v in out["full"].items()} for ours, key in PYTREC_KEYS.items()}
    ref["MRR@10"] = {q: v["recip_rank"] for q, v in out["top10"].items()}
    return ref


@pytest.mark.slow
def test_bm25s_run_on_scifact_evaluates_like_pytrec_eval(scifact, tmp_path):
    bm25s = pytest.importorskip("bm25s", reason="bm25s is a dev dependency (the reference BM25)")
    corpus, queries = scifact.corpus.to_pydict(), scifact.queries.to_pydict()
    retriever = bm25s.BM25(method="lucene", k1=1.2, b=0.75)
    docs = [f"{title} {text}" for title, text in zip(corpus["title"], corpus["text"])]
    plain = {"stopwords": None, "show_progress": False}  # "plain": no stopword list, no stemmer
    retriever.index(bm25s.tokenize(docs, **plain), show_progress=False)
    hits, scores = retriever.retrieve(bm25s.tokenize(queries["text"], **plain), k=100, show_progress=False)
    rows = [
        (qid, corpus["doc_id"][hits[i, r]], float(scores[i, r]), r + 1)
        for i, qid in enumerate(queries["query_id"])
        for r in range(hits.shape[1])
    ]
    written = daft.from_pydict({name: list(c) for name, c in zip(["query_id", "doc_id", "score", "rank"], zip(*rows))})
    write_run(written, str(tmp_path / "bm25.run"))
    run = read_run(str(tmp_path / "bm25.run"))
    assert run.count_rows() == 300 * 100

    measures = ["nDCG@10", "R@100", "AP@100", "MRR@10", "P@5", "RR", "R-Prec", "Success@10"]
    result = evaluate(run, scifact.qrels, measures)

    run_dict: dict[str, dict[str, float]] = {}
    for r in run.to_pylist():
        run_dict.setdefault(r["query_id"], {})[r["doc_id"]] = r["score"]
    qrels_dict: dict[str, dict[str, int]] = {}
    for r in scifact.qrels.to_pylist():
        qrels_dict.setdefault(r["query_id"], {})[r["doc_id"]] = r["relevance"]
    ref = pytrec_reference(qrels_dict, run_dict)

    ours = {(r["query_id"], r["measure"]): r["value"] for r in result.per_query.to_pylist()}
    assert len(ours) == len(qrels_dict) * len(measures)
    for m in measures:
        for q in qrels_dict:  # every qrels query; one absent from the run scores 0
            assert math.isclose(ours[(q, m)], ref[m].get(q, 0.0), abs_tol=1e-9), (m, q)
        mean = sum(ref[m].get(q, 0.0) for q in qrels_dict) / len(qrels_dict)
        assert math.isclose(result.aggregate[m], mean, abs_tol=1e-9), m
    assert abs(result.aggregate["nDCG@10"] - 0.6596) < 0.001  # bm25s's plain scifact number


def test_corpus_not_utf8_names_the_line(tmp_path):
    path = tmp_path / "corpus.jsonl"
    path.write_bytes(GOOD.encode() + '{"_id": "c", "text": "caf\u00e9"}\n'.encode("latin-1"))
    message = error_of(read_corpus, str(path))
    assert f"{path}:3: not UTF-8" in message


@pytest.mark.parametrize("text", ["", "\n\n"])
def test_an_empty_corpus_file_says_so(tmp_path, text):
    path = write_text(tmp_path / "corpus.jsonl", text)
    assert f"{path}: the file is empty" in error_of(read_corpus, path)


def test_a_beir_folder_of_gzipped_files_loads_like_the_plain_one(tmp_path):
    import gzip

    from tests.conftest import ROOT

    demo = ROOT / "data" / "demo"
    (tmp_path / "qrels").mkdir()
    for name in ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv"):
        (tmp_path / f"{name}.gz").write_bytes(gzip.compress((demo / name).read_bytes()))
    packed, plain = load_beir(tmp_path), load_beir(demo)
    assert packed.report == plain.report
    assert sorted(packed.corpus.to_pydict()["doc_id"]) == sorted(plain.corpus.to_pydict()["doc_id"])


def test_decimal_ids_are_refused_rather_than_renamed(tmp_path):
    path = write_text(tmp_path / "corpus.jsonl", '{"_id": 3.0, "text": "x"}\n{"_id": 4.5, "text": "y"}\n')
    message = error_of(read_corpus, path)  # the line, and the fix: quote the id
    assert f"{path}:1:" in message and "the number 3.0" in message and "write ids as JSON strings" in message
