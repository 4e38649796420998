"""Cells that share one compiled program (docs/theory.md §4, §6): a sweep's configurations grouped
by the shapes their setup and loop compile for, so that each group runs as one batch of seeds.

Cells differing only in `seed`, `seeds`, the noise level or an operator's numbers always share a
shape (those travel as per-seed arrays). For the paper's network on its reduced dynamics with every
draw Gaussian, cells differing in `m` or `n` within the factors `PADDING` share one too, padded
to the largest: the draws are reproduced bit for bit at the padded shape with zeros in the padding,
a zero row of `A` adds nothing to the residual and zero rows of `V` and columns of `A` leave
`B = A V/√k` as it is, so padding is exact (only the order of some sums changes). Infrastructure: no
formula of its own."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from .._config import Config
from .._networks.base import Network
from .._operators.registry import OPERATORS, placeholders
from .._signals.registry import SIGNALS

PADDED_FIELDS = ("m", "n")
"""The sizes a batch may pad (docs/theory.md §4)."""


@dataclasses.dataclass(frozen=True)
class Batch:
    """Cells that share one compiled setup and loop (at `shape`). A descent sets up every seed of
    the batch at once and runs them in one loop that each seed leaves when it stops
    (`integrate_cells`); a flow runs each cell in a call of its own (`calls`): a vmapped solve
    runs until its slowest seed, and cells of a sweep differ widely in how long their seeds run."""

    configs: tuple[Config, ...]
    pad_to: tuple[int, int] | None = None
    """`(m, n)` every cell is padded to, or None."""

    @property
    def padded(self) -> bool:
        return self.pad_to is not None

    @property
    def shape(self) -> Config:
        """The config whose shapes the batch compiles."""
        first = self.configs[0]
        return first if self.pad_to is None else first.replace(**dict(zip(PADDED_FIELDS, self.pad_to)))

    @property
    def seeds(self) -> int:
        return sum(config.seeds for config in self.configs)

    def calls(self) -> list[Batch]:
        """One batch per cell, at this batch's shape: what a flow runs in one call."""
        return [Batch((config,), self.pad_to) for config in self.configs]


def can_pad(config: Config, network: Network | None) -> bool:
    """Whether `config` runs padded exactly: the built-in paper network on its reduced dynamics,
    every draw Gaussian (those alone are reproduced bit for bit at a padded shape), no noise and
    no kernels and no alignment (their spectra and projections would see the padding)."""
    return (
        network is None
        and config.network == "two_layer"
        and config.parametrization in ("auto", "reduced")
        and OPERATORS[config.operator].gaussian_block
        and config.operator_scale == "none"
        and SIGNALS[config.signal].gaussian_block
        and config.side is None
        and config.signal_norm is None
        and config.v_law == "gaussian"
        and config.noise == 0
        and not config.track_ntk
        and config.alignment_rank == 0
    )


def batch_key(config: Config, network: Network | None, pad: bool = True) -> Config:
    """Configs with equal keys share one compiled setup and loop."""
    key = config.replace(
        seed=0,
        seeds=1,
        noise=float(config.noise > 0),
        signal_norm=None if config.signal_norm is None else 1.0,
        **placeholders(),
    )
    if pad and can_pad(config, network):
        key = key.replace(**dict.fromkeys(PADDED_FIELDS, 1))
    return key


PADDING = {"m": 2.5, "n": 5.0}
"""The most a batch pads each size by (largest over smallest of its cells): every reduced step costs
`∝ m k`, so a cell padded from `m` to `m'` runs `m'/m` times slower; the loop has no `n`, but the
setup draws `V` (`n × k` per seed) and the statistics read it at the padded `n`."""


def _buckets(configs: Sequence[Config], indices: list[int], name: str) -> list[list[int]]:
    """`indices` split so that within each part the largest `name` is at most `PADDING[name]` times
    the smallest (from the smallest up)."""
    buckets: list[list[int]] = []
    for index in sorted(indices, key=lambda i: getattr(configs[i], name)):
        if buckets and getattr(configs[index], name) <= PADDING[name] * getattr(configs[buckets[-1][0]], name):
            buckets[-1].append(index)
        else:
            buckets.append([index])
    return [sorted(bucket) for bucket in buckets]


def group_cells(configs: Sequence[Config], network: Network | None = None, pad: bool = True) -> list[list[int]]:
    """The indices of `configs` grouped into batches (`Batch`), largest work first: by `batch_key`,
    then by `m` and by `n` within the factors `PADDING`."""
    groups: dict[Config, list[int]] = {}
    for index, config in enumerate(configs):
        groups.setdefault(batch_key(config, network, pad), []).append(index)
    batches = [
        bucket
        for group in groups.values()
        for part in _buckets(configs, group, "m")
        for bucket in _buckets(configs, part, "n")
    ]
    return sorted(batches, key=lambda b: -sum(configs[i].seeds * configs[i].k * configs[i].m for i in b))


def batch_of(configs: Sequence[Config], indices: Sequence[int]) -> Batch:
    """The `Batch` of `configs[indices]` (one group of `group_cells`)."""
    cells = tuple(configs[i] for i in indices)
    if all((c.m, c.n) == (cells[0].m, cells[0].n) for c in cells):
        return Batch(cells)
    return Batch(cells, tuple(max(getattr(c, name) for c in cells) for name in PADDED_FIELDS))
