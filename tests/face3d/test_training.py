"""Each stage's loss falls on a fixed batch (tiny model), and the tiny preset of each stage trains."""

from __future__ import annotations

import pytest
import torch

from vivid.face3d.config import Face3DLoss, Face3DMix, Face3DOptim
from vivid.face3d.data import FaceCrops, WithNegatives, _load, concat_records
from vivid.face3d.model import face3d_tiny
from vivid.face3d.module import Face3DModule


def _batch(pools, fm, names, labels=True):
    from torch.utils.data import default_collate

    _, paths = pools
    parts = [_load(paths[n]) for n in names]
    data = FaceCrops(concat_records(parts, fm.num_vertices), labels=labels)
    return default_collate([data[i] for i in range(len(data))])


@pytest.mark.parametrize("stage", [0, 1, 2, 3])
def test_loss_falls_on_a_fixed_batch(stage, pools, fm):
    from torch.utils.data import default_collate

    torch.manual_seed(0)
    model = face3d_tiny()
    module = Face3DModule(model, face=fm, stage=stage, loss=Face3DLoss(), optim=Face3DOptim(), mix=Face3DMix(),
                          total_steps=10)
    module.log = lambda *a, **k: None
    if stage == 0:
        _, paths = pools
        data = WithNegatives(FaceCrops(concat_records([_load(paths["landmark"])], fm.num_vertices)))
        batch = default_collate([data[i] for i in (0, 1, 2, 3, 8, 9)])
    elif stage == 1:
        batch = _batch(pools, fm, ["unlabelled"], labels=False)
    elif stage == 2:
        batch = _batch(pools, fm, ["labelled"])
    else:
        unl, lab = _batch(pools, fm, ["unlabelled"], labels=False), _batch(pools, fm, ["labelled"])
        batch = {k: torch.cat([unl[k][:4], lab[k][:4]]) for k in unl}
    part = model.landmarks if stage == 0 else model.recon
    opt = torch.optim.Adam(part.parameters(), lr=3e-3)
    losses = []
    for _ in range(8):
        if stage > 0:
            model.landmarks.eval()
        loss = module._step(batch, "train")
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < 0.9 * losses[0], losses


@pytest.mark.parametrize("stage", [0, 1, 2, 3])
def test_tiny_preset_trains_each_stage_alone(stage, tmp_path, pools):
    from vivid.core.checkpoints import load_checkpoint
    from vivid.core.train import load_config, train

    cfg, _ = pools
    cfg_dict = load_config("face3d", "tiny", [f"stage={stage}", f"data.cache_dir={cfg.cache_dir}", "trainer.max_steps=2",
                                              "data.n_landmark=8", "data.n_unlabelled=8", "data.n_labelled=8", "data.n_val=8"])
    out = train("face3d", cfg_dict, out_dir=tmp_path / "run", quiet=True)
    model, meta = load_checkpoint(out, task="face3d")
    assert meta["metrics"]["global_step"] == 2 and meta["extra"]["data_details"]["stage"] == stage
