"""Compressed late interaction (ColBERTv2 residuals): bit packing, the codec's error bound, search equal to
decompress-then-MaxSim, determinism over partitionings, index.json, refused options."""

from __future__ import annotations

import json
import os

import daft
import numpy as np
import pyarrow.parquet as pq
import pytest
from daft import DataType, col

from daft_retrieval import schema as S
from daft_retrieval.errors import DataError
from daft_retrieval.experiment import Retrieve, spec_key, system_from_mapping
from daft_retrieval.index.late import build_late_index, open_late_index
from daft_retrieval.index.residual import ResidualCodec, decompress, pack_bits, unpack_bits
from daft_retrieval.retrieve.late import late_search, search_late_index
from daft_retrieval.score.maxsim import maxsim

DIM = 24


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _frame(key: str, ids: list[str], matrices: list[np.ndarray]) -> daft.DataFrame:
    frame = daft.from_pydict({key: ids, S.TOKENS: [m.ravel().tolist() for m in matrices]})
    return frame.with_column(S.TOKENS, col(S.TOKENS).cast(DataType.list(DataType.float32())))


@pytest.fixture(scope="module")
def corpus():
    rng = np.random.default_rng(7)
    centres = _unit(rng.normal(size=(12, DIM)))
    docs = []
    for _ in range(150):
        n = int(rng.integers(1, 16))
        docs.append(_unit(centres[rng.integers(0, 12, n)] + 0.3 * rng.normal(size=(n, DIM))))
    queries = [_unit(rng.normal(size=(5, DIM))) for _ in range(6)]
    return [f"d{i:03d}" for i in range(len(docs))], docs, [f"q{i}" for i in range(len(queries))], queries


def _shard_rows(path: str) -> dict:
    index = open_late_index(path)
    tables = [pq.read_table(os.path.join(path, s)) for s in index.shards]
    rows = {}
    for table in tables:
        for row in table.to_pylist():
            rows[row[S.DOC_ID]] = row
    return rows


@pytest.mark.parametrize("nbits", [2, 4])
def test_pack_and_unpack_are_exact_inverses(nbits):
    rng = np.random.default_rng(nbits)
    for dim in (8, 7, 13):  # 7 and 13 dimensions leave a padded last byte
        values = rng.integers(0, 2**nbits, size=(50, dim)).astype(np.uint8)
        packed = pack_bits(values, nbits)
        assert packed.dtype == np.uint8 and packed.shape == (50, -(-dim * nbits // 8))
        np.testing.assert_array_equal(unpack_bits(packed, nbits, dim), values)


def test_pack_writes_the_most_significant_bits_first():
    assert pack_bits(np.array([[1, 2, 3, 0]]), 2).tolist() == [[0b01101100]]
    assert pack_bits(np.array([[9, 4]]), 4).tolist() == [[0x94]]


@pytest.mark.parametrize("nbits", [2, 4])
def test_codec_round_trip_error_is_bounded_by_its_buckets(nbits):
    rng = np.random.default_rng(11)
    residuals = (rng.normal(size=(2000, 6)) * np.array([0.01, 0.05, 0.1, 0.2, 0.3, 0.5])).astype(np.float32)
    codec = ResidualCodec.train(residuals, nbits)
    decoded = codec.decode(codec.encode(residuals))
    buckets = codec.buckets(residuals).astype(int)
    edges = [np.concatenate([[residuals[:, j].min()], codec.cutoffs[j], [residuals[:, j].max()]]) for j in range(6)]
    for j in range(6):
        b = buckets[:, j]
        weight = codec.weights[j, b]
        np.testing.assert_array_equal(decoded[:, j], weight)
        bound = np.maximum(weight - edges[j][b], edges[j][b + 1] - weight)  # the farthest edge of its bucket
        assert np.all(np.abs(decoded[:, j] - residuals[:, j]) <= bound + 1e-7)
    error = np.abs(decoded - residuals).mean()
    assert error < 0.5 * np.abs(residuals).mean()  # the buckets carry information
    if nbits == 4:
        two = ResidualCodec.train(residuals, 2)
        assert error < np.abs(two.decode(two.encode(residuals)) - residuals).mean()


def test_compressed_search_equals_decompress_then_maxsim(corpus, tmp_path):
    doc_ids, docs, query_ids, queries = corpus
    index = build_late_index(_frame(S.DOC_ID, doc_ids, docs), str(tmp_path / "late"), dim=DIM, n_centroids=16, nbits=2)
    centroids = np.load(tmp_path / "late" / S.CENTROIDS_FILE)
    codec = ResidualCodec.load(str(tmp_path / "late" / index.codec))
    rows = _shard_rows(str(tmp_path / "late"))
    decoded = {
        d: decompress(codec, centroids, np.array(r["codes"]), np.array(r["residuals"], np.uint8).reshape(-1, 6))
        for d, r in rows.items()
    }
    assert max(np.abs(decoded[d] - docs[i]).max() for i, d in enumerate(doc_ids)) > 0  # lossy: not the input
    query_frame = _frame(S.QUERY_ID, query_ids, queries)
    for nprobe in (0, 2):
        run = search_late_index(index, query_frame, 10, nprobe=nprobe, candidates=40).to_pydict()
        for q, query in zip(query_ids, queries):
            rows = zip(*(run[c] for c in (S.QUERY_ID, S.DOC_ID, S.SCORE, S.RANK)))
            got = sorted((r, d, s) for qq, d, s, r in rows if qq == q)
            for _, d, s in got:  # every returned score is the MaxSim over the decompressed vectors
                assert s == pytest.approx(maxsim(query, decoded[d]), rel=1e-6)
            if nprobe == 0:  # brute force: the top 10 of decompress-then-MaxSim over every document
                scores = {d: maxsim(query, m) for d, m in decoded.items()}
                expected = sorted(scores, key=lambda d: (-scores[d], d))[:10]
                assert {d for _, d, _ in got} == set(expected)


def test_scoring_in_blocks_of_tokens_changes_no_score(corpus, tmp_path, monkeypatch):
    from daft_retrieval.index import late

    doc_ids, docs, query_ids, queries = corpus
    index = build_late_index(_frame(S.DOC_ID, doc_ids, docs), str(tmp_path / "late"), dim=DIM, n_centroids=16)
    query_frame = _frame(S.QUERY_ID, query_ids, queries)
    whole = search_late_index(index, query_frame, 10, nprobe=0).sort([S.QUERY_ID, S.RANK]).to_pydict()
    monkeypatch.setattr(late, "BLOCK_TOKENS", 7)  # many blocks, most of them one or two documents
    blocks = search_late_index(index, query_frame, 10, nprobe=0).sort([S.QUERY_ID, S.RANK]).to_pydict()
    assert blocks == whole


def test_same_bits_in_one_and_three_partitions(corpus, tmp_path):
    doc_ids, docs, _, _ = corpus
    table = _frame(S.DOC_ID, doc_ids, docs).to_arrow()
    shuffled = table.take(np.random.default_rng(0).permutation(len(table)))
    three = daft.from_arrow(shuffled.slice(0, 40)).concat(daft.from_arrow(shuffled.slice(40, 70)))
    three = three.concat(daft.from_arrow(shuffled.slice(110)))  # three partitions, rows in another order
    options = {"dim": DIM, "n_centroids": 16, "nbits": 4, "sample_tokens": 500}
    build_late_index(daft.from_arrow(table), str(tmp_path / "one"), **options)
    build_late_index(three, str(tmp_path / "three"), **options)
    one, three = _shard_rows(str(tmp_path / "one")), _shard_rows(str(tmp_path / "three"))
    assert one == three and len(one) == len(doc_ids)
    for name in (S.CENTROIDS_FILE, "residual_codec.npz"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "three" / name).read_bytes()


def test_index_json_records_the_compression_and_old_indexes_open_as_fp32(corpus, tmp_path):
    doc_ids, docs, query_ids, queries = corpus
    frame, n_tokens = _frame(S.DOC_ID, doc_ids, docs), sum(len(d) for d in docs)
    for nbits in (0, 2, 4):
        build_late_index(frame, str(tmp_path / f"b{nbits}"), dim=DIM, n_centroids=16, nbits=nbits)
        meta = json.loads((tmp_path / f"b{nbits}" / S.INDEX_FILE).read_text())
        assert (meta["nbits"], meta["dim"], meta["n_tokens"]) == (nbits, DIM, n_tokens)
        if nbits:
            codec = ResidualCodec.load(str(tmp_path / f"b{nbits}" / meta["codec"]))
            assert codec.cutoffs.shape == (DIM, 2**nbits - 1) and codec.weights.shape == (DIM, 2**nbits)
            shard_bytes = sum(os.path.getsize(tmp_path / f"b{nbits}" / s) for s in meta["shards"])
            assert shard_bytes < n_tokens * DIM * 4 / 4  # a quarter of the fp32 vectors
        else:
            assert meta["codec"] is None
    query_frame = _frame(S.QUERY_ID, query_ids, queries)
    before = search_late_index(open_late_index(str(tmp_path / "b0")), query_frame, 5, nprobe=0).sort(
        [S.QUERY_ID, S.RANK]
    )
    meta = json.loads((tmp_path / "b0" / S.INDEX_FILE).read_text())
    del meta["nbits"], meta["codec"]  # as an index written before compression
    (tmp_path / "b0" / S.INDEX_FILE).write_text(json.dumps(meta))
    old = open_late_index(str(tmp_path / "b0"))
    assert old.nbits == 0
    again = search_late_index(old, query_frame, 5, nprobe=0).sort([S.QUERY_ID, S.RANK])
    assert again.to_pydict() == before.to_pydict()


@pytest.mark.parametrize("nbits", [1, 3, 8, -2, True])
def test_bad_nbits_is_refused_before_any_work(nbits, corpus, tmp_path):
    doc_ids, docs, _, _ = corpus
    with pytest.raises(DataError, match=r"nbits must be 0 .*2 or 4"):
        build_late_index(_frame(S.DOC_ID, doc_ids, docs), str(tmp_path / "x"), dim=DIM, nbits=nbits)
    assert not (tmp_path / "x").exists()
    never = daft.from_pydict({"doc_id": ["d"], "title": [""], "text": [""]})
    with pytest.raises(DataError, match="nbits must be"):
        late_search(never, daft.from_pydict({"query_id": ["q"], "text": ["t"]}), model="/no/such/model", nbits=nbits)
    with pytest.raises(DataError, match=r"system 1: .*nbits"):
        system_from_mapping({"retriever": "late", "nbits": int(nbits)}, "system 1")


def test_nbits_changes_the_late_key_only():
    assert spec_key(Retrieve(retriever="late", nbits=2)) != spec_key(Retrieve(retriever="late", nbits=4))
    assert spec_key(Retrieve(retriever="bm25", nbits=2)) == spec_key(Retrieve(retriever="bm25"))


def test_cli_refuses_bad_nbits(capsys, tmp_path):
    from daft_retrieval.cli.main import main

    args = ["eval", "--retriever", "late", "--nbits", "3", "--dataset", str(tmp_path / "not-read")]
    assert main(args) == 2
    assert "--nbits must be 0" in capsys.readouterr().err


def test_token_cache_stores_fp16_under_its_own_key():
    import hashlib

    from daft_retrieval.encode.dense import DenseConfig
    from daft_retrieval.encode.tokens import TokenConfig, TokenEncoder

    fp, meta = TokenConfig(max_seq_length=32).fingerprint("document")
    assert meta["stored"] == "float16"
    unstored = {k: v for k, v in meta.items() if k != "stored"}  # the key of the fp32 entries before
    assert hashlib.sha256(json.dumps(unstored, sort_keys=True).encode()).hexdigest()[:16] != fp
    assert "stored" not in DenseConfig(max_seq_length=32).fingerprint("document")[1]  # dense keys unchanged
    encoder = TokenEncoder(TokenConfig(max_seq_length=32))  # nothing loads
    values = np.random.default_rng(5).normal(size=(3, 8)).astype(np.float32)
    frame = _frame(S.DOC_ID, ["a", "b", "c"], list(values[:, None, :]))
    stored = frame.select(S.DOC_ID, encoder.stored(col(S.TOKENS)).alias(S.TOKENS))
    assert stored.schema()[S.TOKENS].dtype == DataType.list(DataType.float16())
    back = encoder.output(stored).sort(S.DOC_ID).to_pydict()[S.TOKENS]
    np.testing.assert_array_equal(np.array(back, np.float32), values.astype(np.float16).astype(np.float32))
    assert np.abs(np.array(back) - values).max() > 0  # fp16 rounding did happen
