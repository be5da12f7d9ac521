import dataclasses
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from wearview.engine import loading
from wearview.engine.data import make_tiny_tokenizer
from wearview.engine.errors import EngineInputError, ModelNotFoundError
from wearview.engine.loading import (
    EngineConfig,
    configure_vae_for,
    engine_config_from_env,
    get_engine,
    load_engine,
    resolve_dtype,
)
from wearview.engine.tiny import TOKENIZER_DIR, build_tiny_pipeline, ensure_tiny_pipeline


def test_engine_config_from_env_defaults():
    config = engine_config_from_env({"WEARVIEW_VAR_DIR": "/srv/wearview/var"})

    assert config.model == "tiny"
    assert config.allow_download is False
    assert config.device == "auto"
    assert config.max_batch == 8
    assert config.cache_dir == Path("/srv/wearview/var/models")


def test_engine_config_from_env_reads_values():
    config = engine_config_from_env(
        {
            "WEARVIEW_MODEL": "stabilityai/stable-diffusion-xl-base-1.0",
            "WEARVIEW_ALLOW_DOWNLOAD": "1",
            "WEARVIEW_ENGINE_DEVICE": "cuda:1",
            "WEARVIEW_ENGINE_DTYPE": "fp16",
            "WEARVIEW_ENGINE_COMPILE": "true",
            "WEARVIEW_ENGINE_MAX_BATCH": "4",
            "WEARVIEW_ENGINE_CACHE_DIR": "/models",
        }
    )

    assert config.model == "stabilityai/stable-diffusion-xl-base-1.0"
    assert config.allow_download is True
    assert (config.device, config.dtype, config.compile) == ("cuda:1", "fp16", True)
    assert config.max_batch == 4
    assert config.cache_dir == Path("/models")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WEARVIEW_ENGINE_DTYPE", "fp8"),
        ("WEARVIEW_ENGINE_DEVICE", "tpu"),
        ("WEARVIEW_ENGINE_MAX_BATCH", "0"),
        ("WEARVIEW_ALLOW_DOWNLOAD", "maybe"),
    ],
)
def test_engine_config_from_env_invalid_value(name, value):
    with pytest.raises(EngineInputError, match=f"{name}={value!r} is invalid"):
        engine_config_from_env({name: value})


def test_resolve_dtype_cpu_is_fp32():
    assert resolve_dtype(EngineConfig(), torch.device("cpu")) == torch.float32
    with pytest.raises(EngineInputError, match="fp16 is not supported on the CPU"):
        resolve_dtype(EngineConfig(dtype="fp16"), torch.device("cpu"))


def test_load_engine_missing_hub_model_names_model(tmp_path):
    config = EngineConfig(model="wearview-tests/no-such-model", device="cpu", cache_dir=tmp_path)

    with pytest.raises(ModelNotFoundError) as raised:
        load_engine(config)

    message = str(raised.value)
    assert message.startswith("model 'wearview-tests/no-such-model' could not be loaded")
    assert "WEARVIEW_ALLOW_DOWNLOAD=1" in message
    assert "hf download wearview-tests/no-such-model" in message


def test_load_engine_missing_folder_names_folder(tmp_path):
    folder = tmp_path / "no-checkpoint"
    folder.mkdir()

    with pytest.raises(ModelNotFoundError, match="must contain a diffusers checkpoint"):
        load_engine(EngineConfig(model=str(folder), device="cpu", cache_dir=tmp_path))


def test_load_engine_local_folder_like_real_checkpoint(engine, tmp_path):
    folder = ensure_tiny_pipeline(engine.config.cache_dir)

    loaded = load_engine(EngineConfig(model=str(folder), device="cpu", cache_dir=tmp_path))

    assert type(loaded.pipeline).__name__ == "DifferentialStableDiffusionPipeline"
    assert loaded.model == str(folder)
    assert loaded.vae_scale_factor == 8
    assert loaded.native_size == 256


def test_get_engine_loads_once_per_config(tmp_path, monkeypatch):
    loads = []
    monkeypatch.setattr(
        loading,
        "load_engine",
        lambda config: loads.append(config) or SimpleNamespace(config=config),
    )
    monkeypatch.setattr(loading, "_ENGINE", None)
    config = EngineConfig(device="cpu", cache_dir=tmp_path)

    first = get_engine(config)
    second = get_engine(config)

    assert first is second
    assert loads == [config]


def test_build_tiny_pipeline_is_deterministic():
    first = build_tiny_pipeline().unet.state_dict()
    second = build_tiny_pipeline().unet.state_dict()
    other = build_tiny_pipeline(seed=1).unet.state_dict()

    assert all(torch.equal(first[name], second[name]) for name in first)
    assert not torch.equal(first["conv_in.weight"], other["conv_in.weight"])


def test_ensure_tiny_pipeline_saves_once(tmp_path):
    folder = ensure_tiny_pipeline(tmp_path)
    stamp = (folder / "model_index.json").stat().st_mtime_ns

    again = ensure_tiny_pipeline(tmp_path)

    assert again == folder
    assert (folder / "model_index.json").stat().st_mtime_ns == stamp
    index = json.loads((folder / "model_index.json").read_text())
    assert index["_class_name"] == "StableDiffusionImg2ImgPipeline"
    assert [p.name for p in tmp_path.iterdir()] == [folder.name]


def test_tiny_tokenizer_files_match_generator():
    vocab, merges = make_tiny_tokenizer.build_vocabulary()

    assert json.loads((TOKENIZER_DIR / "vocab.json").read_text()) == vocab
    lines = (TOKENIZER_DIR / "merges.txt").read_text().splitlines()
    assert lines[1:] == [f"{left} {right}" for left, right in merges]
    assert len(vocab) == make_tiny_tokenizer.VOCAB_SIZE


def test_configure_vae_for_large_canvas(engine):
    small_limit = dataclasses.replace(engine.config, vae_tiling_pixels=256 * 256)
    limited = dataclasses.replace(engine, config=small_limit)

    configure_vae_for(limited, 512, 512)
    tiled = engine.pipeline.vae.use_tiling
    configure_vae_for(limited, 256, 256)

    assert tiled is True
    assert engine.pipeline.vae.use_tiling is False
