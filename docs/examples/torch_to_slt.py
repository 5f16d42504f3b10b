"""Train a small model in PyTorch and export it for `slt llc --checkpoint` (see docs/interop.md).

  python3 torch_to_slt.py OUT_DIR
  slt llc --checkpoint OUT_DIR/model.safetensors --spec OUT_DIR/model.json --data OUT_DIR/data.npz

Writes the trained state_dict as safetensors (by hand: no safetensors package needed), the model spec, and the data
as .npz (x = inputs, y = targets). Prints one JSON line with the final training loss evaluated in float64, which
slt reports as reference_loss.
"""
import json
import os
import struct
import sys

import numpy as np
import torch
from torch import nn


def save_safetensors(path, state_dict, metadata=None):
    """safetensors: u64 little-endian header length, a JSON header padded with spaces to 8 bytes, then the raw data."""
    header = {"__metadata__": metadata or {"format": "pt"}}
    blobs, offset = [], 0
    for name, tensor in state_dict.items():
        raw = tensor.detach().cpu().contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensor.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def main(out):
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    x = torch.randn(512, 2)
    y = torch.sin(x[:, :1]) + 0.5 * x[:, 1:] + 0.1 * torch.randn(512, 1)
    # Keys "0.weight", "0.bias", "2.weight", "2.bias": the names slt's {"kind": "mlp"} uses.
    model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)

    def loss_fn(m, inputs, targets):
        # slt's mse: squared error summed over outputs, averaged over samples.
        return ((m(inputs) - targets) ** 2).sum(-1).mean()

    for _ in range(300):
        optimizer.zero_grad()
        loss_fn(model, x, y).backward()
        optimizer.step()

    save_safetensors(os.path.join(out, "model.safetensors"), model.state_dict())
    with open(os.path.join(out, "model.json"), "w") as f:
        json.dump({"kind": "mlp", "widths": [2, 16, 1], "activation": "tanh", "bias": True}, f)
    np.savez(os.path.join(out, "data.npz"), x=x.numpy(), y=y.numpy())
    with torch.no_grad():
        wide = model.double()
        final = loss_fn(wide, x.double(), y.double()).item()
    print(json.dumps({"loss": final}))


if __name__ == "__main__":
    main(sys.argv[1])
