"""Tasks for transfer studies (Yang et al. 2024): instruction + input -> output examples, in a domain.

  schema    Task, TaskExample, how a test task relates to a training task (in-domain / cross-domain / cross-task)
  builtin   the built-in suite made from the controlled worlds (offline): judge, choose, complete, reverse
  io        a user's tasks from JSONL files or a `datasets` folder saved on disk
  prompts   the prompt layout and demonstrations shared by FTICL training and k-shot testing
"""

from icft.tasks.builtin import builtin_tasks
from icft.tasks.schema import TASK_KINDS, Task, TaskExample, cell_relation

__all__ = ["TASK_KINDS", "Task", "TaskExample", "builtin_tasks", "cell_relation"]
