"""Data: a dataset and a LightningDataModule taking the typed ``data`` settings."""

from __future__ import annotations

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset

from .config import MyData


class RandomImages(Dataset):
    """Seeded random images; the label is each image's mean colour."""

    def __init__(self, n: int, size: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.images = torch.rand(n, 3, size, size, generator=g)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict:
        return {"image": self.images[i], "colour": self.images[i].mean(dim=(1, 2))}


class MyDataModule(pl.LightningDataModule):
    def __init__(self, config: MyData) -> None:
        super().__init__()
        self.config = config

    def setup(self, stage: str | None = None) -> None:
        self.train, self.val = RandomImages(self.config.n_train, self.config.size, 0), RandomImages(self.config.n_val, self.config.size, 1)

    def train_dataloader(self):
        return DataLoader(self.train, batch_size=self.config.batch_size, shuffle=True, drop_last=True)

    def val_dataloader(self):
        return DataLoader(self.val, batch_size=self.config.batch_size)
