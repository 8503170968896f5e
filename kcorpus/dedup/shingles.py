"""Code to shingle hashes, vectorised over many documents at once (numpy; no Python per byte).

Normalising, on the documents' bytes joined with NUL: `#` comments dropped, every identifier
that does not follow a `.` replaced by `V` (so renamed variables, functions and classes do not
matter, while `torch.relu` or `nn.Linear` still do; keywords become `V` too), numbers kept, runs
of whitespace collapsed to one space. Shingles are the `k`-byte windows of the normalised text (`k` a
multiple of 8, at most 32), each hashed to 64 bits from its 8-byte words; windows that would cross from one
document into the next are dropped. A document shorter than `k` gets one shingle (padded).
"""

from __future__ import annotations

import numpy as np

_ID = np.zeros(256, dtype=bool)
_ID[[*range(48, 58), *range(65, 91), *range(97, 123), 95, *range(128, 256)]] = True
_ALPHA = _ID.copy()
_ALPHA[48:58] = False  # a run starting with a digit is a number
_SPACE = np.zeros(256, dtype=bool)
_SPACE[[9, 10, 11, 12, 13, 32]] = True


def normalise_bytes(data: np.ndarray) -> np.ndarray:
    """The normalised bytes (uint8) of NUL-separated documents."""
    hashes = np.flatnonzero(data == ord("#"))
    if len(hashes):  # blank from each `#` to the end of its line (or document)
        breaks = np.flatnonzero((data == 10) | (data == 0))
        ends = np.append(breaks, len(data))[np.searchsorted(breaks, hashes)]
        edge = np.zeros(len(data) + 1, dtype=np.int32)
        np.add.at(edge, hashes, 1)
        np.add.at(edge, ends, -1)
        data = np.where(np.cumsum(edge[:-1], dtype=np.int32) > 0, np.uint8(32), data)
    is_id = _ID[data]
    prev = np.concatenate([[np.uint8(32)], data[:-1]])
    start = is_id & ~_ID[prev]
    run = np.cumsum(start, dtype=np.int32)  # which identifier-or-number run each byte is in
    replaced_start = start & _ALPHA[data] & (prev != ord("."))
    replaced_run = np.zeros(run[-1] + 1 if len(run) else 1, dtype=bool)
    replaced_run[run[replaced_start]] = True
    in_replaced = is_id & replaced_run[run]
    data = np.where(replaced_start, np.uint8(ord("V")), data)
    space = _SPACE[data]
    keep = ~(in_replaced & ~replaced_start) & ~(space & np.concatenate([[False], space[:-1]]))
    return np.where(space, np.uint8(32), data)[keep]


def _normalised_bytes(docs: list[str]) -> np.ndarray:
    joined = "\x00".join(d.replace("\x00", " ") for d in docs).encode("utf-8", "replace")
    return normalise_bytes(np.frombuffer(joined, dtype=np.uint8))


def normalise(docs: list[str]) -> list[str]:
    out = _normalised_bytes(docs).tobytes()
    return out.decode("utf-8", "replace").split("\x00")


def shingle_hashes(docs: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
    """(hashes, offsets): the k-byte shingle hashes of every document, concatenated, and the
    row offsets (len(docs) + 1) that delimit each document's run."""
    data = _normalised_bytes(docs)
    seps = np.flatnonzero(data == 0)
    bounds = np.concatenate([[-1], seps, [len(data)]])
    lengths = np.diff(bounds) - 1
    short = np.flatnonzero(lengths < k)
    if len(short):  # pad short documents to k bytes so each has one shingle
        pads = np.repeat(bounds[1:][short], k - lengths[short])
        data = np.insert(data, pads, np.uint8(1))
        lengths = np.maximum(lengths, k)
    n = len(data) - k + 1
    h = _window_hashes(data, k)
    sep_before = np.concatenate([[0], np.cumsum(data == 0, dtype=np.int32)])
    keep = sep_before[k: k + n] == sep_before[:n]  # the window [i, i + k) holds no separator
    offsets = np.concatenate([[0], np.cumsum(lengths - k + 1)]).astype(np.uint64)
    return h[keep], offsets


_MIX = [np.uint64(c) for c in (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9,
                                0xD6E8FEB86659FD93)]


def _window_hashes(data: np.ndarray, k: int) -> np.ndarray:
    """A 64-bit hash of each k-byte window (k a multiple of 8, at most 32): the window's 8-byte
    words, read at every offset, each multiplied by its own odd constant and xor-ed."""
    n = len(data) - k + 1
    padded = np.concatenate([data, np.zeros(16, dtype=np.uint8)])
    words = np.empty(len(data), dtype=np.uint64)  # words[i]: bytes i..i+7 as one integer
    for r in range(8):
        count = (len(data) - r + 7) // 8
        words[r::8] = padded[r: r + 8 * count].view(np.uint64)[: len(words[r::8])]
    h = np.zeros(max(n, 0), dtype=np.uint64)
    for j in range(k // 8):
        h ^= words[8 * j: 8 * j + n] * _MIX[j]
    return h
