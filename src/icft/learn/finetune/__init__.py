"""Fine-tuning: the one loop (`loop`), its settings (`config`), its record (`result`), the stopping rules
(`stopping`), packing, recall probes, speedups, and what a mode trains on and how its fit is identified
(`training`).

    from icft.learn.finetune import FinetuneConfig, finetune

The names below load on first use, so reading the stopping rules or the settings never imports torch.
"""

from icft._lazy import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    "finetune": "loop", "plan_steps": "loop", "plan_epochs": "loop",
    "FinetuneResult": "result", "StepLog": "result", "FinetuneConfig": "config",
})
