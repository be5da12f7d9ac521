"""The SDXL subclass on tiny SDXL-shaped components (two text encoders, text-time embeds)."""

import numpy as np
import pytest
import torch
from diffusers import (
    AutoencoderKL,
    EulerDiscreteScheduler,
    StableDiffusionXLImg2ImgPipeline,
    UNet2DConditionModel,
)
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

from wearview.engine.differential import DifferentialStableDiffusionXLPipeline, make_differential
from wearview.engine.tiny import TOKENIZER_DIR

SIDE = 64


def _tiny_sdxl() -> StableDiffusionXLImg2ImgPipeline:
    tokenizer = CLIPTokenizer.from_pretrained(TOKENIZER_DIR, model_max_length=77)
    text_config = dict(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=37,
        num_attention_heads=4,
        num_hidden_layers=2,
        projection_dim=32,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        unet = UNet2DConditionModel(
            sample_size=8,
            block_out_channels=(32, 64),
            layers_per_block=1,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
            attention_head_dim=(2, 4),
            use_linear_projection=True,
            addition_embed_type="text_time",
            addition_time_embed_dim=8,
            transformer_layers_per_block=(1, 2),
            # 6 time ids x 8 plus the pooled text embedding of 32.
            projection_class_embeddings_input_dim=80,
            cross_attention_dim=64,
            norm_num_groups=32,
        )
        vae = AutoencoderKL(
            down_block_types=("DownEncoderBlock2D",) * 4,
            up_block_types=("UpDecoderBlock2D",) * 4,
            block_out_channels=(32, 32, 64, 64),
            layers_per_block=1,
            latent_channels=4,
            norm_num_groups=32,
            sample_size=SIDE,
            force_upcast=True,
        )
        text_encoder = CLIPTextModel(CLIPTextConfig(**text_config))
        text_encoder_2 = CLIPTextModelWithProjection(CLIPTextConfig(**text_config))
    pipeline = StableDiffusionXLImg2ImgPipeline(
        vae=vae,
        text_encoder=text_encoder,
        text_encoder_2=text_encoder_2,
        tokenizer=tokenizer,
        tokenizer_2=tokenizer,
        unet=unet,
        scheduler=EulerDiscreteScheduler(
            beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", steps_offset=1
        ),
    )
    pipeline.set_progress_bar_config(disable=True)
    return pipeline


@pytest.fixture(scope="module")
def sdxl():
    stock = _tiny_sdxl()
    return stock, make_differential(stock)


def _run(pipeline, strength, seed=1):
    return pipeline.generate_differential(
        sources=torch.rand((1, 3, SIDE, SIDE), generator=torch.Generator().manual_seed(0)),
        row_sources=[0],
        strength_maps=strength,
        prompts=["a striped shirt"],
        negative_prompts=["blurry"],
        generators=[torch.Generator().manual_seed(seed)],
        num_inference_steps=6,
        guidance_scale=5.0,
    )


def test_sdxl_differential_class(sdxl):
    _, differential = sdxl

    assert isinstance(differential, DifferentialStableDiffusionXLPipeline)
    assert differential.vae_scale_factor == 8


def test_sdxl_garment_zero_keeps_source_latents(sdxl):
    _, differential = sdxl
    strength = torch.ones((1, 1, SIDE, SIDE))
    strength[:, :, 16:48, 16:48] = 0.0

    result = _run(differential, strength)

    garment = (slice(None), slice(None), slice(2, 6), slice(2, 6))
    assert torch.equal(result.latents[garment], result.source_latents[garment])
    assert not torch.equal(result.latents[:, :, 0, 0], result.source_latents[:, :, 0, 0])
    assert result.images.shape == (1, SIDE, SIDE, 3)


def test_sdxl_strength_one_matches_plain_img2img(sdxl):
    stock, differential = sdxl

    result = _run(differential, torch.ones((1, 1, SIDE, SIDE)), seed=4)
    plain = stock(
        prompt=["a striped shirt"],
        negative_prompt=["blurry"],
        image=result.source_latents,
        strength=1.0,
        num_inference_steps=6,
        guidance_scale=5.0,
        generator=[torch.Generator().manual_seed(4)],
        output_type="np",
    ).images

    assert np.array_equal(plain, result.images)


def test_sdxl_loads_from_folder_like_checkpoint(sdxl, tmp_path):
    from wearview.engine.loading import EngineConfig, load_engine

    stock, _ = sdxl
    stock.register_to_config(force_zeros_for_empty_prompt=False)
    stock.save_pretrained(tmp_path / "sdxl")

    engine = load_engine(EngineConfig(model=str(tmp_path / "sdxl"), device="cpu"))

    assert isinstance(engine.pipeline, DifferentialStableDiffusionXLPipeline)
    assert engine.pipeline.config.force_zeros_for_empty_prompt is False
    assert engine.native_size == 64
