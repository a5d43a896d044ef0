#!/usr/bin/python3
"""Relative gradient norms ||dL/dW|| / ||W|| per linear layer at initialization, for the README's
explanation of the sigmoid plateau: networks/fc-fmnist.hbp (eight sigmoid layers) against
networks/demo-fmnist.hbp (two), with the paper's initialization (Xavier-normal weights, zero biases),
cross-entropy on the first 500 Fashion-MNIST training images, normalized as hbp train does.

Run with Debian's python3-torch: /usr/bin/python3 scripts/plateau-gradients.py [FASHION_MNIST_DIR]
"""
import gzip
import sys

import numpy as np
import torch

NETS = {"fc-fmnist": [784, 1024, 512, 256, 128, 64, 32, 16, 10], "demo-fmnist": [784, 64, 32, 10]}


def idx(path, offset):
    with gzip.open(path) as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/datasets/fashion-mnist"
    images = idx(d + "/train-images-idx3-ubyte.gz", 16).reshape(-1, 784).astype(np.float64) / 255
    labels = idx(d + "/train-labels-idx1-ubyte.gz", 8).astype(np.int64)
    images = (images - images.mean()) / images.std()  # one channel: per-channel statistics of the training set
    x, y = torch.tensor(images[:500], dtype=torch.float32), torch.tensor(labels[:500])
    torch.manual_seed(0)
    for name, sizes in NETS.items():
        layers = []
        for i in range(len(sizes) - 1):
            lin = torch.nn.Linear(sizes[i], sizes[i + 1])
            torch.nn.init.xavier_normal_(lin.weight)
            torch.nn.init.zeros_(lin.bias)
            layers += [lin] + ([torch.nn.Sigmoid()] if i < len(sizes) - 2 else [])
        net = torch.nn.Sequential(*layers)
        loss = torch.nn.functional.cross_entropy(net(x), y)
        loss.backward()
        rel = [(l.weight.grad.norm() / l.weight.norm()).item() for l in layers if isinstance(l, torch.nn.Linear)]
        print(f"{name}: loss {loss.item():.4f}; ||dL/dW|| / ||W|| from the first layer to the last: "
              + " ".join(f"{r:.1e}" for r in rel))


if __name__ == "__main__":
    main()
