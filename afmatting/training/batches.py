"""The training split as the DataLoader sees it: augmentation seeded by the example's place in the run."""

from __future__ import annotations

import math

import torch
from torch.utils.data import Dataset


class EpochSeededDataset(Dataset):
    """Seeds torch's RNG from (seed, epoch, index) before each example's random augmentation.

    Augmentations then depend on nothing but the example's place in the run, so a resumed run (which skips the
    consumed batches without loading them) sees exactly the crops an uninterrupted run sees, with any number of
    DataLoader workers. ``repeats`` > 1 makes one epoch visit every example that many times (as different crops):
    DataLoader workers restart at each epoch, which costs about a second, so a tiny dataset must not make every step
    an epoch.
    """

    def __init__(self, dataset, seed: int, repeats: int = 1):
        self.dataset, self.seed, self.epoch, self.repeats = dataset, seed, 0, max(1, int(repeats))

    def __len__(self):
        return len(self.dataset) * self.repeats

    def __getitem__(self, index):
        torch.manual_seed((self.seed * 1_000_003 + self.epoch * 100_003 + int(index)) % (2**63))
        example = self.dataset[int(index) % len(self.dataset)]
        example.pop("name", None)  # strings do not collate into tensors
        return example


def epoch_repeats(num_examples: int, batch_size: int, min_batches: int | None) -> int:
    """How many times an epoch visits each example so that it has at least ``min_batches`` batches."""
    if not min_batches or num_examples <= 0:
        return 1
    return max(1, math.ceil(int(min_batches) * batch_size / num_examples))
