"""The convolutional decoders' common body (docs/theory.md §9, §12): a fixed random tensor,
upsampled and convolved in NTK parametrisation; the 1-D and 2-D members fix its shape."""

from __future__ import annotations

import dataclasses
import itertools
import math
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from .._problems.problem import Problem
from .activations import activation
from .base import Network, network_key

RESIZE_METHODS = {"nearest": "nearest", "bilinear": "linear"}
"""`Config.upsampling` to `jax.image.resize`'s method: nearest repeats each sample twice, bilinear
interpolates linearly along each axis between the samples' centres (the image's edges clamped)."""


def upsampled(tensor: Float[Array, "k ..."], upsampling: str) -> Float[Array, "k ..."]:
    """`tensor` with each spatial axis (all but the first, the channels) twice as long, by the fixed
    linear interpolation `upsampling` ("nearest" or "bilinear")."""
    channels, *spatial = tensor.shape
    return jax.image.resize(tensor, (channels, *(2 * side for side in spatial)), RESIZE_METHODS[upsampling])


class ConvolutionalDecoder(Network):
    """A deep decoder in NTK parametrisation (docs/theory.md §12; Heckel and Hand's deep decoder,
    deepinv's `ConvDecoder`): from a fixed tensor `x_0 ∈ R^{k × s_0 × …}` (`s_0 = s / 2^L` for an
    output of side `s`, iid N(0,1), drawn per seed and not trained), `L = decoder_layers` times:
    upsample ×2 (`upsampling`), convolve `k → k` channels (`kernel_size`, "SAME" zero padding,
    weights iid N(0,1), divided by `√(k · kernel_size^dim)`), apply `φ`; then a 1×1 convolution
    `k → 1` divided by `√k`, flattened row-major to `R^n`. `θ`: the `L + 1` convolutions' weights,
    `L k² kernel_size^dim + k` numbers. The input `u` is not read. Members define `shape`'s
    fields (`config_fields`, `validate`, `from_fields`) and its `name`."""

    name: ClassVar[str]
    """The registered name, known to the class for `validate`'s messages."""
    config_fields: ClassVar[tuple[str, ...]] = (
        "n",
        "side",
        "k",
        "activation",
        "decoder_layers",
        "upsampling",
        "kernel_size",
    )
    """Not `d`: the input `u` is not read. `side`: set for the 2-D decoder, None for the 1-D one."""
    shape: tuple[int, ...] = eqx.field(static=True)
    """The output's spatial shape: `(n,)` or `(side, side)`."""
    k: int = eqx.field(static=True)
    activation: str = eqx.field(static=True)
    decoder_layers: int = eqx.field(static=True)
    upsampling: str = eqx.field(static=True)
    kernel_size: int = eqx.field(static=True)
    input_tensor: Float[Array, "k ..."] | None = None
    """`x_0`: this seed's fixed input tensor (None until `for_seed`)."""

    @classmethod
    def validate_extent(cls, extent: int, field: str, decoder_layers: int, kernel_size: int) -> None:
        """A `ValueError` naming the field unless the output's side `extent` (`Config.<field>`) halves
        `decoder_layers` times into whole samples and the convolutions' smallest map (of side
        `2 extent / 2^decoder_layers`) is at least `kernel_size` wide."""
        factor = 2**decoder_layers
        if extent % factor:
            raise ValueError(
                f"Config.{field} must be divisible by 2^decoder_layers = {factor} for network={cls.name!r} "
                f"(the input tensor's side is {field} / 2^decoder_layers), got {field}={extent}"
            )
        smallest = 2 * extent // factor
        if kernel_size > smallest:
            raise ValueError(
                f"Config.kernel_size must be <= {smallest} for network={cls.name!r}, the side of the "
                f"smallest map it convolves (2 {field} / 2^decoder_layers), got kernel_size={kernel_size}"
            )

    @property
    def dimensions(self) -> int:
        return len(self.shape)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """`x_0`'s shape: `k` channels of side `s / 2^decoder_layers`."""
        return (self.k, *(side // 2**self.decoder_layers for side in self.shape))

    @property
    def weight_shapes(self) -> list[tuple[int, ...]]:
        """The `decoder_layers` convolutions `(k, k, kernel_size, …)` (out, in, window), then the last `(k,)`."""
        window = (self.kernel_size,) * self.dimensions
        return [(self.k, self.k, *window)] * self.decoder_layers + [(self.k,)]

    @property
    def description(self) -> str:
        window = "×".join([str(self.kernel_size)] * self.dimensions)
        return (
            f"conv decoder {self.dimensions}-D {self.k} ch × {self.decoder_layers} layers, {self.upsampling}, "
            f"{window}, {self.activation}"
        )

    def init(self, key: PRNGKeyArray) -> tuple[Array, ...]:
        """All weights from one `jax.random.normal` call (one threefry kernel to compile), in order."""
        sizes = [math.prod(shape) for shape in self.weight_shapes]
        blocks = jnp.split(jax.random.normal(key, (sum(sizes),)), list(itertools.accumulate(sizes))[:-1])
        return tuple(block.reshape(shape) for block, shape in zip(blocks, self.weight_shapes))

    def for_seed(self, problem: Problem, key: PRNGKeyArray) -> tuple[ConvolutionalDecoder, tuple[Array, ...]]:
        """This seed's decoder, carrying its fixed `x_0`, and its `θ(0)`: both iid N(0,1) from the two
        halves of the seed's network key, in the precision of the `problem`'s arrays."""
        dtype = problem.input.dtype
        weights_key, input_key = jax.random.split(network_key(key))
        seed_network = dataclasses.replace(self, input_tensor=jax.random.normal(input_key, self.input_shape, dtype))
        return seed_network, tuple(weights.astype(dtype) for weights in self.init(weights_key))

    def apply(self, parameters: tuple[Array, ...], input: Float[Array, " d"]) -> Float[Array, " n"]:
        """`g(θ) ∈ R^n` (the input `u` is not read: the decoder's input is its fixed `x_0`)."""
        if self.input_tensor is None:
            raise ValueError(
                f"{type(self).__name__}.apply needs the fixed input tensor x_0 of a seed: use network.for_seed(problem, key)"
            )
        phi = activation(self.activation).function
        *convolutions, last = parameters
        fan_in = self.k * self.kernel_size**self.dimensions
        strides = (1,) * self.dimensions
        hidden = self.input_tensor
        for weights in convolutions:
            convolved = jax.lax.conv_general_dilated(upsampled(hidden, self.upsampling)[None], weights, strides, "SAME")
            hidden = phi(convolved[0] / jnp.sqrt(fan_in))
        return last @ hidden.reshape(self.k, -1) / jnp.sqrt(self.k)
