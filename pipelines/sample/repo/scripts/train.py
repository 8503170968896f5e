"""Toy training loop for the backbone on random data.

Usage:
    python scripts/train.py --epochs 2 --lr 1e-3
"""
import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F


def parse_args():
    parser = argparse.ArgumentParser(description="Train a tiny classifier on synthetic data")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--steps-per-epoch", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def build_model(num_features=32, num_classes=10):
    return nn.Sequential(
        nn.Linear(num_features, 64),
        nn.ReLU(),
        nn.Linear(64, num_classes),
    )


def main():
    args = parse_args()
    torch.manual_seed(args.seed)
    model = build_model()
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
    for epoch in range(args.epochs):
        running = 0.0
        for step in range(args.steps_per_epoch):
            x = torch.randn(args.batch_size, 32)
            y = torch.randint(0, 10, (args.batch_size,))
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            running += loss.item()
        print(f"epoch {epoch}: loss {running / args.steps_per_epoch:.4f}")


if __name__ == "__main__":
    main()
