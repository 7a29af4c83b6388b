#!/usr/bin/python3
"""PyTorch reference for `ich bench conv`: the same convolution shapes timed with F.conv3d, forward and forward +
the gradients training computes (input and weight; the stem's image gets none), median of --repeats after a warm-up.

Usage: /usr/bin/python3 bench/torch_conv_reference.py --threads 2 [--device cuda] [--tf32] [--repeats 3] < layers.json
layers.json: a JSON list of {"name", "input": [B, D, H, W, Cin], "cout", "kernel", "stride", "padding"}.
Prints one JSON line per layer: {"name", "forwardMs", "trainMs", "torch", "device", "tf32"}.
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


def main():
    ap = argparse.ArgumentParser()
    add_device_args(ap)
    ap.add_argument('--repeats', type=int, default=3)
    a = ap.parse_args()
    dev, cuda = configure(a)
    for layer in json.load(sys.stdin):
        b, d, h, w, cin = layer['input']
        image = layer['name'] == 'stem'
        x = torch.randn(b, cin, d, h, w, device=dev, requires_grad=not image)
        weight = (torch.randn(layer['cout'], cin, *(3 * [layer['kernel']]), device=dev) * 0.05).requires_grad_()

        def forward():
            with torch.no_grad():
                return F.conv3d(x, weight, stride=layer['stride'], padding=layer['padding'])

        def train():
            y = F.conv3d(x, weight, stride=layer['stride'], padding=layer['padding'])
            return torch.autograd.grad(y.sum(), [weight] if image else [x, weight])

        def median(run):
            times = []
            for r in range(a.repeats + 1):
                t0 = time.perf_counter()
                run()
                if cuda:
                    torch.cuda.synchronize()
                if r > 0:
                    times.append((time.perf_counter() - t0) * 1e3)
            return sorted(times)[len(times) // 2]

        print(json.dumps({'name': layer['name'], 'forwardMs': median(forward), 'trainMs': median(train), 'torch': torch.__version__,
                          'device': str(dev), 'tf32': a.tf32}), flush=True)
        del x, weight
        if cuda:
            torch.cuda.empty_cache()


if __name__ == '__main__':
    main()
