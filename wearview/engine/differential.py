"""Image-to-image with a strength per pixel (differential diffusion), on diffusers' pipelines.

A plain image-to-image run noises the whole source to one level and denoises every pixel for
the same number of steps. Here each pixel gets its own number of steps from a strength map:
a pixel with strength s is denoised over the last round(s x num_inference_steps) steps of the
schedule. Until its turn comes, it is reset after every step to the source latents noised to
the level of the next step, so the UNet always gets a consistent image while the garment
stays where it was. Pixels of strength 0 end as the source latents exactly.

The work is done in two overrides of the stock pipelines, `get_timesteps` (to know the
schedule of the run) and `prepare_latents` (to keep the source latents and the noise), plus
a `callback_on_step_end` that applies the reset. Everything else is diffusers' own loop.

NOTE: the reset is exact for first-order schedulers (Euler, DDIM, DDPM). Multistep and
second-order schedulers (PNDM, DPM-Solver, Heun) keep a history of model outputs that the
reset does not rewrite, so pixels that just became active start from a slightly off history.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import StableDiffusionImg2ImgPipeline, StableDiffusionXLImg2ImgPipeline
from diffusers.utils.torch_utils import randn_tensor

from wearview.engine.errors import EngineInputError

logger = logging.getLogger(__name__)

# The schedulers of SD 1.x and SDXL are trained on 1000 timesteps; a plan needing more
# inference steps than that cannot be honoured.
MAX_INFERENCE_STEPS = 1000

StepCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class StepPlan:
    """How many steps a run takes.

    `num_inference_steps` is the length of the full schedule, `steps_run` how many of its
    last steps the strongest pixel is denoised for, following diffusers' rule
    `int(num_inference_steps x strength)`. `raised` is True when the requested steps were
    raised to reach the minimum.
    """

    num_inference_steps: int
    steps_run: int
    max_strength: float
    raised: bool


@dataclass
class DifferentialResult:
    """Output of one batched run. `images` are float32 B x H x W x 3 in [0, 1]."""

    images: np.ndarray
    latents: torch.Tensor
    source_latents: torch.Tensor
    plan: StepPlan


@dataclass
class _RunState:
    active_steps: torch.Tensor
    row_sources: list[int]
    on_step: StepCallback | None
    timesteps: torch.Tensor | None = None
    source_latents: torch.Tensor | None = None
    noise: torch.Tensor | None = None
    final_latents: torch.Tensor | None = None


def plan_steps(max_strength: float, num_inference_steps: int, *, min_steps: int = 1) -> StepPlan:
    """Plan a run whose strongest pixel has `max_strength`, raising the steps if needed.

    Stock diffusers fails when `int(num_inference_steps x strength)` rounds to 0. Here the
    schedule is lengthened until at least `min_steps` steps run, and a warning is logged.

    Raises:
        EngineInputError: when `max_strength` is not in (0, 1], when the step counts are
            below 1, or when reaching `min_steps` would need more than 1000 steps.
    """
    if not math.isfinite(max_strength) or not 0.0 < max_strength <= 1.0:
        raise EngineInputError(
            f"the strength map's maximum is {max_strength}; it must be in (0, 1]. A map that "
            "is 0 everywhere asks for no change, so there is nothing to generate."
        )
    if num_inference_steps < 1 or min_steps < 1:
        raise EngineInputError(
            f"num_inference_steps={num_inference_steps} and min_steps={min_steps} must be >= 1"
        )

    def steps_run_for(total: int) -> int:
        return min(int(total * max_strength), total)

    total = num_inference_steps
    if steps_run_for(total) >= min_steps:
        return StepPlan(total, steps_run_for(total), max_strength, raised=False)

    total = max(num_inference_steps, math.ceil(min_steps / max_strength))
    while steps_run_for(total) < min_steps:
        total += 1
    if total > MAX_INFERENCE_STEPS:
        raise EngineInputError(
            f"strength {max_strength} with min_steps={min_steps} needs {total} inference "
            f"steps, more than {MAX_INFERENCE_STEPS}; raise the strength map or lower min_steps"
        )
    logger.warning(
        "Strength %.3f x %d steps rounds to %d denoising steps; using %d steps so that %d run",
        max_strength,
        num_inference_steps,
        steps_run_for(num_inference_steps),
        total,
        steps_run_for(total),
    )
    return StepPlan(total, steps_run_for(total), max_strength, raised=True)


def latent_strength(strength_maps: torch.Tensor, latent_size: tuple[int, int]) -> torch.Tensor:
    """Average B x 1 x H x W pixel strengths down to the latent grid (area interpolation)."""
    return F.interpolate(strength_maps.float(), size=latent_size, mode="area").clamp(0.0, 1.0)


class DifferentialImg2ImgMixin:
    """Adds `generate_differential` to a stock diffusers image-to-image pipeline class."""

    _differential_run: _RunState | None = None

    def get_timesteps(self, *args, **kwargs):
        timesteps, steps = super().get_timesteps(*args, **kwargs)
        if self._differential_run is not None:
            self._differential_run.timesteps = timesteps
        return timesteps, steps

    def prepare_latents(
        self,
        image,
        timestep,
        batch_size,
        num_images_per_prompt,
        dtype,
        device,
        generator=None,
        *args,
        **kwargs,
    ):
        run = self._differential_run
        if run is None:
            return super().prepare_latents(
                image,
                timestep,
                batch_size,
                num_images_per_prompt,
                dtype,
                device,
                generator,
                *args,
                **kwargs,
            )
        rows = batch_size * num_images_per_prompt
        if len(run.row_sources) != rows:
            raise EngineInputError(
                f"{len(run.row_sources)} rows map to sources but the batch has {rows} rows"
            )
        unique = self._encode_sources(image, dtype, device)
        source_latents = unique[torch.tensor(run.row_sources, device=unique.device)]
        # The noise has the same draw order and shape as diffusers' own prepare_latents, so a
        # map of 1 everywhere reproduces stock image-to-image from the same latents and seed.
        noise = randn_tensor(source_latents.shape, generator=generator, device=device, dtype=dtype)
        run.source_latents = source_latents
        run.noise = noise
        return self.scheduler.add_noise(source_latents, noise, timestep)

    def _encode_sources(self, image: torch.Tensor, dtype: torch.dtype, device) -> torch.Tensor:
        """Encode each source to the mean of its latent distribution, scaled for the UNet.

        The mean, not a sample, so the kept garment does not depend on the seed.
        """
        vae = self.vae
        # An SDXL VAE overflows in float16, so its config sets force_upcast to encode in float32.
        upcast = vae.dtype == torch.float16 and getattr(vae.config, "force_upcast", False)
        original_dtype = vae.dtype
        if upcast:
            vae.to(dtype=torch.float32)
        try:
            encoded = []
            for index in range(image.shape[0]):
                row = image[index : index + 1].to(device=device, dtype=vae.dtype)
                encoded.append(vae.encode(row).latent_dist.mode())
            latents = torch.cat(encoded).to(dtype)
        finally:
            if upcast:
                vae.to(dtype=original_dtype)

        mean = getattr(vae.config, "latents_mean", None)
        std = getattr(vae.config, "latents_std", None)
        if mean is not None and std is not None:
            channels = latents.shape[1]
            mean_t = torch.tensor(mean, device=latents.device, dtype=dtype).view(1, channels, 1, 1)
            std_t = torch.tensor(std, device=latents.device, dtype=dtype).view(1, channels, 1, 1)
            return (latents - mean_t) * vae.config.scaling_factor / std_t
        return latents * vae.config.scaling_factor

    def _reset_held_pixels(self, pipe, step_index: int, timestep, callback_kwargs: dict) -> dict:
        run = self._differential_run
        latents = callback_kwargs["latents"]
        steps_run = len(run.timesteps)
        # A pixel first runs at step steps_run - active_steps; until then it is held.
        held = run.active_steps <= (steps_run - step_index - 1)
        if step_index + 1 < steps_run:
            next_timestep = run.timesteps[step_index + 1].reshape(1).repeat(latents.shape[0])
            target = self.scheduler.add_noise(run.source_latents, run.noise, next_timestep)
        else:
            target = run.source_latents
        latents = torch.where(held, target.to(latents.dtype), latents)
        if step_index + 1 == steps_run:
            run.final_latents = latents
        if run.on_step is not None:
            run.on_step(step_index + 1, steps_run)
        return {"latents": latents}

    @torch.no_grad()
    def generate_differential(
        self,
        *,
        sources: torch.Tensor,
        row_sources: Sequence[int],
        strength_maps: torch.Tensor,
        prompts: Sequence[str],
        negative_prompts: Sequence[str] | None,
        generators: Sequence[torch.Generator],
        num_inference_steps: int,
        guidance_scale: float,
        min_steps: int = 1,
        on_step: StepCallback | None = None,
    ) -> DifferentialResult:
        """Generate one image per row, each pixel denoised according to its strength.

        Args:
            sources: U x 3 x H x W float tensor in [0, 1], the distinct source canvases. H
                and W must be multiples of the VAE scale factor (pad first, never crop).
            row_sources: for each of the B rows, the index of its source in `sources`.
            strength_maps: B x 1 x H x W float tensor in [0, 1], one map per row.
            prompts, negative_prompts: B prompts each (negative prompts may be None).
            generators: B generators, one per row, for reproducible noise. CPU generators
                give the same noise on every device.
            num_inference_steps: length of the full schedule; a pixel of strength s runs
                for its last round(s x num_inference_steps) steps.
            guidance_scale: classifier-free guidance scale; 1 or less disables it.
            min_steps: the minimum number of denoising steps for the strongest pixel.
                The schedule is lengthened when the request would run fewer.
            on_step: called as on_step(step, total) after every denoising step.

        Raises:
            EngineInputError: on shapes, value ranges or batch sizes that do not agree.
        """
        rows = len(row_sources)
        self._check_batch(
            sources, row_sources, strength_maps, prompts, negative_prompts, generators
        )
        plan = plan_steps(float(strength_maps.max()), num_inference_steps, min_steps=min_steps)

        height, width = sources.shape[-2:]
        factor = self.vae_scale_factor
        latent_size = (height // factor, width // factor)
        per_pixel = latent_strength(strength_maps, latent_size)
        active = torch.round(per_pixel * plan.num_inference_steps).clamp(max=plan.steps_run)
        device = self._execution_device
        self._differential_run = _RunState(
            active_steps=active.to(device=device),
            row_sources=list(row_sources),
            on_step=on_step,
        )
        try:
            output = self(
                prompt=list(prompts),
                negative_prompt=list(negative_prompts) if negative_prompts is not None else None,
                image=sources,
                strength=plan.max_strength,
                num_inference_steps=plan.num_inference_steps,
                guidance_scale=guidance_scale,
                generator=list(generators),
                output_type="np",
                callback_on_step_end=self._reset_held_pixels,
                callback_on_step_end_tensor_inputs=["latents"],
            )
            run = self._differential_run
            if run.final_latents is None or len(run.timesteps) != plan.steps_run:
                raise RuntimeError(
                    f"the pipeline ran {len(run.timesteps)} steps, expected {plan.steps_run}"
                )
            return DifferentialResult(
                images=np.asarray(output.images, dtype=np.float32),
                latents=run.final_latents,
                source_latents=run.source_latents,
                plan=plan,
            )
        finally:
            self._differential_run = None
            logger.debug("Differential run of %d rows finished", rows)

    def _check_batch(self, sources, row_sources, strength_maps, prompts, negative, generators):
        if sources.ndim != 4 or sources.shape[1] != 3:
            raise EngineInputError(
                f"sources must be U x 3 x H x W RGB tensors, got shape {tuple(sources.shape)}; "
                "convert RGBA and grayscale images to RGB first"
            )
        height, width = sources.shape[-2:]
        factor = self.vae_scale_factor
        if height % factor or width % factor:
            raise EngineInputError(
                f"canvas {width}x{height} is not a multiple of the VAE factor {factor}; "
                "pad it with wearview.engine.canvas.prepare_canvas"
            )
        rows = len(row_sources)
        if rows == 0:
            raise EngineInputError("the batch has no rows")
        if any(not 0 <= index < sources.shape[0] for index in row_sources):
            raise EngineInputError(f"row_sources {list(row_sources)} index outside the sources")
        if tuple(strength_maps.shape) != (rows, 1, height, width):
            raise EngineInputError(
                f"strength_maps must have shape {(rows, 1, height, width)}, "
                f"got {tuple(strength_maps.shape)}"
            )
        if float(strength_maps.min()) < 0.0 or float(strength_maps.max()) > 1.0:
            raise EngineInputError("strength maps must lie in [0, 1]")
        for name, values in (("prompts", prompts), ("generators", generators)):
            if len(values) != rows:
                raise EngineInputError(f"{name} has {len(values)} entries for {rows} rows")
        if negative is not None and len(negative) != rows:
            raise EngineInputError(f"negative_prompts has {len(negative)} entries for {rows} rows")


class DifferentialStableDiffusionPipeline(DifferentialImg2ImgMixin, StableDiffusionImg2ImgPipeline):
    """Stable Diffusion 1.x and 2.x image-to-image with a strength per pixel."""


class DifferentialStableDiffusionXLPipeline(
    DifferentialImg2ImgMixin, StableDiffusionXLImg2ImgPipeline
):
    """SDXL image-to-image with a strength per pixel."""


DIFFERENTIAL_CLASSES: dict[type, type] = {
    StableDiffusionImg2ImgPipeline: DifferentialStableDiffusionPipeline,
    StableDiffusionXLImg2ImgPipeline: DifferentialStableDiffusionXLPipeline,
}


def make_differential(pipeline) -> DifferentialImg2ImgMixin:
    """Rebuild a loaded stock image-to-image pipeline as its differential subclass.

    The components are shared, not copied, so this costs no memory.

    Raises:
        EngineInputError: when the pipeline is not SD 1.x/2.x or SDXL image-to-image.
    """
    if isinstance(pipeline, DifferentialImg2ImgMixin):
        return pipeline
    for stock, differential in DIFFERENTIAL_CLASSES.items():
        if type(pipeline) is stock:
            components = dict(pipeline.components)
            # Constructor flags live in the config, not among the components.
            for flag in ("requires_aesthetics_score", "force_zeros_for_empty_prompt"):
                if flag in pipeline.config:
                    components[flag] = pipeline.config[flag]
            if stock is StableDiffusionImg2ImgPipeline:
                # Candidates are reviewed by a person before publishing; the NSFW checker
                # would black out whole images of people in underwear or swimwear.
                components["safety_checker"] = None
                components["requires_safety_checker"] = False
            return differential(**components)
    raise EngineInputError(
        f"{type(pipeline).__name__} is not supported; use a Stable Diffusion 1.x, 2.x or SDXL "
        "checkpoint that diffusers loads for image-to-image"
    )
