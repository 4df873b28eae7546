"""The liver U-Net (Keras 3), configurable in depth, width, input size and block type.

The seed's network is the default shape: 2D, 4 poolings, 16→256 filters, two 3×3 convolutions
per level, Conv2DTranspose up-sampling, sigmoid output (≈ 1.9 M parameters). Its SELU +
lecun_normal + AlphaDropout blocks are one option (``block="selu"``); batch-normalised ReLU
blocks (``block="bn"``) are the other. The README records which one cross-validation favoured.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class UNetConfig:
    """Architecture of the network; saved in the model card."""

    input_size: int = 160
    channels: int = 3
    depth: int = 4  # number of poolings
    base_filters: int = 16
    block: str = "bn"  # "bn" (BatchNorm + ReLU) or "selu" (the seed's)
    dropout: float = 0.1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _conv_block(x: Any, filters: int, config: UNetConfig, layers: Any) -> Any:
    for _ in range(2):
        if config.block == "selu":
            x = layers.Conv2D(filters, 3, padding="same", activation="selu", kernel_initializer="lecun_normal")(x)
        else:
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False, kernel_initializer="he_normal")(x)
            x = layers.BatchNormalization()(x)
            x = layers.Activation("relu")(x)
    return x


def build_unet(config: UNetConfig) -> Any:
    """A fresh, uncompiled U-Net for ``config``."""
    import keras
    from keras import layers

    if config.block not in ("bn", "selu"):
        raise ValueError(f"unknown block type {config.block!r}: use 'bn' or 'selu'")
    inputs = keras.Input((config.input_size, config.input_size, config.channels), name="ct")
    skips = []
    x = inputs
    for level in range(config.depth):
        x = _conv_block(x, config.base_filters * 2**level, config, layers)
        skips.append(x)
        x = layers.MaxPooling2D(2)(x)
    x = _conv_block(x, config.base_filters * 2**config.depth, config, layers)
    if config.dropout > 0:
        x = (layers.AlphaDropout if config.block == "selu" else layers.SpatialDropout2D)(config.dropout)(x)
    for level in reversed(range(config.depth)):
        filters = config.base_filters * 2**level
        x = layers.Conv2DTranspose(filters, 2, strides=2, padding="same")(x)
        x = layers.Concatenate()([x, skips[level]])
        x = _conv_block(x, filters, config, layers)
    outputs = layers.Conv2D(1, 1, activation="sigmoid", dtype="float32", name="liver")(x)
    return keras.Model(inputs, outputs, name="liver_unet")
