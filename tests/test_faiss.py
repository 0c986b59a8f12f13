"""Approximate dense search by FAISS: Flat equals exact search, HNSW/IVF overlap with it and are deterministic,
the training sample does not depend on the partitioning, Overlap@k arithmetic, and the errors name the fix."""

from __future__ import annotations

import itertools
import json
import os
import sys

import daft
import numpy as np
import pytest
from daft import DataType, col

from daft_retrieval import schema as S
from daft_retrieval.cache import EmbeddingCache
from daft_retrieval.errors import DataError
from daft_retrieval.evaluation.overlap import overlap
from daft_retrieval.index.faiss import (
    FaissIndex,
    FaissOptions,
    build_faiss_index,
    open_faiss_index,
    parse_index,
    training_sample,
    write_faiss_files,
)
from daft_retrieval.index.vector import build_vector_index
from daft_retrieval.load import load_beir
from daft_retrieval.retrieve.dense import dense_search, search_faiss_index
from tests.conftest import ROOT

pytest.importorskip("faiss")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo collection, an embedding cache filled once, and the exact top 10 (rows by query, rank)."""
    ds = load_beir(str(ROOT / "data" / "demo"))
    cache = EmbeddingCache(str(tmp_path_factory.mktemp("faiss-cache")))
    exact = dense_search(ds.corpus, ds.queries, k=10, cache=cache)
    return ds, cache, exact


def _rows(run: daft.DataFrame) -> list[tuple]:
    table = run.sort([S.QUERY_ID, S.RANK]).to_pydict()
    return list(zip(table[S.QUERY_ID], table[S.DOC_ID], table[S.SCORE], table[S.RANK]))


def test_faiss_flat_equals_exact_search_on_demo(demo):
    ds, cache, exact = demo
    flat = _rows(dense_search(ds.corpus, ds.queries, k=10, cache=cache, index="faiss:Flat"))
    want = _rows(exact)
    assert len(want) == 44 * 10
    assert [(q, d, r) for q, d, _, r in flat] == [(q, d, r) for q, d, _, r in want]
    np.testing.assert_allclose([s for _, _, s, _ in flat], [s for _, _, s, _ in want], rtol=0, atol=1e-5)


@pytest.mark.parametrize("factory", ["HNSW32", "IVF16,Flat", "IVF16,PQ8x4"])
def test_approximate_indexes_overlap_with_exact_and_repeat_exactly(demo, factory):
    ds, cache, exact = demo
    first = dense_search(ds.corpus, ds.queries, k=10, cache=cache, index=f"faiss:{factory}")
    second = dense_search(ds.corpus, ds.queries, k=10, cache=cache, index=f"faiss:{factory}")
    one, two = overlap(first, exact), overlap(second, exact)
    value = one.aggregate["Overlap@10"]
    assert 0.0 <= value <= 1.0
    assert one.aggregate == two.aggregate
    assert _rows(first) == _rows(second)  # ids, scores and ranks: the same build and search twice
    assert one.per_query.count_rows() == 44
    if factory == "HNSW32":
        assert value >= 0.9
    if factory == "IVF16,PQ8x4":
        assert value < 1.0  # 4-bit codes lose some neighbours: the measure is not trivially 1


def test_options_reach_the_search(demo, tmp_path):
    ds, cache, exact = demo
    # nprobe=1 of 16 lists misses neighbours that nprobe=16 (every list: exhaustive) finds
    narrow = dense_search(
        ds.corpus, ds.queries, k=10, cache=cache, index="faiss:IVF16,Flat", index_options={"nprobe": 1}
    )
    wide = dense_search(
        ds.corpus, ds.queries, k=10, cache=cache, index="faiss:IVF16,Flat", index_options={"nprobe": 16}
    )
    assert overlap(narrow, exact).aggregate["Overlap@10"] < 1.0
    assert overlap(wide, exact).aggregate["Overlap@10"] == 1.0


def _sharded(folder, table, pieces: int, seed: int) -> FaissIndex:
    """``table``'s rows shuffled and cut into ``pieces`` Parquet shards under ``folder``, with FAISS files."""
    import pyarrow.parquet as pq

    table = table.take(np.random.default_rng(seed).permutation(len(table)))
    os.makedirs(folder / "shards")
    bounds = np.linspace(0, len(table), pieces + 1).round().astype(int).tolist()
    shards = []
    for i, (a, b) in enumerate(itertools.pairwise(bounds)):
        shards.append(f"shards/{i}.parquet")
        pq.write_table(table.slice(a, b - a), str(folder / shards[-1]))
    meta = {"dim": 384, "count": len(table), "metric": "cosine"}
    extra = write_faiss_files(str(folder), tuple(shards), meta, "IVF16,Flat", 0)
    return FaissIndex(
        path=str(folder), shards=tuple(shards), **meta, **{**extra, "faiss_files": tuple(extra["faiss_files"])}
    )


def test_training_sample_and_results_do_not_depend_on_partitioning(demo, tmp_path):
    import faiss

    from daft_retrieval.encode.column import encode
    from daft_retrieval.encode.dense import DenseConfig

    ds, cache, _ = demo
    config = DenseConfig()
    embedded = encode(ds.corpus, S.DOC_ID, S.document_text(), config, role="document", cache=cache)
    table = embedded.select(S.DOC_ID, col(S.EMBEDDING).cast(DataType.fixed_size_list(DataType.float32(), 384)))
    table = table.to_arrow()
    one, three = _sharded(tmp_path / "one", table, 1, seed=1), _sharded(tmp_path / "three", table, 3, seed=2)
    assert (len(one.faiss_files), len(three.faiss_files)) == (1, 3)
    assert one.train_rows == three.train_rows == 300  # 39 * 16 > 300: every row

    def files(index: FaissIndex) -> list[str]:
        return [os.path.join(index.path, s) for s in index.shards]

    ids_one, x_one = training_sample(files(one), 384, "cosine", 100, 0)
    ids_three, x_three = training_sample(files(three), 384, "cosine", 100, 0)
    assert ids_one == ids_three and len(set(ids_one)) == 100
    np.testing.assert_array_equal(x_one, x_three)
    assert training_sample(files(one), 384, "cosine", 100, 1)[0] != ids_one  # the seed chooses another sample

    def centroids(index: FaissIndex, shard: int) -> np.ndarray:
        whole = faiss.read_index(os.path.join(index.path, index.faiss_files[shard]))  # held: ivf points into it
        ivf = faiss.extract_index_ivf(whole)
        return faiss.downcast_index(ivf.quantizer).reconstruct_n(0, ivf.nlist)

    for shard in range(3):  # one training, shared by every shard, the same as for the single shard
        np.testing.assert_array_equal(centroids(one, 0), centroids(three, shard))

    vectors = encode(ds.queries, S.QUERY_ID, col(S.TEXT), config, role="query", cache=cache)
    runs = [_rows(search_faiss_index(index, vectors, 10, {"nprobe": 4})) for index in (one, three)]
    assert runs[0] == runs[1]  # IVF-Flat probes the same lists in every shard: the same hits


def test_the_index_folder_records_the_factory(demo, tmp_path):
    rng = np.random.default_rng(3)
    frame = daft.from_pydict(
        {S.DOC_ID: [f"d{i}" for i in range(50)], S.EMBEDDING: list(rng.standard_normal((50, 8)).astype(np.float32))}
    )
    frame = frame.with_column(S.EMBEDDING, col(S.EMBEDDING).cast(DataType.embedding(DataType.float32(), 8)))
    index = build_faiss_index(frame, str(tmp_path / "idx"), "HNSW8", seed=5)
    meta = json.loads((tmp_path / "idx" / S.INDEX_FILE).read_text())
    assert (meta["factory"], meta["seed"], meta["train_rows"]) == ("HNSW8", 5, 0)
    assert all((tmp_path / "idx" / f).is_file() for f in meta["faiss_files"])
    assert open_faiss_index(str(tmp_path / "idx")) == index
    build_vector_index(frame, str(tmp_path / "exact"))
    with pytest.raises(DataError, match="without FAISS files"):
        open_faiss_index(str(tmp_path / "exact"))
    # a factory that does not fit the vectors: a DataError, and no folder left behind
    with pytest.raises(DataError, match=r"'PQ3' for 8-dimensional vectors"):
        build_faiss_index(frame, str(tmp_path / "bad"), "PQ3")
    assert not (tmp_path / "bad").exists()
    assert sorted(os.listdir(tmp_path)) == ["exact", "idx"]  # no temporary folder left either


def _run(rows: list[tuple[str, str, float]]) -> daft.DataFrame:
    q, d, s = zip(*rows)
    return daft.from_pydict({S.QUERY_ID: list(q), S.DOC_ID: list(d), S.SCORE: list(s)})


def test_overlap_arithmetic_on_hand_made_runs():
    exact = _run(
        [
            ("q1", "a", 4.0), ("q1", "b", 3.0), ("q1", "c", 2.0), ("q1", "z", 1.0),  # top 3: a, b, c
            ("q2", "a", 1.0), ("q2", "b", 0.5),  # the approximate run misses q2: 0
            ("q3", "m", 1.0), ("q3", "n", 1.0), ("q3", "o", 1.0), ("q3", "p", 1.0),  # ties: top 3 is p, o, n
        ]
    )  # fmt: skip
    approx = _run(
        [
            ("q1", "a", 9.0), ("q1", "c", 8.0), ("q1", "x", 7.0), ("q1", "b", 0.1),  # top 3: a, c, x -> 2/3
            ("q3", "m", 5.0), ("q3", "n", 4.0), ("q3", "o", 3.0),  # m, n, o vs p, o, n -> 2/3
            ("q9", "a", 1.0),  # a query the exact run does not have: ignored
        ]
    )  # fmt: skip
    result = overlap(approx, exact, k=3)
    per_query = result.per_query.to_pydict()
    assert per_query[S.QUERY_ID] == ["q1", "q2", "q3"]
    assert per_query[S.MEASURE] == ["Overlap@3"] * 3
    assert per_query[S.VALUE] == [2 / 3, 0.0, 2 / 3]
    assert result.aggregate == {"Overlap@3": (2 / 3 + 0.0 + 2 / 3) / 3}
    assert overlap(exact, exact, k=3).aggregate == {"Overlap@3": 1.0}


def test_bad_index_strings_and_options_are_refused_before_any_encoding():
    with pytest.raises(DataError, match=r"could not parse index string Bogus.*'faiss:HNSW32'"):
        parse_index("faiss:Bogus")
    with pytest.raises(DataError, match=r"index must be 'exact' or 'faiss:FACTORY'.*not 'hnsw'"):
        parse_index("hnsw")
    with pytest.raises(DataError, match="empty"):
        parse_index("faiss:")
    with pytest.raises(DataError, match=r"unknown FAISS index option\(s\) \['efsearch'\]"):
        FaissOptions.of({"efsearch": 10})
    with pytest.raises(DataError, match="nprobe must be an integer >= 1"):
        FaissOptions(nprobe=0)
    never = daft.from_pydict({S.DOC_ID: ["d"], S.TITLE: [""], S.TEXT: ["x"]})
    queries = daft.from_pydict({S.QUERY_ID: ["q"], S.TEXT: ["x"]})
    # a model that cannot load: the index string is refused first
    with pytest.raises(DataError, match="Bogus"):
        dense_search(never, queries, model="/no/such/model", index="faiss:Bogus")
    with pytest.raises(DataError, match="index_options apply to index='faiss:FACTORY'"):
        dense_search(never, queries, model="/no/such/model", index_options={"nprobe": 2})


def test_a_missing_faiss_names_the_pip_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "faiss", None)  # import faiss now raises ImportError
    with pytest.raises(DataError, match=r"pip install 'daft-retrieval\[faiss\]'"):
        parse_index("faiss:HNSW32")
    assert parse_index("exact") is None  # the exact index needs no FAISS


def test_cli_eval_with_a_faiss_index_reports_overlap_and_the_delta_to_exact(demo, capsys):
    from tests.conftest import cli, cli_json

    cache = demo[1]
    argv = ["-q", "eval", "--dataset", ROOT / "data" / "demo", "--retriever", "dense", "--cache", cache.root]
    out = cli_json([*argv, "--index", "faiss:IVF16,PQ8x4", "--nprobe-faiss", "2", "-m", "nDCG@10", "--json"], capsys)
    assert set(out) == {"nDCG@10", "Overlap@10", "delta_to_exact"}
    assert 0.0 <= out["Overlap@10"] < 1.0
    exact = cli_json([*argv, "-m", "nDCG@10", "--json"], capsys)
    assert set(exact) == {"nDCG@10"}  # the exact index: no comparison
    assert out["delta_to_exact"] == {"nDCG@10": pytest.approx(out["nDCG@10"] - exact["nDCG@10"], abs=1e-12)}
    status, _, err = cli([*argv, "--index", "faiss:Nope"], capsys)
    assert status == 2 and "could not parse index string Nope" in err
    from daft_retrieval.experiment import Retrieve

    assert Retrieve(retriever="bm25", index="faiss:Flat").index == "exact"  # --index is the dense retriever's


def test_compare_reports_overlap_and_the_delta_to_exact_of_approximate_systems_only(demo, tmp_path, capsys):
    from daft_retrieval.experiment import RunStore
    from daft_retrieval.load import read_run
    from tests.conftest import cli

    systems = [
        {"retriever": "dense", "name": "exact"},
        {"retriever": "dense", "name": "ivf", "index": "faiss:IVF16,PQ8x4", "nprobe-faiss": 2},
    ]
    (tmp_path / "experiment.json").write_text(json.dumps({"systems": systems}))
    runs_dir, report = tmp_path / "runs", tmp_path / "report"
    argv = ["compare", "--experiment", tmp_path / "experiment.json", "--dataset", ROOT / "data" / "demo"]
    argv += ["--cache", demo[1].root, "--runs-dir", runs_dir, "-m", "nDCG@10", "R@100", "--trials", "200"]
    status, out, err = cli([*argv, "--no-plot", "--json", "--output-dir", report], capsys)
    assert status == 0, err
    body = json.loads(out.strip().splitlines()[-1])["datasets"]["demo"]
    assert list(body["against_exact"]) == ["ivf"]  # the exact system: no entry at all
    ivf = body["against_exact"]["ivf"]
    steps = json.loads((report / "comparison.json").read_text())["provenance"]["datasets"]["demo"]
    assert steps["systems"]["ivf"]["exact"] == {"key": steps["systems"]["exact"]["key"], "from": "shared"}
    store = RunStore(str(runs_dir))
    saved = {n: read_run(store.path(steps["systems"][n]["key"], steps["fingerprint"])) for n in ("exact", "ivf")}
    assert ivf["Overlap@10"] == overlap(saved["ivf"], saved["exact"], k=10).aggregate["Overlap@10"]
    assert 0.0 <= ivf["Overlap@10"] < 1.0
    table = body["table"]
    assert ivf["delta_to_exact"] == {m: table["ivf"][m] - table["exact"][m] for m in ("nDCG@10", "R@100")}
    lines = (report / "comparison.md").read_text().splitlines()
    assert "| system | nDCG@10 | R@100 | Overlap@10 | Δ nDCG@10 to exact |" in lines
    exact_row = next(x for x in lines if x.startswith("| exact |"))
    assert exact_row.endswith("|  |  |")  # nothing shown for the exact system
    ivf_row = next(x for x in lines if x.startswith("| ivf |"))
    assert f"| {ivf['Overlap@10']:.4f} | {ivf['delta_to_exact']['nDCG@10']:+.4f} |" in ivf_row
    import pyarrow.parquet as pq

    from daft_retrieval.report.page import page_data

    written = json.loads((report / "comparison.json").read_text())
    page = page_data(written, pq.read_table(report / "per_query.parquet"))  # what report.html embeds
    assert page["datasets"][0]["against_exact"] == {"ivf": ivf}


def test_an_experiment_computes_the_exact_counterpart_once_when_it_is_not_a_system(demo):
    import daft_retrieval as dr

    ds, cache, exact = demo
    spec = dr.Retrieve(retriever="dense", index="faiss:HNSW32", k=10)
    result = dr.Experiment([spec], [ds], ["nDCG@10"], cache=cache, trials=50).run()
    comparison = result.comparisons["demo"]
    label = "dense-all-MiniLM-L6-v2-faiss:HNSW32"
    entry = comparison.against_exact[label]
    approx = dense_search(ds.corpus, ds.queries, k=10, cache=cache, index="faiss:HNSW32")
    assert entry["Overlap@10"] == overlap(approx, exact).aggregate["Overlap@10"]
    assert entry["delta_to_exact"]["nDCG@10"] == pytest.approx(
        comparison.table[label]["nDCG@10"] - dr.evaluate(exact, ds.qrels, ["nDCG@10"]).aggregate["nDCG@10"], abs=0
    )
    assert result.provenance["datasets"]["demo"]["systems"][label]["exact"]["from"] == "computed"
    assert set(result.to_json()["datasets"]["demo"]["against_exact"]) == {label}
