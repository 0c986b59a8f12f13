"""Models assembled from the offline MiniLM weights, to test mechanics (not quality) where no checkpoint installs.

- a cross-encoder: MiniLM's encoder under a seeded, untrained one-logit head (``BertForSequenceClassification``);
- a ColBERT-style model: MiniLM + mean pooling + a seeded 384 -> 128 ``Dense`` projection without bias.
"""

from __future__ import annotations

from pathlib import Path

from daft_retrieval.resolve import resolve_model


def cross_encoder_dir(root: Path) -> str:
    import torch
    from transformers import AutoTokenizer, BertForSequenceClassification

    path = root / "minilm-cross-encoder"
    if not path.exists():
        torch.manual_seed(0)
        source = str(Path(resolve_model("all-MiniLM-L6-v2")))
        model = BertForSequenceClassification.from_pretrained(source, num_labels=1)
        model.save_pretrained(path)
        AutoTokenizer.from_pretrained(source).save_pretrained(path)
    return str(path)


def colbert_dir(root: Path) -> str:
    import torch
    from sentence_transformers import SentenceTransformer

    from daft_retrieval.encode.tokens import dense_module

    Dense = dense_module()
    path = root / "minilm-colbert"
    if not path.exists():
        torch.manual_seed(0)
        base = SentenceTransformer(resolve_model("all-MiniLM-L6-v2"), device="cpu")
        head = Dense(384, 128, bias=False, activation_function=torch.nn.Identity())
        SentenceTransformer(modules=[base[0], base[1], head], device="cpu").save(str(path))
    return str(path)
