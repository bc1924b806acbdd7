"""Training machinery shared by ``train/train.py`` and ``afmatting finetune``: one loop, one set of checkpoints.

Modules, one concern each:

* ``config``: the training configuration (``DEFAULTS``, every key with its default) and its checks;
* ``batches``: the epoch-seeded view of a training split (resumable augmentation) and how often it repeats;
* ``optim``: AdamW parameter groups (layer-wise LR decay) and the warm-up + step/cosine schedule;
* ``objective``: the training losses of a batch, and the same objective on a whole held-out image;
* ``validation``: scoring the model on the validation split (alpha metrics and/or the trimap objective);
* ``checkpoints``: atomic, resumable accelerate checkpoints;
* ``loop``: :func:`train`, the accelerate training loop that ties them together.

The package needs the ``train`` extra (``accelerate``, ``datasets``, ``pyyaml``); ``afmatting`` itself does not
import it.
"""

from .config import DEFAULTS, LOSSES, training_config
from .loop import train

__all__ = ["DEFAULTS", "LOSSES", "training_config", "train"]
