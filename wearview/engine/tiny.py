"""The tiny SD-shaped pipeline: built from code, seeded, and saved like a real checkpoint.

It has the real models' geometry (a four-block VAE with scale factor 8, 4 latent channels, a
CLIP text encoder and a cross-attention UNet) but only about 2.5 million random weights, so
it runs 20 steps at 256 x 320 in under a second on a laptop CPU. It produces no photographic
output: the tests and the embedded default use it to exercise every code path that a real
checkpoint goes through. The CLIP tokenizer files are vendored in `data/tiny_tokenizer`.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

import torch
from diffusers import (
    AutoencoderKL,
    EulerDiscreteScheduler,
    StableDiffusionImg2ImgPipeline,
    UNet2DConditionModel,
)
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

logger = logging.getLogger(__name__)

TOKENIZER_DIR = Path(__file__).resolve().parent / "data" / "tiny_tokenizer"

# Bump when the architecture or the seed changes, so saved copies are rebuilt.
TINY_PIPELINE_VERSION = "1"
TINY_SEED = 0


def build_tiny_pipeline(seed: int = TINY_SEED) -> StableDiffusionImg2ImgPipeline:
    """Build the tiny pipeline with weights drawn from `seed`; equal seeds give equal weights.

    The global torch random state is left as it was.
    """
    tokenizer = CLIPTokenizer.from_pretrained(TOKENIZER_DIR, model_max_length=77)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        unet = UNet2DConditionModel(
            sample_size=32,
            in_channels=4,
            out_channels=4,
            block_out_channels=(32, 64),
            layers_per_block=2,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
            cross_attention_dim=32,
            attention_head_dim=8,
            norm_num_groups=32,
        )
        vae = AutoencoderKL(
            in_channels=3,
            out_channels=3,
            down_block_types=("DownEncoderBlock2D",) * 4,
            up_block_types=("UpDecoderBlock2D",) * 4,
            block_out_channels=(32, 32, 64, 64),
            layers_per_block=1,
            latent_channels=4,
            norm_num_groups=32,
            sample_size=256,
        )
        text_encoder = CLIPTextModel(
            CLIPTextConfig(
                vocab_size=len(tokenizer),
                hidden_size=32,
                intermediate_size=37,
                num_attention_heads=4,
                num_hidden_layers=5,
                max_position_embeddings=77,
                layer_norm_eps=1e-5,
                bos_token_id=tokenizer.bos_token_id,
                eos_token_id=tokenizer.eos_token_id,
                pad_token_id=tokenizer.pad_token_id,
            )
        )
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        steps_offset=1,
        timestep_spacing="leading",
    )
    return StableDiffusionImg2ImgPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def ensure_tiny_pipeline(cache_dir: Path) -> Path:
    """Return the folder holding the saved tiny pipeline, building and saving it if absent.

    The folder is written under a temporary name and renamed into place, so several worker
    processes starting at once never load a half-written copy.
    """
    target = Path(cache_dir) / f"wearview-tiny-sd-v{TINY_PIPELINE_VERSION}"
    if (target / "model_index.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".tiny-", dir=target.parent))
    try:
        build_tiny_pipeline().save_pretrained(staging)
        try:
            os.rename(staging, target)
        except OSError:
            # Another process renamed its copy first; both copies are identical.
            if not (target / "model_index.json").is_file():
                raise
        else:
            logger.info("Saved the tiny pipeline to %s", target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
