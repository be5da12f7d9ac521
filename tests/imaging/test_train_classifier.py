import numpy as np

from bench.train_classifier import (
    L2_GRID,
    choose_l2,
    class_rates,
    confidence_table,
    fit_logistic,
    fit_temperature,
    leave_one_out,
    repeated_kfold,
)


def separable(count=40, seed=0):
    rng = np.random.default_rng(seed)
    targets = np.repeat([0.0, 1.0], count // 2)
    features = rng.normal(0.0, 1.0, (count, 3))
    features[:, 0] += 3.0 * targets
    return features, targets


def test_fit_logistic_learns_signal_sign():
    features, targets = separable()

    weights = fit_logistic(features, targets, l2=1.0)

    assert weights[0] > 1.0
    assert abs(weights[1]) < weights[0] / 3


def test_leave_one_out_holds_out_groups():
    features, targets = separable()
    # Each photo appears twice; a leak of the held-out copy would make noise learnable.
    noise = np.random.default_rng(1).normal(size=(40, 3))
    doubled = np.vstack([noise, noise])
    labels = np.concatenate([targets, targets])
    groups = np.concatenate([np.arange(40), np.arange(40)])

    values, _ = leave_one_out(doubled, labels, l2=0.01, groups=groups)
    accuracy = np.mean((values > 0) == (labels > 0.5))

    assert accuracy < 0.8


def test_leave_one_out_separable_accurate():
    features, targets = separable()

    values, penalties = leave_one_out(features, targets, l2=1.0)

    assert np.mean((values > 0) == (targets > 0.5)) >= 0.8
    assert penalties == [1.0] * len(targets)


def test_leave_one_out_nested_penalty_per_group():
    features, targets = separable()
    # Pairs of rows with the same label stand for a photo and its resized copy.
    groups = np.arange(len(targets)) // 2

    values, penalties = leave_one_out(features, targets, l2=None, groups=groups)

    assert len(penalties) == len(np.unique(groups))
    assert set(penalties) <= set(L2_GRID)
    assert np.mean((values > 0) == (targets > 0.5)) >= 0.8


def test_choose_l2_strong_penalty_on_noise():
    rng = np.random.default_rng(3)
    targets = np.repeat([0.0, 1.0], 30)
    noise = rng.normal(size=(60, 20))
    groups = np.arange(60)

    assert choose_l2(noise, targets, groups, np.ones(60, bool)) == max(L2_GRID)


def test_choose_l2_weak_penalty_on_clear_signal():
    features, targets = separable(count=60)
    features[:, 0] += 3.0 * targets
    groups = np.arange(60)

    assert choose_l2(features, targets, groups, np.ones(60, bool)) <= 1.0


def test_class_rates_counts_both_classes():
    predicted = np.array([True, True, False, False, False])
    truth = np.array([True, False, False, False, True])

    rates = class_rates(predicted, truth)

    assert rates["on_model_precision"] == 0.5
    assert rates["on_model_recall"] == 0.5
    assert rates["product_only_precision"] == round(2 / 3, 4)
    assert rates["product_only_recall"] == round(2 / 3, 4)


def test_confidence_table_confident_rows_accurate():
    targets = np.array([1.0, 1.0, 0.0, 0.0])
    # Two confident correct scores, one weak correct score and one weak wrong one.
    values = np.array([4.0, 0.1, -4.0, 0.2])

    table = confidence_table(values, targets, temperature=1.0)

    assert table[0] == {"confidence_at_least": 0.5, "share": 1.0, "accuracy": 0.75}
    assert table[-1] == {"confidence_at_least": 0.9, "share": 0.5, "accuracy": 1.0}


def test_repeated_kfold_reports_spread():
    features, targets = separable()
    groups = np.arange(len(targets))

    result = repeated_kfold(features, targets, 1.0, groups, np.ones(len(targets), bool), repeats=3)

    assert 0.85 <= result.mean <= 1.0
    assert result.std >= 0.0
    assert result.rates["on_model_recall"] >= 0.8
    assert result.rates["product_only_recall"] >= 0.8


def test_fit_temperature_widens_overconfident_scores():
    targets = np.array([0.0, 1.0] * 20)
    # Scores that point the right way only 60 % of the time but with large magnitude.
    values = np.where(np.arange(40) % 5 < 3, 1.0, -1.0) * (2 * targets - 1) * 8.0

    assert fit_temperature(values, targets) > 3.0
