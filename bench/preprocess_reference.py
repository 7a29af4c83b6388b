#!/usr/bin/python3
"""Python reference for bench/preprocess.ts: the same read + preprocessing steps with nibabel, numpy and PyTorch.

Usage: /usr/bin/python3 bench/preprocess_reference.py THREADS FILE...   -> one JSON line {"volumesPerSecond", ...}
"""
import json
import sys
import time

import nibabel as nib
import numpy as np
import torch


def preprocess(path):
    data = np.asanyarray(nib.load(path).dataobj).astype(np.float32)   # HU (int16 -> float32, scl applied by nibabel)
    net = np.ascontiguousarray(np.transpose(data, (2, 1, 0)))       # [depth, height, width]
    x = (net - 15.0) / 85.0
    x[(x <= 0) | (x >= 1)] = 0                                       # the paper's zeroing quirk
    d = x.shape[0]
    if d < 40:
        before = (40 - d) // 2
        x = np.pad(x, ((before, 40 - d - before), (0, 0), (0, 0)))
    t = torch.from_numpy(x)[None, None]
    return torch.nn.functional.interpolate(t, size=(40, 301, 301), mode='area')[0, 0].numpy()


def main():
    threads = int(sys.argv[1])
    files = sys.argv[2:]
    torch.set_num_threads(threads)
    preprocess(files[0])  # warm-up
    start = time.perf_counter()
    checksum = 0.0
    for f in files:
        checksum += float(preprocess(f).sum())
    seconds = time.perf_counter() - start
    print(json.dumps({'volumes': len(files), 'seconds': seconds, 'volumesPerSecond': len(files) / seconds,
                      'threads': threads, 'torch': torch.__version__, 'checksum': checksum}))


if __name__ == '__main__':
    main()
