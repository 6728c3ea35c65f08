"""Learning modes: ICL contexts, the fine-tuning loop and its data (documents, split sentences, augmentations,
task prompts with or without in-context demonstrations for FTICL)."""

from icft.learn.examples import TrainingExample, document_examples, sentence_examples
from icft.learn.finetune import FinetuneConfig, FinetuneResult, finetune
from icft.learn.fticl import task_training_examples
from icft.learn.icl import IclContext, build_icl_context
from icft.learn.modes import MODES, Mode

__all__ = [
    "MODES", "FinetuneConfig", "FinetuneResult", "IclContext", "Mode", "TrainingExample", "build_icl_context",
    "document_examples", "finetune", "sentence_examples", "task_training_examples",
]
