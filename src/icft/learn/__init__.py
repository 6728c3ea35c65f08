"""Learning modes: ICL contexts, the fine-tuning loop and its data (documents, split sentences, augmentations,
task prompts with or without in-context demonstrations for FTICL).

The names below load on first use, so reading `icft.learn.modes` (the report does) never imports torch.
"""

from importlib import import_module

_HOMES = {
    "TrainingExample": "examples", "document_examples": "examples", "sentence_examples": "examples",
    "FinetuneConfig": "finetune", "FinetuneResult": "finetune", "finetune": "finetune",
    "task_training_examples": "fticl", "IclContext": "icl", "build_icl_context": "icl", "MODES": "modes",
    "Mode": "modes",
}


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_HOMES[name]}"), name)


__all__ = sorted(_HOMES)
