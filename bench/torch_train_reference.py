#!/usr/bin/python3
"""PyTorch reference for `ich bench train`: the project's DenseNet-121 3D (MONAI layout, heads prognosis 1,
ordinal GCS 2, binary age 1) trained with BCE-with-logits and AdamW (AMSGrad) on random volumes.

Usage: /usr/bin/python3 bench/torch_train_reference.py --shape 32,64,64 --batch 2 --steps 4 --threads 2
       [--device cuda] [--tf32]   (a GPU: fp32, or TF32 matmuls and convolutions)
Prints one JSON line: {"stepMs", "volumesPerSecond", "params", "torch", "threads", "device", "tf32"}.
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_device import add_device_args, configure  # noqa: E402  (bench/torch_device.py)

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'gen'))
from make_model_fixtures import DenseNet3d, MultiTask  # noqa: E402  (the same layers the model fixtures use)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--shape', default='32,64,64')
    ap.add_argument('--batch', type=int, default=2)
    ap.add_argument('--steps', type=int, default=4)
    add_device_args(ap)
    a = ap.parse_args()
    dev, cuda = configure(a)
    shape = [int(s) for s in a.shape.split(',')]
    net = MultiTask(DenseNet3d((6, 12, 24, 16), 32, 64, 4, 0.2), [('prognosis', 1), ('gcs-ordinal', 2), ('age-binary', 1)])
    net.to(dev).train()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-4, amsgrad=True)
    x = torch.rand(a.batch, 1, *shape, device=dev)
    y = {'prognosis': torch.ones(a.batch, 1, device=dev), 'gcs-ordinal': torch.zeros(a.batch, 2, device=dev), 'age-binary': torch.zeros(a.batch, 1, device=dev)}
    weights = {'prognosis': 0.4, 'gcs-ordinal': 0.3, 'age-binary': 0.3}
    times = []
    for i in range(a.steps + 1):
        t0 = time.perf_counter()
        out = net(x)
        loss = sum(weights[t] * F.binary_cross_entropy_with_logits(o, y[t]) for t, o in out.items())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if cuda:
            torch.cuda.synchronize()
        if i >= 1:
            times.append(time.perf_counter() - t0)
    times.sort()
    med = times[len(times) // 2]
    print(json.dumps({'stepMs': med * 1e3, 'volumesPerSecond': a.batch / med, 'threads': a.threads, 'torch': torch.__version__,
                      'device': torch.cuda.get_device_name(dev) if cuda else 'cpu', 'tf32': bool(a.tf32 and cuda),
                      'params': sum(p.numel() for p in net.parameters())}))


if __name__ == '__main__':
    main()
