"""One model descriptor for every kind: frozen, picklable, validated; build once per process; the Daft resource
request; dimensions read from the model folder without loading it; the cache fingerprint; one encode(); every
search and rerank taking ``model=`` the same way."""

from __future__ import annotations

import dataclasses
import pickle

import daft
import pytest
from daft import col

import daft_retrieval as dr
from daft_retrieval import memo
from daft_retrieval import schema as S
from daft_retrieval.cache.fingerprint import weights_digest
from daft_retrieval.encode.column import encode
from daft_retrieval.encode.dense import DenseConfig, DenseEncoder
from daft_retrieval.encode.descriptor import Encoder, ModelConfig
from daft_retrieval.encode.sparse import SparseConfig, SparseEncoder
from daft_retrieval.encode.tokens import TokenConfig, TokenEncoder
from daft_retrieval.errors import DataError
from daft_retrieval.reranking.cross import CrossConfig, CrossEncoderScorer
from daft_retrieval.resolve import resolve_sparse_model
from tests.local_models import colbert_dir

KINDS = [
    (DenseConfig, DenseEncoder, "dense"),
    (SparseConfig, SparseEncoder, "sparse"),
    (TokenConfig, TokenEncoder, "tokens"),
    (CrossConfig, CrossEncoderScorer, "cross"),
]


def _make(config_type: type[ModelConfig], **options) -> ModelConfig:
    return config_type(model="all-MiniLM-L6-v2", **options) if config_type is CrossConfig else config_type(**options)


@pytest.mark.parametrize(("config_type", "encoder_type", "kind"), KINDS, ids=[k for *_, k in KINDS])
def test_a_descriptor_is_frozen_picklable_validated_and_named(config_type, encoder_type, kind):
    config = _make(config_type, device="cpu", fp16=True, batch_size=8)
    assert config.kind == kind and isinstance(config, ModelConfig)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.batch_size = 4
    assert pickle.loads(pickle.dumps(config)) == config
    with pytest.raises(DataError, match="batch_size must be >= 1, not 0"):
        _make(config_type, batch_size=0)
    with pytest.raises(DataError, match="device must be cpu, cuda"):
        _make(config_type, device="tpu")
    with pytest.raises(DataError, match=f"{config_type.__name__} takes no option 'max_sequence_length'"):
        config_type.of("all-MiniLM-L6-v2", max_sequence_length=3)
    assert config_type.of(config, batch_size=4).batch_size == 4
    encoder = encoder_type(config)
    assert isinstance(encoder, Encoder) and isinstance(encoder, encoder_type) and encoder.config == config
    assert repr(encoder) == f"{encoder_type.__name__}({config!r})" and "model=" in repr(encoder)
    assert pickle.loads(pickle.dumps(encoder)) == encoder


def test_of_takes_a_spec_a_descriptor_of_its_kind_or_none():
    assert DenseConfig.of(None) == DenseConfig() and DenseConfig().model == "all-MiniLM-L6-v2"
    assert SparseConfig.of("splade-tiny", max_active_dims=8) == SparseConfig(model="splade-tiny", max_active_dims=8)
    with pytest.raises(DataError, match="expected a DenseConfig"):
        DenseConfig.of(TokenConfig())
    with pytest.raises(DataError, match="model must be a spec string"):
        DenseConfig.of(42)
    with pytest.raises(DataError, match="CrossConfig needs model="):
        CrossConfig()
    with pytest.raises(DataError, match="query_length must be >= 1"):
        TokenConfig(query_length=0)


def test_a_cuda_device_asks_daft_for_one_gpu_and_any_other_for_none():
    for device, request in (("cuda", {"gpus": 1}), ("cuda:1", {"gpus": 1}), ("cpu", {}), (None, {}), ("mps", {})):
        for config_type, _, _ in KINDS:
            assert _make(config_type, device=device).udf_options() == request


def test_dimensions_come_from_the_folder_without_loading_and_match_the_loaded_model(tmp_path):
    colbert = colbert_dir(tmp_path)
    memo.forget("dense")
    memo.forget("sparse")
    cases = [
        (DenseConfig(), 384),
        (TokenConfig(), 384),
        (DenseConfig(model=colbert), 128),  # the Dense projection after pooling
        (TokenConfig(model=colbert), 128),  # the same projection, on every token
        (SparseConfig(), 30522),  # one dimension per vocabulary entry
        (CrossConfig(model="all-MiniLM-L6-v2"), None),
    ]
    for config, expected in cases:
        assert config.dimensions() == expected, config
    assert memo.loaded("dense") == [] and memo.loaded("sparse") == []  # read from configs: nothing loaded
    for config, expected in cases[:-1]:  # the loaded models agree
        assert config.model_dimensions(config.build()[0]) == expected, config


def test_build_loads_once_per_process_and_token_vectors_share_the_dense_model():
    memo.forget("dense")
    model, _lock = DenseConfig(max_seq_length=48).build()
    assert DenseConfig(max_seq_length=48, batch_size=3, query_prompt="q: ").build()[0] is model
    assert TokenConfig(max_seq_length=48).build()[0] is model  # one copy of the weights for both
    assert model.max_seq_length == 48 and not model.training
    assert DenseConfig(max_seq_length=48, fp16=True, device="cpu").build()[0].dtype.__str__() == "torch.float32"
    assert len(memo.loaded("dense")) == 2  # device "cpu" given is its own entry; the rest share one


def test_the_fingerprint_is_the_cache_identity_of_each_kind():
    _fp, meta = SparseConfig(max_active_dims=5).fingerprint("query")
    assert meta["kind"] == "sparse" and meta["weights"] == weights_digest("splade-tiny", resolve_sparse_model)
    assert meta["max_active_dims"] == 5 and "device" not in meta and "batch_size" not in meta
    assert TokenConfig(query_length=8).fingerprint("document") == TokenConfig(query_length=9).fingerprint("document")
    assert TokenConfig(query_length=8).fingerprint("query") != TokenConfig(query_length=9).fingerprint("query")
    with pytest.raises(DataError, match="role must be"):
        DenseConfig().fingerprint("passage")


def test_encode_gives_each_kind_its_column():
    frame = daft.from_pydict({"id": ["a", "b"], "text": ["protein folding", "a cat"]})
    dense = encode(frame, "id", col("text"), DenseConfig(max_seq_length=32), role="query")
    assert dense.column_names == ["id", S.EMBEDDING]
    assert dense.schema()[S.EMBEDDING].dtype == daft.DataType.embedding(daft.DataType.float32(), 384)
    tokens = encode(frame, "id", col("text"), TokenConfig(max_seq_length=32), role="document").to_pydict()
    assert all(len(v) % 384 == 0 and v for v in tokens[S.TOKENS])
    sparse = encode(frame, "id", col("text"), SparseConfig(max_seq_length=32), role="query").to_pydict()
    assert all({"term", "weight"} <= set(entry) for row in sparse[S.SPARSE] for entry in row)
    with pytest.raises(DataError, match="encode needs a dense, token or sparse model descriptor"):
        encode(frame, "id", col("text"), CrossConfig(model="all-MiniLM-L6-v2"), role="query")
    with pytest.raises(DataError, match="role must be 'document' or 'query'"):
        encode(frame, "id", col("text"), DenseConfig(), role="passage")


def _rows(run: daft.DataFrame) -> list[tuple]:
    return sorted(zip(*run.to_pydict().values()))


def test_every_search_and_rerank_takes_a_spec_or_a_descriptor_the_same_way(demo_path):
    ds = dr.load_beir(str(demo_path))
    queries = ds.queries.limit(3)
    by_spec = dr.dense_search(ds.corpus, queries, model="all-MiniLM-L6-v2", max_seq_length=64, k=5)
    assert _rows(by_spec) == _rows(dr.dense_search(ds.corpus, queries, model=DenseConfig(max_seq_length=64), k=5))
    sparse = dr.splade_search(ds.corpus, queries, model=SparseConfig(max_seq_length=64), k=5)
    assert _rows(sparse) == _rows(dr.splade_search(ds.corpus, queries, model="splade-tiny", max_seq_length=64, k=5))
    late = dr.late_search(ds.corpus, queries, model=TokenConfig(max_seq_length=64), k=5, nprobe=0)
    assert _rows(late) == _rows(dr.late_search(ds.corpus, queries, max_seq_length=64, k=5, nprobe=0))
    first = dr.bm25_search(ds.corpus, queries, k=5)
    bi = dr.rerank(first, queries, ds.corpus, method="bi", model=DenseConfig(max_seq_length=64), depth=5)
    by_name = dr.rerank(first, queries, ds.corpus, method="bi", model="all-MiniLM-L6-v2", max_seq_length=64, depth=5)
    assert _rows(bi) == _rows(by_name) and bi.column_names == list(S.RUN)
    with pytest.raises(DataError, match="expected a CrossConfig"):
        dr.rerank(first, queries, ds.corpus, method="cross", model=DenseConfig())
    with pytest.raises(DataError, match="DenseConfig takes no option 'nprobe'"):
        dr.dense_search(ds.corpus, queries, nprobe=3)


def test_amp_is_autocast_on_cuda_only_and_in_the_key_only_when_it_computes():
    """``amp``: fp32 weights, each call under torch.autocast(fp16) on CUDA. Off (or on CPU, where it computes fp32)
    the cache key is the one without it; on CUDA its own dtype, so its vectors never mix with fp32 ones."""
    import contextlib

    import torch

    from daft_retrieval.device import precision

    for config_type, _, _ in KINDS:
        base = _make(config_type, device="cuda")
        amp = _make(config_type, device="cuda", amp=True)
        assert amp.udf_options() == {"gpus": 1}
        if isinstance(base, CrossConfig):
            continue  # scores pairs: no cache key
        key, meta = base.fingerprint("document")
        assert "amp" not in meta and meta["dtype"] == "float32"
        amp_key, amp_meta = amp.fingerprint("document")
        assert amp_meta["dtype"] == "autocast-float16" and amp_key != key
        assert _make(config_type, device="cpu", amp=True).fingerprint("document") == _make(
            config_type, device="cpu"
        ).fingerprint("document")
    assert isinstance(precision("cpu", False, True), contextlib.nullcontext)
    assert isinstance(precision("cuda", True, True), contextlib.nullcontext)  # fp16 weights: no autocast on top
    with pytest.warns(UserWarning) if not torch.cuda.is_available() else contextlib.nullcontext():
        context = precision("cuda:0", False, True)
    assert isinstance(context, torch.autocast) and context.fast_dtype == torch.float16


def test_amp_on_cpu_gives_the_fp32_vectors():
    texts = ["protein folding in yeast", "a cat on a mat"]
    plain = DenseConfig(max_seq_length=32, device="cpu")
    amp = DenseConfig(max_seq_length=32, device="cpu", amp=True)
    frame = daft.from_pydict({"id": ["a", "b"], "text": texts})
    got = [encode(frame, "id", daft.col("text"), c, role="document").to_pydict()["embedding"] for c in (plain, amp)]
    assert [list(v) for v in got[0]] == [list(v) for v in got[1]]
