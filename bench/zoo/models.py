"""Model targets for the zoo: Hugging Face `transformers` vision architectures, randomly initialised and sized
for 32x32 images, and tabular MLPs.

Every target is called as the project calls a model, `target(input_shape=..., num_classes=..., **keys)`, and
returns an `nn.Module` mapping a float batch (N, *input_shape) to logits (N, C). The HF models are built from
their configs only: nothing is downloaded. `transformers` is imported lazily, so this module imports without
the optional `zoo` dependency group.
"""

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn


class HFClassifier(nn.Module):
    """An HF image classifier behind the project's model interface: it takes the images positionally (the
    preflight's hooks catch `args[0]`) and returns the logits instead of HF's output object."""

    def __init__(self, net: nn.Module, repeat_channels: int = 1) -> None:
        super().__init__()
        self.net = net
        self.repeat_channels = repeat_channels  # >1: grey images fed to a model built for more channels

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        if self.repeat_channels > 1:
            inputs = inputs.repeat(1, self.repeat_channels, 1, 1)
        logits: torch.Tensor = self.net(pixel_values=inputs).logits
        return logits


def _is_drop_key(key: str, value: Any) -> bool:
    """Config keys of dropout, drop-path and drop-connect rates (floats, or one per stage)."""
    if "drop" not in key or isinstance(value, bool):
        return False
    if isinstance(value, float):  # an int-typed rate (LeViT's `drop_path_rate: int = 0`) rejects a float
        return True
    return isinstance(value, list) and all(isinstance(item, int | float) for item in value)


def _build(
    config_name: str,
    model_name: str,
    input_shape: Sequence[int],
    num_classes: int,
    dropout: float | None,
    fields: dict[str, Any],
    channels: int | None = None,
) -> nn.Module:
    """Build `model_name(config_name(**fields))` with random weights for `num_classes` classes.

    `dropout` (when not None) replaces every dropout/drop-path rate of the config, so the project's
    `model.dropout` reaches them: the preflight sets it to 0 to simplify, and HF's defaults are otherwise far
    from 0 (MobileNetV1 drops 99.9% before its classifier). `channels` forces the model's input channels (grey
    images are then repeated), for architectures that assume colour.
    """
    import transformers

    if len(input_shape) != 3:
        raise ValueError(f"{model_name} needs images (C, H, W), got input shape {tuple(input_shape)}")
    in_channels = int(input_shape[0])
    model_channels = channels or in_channels
    config = getattr(transformers, config_name)(num_labels=num_classes, num_channels=model_channels, **fields)
    if dropout is not None:
        for key, value in config.to_dict().items():
            if _is_drop_key(key, value) and key not in fields:
                setattr(config, key, [float(dropout)] * len(value) if isinstance(value, list) else float(dropout))
    net = getattr(transformers, model_name)(config)
    repeat = model_channels // in_channels if model_channels != in_channels else 1
    return HFClassifier(net, repeat_channels=repeat)


def _image_size(input_shape: Sequence[int]) -> int:
    if len(input_shape) != 3 or input_shape[1] != input_shape[2]:
        raise ValueError(f"square images (C, S, S) expected, got {tuple(input_shape)}")
    return int(input_shape[1])


def hf_resnet18(input_shape: Sequence[int], num_classes: int, dropout: float | None = None) -> nn.Module:
    """ResNet-18 (He et al. 2016): basic blocks, stages of 2, at half the ImageNet widths."""
    fields = {"layer_type": "basic", "depths": [2, 2, 2, 2], "hidden_sizes": [32, 64, 128, 256], "embedding_size": 32}
    return _build("ResNetConfig", "ResNetForImageClassification", input_shape, num_classes, dropout, fields)


def hf_resnet50(input_shape: Sequence[int], num_classes: int, dropout: float | None = None) -> nn.Module:
    """ResNet-50: bottleneck blocks in stages of 3-4-6-3, at a quarter of the ImageNet widths."""
    fields = {
        "layer_type": "bottleneck",
        "depths": [3, 4, 6, 3],
        "hidden_sizes": [64, 128, 256, 512],
        "embedding_size": 16,
    }
    return _build("ResNetConfig", "ResNetForImageClassification", input_shape, num_classes, dropout, fields)


def hf_convnext(input_shape: Sequence[int], num_classes: int, dropout: float | None = None) -> nn.Module:
    """ConvNeXt (Liu et al. 2022), a narrow and shallow ConvNeXt-T: patchify stem 4, layer scale, LayerNorm."""
    fields = {
        "patch_size": 4,
        "hidden_sizes": [32, 64, 128, 256],
        "depths": [1, 1, 3, 1],
        "image_size": _image_size(input_shape),
    }
    return _build("ConvNextConfig", "ConvNextForImageClassification", input_shape, num_classes, dropout, fields)


def hf_convnextv2(input_shape: Sequence[int], num_classes: int, dropout: float | None = None) -> nn.Module:
    """ConvNeXt V2 (global response normalisation), sized as `hf_convnext`."""
    fields = {
        "patch_size": 4,
        "hidden_sizes": [32, 64, 128, 256],
        "depths": [1, 1, 3, 1],
        "image_size": _image_size(input_shape),
    }
    return _build("ConvNextV2Config", "ConvNextV2ForImageClassification", input_shape, num_classes, dropout, fields)


def _vit_fields(input_shape: Sequence[int]) -> dict[str, Any]:
    """A ViT-Tiny-like encoder for 32x32, narrowed for CPU: patches of 4 (64 tokens), width 64, 4 layers of 2
    heads."""
    return {
        "image_size": _image_size(input_shape),
        "patch_size": 4,
        "hidden_size": 64,
        "num_hidden_layers": 4,
        "num_attention_heads": 2,
        "intermediate_size": 256,
    }


def hf_vit(input_shape: Sequence[int], num_classes: int, dropout: float | None = None) -> nn.Module:
    """ViT (Dosovitskiy et al. 2021): class token, learned position embeddings, pre-norm encoder."""
    return _build("ViTConfig", "ViTForImageClassification", input_shape, num_classes, dropout, _vit_fields(input_shape))


def hf_deit(input_shape: Sequence[int], num_classes: int, dropout: float | None = None) -> nn.Module:
    """DeiT (Touvron et al. 2021) without its distillation teacher, at ViT-Tiny-like size."""
    return _build(
        "DeiTConfig", "DeiTForImageClassification", input_shape, num_classes, dropout, _vit_fields(input_shape)
    )


def hf_beit(input_shape: Sequence[int], num_classes: int, dropout: float | None = None) -> nn.Module:
    """BEiT (Bao et al. 2022): relative position bias, layer scale, mean pooling."""
    fields = {**_vit_fields(input_shape), "use_relative_position_bias": True}
    return _build("BeitConfig", "BeitForImageClassification", input_shape, num_classes, dropout, fields)


def hf_dinov2(input_shape: Sequence[int], num_classes: int, dropout: float | None = None) -> nn.Module:
    """DINOv2's ViT (Oquab et al. 2023): layer scale, class token plus mean patch token into the head."""
    fields = {**_vit_fields(input_shape), "mlp_ratio": 4}
    fields.pop("intermediate_size")
    return _build("Dinov2Config", "Dinov2ForImageClassification", input_shape, num_classes, dropout, fields)


def _swin_fields(input_shape: Sequence[int]) -> dict[str, Any]:
    """Windows of 4 over 8x8 patches, two stages with patch merging."""
    return {
        "image_size": _image_size(input_shape),
        "patch_size": 4,
        "embed_dim": 48,
        "depths": [2, 2],
        "num_heads": [3, 6],
        "window_size": 4,
    }


def hf_swin(input_shape: Sequence[int], num_classes: int, dropout: float | None = None) -> nn.Module:
    """Swin (Liu et al. 2021): shifted windows of 4 over 8x8 patches, two stages with patch merging."""
    return _build(
        "SwinConfig", "SwinForImageClassification", input_shape, num_classes, dropout, _swin_fields(input_shape)
    )


def hf_swinv2(input_shape: Sequence[int], num_classes: int, dropout: float | None = None) -> nn.Module:
    """Swin V2: scaled cosine attention and post-norm, sized as `hf_swin`."""
    fields = _swin_fields(input_shape)
    return _build("Swinv2Config", "Swinv2ForImageClassification", input_shape, num_classes, dropout, fields)


def hf_focalnet(input_shape: Sequence[int], num_classes: int, dropout: float | None = None) -> nn.Module:
    """FocalNet (Yang et al. 2022): focal modulation instead of attention, narrow and shallow."""
    fields = {
        "image_size": _image_size(input_shape),
        "patch_size": 4,
        "embed_dim": 32,
        "depths": [1, 1, 2, 1],
        "hidden_sizes": [64, 128, 256, 256],
    }
    return _build("FocalNetConfig", "FocalNetForImageClassification", input_shape, num_classes, dropout, fields)


def hf_mobilenet_v1(input_shape: Sequence[int], num_classes: int, dropout: float | None = None) -> nn.Module:
    """MobileNetV1 (Howard et al. 2017): depthwise separable convolutions, width multiplier 0.5."""
    fields = {"image_size": _image_size(input_shape), "depth_multiplier": 0.5}
    return _build("MobileNetV1Config", "MobileNetV1ForImageClassification", input_shape, num_classes, dropout, fields)


def hf_mobilenet_v2(input_shape: Sequence[int], num_classes: int, dropout: float | None = None) -> nn.Module:
    """MobileNetV2 (Sandler et al. 2018): inverted residuals with linear bottlenecks, width multiplier 0.5."""
    fields = {"image_size": _image_size(input_shape), "depth_multiplier": 0.5}
    return _build("MobileNetV2Config", "MobileNetV2ForImageClassification", input_shape, num_classes, dropout, fields)


def hf_efficientnet(input_shape: Sequence[int], num_classes: int, dropout: float | None = None) -> nn.Module:
    """EfficientNet-B0 (Tan & Le 2019) scaled down: MBConv with squeeze-excitation, width 0.25, depth 0.5."""
    fields = {
        "image_size": _image_size(input_shape),
        "width_coefficient": 0.25,
        "depth_coefficient": 0.5,
        "hidden_dim": 320,
    }
    return _build("EfficientNetConfig", "EfficientNetForImageClassification", input_shape, num_classes, dropout, fields)


def hf_regnet(input_shape: Sequence[int], num_classes: int, dropout: float | None = None) -> nn.Module:
    """RegNetY (Radosavovic et al. 2020), about RegNetY-200MF's structure at half width: group convs + SE."""
    fields = {
        "embedding_size": 32,
        "hidden_sizes": [24, 56, 152, 368],
        "depths": [1, 1, 4, 7],
        "groups_width": 8,
        "layer_type": "y",
    }
    return _build("RegNetConfig", "RegNetForImageClassification", input_shape, num_classes, dropout, fields)


def hf_poolformer(input_shape: Sequence[int], num_classes: int, dropout: float | None = None) -> nn.Module:
    """PoolFormer (Yu et al. 2022), a narrow S12: average pooling as the token mixer, layer scale."""
    fields = {"hidden_sizes": [32, 64, 128, 256], "depths": [1, 1, 3, 1]}
    return _build("PoolFormerConfig", "PoolFormerForImageClassification", input_shape, num_classes, dropout, fields)


def hf_mobilevit(input_shape: Sequence[int], num_classes: int, dropout: float | None = None) -> nn.Module:
    """MobileViT-XXS (Mehta & Rastegari 2022): MobileNetV2 blocks with transformer blocks over 2x2 patches."""
    fields = {
        "image_size": _image_size(input_shape),
        "patch_size": 2,
        "hidden_sizes": [64, 80, 96],
        "neck_hidden_sizes": [16, 16, 24, 48, 64, 80, 320],
        "expand_ratio": 2.0,
    }
    return _build("MobileViTConfig", "MobileViTForImageClassification", input_shape, num_classes, dropout, fields)


def hf_bit(input_shape: Sequence[int], num_classes: int, dropout: float | None = None) -> nn.Module:
    """BiT (Kolesnikov et al. 2020): pre-activation ResNet with group norm and weight standardisation."""
    fields = {
        "layer_type": "preactivation",
        "depths": [1, 1, 1, 1],
        "hidden_sizes": [64, 128, 256, 512],
        "embedding_size": 32,
        "num_groups": 16,
    }
    return _build("BitConfig", "BitForImageClassification", input_shape, num_classes, dropout, fields)


def hf_cvt(input_shape: Sequence[int], num_classes: int, dropout: float | None = None) -> nn.Module:
    """CvT (Wu et al. 2021): convolutional token embedding and projections, class token in the last stage.

    Stage i needs at least i+1 layers: transformers 5 indexes the stage's per-layer drop-path rates by the
    stage number."""
    fields = {"embed_dim": [32, 64, 128], "num_heads": [1, 2, 4], "depth": [1, 2, 3]}
    return _build("CvtConfig", "CvtForImageClassification", input_shape, num_classes, dropout, fields)


def hf_pvt_v2(input_shape: Sequence[int], num_classes: int, dropout: float | None = None) -> nn.Module:
    """PVTv2-B0 (Wang et al. 2022): overlapping patch embeddings, spatial-reduction attention."""
    fields = {"image_size": _image_size(input_shape), "depths": [1, 1, 2, 1]}
    return _build("PvtV2Config", "PvtV2ForImageClassification", input_shape, num_classes, dropout, fields)


def hf_segformer(input_shape: Sequence[int], num_classes: int, dropout: float | None = None) -> nn.Module:
    """SegFormer's Mix Transformer encoder (MiT-B0) with its image-classification head."""
    fields = {"depths": [1, 1, 2, 1]}
    return _build("SegformerConfig", "SegformerForImageClassification", input_shape, num_classes, dropout, fields)


def hf_swiftformer(input_shape: Sequence[int], num_classes: int, dropout: float | None = None) -> nn.Module:
    """SwiftFormer (Shaker et al. 2023): efficient additive attention; logits average its two heads."""
    fields = {"image_size": _image_size(input_shape), "depths": [1, 1, 2, 1], "embed_dims": [24, 48, 96, 192]}
    return _build(
        "SwiftFormerConfig", "SwiftFormerForImageClassification", input_shape, num_classes, dropout, fields, channels=3
    )


def hf_levit(input_shape: Sequence[int], num_classes: int, dropout: float | None = None) -> nn.Module:
    """LeViT (Graham et al. 2021): conv stem to 1/16, attention with shrinking resolution, BatchNorm."""
    fields = {
        "image_size": _image_size(input_shape),
        "hidden_sizes": [64, 128, 192],
        "num_attention_heads": [2, 4, 6],
        "depths": [1, 1, 1],
        "key_dim": [16, 16, 16],
    }
    return _build("LevitConfig", "LevitForImageClassification", input_shape, num_classes, dropout, fields)


def mlp(
    input_shape: Sequence[int],
    num_classes: int,
    width: int = 64,
    depth: int = 2,
    dropout: float = 0.0,
    layer_norm: bool = True,
) -> nn.Module:
    """A tabular MLP as commonly written: Linear -> LayerNorm -> GELU -> Dropout per hidden layer; LayerNorm
    and dropout are what the project's own `MLP` lacks."""
    layers: list[nn.Module] = [nn.Flatten()]
    features = math.prod(input_shape)
    for _ in range(depth):
        layers.append(nn.Linear(features, width))
        if layer_norm:
            layers.append(nn.LayerNorm(width))
        layers += [nn.GELU(), nn.Dropout(dropout)]
        features = width
    layers.append(nn.Linear(features, num_classes))
    return nn.Sequential(*layers)


HF_MODELS: dict[str, Callable[..., nn.Module]] = {
    name.removeprefix("hf_"): builder
    for name, builder in sorted(globals().items())
    if name.startswith("hf_") and callable(builder)
}
