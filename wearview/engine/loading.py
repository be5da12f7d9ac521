"""Engine settings, model loading, device and precision, and the per-process pipeline cache.

The GPU worker loads no database, so settings are read from the environment lazily by
`engine_config_from_env` instead of from Django settings:

- `WEARVIEW_MODEL`: `tiny` (default, the built-in test pipeline), a Hugging Face id such as
  `stabilityai/stable-diffusion-xl-base-1.0`, or a local folder saved by `save_pretrained`.
- `WEARVIEW_ALLOW_DOWNLOAD`: `1` lets diffusers download a missing model; otherwise it is
  loaded with `local_files_only=True`.
- `WEARVIEW_ENGINE_DEVICE` (`auto`, `cuda`, `cuda:1`, `cpu`) and `WEARVIEW_ENGINE_DTYPE`
  (`auto`, `bf16`, `fp16`, `fp32`).
- `WEARVIEW_ENGINE_COMPILE`: `1` compiles the UNet with `torch.compile`.
- `WEARVIEW_ENGINE_MAX_BATCH`: the most rows per denoising batch (default 8).
- `WEARVIEW_ENGINE_CACHE_DIR`: where the tiny pipeline is saved (default `<var dir>/models`,
  the var dir being `WEARVIEW_VAR_DIR` or `var/` in the repository).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from diffusers import AutoPipelineForImage2Image
from diffusers.models.attention_processor import AttnProcessor2_0

from wearview.engine.differential import DifferentialImg2ImgMixin, make_differential
from wearview.engine.errors import EngineInputError, ModelNotFoundError
from wearview.engine.tiny import ensure_tiny_pipeline

logger = logging.getLogger(__name__)

TINY_MODEL = "tiny"
REPOSITORY_ROOT = Path(__file__).resolve().parents[2]

# Canvases above this many pixels are decoded tile by tile, which bounds the VAE's memory at
# a small cost in time. 1.5 megapixels lets 1024 x 1024 SDXL canvases decode in one piece.
DEFAULT_VAE_TILING_PIXELS = 1536 * 1024


def _dtype_argument() -> str:
    """Return `dtype` on diffusers versions that deprecate `torch_dtype` (0.42 does)."""
    try:
        from diffusers.utils.deprecation_utils import _TORCH_DTYPE_DEPRECATION_MESSAGE  # noqa: F401
    except ImportError:
        return "torch_dtype"
    return "dtype"


_DTYPE_ARGUMENT = _dtype_argument()
_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True)
class EngineConfig:
    """Engine settings; see the module docstring for the environment variables."""

    model: str = TINY_MODEL
    allow_download: bool = False
    device: str = "auto"
    dtype: str = "auto"
    compile: bool = False
    max_batch: int = 8
    cache_dir: Path = REPOSITORY_ROOT / "var" / "models"
    vae_tiling_pixels: int = DEFAULT_VAE_TILING_PIXELS


@dataclass
class Engine:
    """A loaded pipeline with the device, precision and model name it runs with."""

    pipeline: DifferentialImg2ImgMixin
    config: EngineConfig
    model: str
    device: torch.device
    dtype: torch.dtype
    load_seconds: float

    @property
    def vae_scale_factor(self) -> int:
        return int(self.pipeline.vae_scale_factor)

    @property
    def native_size(self) -> int:
        """The side in pixels the UNet was trained at (512 for SD 1.5, 1024 for SDXL)."""
        return int(self.pipeline.unet.config.sample_size) * self.vae_scale_factor


def engine_config_from_env(environ: dict[str, str] | None = None) -> EngineConfig:
    """Read the engine settings from the environment (or `environ`), checking each value.

    Raises:
        EngineInputError: naming the variable whose value is invalid.
    """
    env = os.environ if environ is None else environ
    var_dir = Path(env.get("WEARVIEW_VAR_DIR") or REPOSITORY_ROOT / "var")
    cache_dir = Path(env.get("WEARVIEW_ENGINE_CACHE_DIR") or var_dir / "models")
    dtype = env.get("WEARVIEW_ENGINE_DTYPE", "auto").strip().lower() or "auto"
    if dtype != "auto" and dtype not in _DTYPES:
        raise EngineInputError(
            f"WEARVIEW_ENGINE_DTYPE={dtype!r} is invalid; use auto, bf16, fp16 or fp32"
        )
    device = env.get("WEARVIEW_ENGINE_DEVICE", "auto").strip().lower() or "auto"
    if device != "auto" and not (device == "cpu" or device.startswith("cuda")):
        raise EngineInputError(
            f"WEARVIEW_ENGINE_DEVICE={device!r} is invalid; use auto, cpu, cuda or cuda:N"
        )
    max_batch_raw = env.get("WEARVIEW_ENGINE_MAX_BATCH", "8").strip()
    if not max_batch_raw.isdigit() or int(max_batch_raw) < 1:
        raise EngineInputError(
            f"WEARVIEW_ENGINE_MAX_BATCH={max_batch_raw!r} is invalid; set a whole number >= 1"
        )
    return EngineConfig(
        model=env.get("WEARVIEW_MODEL", TINY_MODEL).strip() or TINY_MODEL,
        allow_download=_flag(env, "WEARVIEW_ALLOW_DOWNLOAD"),
        device=device,
        dtype=dtype,
        compile=_flag(env, "WEARVIEW_ENGINE_COMPILE"),
        max_batch=int(max_batch_raw),
        cache_dir=cache_dir,
    )


def _flag(env, name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise EngineInputError(f"{name}={raw!r} is invalid; use 1 or 0")


def resolve_device(config: EngineConfig) -> torch.device:
    """Return the torch device: CUDA when available and not overridden, else the CPU."""
    if config.device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(config.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise EngineInputError(
            f"WEARVIEW_ENGINE_DEVICE={config.device!r} but torch sees no CUDA device; "
            "install a CUDA build of torch or set WEARVIEW_ENGINE_DEVICE=cpu"
        )
    return device


def resolve_dtype(config: EngineConfig, device: torch.device) -> torch.dtype:
    """Return the precision: fp32 on the CPU; bf16 on CUDA when supported, else fp16.

    bf16 has the exponent range of fp32, so the VAE does not overflow into NaN or black
    images as it can in fp16. In fp16, SDXL's VAE (`force_upcast` in its config) is run in
    fp32 for encoding and decoding by the pipeline.
    """
    if config.dtype != "auto":
        dtype = _DTYPES[config.dtype]
        if device.type == "cpu" and dtype == torch.float16:
            raise EngineInputError(
                "WEARVIEW_ENGINE_DTYPE=fp16 is not supported on the CPU; use fp32 or bf16"
            )
        return dtype
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def load_engine(config: EngineConfig) -> Engine:
    """Load the configured model for image-to-image on the resolved device and precision.

    Raises:
        ModelNotFoundError: naming the model and how to provide it.
        EngineInputError: when the checkpoint is not SD 1.x/2.x or SDXL.
    """
    started = time.perf_counter()
    device = resolve_device(config)
    dtype = resolve_dtype(config, device)
    if config.model == TINY_MODEL:
        location = str(ensure_tiny_pipeline(config.cache_dir))
        local_only = True
    else:
        location = config.model
        local_only = not config.allow_download

    logger.info(
        "Loading model %s on %s in %s (local files only: %s)",
        config.model,
        device,
        dtype,
        local_only,
    )
    try:
        stock = AutoPipelineForImage2Image.from_pretrained(
            location, local_files_only=local_only, **{_DTYPE_ARGUMENT: dtype}
        )
    except (OSError, ValueError) as exc:
        raise ModelNotFoundError(_missing_model_message(config, exc)) from exc

    pipeline = make_differential(stock)
    pipeline.to(device)
    pipeline.set_progress_bar_config(disable=True)
    # PyTorch's scaled-dot-product attention picks flash or memory-efficient kernels itself.
    pipeline.unet.set_attn_processor(AttnProcessor2_0())
    pipeline.vae.set_attn_processor(AttnProcessor2_0())
    if device.type == "cuda":
        # Decode one image at a time, so a batch of 8 does not multiply the VAE's peak memory.
        pipeline.vae.enable_slicing()
    if config.compile:
        pipeline.unet = torch.compile(pipeline.unet)

    engine = Engine(
        pipeline=pipeline,
        config=config,
        model=config.model,
        device=device,
        dtype=dtype,
        load_seconds=time.perf_counter() - started,
    )
    logger.info(
        "Loaded %s (%s) on %s in %.1f s",
        config.model,
        type(pipeline).__name__,
        device,
        engine.load_seconds,
    )
    return engine


def _missing_model_message(config: EngineConfig, exc: Exception) -> str:
    model = config.model
    if model.startswith(("/", ".", "~")) or Path(model).expanduser().exists():
        remedy = (
            f"the folder {model} must contain a diffusers checkpoint (model_index.json); "
            "create it with `save_pretrained` or point WEARVIEW_MODEL elsewhere"
        )
    elif not config.allow_download:
        remedy = (
            f"download it once with `hf download {model}` on a machine with network access "
            "and share the Hugging Face cache, set WEARVIEW_ALLOW_DOWNLOAD=1, or set "
            "WEARVIEW_MODEL to a local folder"
        )
    else:
        remedy = "check the model id and the network, or set WEARVIEW_MODEL to a local folder"
    return f"model {model!r} could not be loaded ({type(exc).__name__}: {exc}); {remedy}"


_ENGINE: Engine | None = None
_ENGINE_LOCK = threading.Lock()


def get_engine(config: EngineConfig | None = None) -> Engine:
    """Return this process's engine, loading it on first use.

    The model is loaded once per process. A call with a different configuration replaces
    the cached engine.
    """
    global _ENGINE
    requested = config or engine_config_from_env()
    with _ENGINE_LOCK:
        if _ENGINE is None or _ENGINE.config != requested:
            _ENGINE = load_engine(requested)
        return _ENGINE


def release_engine() -> None:
    """Drop the cached engine and free accelerator memory."""
    global _ENGINE
    with _ENGINE_LOCK:
        _ENGINE = None
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def configure_vae_for(engine: Engine, height: int, width: int) -> None:
    """Enable VAE tiling for canvases above the configured pixel count, disable it below."""
    if height * width > engine.config.vae_tiling_pixels:
        engine.pipeline.vae.enable_tiling()
    else:
        engine.pipeline.vae.disable_tiling()
