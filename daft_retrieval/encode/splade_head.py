"""SPLADE max pooling without the whole (batch x length x vocabulary) logits: the masked-LM head is applied to a
few positions at a time and max-pooled as it goes.

SPLADE weighs vocabulary entry j of a text as w_j = max over tokens i of log(1 + relu(logit_ij)) (Formal et al.,
SIGIR 2021). sentence-transformers computes every logit first: 32 texts x 256 tokens x 30,522 entries is 1 GB of
float32, and the masking copies it again. Here the transformer returns its hidden states (the head is taken out of
it) and :func:`chunked_splade` applies the head to ``TOKENS_PER_CALL`` tokens of the batch at a time, keeping a
running maximum: the peak is one chunk's logits (about 125 MB). Each token's logits are the same computation as
before and a maximum does not depend on order, so the weights are those of the unchunked pooling (checked to the
bit in tests/test_splade.py).

Only max pooling over a known masked-LM head (BERT's ``cls``, RoBERTa's ``lm_head``) is rebuilt this way; any other
model keeps sentence-transformers' pooling, told to pool a chunk of positions at a time (its ``chunk_size``).

    >>> model = chunked_splade(model)  # doctest: +SKIP  (a sentence-transformers SparseEncoder, changed in place)
"""

from __future__ import annotations

from typing import Any

__all__ = ["TOKENS_PER_CALL", "chunked_splade"]

TOKENS_PER_CALL = 1024  # tokens (over the whole batch) per head call: x vocabulary x 4 bytes of logits
FALLBACK_POSITIONS = 32  # positions per step of sentence-transformers' own pooling, for other models
HEADS = ("cls", "lm_head")  # the masked-LM head of BertForMaskedLM, RobertaForMaskedLM / XLMRobertaForMaskedLM


def chunked_splade(model: Any, tokens_per_call: int = TOKENS_PER_CALL) -> Any:
    """Make the SparseEncoder ``model`` (``[Transformer(fill-mask), SpladePooling]``) pool ``tokens_per_call``
    tokens at a time; returns ``model`` (changed in place, or left as it was when it is not of that shape)."""
    from sentence_transformers.sparse_encoder.modules import SpladePooling

    modules = list(model._modules)
    if len(modules) != 2 or not isinstance(model[1], SpladePooling):
        return model
    pooling, mlm = model[1], getattr(model[0], "auto_model", None)
    head_name = next((name for name in HEADS if isinstance(getattr(mlm, name, None), _module_type())), None)
    if pooling.pooling_strategy != "max" or head_name is None or getattr(model[0], "can_flatten_inputs", False):
        pooling.chunk_size = pooling.chunk_size or FALLBACK_POSITIONS  # the logits exist; their copies need not
        return model
    head = getattr(mlm, head_name)
    setattr(mlm, head_name, _identity())  # the transformer now returns hidden states as its "logits"
    model._modules[modules[1]] = _pooling(head, pooling, tokens_per_call)
    return model


def _module_type() -> type:
    import torch

    return torch.nn.Module


def _identity() -> Any:
    import torch

    return torch.nn.Identity()


def _pooling(head: Any, pooling: Any, tokens_per_call: int) -> Any:
    """A module doing ``pooling``'s work from hidden states: ``head`` a chunk of positions at a time."""
    import torch

    class ChunkedSpladePooling(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.head = head
            self.activation_function = pooling.activation_function
            self.embedding_dimension = pooling.embedding_dimension

        def get_embedding_dimension(self) -> int | None:
            return self.embedding_dimension

        get_sentence_embedding_dimension = get_embedding_dimension

        def forward(self, features: dict[str, Any]) -> dict[str, Any]:
            hidden, mask = features["token_embeddings"], features["attention_mask"]
            batch, length = hidden.shape[:2]
            step = max(1, tokens_per_call // max(1, batch))
            pooled = None
            for start in range(0, length, step):
                logits = self.head(hidden[:, start : start + step])
                logits = logits * mask[:, start : start + step, None].to(logits.dtype)
                weights = logits.relu_().log1p_()
                if self.activation_function == "log1p_relu":
                    weights = weights.log1p_()
                best = weights.amax(dim=1)
                pooled = best if pooled is None else torch.maximum(pooled, best)
            if self.embedding_dimension is None and pooled is not None:
                self.embedding_dimension = pooled.shape[1]
            features["sentence_embedding"] = pooled
            return features

    return ChunkedSpladePooling()
