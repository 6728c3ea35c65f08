"""Context distillation: weights trained to answer as the model answers with the facts in its context.

Augmented fine-tuning (`icft.learn.augment`) passes on what the model *wrote* with the facts in its context: one
sampled string. Context distillation passes on everything the context makes the model expect, its whole
next-token distribution (Snell et al. 2022; Padmanabhan et al. 2023; Kujanpää et al. 2024; DiSC, Padmanabhan,
Gul and Goyal 2026; Cartridges, Eyuboglu et al. 2025):

  teacher  the model under study before fine-tuning, reading a context of the world's documents (the whole
           corpus as the ICL mode has it, or only the documents that name the sequence's terms), then the
           transfer sequence (after a DiSC prefix, for the document-suffix transfer set)
  student  the same model reading the transfer sequence alone; it trains with the fine-tuning loop
           (`icft.learn.finetune`: the same adapter, optimizer, batches and stopping rules as FT)
  loss     T^2 * KL(teacher || student) at temperature T over the positions FT learns, from the teacher's
           top-k log-probabilities plus the mass of the rest (`TeacherTargets.token_losses`); optionally plus
           `ce_weight` x the plain next-token loss on the documents' own tokens

The transfer sets are the modes' data (`icft.learn.modes`): ft-distill reads the documents cut at each
sentence boundary (the student reads the suffix, the teacher the prefix too); ft-distill-local reads ft-local's
data (the documents and the model's own local augmentations). They come from the training documents and the
model's own writing, never from a test or control item.

The teacher's distributions are computed once per (world, transfer set, settings) with the context's key/value
cache reused as the ICL scorer does (`icft.evaluate.scoring.top_k_distributions`), and cached in the study folder
(`icft.evaluate.teacher.cached_teacher_targets`), so a rerun and every fit seed of a world reuse them.
"""

from icft._lazy import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    "DistillSettings": "settings", "TEACHER_CONTEXTS": "settings", "TeacherTargets": "teacher",
    "teacher_contexts": "context",
})
