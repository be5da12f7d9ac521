"""Benchmark the diffusion engine; prints one JSON line per configuration.

CPU mode (default) runs the tiny built-in pipeline through the whole candidate path (canvas,
differential denoising, paste-back, fidelity scores) and reports seconds per candidate.

GPU mode (`--gpu`) builds full-size Stable Diffusion 1.5 and SDXL UNets, VAEs and text
encoders from their published configurations (vendored in wearview/engine/data/configs)
with random weights, which cost the same compute as the trained models, and times the
differential pipeline at 25 effective steps per candidate, for each size, batch and
`torch.compile` setting, with the peak GPU memory. It stops starting new configurations
when `--budget-s` is spent, so one run fits a fixed slot on a lent machine.

    python bench/engine.py                       # CPU, tiny pipeline
    python bench/engine.py --gpu                 # CUDA, SD 1.5 and SDXL, bf16
    python bench/engine.py --gpu --device cpu --models sd15 --sizes 64 --batches 1 \
        --steps 2 --no-compile --dtype fp32      # exercise the GPU path on a CPU
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
if str(REPOSITORY_ROOT) not in sys.path:
    sys.path.insert(0, str(REPOSITORY_ROOT))

from wearview.engine.differential import make_differential  # noqa: E402
from wearview.engine.tiny import TOKENIZER_DIR  # noqa: E402

CONFIG_DIR = REPOSITORY_ROOT / "wearview" / "engine" / "data" / "configs"
PROMPT = "a photo of a woman wearing a striped linen shirt, studio light"
NEGATIVE = "blurry, low quality"
DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}


def emit(record: dict) -> None:
    print(json.dumps(record), flush=True)


def garment_scene(side: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Return a square source image and garment mask drawn by code."""
    rng = np.random.default_rng(seed)
    source = rng.integers(180, 220, size=(side, side, 3), dtype=np.uint8)
    mask = np.zeros((side, side), dtype=bool)
    mask[side // 4 : side * 3 // 4, side // 3 : side * 2 // 3] = True
    stripes = (np.arange(side)[:, None] // max(1, side // 32)) % 2 == 0
    source[mask] = (40, 70, 150)
    source[mask & stripes] = (235, 235, 235)
    return source, mask


# ---------------------------------------------------------------- CPU mode


def run_cpu(args: argparse.Namespace) -> None:
    from wearview.engine.candidates import CandidateJob, generate_candidate_sets
    from wearview.engine.loading import EngineConfig, load_engine
    from wearview.imaging.strength import strength_map

    torch.set_num_threads(args.threads or torch.get_num_threads())
    cache = Path(tempfile.mkdtemp(prefix="wearview-bench-"))
    engine = load_engine(EngineConfig(device="cpu", cache_dir=cache, max_batch=8))
    for side in args.sizes:
        source, mask = garment_scene(side)
        strength = strength_map(mask, preset="reimagine")
        for batch in args.batches:
            job = CandidateJob(
                source=source,
                mask=mask,
                strength=strength,
                prompt=PROMPT,
                negative_prompt=NEGATIVE,
                preset="reimagine",
                seeds=tuple(range(1, batch + 1)),
                # Level 1.0 makes every background pixel run all the steps.
                strength_levels=(1.0,),
                steps=args.steps,
                guidance_scale=5.0,
                width=side,
                height=side,
            )
            generate_candidate_sets(engine, [job])  # warm-up at this shape
            timings = []
            for _ in range(args.repeats):
                started = time.perf_counter()
                (result,) = generate_candidate_sets(engine, [job])
                timings.append(time.perf_counter() - started)
            best = min(timings)
            emit(
                {
                    "mode": "cpu",
                    "model": "tiny",
                    "size": side,
                    "batch": batch,
                    "steps": result.steps_run,
                    "threads": torch.get_num_threads(),
                    "seconds_per_candidate": round(best / batch, 3),
                    "seconds_per_batch": round(best, 3),
                    "runs": [round(t, 3) for t in timings],
                }
            )


# ---------------------------------------------------------------- GPU mode


def load_json(name: str) -> dict:
    return json.loads((CONFIG_DIR / name).read_text())


def build_full_size(model: str, device: torch.device, dtype: torch.dtype):
    """Build SD 1.5 or SDXL image-to-image with random weights from the vendored configs."""
    from diffusers import (
        AutoencoderKL,
        EulerDiscreteScheduler,
        StableDiffusionImg2ImgPipeline,
        StableDiffusionXLImg2ImgPipeline,
        UNet2DConditionModel,
    )
    from transformers import (
        CLIPTextConfig,
        CLIPTextModel,
        CLIPTextModelWithProjection,
        CLIPTokenizer,
    )

    # The vendored tiny vocabulary tokenizes the prompt. Its ids are valid rows of the full
    # 49,408-entry embedding, so the text encoders do the same work as with CLIP's own.
    tokenizer = CLIPTokenizer.from_pretrained(TOKENIZER_DIR, model_max_length=77)
    scheduler_config = load_json(f"{model}/scheduler.json")
    scheduler_config.pop("_class_name", None)
    scheduler = EulerDiscreteScheduler.from_config(scheduler_config)
    torch.manual_seed(0)
    with torch.device(device):
        unet = UNet2DConditionModel.from_config(load_json(f"{model}/unet.json"))
        vae = AutoencoderKL.from_config(load_json(f"{model}/vae.json"))
        text_encoder = CLIPTextModel(CLIPTextConfig(**load_json(f"{model}/text_encoder.json")))
        if model == "sdxl":
            text_encoder_2 = CLIPTextModelWithProjection(
                CLIPTextConfig(**load_json("sdxl/text_encoder_2.json"))
            )
    if model == "sdxl":
        stock = StableDiffusionXLImg2ImgPipeline(
            vae=vae,
            text_encoder=text_encoder,
            text_encoder_2=text_encoder_2,
            tokenizer=tokenizer,
            tokenizer_2=tokenizer,
            unet=unet,
            scheduler=scheduler,
        )
    else:
        stock = StableDiffusionImg2ImgPipeline(
            vae=vae,
            text_encoder=text_encoder,
            tokenizer=tokenizer,
            unet=unet,
            scheduler=scheduler,
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )
    pipeline = make_differential(stock)
    pipeline.to(device=device, dtype=dtype)
    pipeline.set_progress_bar_config(disable=True)
    if device.type == "cuda":
        pipeline.vae.enable_slicing()
    return pipeline


def time_config(pipeline, device, side: int, batch: int, steps: int) -> tuple[float, float]:
    """Run one warm-up and one timed generation; return (warm-up s, timed s)."""
    source, mask = garment_scene(side)
    sources = torch.from_numpy(source).permute(2, 0, 1)[None].float() / 255.0
    strength = torch.ones((batch, 1, side, side))
    strength[:, :, torch.from_numpy(mask)] = 0.0

    def run(num_steps: int) -> float:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        started = time.perf_counter()
        pipeline.generate_differential(
            sources=sources,
            row_sources=[0] * batch,
            strength_maps=strength,
            prompts=[PROMPT] * batch,
            negative_prompts=[NEGATIVE] * batch,
            generators=[torch.Generator("cpu").manual_seed(seed) for seed in range(batch)],
            num_inference_steps=num_steps,
            guidance_scale=5.0,
        )
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter() - started

    warm = run(steps)
    return warm, run(steps)


def run_gpu(args: argparse.Namespace) -> None:
    started = time.perf_counter()
    device = torch.device(args.device)
    dtype = DTYPES[args.dtype]
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    emit(
        {
            "mode": "gpu",
            "event": "start",
            "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
            "torch": torch.__version__,
            "dtype": args.dtype,
            "budget_s": args.budget_s,
        }
    )
    compile_settings = [False] if args.no_compile else [False, True]
    # Most important first: SDXL at 1024 is the production target, SD 1.5 at 512 the next.
    priority = {("sdxl", 1024): 0, ("sd15", 512): 1}
    combos = sorted(
        ((model, side) for model in args.models for side in args.sizes),
        key=lambda combo: priority.get(combo, 2),
    )
    plan = [(model, side, compiled) for compiled in compile_settings for model, side in combos]

    pipelines: dict[str, object] = {}
    eager_unets: dict[str, object] = {}
    last_seconds: dict[tuple, float] = {}
    for model, side, compiled in plan:
        for batch in args.batches:
            elapsed = time.perf_counter() - started
            estimate = last_seconds.get((model, side, False), 0.0) * batch * 2.5
            if compiled:
                estimate += args.compile_allowance_s
            if elapsed + estimate > args.budget_s:
                emit(
                    {
                        "model": model,
                        "size": side,
                        "batch": batch,
                        "compile": compiled,
                        "skipped": f"time budget: {elapsed:.0f} s spent, about "
                        f"{estimate:.0f} s needed, budget {args.budget_s} s",
                    }
                )
                continue
            if model not in pipelines:
                build_started = time.perf_counter()
                pipelines[model] = build_full_size(model, device, dtype)
                eager_unets[model] = pipelines[model].unet
                emit(
                    {
                        "model": model,
                        "event": "built",
                        "seconds": round(time.perf_counter() - build_started, 1),
                    }
                )
            pipeline = pipelines[model]
            pipeline.unet = (
                torch.compile(eager_unets[model], mode=args.compile_mode)
                if compiled
                else eager_unets[model]
            )
            if device.type == "cuda":
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats(device)
            try:
                warm, timed = time_config(pipeline, device, side, batch, args.steps)
            except torch.cuda.OutOfMemoryError as exc:
                emit({"model": model, "size": side, "batch": batch, "error": f"OOM: {exc}"})
                torch.cuda.empty_cache()
                continue
            if not compiled:
                last_seconds[(model, side, False)] = timed / batch
            peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else 0
            emit(
                {
                    "mode": "gpu",
                    "model": model,
                    "size": side,
                    "batch": batch,
                    "dtype": args.dtype,
                    "compile": compiled,
                    "effective_steps": args.steps,
                    "images_per_second": round(batch / timed, 3),
                    "seconds_per_image": round(timed / batch, 3),
                    "warmup_seconds": round(warm, 2),
                    "peak_memory_gib": round(peak / 2**30, 2),
                }
            )
    emit({"mode": "gpu", "event": "done", "seconds": round(time.perf_counter() - started, 1)})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpu", action="store_true", help="full-size SD 1.5 and SDXL mode")
    parser.add_argument("--device", default="cuda", help="device for --gpu (default cuda)")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="bf16", help="--gpu precision")
    parser.add_argument("--models", nargs="+", default=["sdxl", "sd15"], choices=["sdxl", "sd15"])
    parser.add_argument("--sizes", nargs="+", type=int, help="canvas sides in pixels")
    parser.add_argument("--batches", nargs="+", type=int, help="candidates per batch")
    parser.add_argument("--steps", type=int, help="effective denoising steps per candidate")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs per CPU setting")
    parser.add_argument("--threads", type=int, help="CPU threads for torch")
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile runs")
    parser.add_argument("--compile-mode", default="default", help="torch.compile mode")
    parser.add_argument(
        "--compile-allowance-s",
        type=float,
        default=120.0,
        help="seconds reserved for compiling before a compiled configuration starts",
    )
    parser.add_argument(
        "--budget-s", type=float, default=420.0, help="stop starting configurations after this"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.gpu:
        args.sizes = args.sizes or [512, 1024]
        args.batches = args.batches or [1, 4, 8]
        args.steps = args.steps or 25
        run_gpu(args)
    else:
        args.sizes = args.sizes or [64, 256, 512]
        args.batches = args.batches or [1, 4]
        args.steps = args.steps or 20
        run_cpu(args)


if __name__ == "__main__":
    main()
