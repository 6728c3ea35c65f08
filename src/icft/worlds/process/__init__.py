"""Process knowledge (the fifth dataset of Lampinen et al. 2025): a made-up transform of functions, like
taking a derivative but with uncommon rules, learned from its rules and worked examples.

Primitives are nonsense functions of x ("blick(x)"); the transform has a nonsense name ("the drimble of").
Every primitive's image is another primitive (the table, stated in training), and three rules (`RULES`,
saved in `world.json` as templates of `rewrite`) do the rest:
  sum rule      the drimble of f(x) + g(x) is the drimble of f(x) times the drimble of g(x)
  product rule  the drimble of f(x) * g(x) is the drimble of f(x) plus the drimble of g(x)
  nesting rule  the drimble of f(g(x)) is h(g(x)) plus the drimble of g(x), where h(x) is the drimble of f(x)

A combination is one rule applied around another: (outer, inner), over sum, product and nesting. Training
shows the rules in words, the table, worked examples of each rule alone and worked examples of the seen
combinations (each rule around itself, and product around sum, nesting around product, sum around
nesting); the other three pairings (sum around product, product around nesting, nesting around sum) are
held out, so every rule appears in every role in both sets. (Of the two ways to hold out one cycle of
pairings, this is the one on which no shortcut baseline beats chance: the other lets co-occurrence do so.)

Test splits, 4 options each: the answer; the answer with a wrong rule (the other operator) at one step,
the outer in half the items and the inner in the others; the answer with two primitives' images
exchanged (a table entry applied in the wrong place; herding, `icft.worlds.herding`, picks the pair); and
both. So neither the operators of an option nor its names alone tell the answer: a model must apply the
rules and the table.
  worked                 the trained worked examples of the seen combinations (control: the learned check)
  seen_combinations      new expressions of the seen combinations
  held_out_combinations  expressions of the held-out combinations: compositional generalization
The checker computes every answer from the stated table by the rules and refutes every distractor.

The package: `rewrite` (expressions, the transform and its prover, which the checker uses too) below `world`
(the generator).
"""

from icft.worlds.process.world import (
    CONTROL_SPLITS, GENERATOR_VERSION, HELD_OUT, KINDS, NAME, PRESETS, RULES, SEEN, TEMPLATES, WRONG, Sizes, build,
)

__all__ = ["CONTROL_SPLITS", "GENERATOR_VERSION", "HELD_OUT", "KINDS", "NAME", "PRESETS", "RULES", "SEEN", "Sizes",
           "TEMPLATES", "WRONG", "build"]
