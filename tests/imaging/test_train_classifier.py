import numpy as np

from bench.train_classifier import fit_logistic, fit_temperature, leave_one_out, repeated_kfold


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

    values = leave_one_out(doubled, labels, l2=0.01, groups=groups)
    accuracy = np.mean((values > 0) == (labels > 0.5))

    assert accuracy < 0.8


def test_leave_one_out_separable_accurate():
    features, targets = separable()

    values = leave_one_out(features, targets, l2=1.0)

    assert np.mean((values > 0) == (targets > 0.5)) >= 0.8


def test_repeated_kfold_reports_spread():
    features, targets = separable()
    groups = np.arange(len(targets))

    mean, spread = repeated_kfold(
        features, targets, 1.0, groups, np.ones(len(targets), bool), repeats=3
    )

    assert 0.85 <= mean <= 1.0
    assert spread >= 0.0


def test_fit_temperature_widens_overconfident_scores():
    targets = np.array([0.0, 1.0] * 20)
    # Scores that point the right way only 60 % of the time but with large magnitude.
    values = np.where(np.arange(40) % 5 < 3, 1.0, -1.0) * (2 * targets - 1) * 8.0

    assert fit_temperature(values, targets) > 3.0
