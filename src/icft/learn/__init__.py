"""Learning modes: ICL contexts, the fine-tuning loop and its data (documents, split sentences, augmentations,
task prompts with or without in-context demonstrations for FTICL).

The names below load on first use, so reading `icft.learn.modes` (the report does) never imports torch. The
loop itself is `icft.learn.finetune.finetune` (a name the package leaves to its submodule).
"""

from icft._lazy import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    "TrainingExample": "examples", "document_examples": "examples", "sentence_examples": "examples",
    "FinetuneConfig": "finetune.config", "FinetuneResult": "finetune.result",
    "task_training_examples": "fticl", "IclContext": "icl", "build_icl_context": "icl", "MODES": "modes",
    "Mode": "modes",
})
