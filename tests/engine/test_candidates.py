import numpy as np
import pytest

from tests.engine.conftest import make_garment_scene
from wearview.engine import candidates as candidates_module
from wearview.engine.candidates import (
    Candidate,
    CandidateJob,
    choose_auto_strength,
    generate_candidate_sets,
    levels_for,
    rank_candidates,
    scale_strength,
)
from wearview.engine.errors import EngineInputError
from wearview.imaging.strength import strength_map


def _job(source, mask, **overrides):
    fields = dict(
        source=source,
        mask=mask,
        strength=strength_map(np.asarray(mask), preset="reimagine"),
        prompt="a person wearing a striped shirt",
        negative_prompt="blurry",
        preset="reimagine",
        seeds=(1,),
        strength_levels=(0.75,),
        steps=8,
        guidance_scale=5.0,
        width=96,
        height=96,
    )
    fields.update(overrides)
    return CandidateJob(**fields)


def _core(mask, margin=6):
    rows, cols = np.nonzero(mask)
    return (
        slice(rows.min() + margin, rows.max() - margin),
        slice(cols.min() + margin, cols.max() - margin),
    )


def test_generate_candidates_full_resolution_composite(engine):
    source, mask = make_garment_scene(300, 240)

    (result,) = generate_candidate_sets(engine, [_job(source, mask, width=96, height=96)])

    (candidate,) = result.candidates
    assert candidate.image.shape == (300, 240, 3)
    core = _core(mask)
    assert np.array_equal(candidate.image[core], source[core])
    assert not np.array_equal(candidate.image[:20, :20], source[:20, :20])


def test_generate_candidates_size_not_divisible_by_8(engine):
    source, mask = make_garment_scene(75, 101)

    (result,) = generate_candidate_sets(engine, [_job(source, mask, width=101, height=75)])

    assert result.candidates[0].image.shape == (75, 101, 3)


def test_generate_candidates_rgba_and_grayscale(engine):
    source, mask = make_garment_scene(80, 64)
    alpha = np.where(mask, 255, 0).astype(np.uint8)
    rgba = np.dstack([source, alpha])
    gray = source.mean(axis=2).astype(np.uint8)

    rgba_set, gray_set = generate_candidate_sets(
        engine, [_job(rgba, mask, width=64, height=80), _job(gray, mask, width=64, height=80)]
    )

    core = _core(mask)
    rgba_image = rgba_set.candidates[0].image
    gray_image = gray_set.candidates[0].image
    assert rgba_image.shape == gray_image.shape == (80, 64, 3)
    assert np.array_equal(rgba_image[core], source[core])
    assert np.array_equal(gray_image[core][..., 0], gray[core])
    assert np.array_equal(gray_image[core][..., 1], gray[core])


def test_generate_candidates_same_seed_same_image(engine):
    source, mask = make_garment_scene(64, 64)
    job = _job(source, mask, seeds=(11, 12), width=64, height=64)

    (first,) = generate_candidate_sets(engine, [job])
    (second,) = generate_candidate_sets(engine, [job])

    by_seed_first = {c.seed: c.image for c in first.candidates}
    by_seed_second = {c.seed: c.image for c in second.candidates}
    assert np.array_equal(by_seed_first[11], by_seed_second[11])
    assert np.array_equal(by_seed_first[12], by_seed_second[12])
    assert not np.array_equal(by_seed_first[11], by_seed_first[12])


def test_generate_candidates_seeds_times_levels(engine):
    source, mask = make_garment_scene(64, 64)
    job = _job(source, mask, seeds=(1, 2), strength_levels=(0.5, 0.8), width=64, height=64)

    (result,) = generate_candidate_sets(engine, [job])

    pairs = sorted((c.seed, c.strength) for c in result.candidates)
    assert pairs == [(1, 0.5), (1, 0.8), (2, 0.5), (2, 0.8)]
    assert [c.rank for c in result.candidates] == [1, 2, 3, 4]
    assert result.auto_strength is None
    for candidate in result.candidates:
        assert candidate.background_strength == pytest.approx(candidate.strength, abs=0.01)
        assert candidate.garment_strength < candidate.background_strength / 3
        assert set(candidate.scores) >= {"ssim", "seam"}
    assert result.steps_run == 6


def test_generate_candidates_auto_strength_picks_strongest_passing(engine, monkeypatch):
    real_finish = candidates_module._finish_candidate

    def gate_at_070(job, canvas, row, image):
        candidate = real_finish(job, canvas, row, image)
        candidate.passed = row.level <= 0.70
        candidate.reason = None if candidate.passed else "ssim below 0.90"
        return candidate

    monkeypatch.setattr(candidates_module, "_finish_candidate", gate_at_070)
    source, mask = make_garment_scene(64, 64)
    job = _job(source, mask, seeds=(1, 2), strength_levels="auto", width=64, height=64)

    (result,) = generate_candidate_sets(engine, [job])

    assert result.levels_tried == [0.85, 0.77, 0.68]
    assert result.auto_strength == 0.68
    assert len(result.candidates) == 6
    assert all(c.passed for c in result.candidates[:2])
    assert {c.strength for c in result.candidates[:2]} == {0.68}


def test_generate_candidates_auto_strength_none_passing(engine, monkeypatch):
    real_finish = candidates_module._finish_candidate

    def always_fail(job, canvas, row, image):
        candidate = real_finish(job, canvas, row, image)
        candidate.passed = False
        return candidate

    monkeypatch.setattr(candidates_module, "_finish_candidate", always_fail)
    source, mask = make_garment_scene(64, 64)
    job = _job(source, mask, strength_levels="auto", preset="retouch", width=64, height=64)

    (result,) = generate_candidate_sets(engine, [job])

    assert result.auto_strength is None
    assert result.levels_tried == [0.4, 0.33, 0.27, 0.2]
    assert len(result.candidates) == 4


def test_generate_candidates_batches_jobs_together(engine, monkeypatch):
    calls = []
    original = engine.pipeline.generate_differential

    def spy(**kwargs):
        calls.append(len(kwargs["row_sources"]))
        return original(**kwargs)

    monkeypatch.setattr(engine.pipeline, "generate_differential", spy)
    first = make_garment_scene(64, 64, seed=1)
    second = make_garment_scene(64, 64, seed=2)

    sets = generate_candidate_sets(
        engine,
        [
            _job(*first, seeds=(1, 2), width=64, height=64),
            _job(*second, seeds=(3,), width=64, height=64),
        ],
    )

    assert calls == [3]
    assert [len(s.candidates) for s in sets] == [2, 1]


def test_rank_candidates_orders_pass_then_score():
    def make(seed, passed, score, strength=0.5):
        return Candidate(
            seed, strength, 0.05, strength, np.zeros((1, 1, 3)), passed, None, {}, score
        )

    ranked = rank_candidates(
        [make(1, False, 0.99), make(2, True, 0.6), make(3, True, 0.9), make(4, True, 0.6, 0.7)]
    )

    assert [c.seed for c in ranked] == [3, 4, 2, 1]
    assert [c.rank for c in ranked] == [1, 2, 3, 4]


def test_choose_auto_strength_needs_half_passing():
    def make(passed, strength):
        return Candidate(0, strength, 0.0, strength, np.zeros((1, 1, 3)), passed, None, {}, 0.5)

    level = [make(True, 0.8), make(False, 0.8), make(False, 0.8), make(False, 0.6)]
    assert choose_auto_strength(level, 0.8) is False
    assert choose_auto_strength(level + [make(True, 0.8)], 0.8) is True
    assert choose_auto_strength(level, 0.5) is False


def test_levels_for_auto_unknown_preset():
    source, mask = make_garment_scene(64, 64)

    with pytest.raises(EngineInputError, match="unknown preset 'glamour'"):
        levels_for(_job(source, mask, preset="glamour", strength_levels="auto"))


def test_scale_strength_sets_background():
    strength = np.array([[0.08, 0.75]], dtype=np.float32)

    scaled = scale_strength(strength, 0.5)

    assert scaled[0].tolist() == pytest.approx([0.08 * 0.5 / 0.75, 0.5])


def test_scale_strength_zero_map():
    with pytest.raises(EngineInputError, match="0 everywhere"):
        scale_strength(np.zeros((2, 2), dtype=np.float32), 0.5)
