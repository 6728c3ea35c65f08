"""The semantic structure world (Lampinen et al. 2025): a hierarchy of nonsense categories.

Hidden structure: a few balanced trees of categories ("grud are a type of abme"); every category has 1 to
`max_properties` own properties (nonsense adjectives, "grud are blick") that its descendants inherit, and
some categories eat or fear others (English relation words, "grud eat tover"), inherited by the subject's
subtypes and extending to the object's subtypes. Holdout categories are leaves whose only trained fact is
their parent (chosen among the leaves that inherit the most). Properties are unique to their owner, so a
category has a property exactly when the owner is the category or one of its ancestors.

Train documents (4 to `max_sentences` sentences, styles: article, list, qa, comparison; see `docs`) state
the direct facts only, each with one of several wordings; half of the is_a / eats / fears facts are also
stated backwards ("abme include grud"), the other half never are, and properties are never stated backwards.
Test splits (see `items`): stated (the control), rephrased, reversed, syllogism, category_holdout;
distractors (see `distractors`) are chosen against the shortcut audit's baselines. Order-free association
(the subject and answer share trained sentences) is inherent to the reversed split.

The package: `structure` (sizes, presets, the taxonomy type), `world` (the generator), `docs`, `items`,
`distractors` and `text` (the wordings); each imports only from the ones below it.
"""

from icft.worlds.semantic.structure import MAX_BRANCHING, PRESETS, Sizes, Taxonomy
from icft.worlds.semantic.world import CONTROL_SPLITS, GENERATOR_VERSION, INHERENT_BASELINES, NAME, RULES, build

__all__ = ["CONTROL_SPLITS", "GENERATOR_VERSION", "INHERENT_BASELINES", "MAX_BRANCHING", "NAME", "PRESETS", "RULES",
           "Sizes", "Taxonomy", "build"]
