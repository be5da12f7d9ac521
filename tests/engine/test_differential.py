import numpy as np
import pytest
import torch

from wearview.engine.differential import latent_strength, plan_steps
from wearview.engine.errors import EngineInputError

HEIGHT, WIDTH = 64, 96


def _sources(seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.rand((1, 3, HEIGHT, WIDTH), generator=generator)


def _garment_map(rows=1, garment=0.0, background=1.0):
    strength = torch.full((rows, 1, HEIGHT, WIDTH), background)
    # 16..48 x 24..72 pixels is 2..6 x 3..9 on the 8x latent grid, aligned to latent cells.
    strength[:, :, 16:48, 24:72] = garment
    return strength


def _run(engine, strength, *, seeds=(1,), steps=10, sources=None, **kwargs):
    return engine.pipeline.generate_differential(
        sources=_sources() if sources is None else sources,
        row_sources=[0] * len(seeds),
        strength_maps=strength,
        prompts=["a striped shirt"] * len(seeds),
        negative_prompts=None,
        generators=[torch.Generator().manual_seed(seed) for seed in seeds],
        num_inference_steps=steps,
        guidance_scale=5.0,
        **kwargs,
    )


def test_differential_garment_zero_keeps_source_latents(engine):
    result = _run(engine, _garment_map(rows=2), seeds=(1, 2))

    garment = (slice(None), slice(None), slice(2, 6), slice(3, 9))
    assert torch.equal(result.latents[garment], result.source_latents[garment])
    background_change = (result.latents[:, :, 0, 0] - result.source_latents[:, :, 0, 0]).abs()
    assert float(background_change.max()) > 0.1


def test_differential_garment_held_at_noised_source_each_step(engine):
    seen = []
    pipeline = engine.pipeline
    original = pipeline._reset_held_pixels

    def spy(pipe, step_index, timestep, callback_kwargs):
        output = original(pipe, step_index, timestep, callback_kwargs)
        run = pipeline._differential_run
        if step_index + 1 < len(run.timesteps):
            next_t = run.timesteps[step_index + 1].reshape(1)
            expected = pipeline.scheduler.add_noise(run.source_latents, run.noise, next_t)
            held = output["latents"][:, :, 2:6, 3:9]
            seen.append(float((held - expected[:, :, 2:6, 3:9]).abs().max()))
        return output

    pipeline._reset_held_pixels = spy
    try:
        _run(engine, _garment_map(), steps=8)
    finally:
        del pipeline._reset_held_pixels

    assert len(seen) == 7
    assert max(seen) == 0.0


def test_differential_strength_one_matches_plain_img2img(engine):
    from wearview.engine.tiny import build_tiny_pipeline

    ones = torch.ones((1, 1, HEIGHT, WIDTH))
    result = _run(engine, ones, seeds=(3,))
    stock = build_tiny_pipeline()
    stock.set_progress_bar_config(disable=True)

    # Stock diffusers treats a 4-channel image as latents, so both start from the same
    # source latents and draw their noise from the same seed.
    plain = stock(
        prompt=["a striped shirt"],
        image=result.source_latents,
        strength=1.0,
        num_inference_steps=10,
        guidance_scale=5.0,
        generator=[torch.Generator().manual_seed(3)],
        output_type="np",
    ).images

    assert np.array_equal(plain, result.images)


def test_differential_rounding_to_zero_steps_runs_minimum(engine):
    from wearview.engine.tiny import build_tiny_pipeline

    low = torch.full((1, 1, HEIGHT, WIDTH), 0.04)
    stock = build_tiny_pipeline()
    # Stock diffusers 0.42 fails deep inside the UNet on an empty batch of timesteps.
    with pytest.raises((ValueError, RuntimeError)):
        stock(prompt="x", image=_sources(), strength=0.04, num_inference_steps=20)

    result = _run(engine, low, steps=20)

    assert result.plan.steps_run == 1
    assert result.plan.num_inference_steps == 26
    assert result.plan.raised is True
    assert result.images.shape == (1, HEIGHT, WIDTH, 3)


def test_differential_same_seed_same_output(engine):
    strength = _garment_map(rows=2, garment=0.1, background=0.8)
    first = _run(engine, strength, seeds=(5, 6))
    second = _run(engine, strength, seeds=(5, 6))
    other = _run(engine, strength, seeds=(7, 6))

    assert np.array_equal(first.images, second.images)
    assert not np.array_equal(first.images[0], other.images[0])
    assert np.array_equal(first.images[1], other.images[1])


def test_differential_rejects_unpadded_canvas(engine):
    sources = torch.rand((1, 3, 60, 96))

    with pytest.raises(EngineInputError, match="not a multiple of the VAE factor 8"):
        _run(engine, torch.ones((1, 1, 60, 96)), sources=sources)


def test_differential_rejects_four_channel_sources(engine):
    sources = torch.rand((1, 4, HEIGHT, WIDTH))

    with pytest.raises(EngineInputError, match="convert RGBA and grayscale images to RGB"):
        _run(engine, torch.ones((1, 1, HEIGHT, WIDTH)), sources=sources)


def test_differential_rejects_mismatched_rows(engine):
    with pytest.raises(EngineInputError, match="strength_maps must have shape"):
        _run(engine, torch.ones((1, 1, HEIGHT, WIDTH)), seeds=(1, 2))


def test_differential_reports_every_step(engine):
    steps = []

    _run(engine, _garment_map(background=0.5), steps=10, on_step=lambda s, t: steps.append((s, t)))

    assert steps == [(step, 5) for step in range(1, 6)]


def test_plan_steps_keeps_request_when_enough():
    plan = plan_steps(0.75, 20)

    assert (plan.num_inference_steps, plan.steps_run, plan.raised) == (20, 15, False)


def test_plan_steps_raises_steps_for_minimum():
    plan = plan_steps(0.3, 10, min_steps=5)

    assert plan.steps_run >= 5
    assert plan.num_inference_steps == 17
    assert plan.raised is True


@pytest.mark.parametrize("strength", [0.0, -0.1, 1.5, float("nan")])
def test_plan_steps_invalid_strength(strength):
    with pytest.raises(EngineInputError, match="must be in \\(0, 1\\]"):
        plan_steps(strength, 20)


def test_plan_steps_too_many_steps():
    with pytest.raises(EngineInputError, match="more than 1000"):
        plan_steps(0.0001, 20, min_steps=1)


def test_latent_strength_averages_cells():
    strength = torch.zeros((1, 1, 16, 16))
    strength[:, :, :8, :4] = 1.0

    latent = latent_strength(strength, (2, 2))

    assert latent[0, 0].tolist() == [[0.5, 0.0], [0.0, 0.0]]
