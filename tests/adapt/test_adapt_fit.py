"""The maths of site adaptation: the regularised softmax regression, the prompt prior, folds and calibration."""

from __future__ import annotations

import numpy as np
import pytest

from slap_edge.adapt.fit import AdaptConfig, calibrate, fit_section, speaker_folds
from slap_edge.adapt.logistic import fit_softmax_regression
from slap_edge.runtime.decision import DecisionConfig, SectionDecision


def _data(n: int, d: int, k: int, seed: int = 0, shift: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    x = rng.normal(size=(n, d))
    x[np.arange(n), y] += shift * np.sqrt(d)  # each class leans along its own axis
    return x / np.linalg.norm(x, axis=1, keepdims=True), y


@pytest.mark.parametrize("c", [0.1, 1.0, 100.0])
def test_plain_case_matches_scikit_learn_multinomial(c: float) -> None:
    from sklearn.linear_model import LogisticRegression

    x, y = _data(60, 24, 3)
    head = fit_softmax_regression(x, y, 3, c)
    ref = LogisticRegression(C=c, max_iter=20000, tol=1e-10).fit(x, y)
    np.testing.assert_allclose(head.probs(x), ref.predict_proba(x), atol=1e-6)
    np.testing.assert_allclose(head.weights, ref.coef_, atol=1e-4 * max(1.0, np.abs(ref.coef_).max()))


@pytest.mark.parametrize("c", [0.1, 10.0])
def test_plain_binary_matches_scikit_learn(c: float) -> None:
    """Two softmax rows with penalty |w0|^2 + |w1|^2 settle at w1 = -w0, which is binary logistic regression with
    twice the C; more dimensions than clips (D > n) exercises the solve in the clips' span."""
    from sklearn.linear_model import LogisticRegression

    x, y = _data(30, 128, 2, seed=3)
    head = fit_softmax_regression(x, y, 2, c)
    ref = LogisticRegression(C=2 * c, max_iter=20000, tol=1e-10).fit(x, y)
    np.testing.assert_allclose(head.probs(x), ref.predict_proba(x), atol=1e-6)
    np.testing.assert_allclose(head.weights[1] - head.weights[0], ref.coef_[0], atol=1e-4)


def test_prior_pulls_toward_prompts_and_clips_pull_away() -> None:
    x, y = _data(40, 16, 2, seed=1)
    prior = np.zeros((2, 16))
    prior[0, 5], prior[1, 5] = 20.0, -20.0  # a "prompt" direction that the data do not use
    tight = fit_softmax_regression(x, y, 2, 1e-6, prior_weights=prior, penalise_bias=True)
    np.testing.assert_allclose(tight.weights, prior, atol=1e-3)
    np.testing.assert_allclose(tight.bias, 0.0, atol=1e-3)
    loose = fit_softmax_regression(x, y, 2, 1e3, prior_weights=prior, penalise_bias=True)
    acc = np.mean(loose.probs(x).argmax(1) == y)
    assert acc > 0.9 and np.abs(loose.weights - prior).max() > 1.0


def test_prior_fits_a_class_without_clips_but_plain_refuses() -> None:
    x, y = _data(10, 8, 2)
    y[:] = 0
    prior = np.eye(2, 8) * 10
    head = fit_softmax_regression(x, y, 2, 1.0, prior_weights=prior, penalise_bias=True)
    assert np.all(np.isfinite(head.weights))
    with pytest.raises(ValueError, match="every class needs at least one clip"):
        fit_softmax_regression(x, y, 2, 1.0)


def test_speaker_folds_never_split_a_speaker() -> None:
    groups = np.array([f"s{i // 3}" for i in range(36)], dtype=object)
    y = np.array([int(i // 3) % 2 for i in range(36)])
    folds, kind = speaker_folds(y, groups, 5, seed=0)
    assert kind == "5-fold by speaker" and len(folds) == 5
    for train, test in folds:
        assert not set(groups[train]) & set(groups[test])
        assert set(y[test]) == {0, 1}  # labels dealt round-robin: every fold holds both
    folds, kind = speaker_folds(y[:9], groups[:9], 5, seed=0)
    assert kind == "leave-one-speaker-out" and len(folds) == 3


def test_calibration_meets_the_false_alarm_rate() -> None:
    rng = np.random.default_rng(0)
    y = np.array([0] * 200 + [1] * 200)
    p1 = np.concatenate([rng.beta(2, 5, 200), rng.beta(5, 2, 200)])
    probs = np.stack([1 - p1, p1], axis=1)
    thresholds, facts = calibrate(probs, y, ("neg", "pos"), target_far=0.05)
    far = np.mean(p1[y == 0] >= thresholds[1])
    assert far <= 0.05 and far >= 0.04  # as close to the target as 200 negatives allow
    assert facts["pos"]["far"] == pytest.approx(far) and 0 < facts["pos"]["recall"] < 1
    # With 20 negatives 1 % cannot be measured: the threshold sits just above the highest negative.
    thresholds, _ = calibrate(probs[180:220], y[180:220], ("neg", "pos"), target_far=0.01)
    assert thresholds[1] > p1[180:200].max()


def test_fit_section_reports_all_three_and_stores_the_chosen_variant() -> None:
    x, y = _data(48, 16, 2, seed=2)
    labels = ("a", "b")
    speakers = [f"spk{i % 12}" for i in range(48)]
    vectors = {"a": np.eye(16)[0], "b": np.eye(16)[1]}
    head, info = fit_section(
        "s", x, [labels[i] for i in y], speakers, labels, vectors, 20.0, AdaptConfig(target_far=0.05)
    )
    cv = info["cv_macro_f1"]
    assert set(cv) >= {"zero_shot", "plain", "prior"} and all(cv[k] is not None for k in ("zero_shot", "plain"))
    assert info["variant"] == "prior" and info["head"] == "prior" and head.weights.shape == (2, 16)
    assert np.all(np.isfinite(head.thresholds))
    plain, info = fit_section("s", x, [labels[i] for i in y], speakers, labels, None, 20.0, AdaptConfig())
    assert info["variant"] == "plain" and "no prompts" in info["why"]
    with pytest.raises(ValueError, match="criterion must be one of"):
        AdaptConfig(criterion="accuracy")


@pytest.mark.parametrize("criterion", ["guarded", "guarded_1se", "log_loss", "f1"])
def test_choose_c_guarded_and_f1_never_lose_f1_against_the_strongest_pull(criterion: str) -> None:
    from slap_edge.adapt.fit import choose_c, oof_macro_f1, out_of_fold

    x, y = _data(40, 16, 2, seed=5, shift=0.15)
    groups = np.array([f"s{i}" for i in range(40)], dtype=object)
    folds, _ = speaker_folds(y, groups, 5, 0)
    prior = 20.0 * np.eye(2, 16)[::-1]  # prompts that point the wrong way: the clips must pull away
    cs = (0.001, 0.1, 10.0, 1000.0)
    c, oof, decided = choose_c(x, y, 2, prior, folds, cs, criterion=criterion)
    assert decided and oof is not None and not np.isnan(oof).any()
    strongest = oof_macro_f1(out_of_fold(x, y, 2, cs[0], prior, folds), y, 2)
    chosen = oof_macro_f1(oof, y, 2)
    if criterion != "log_loss":
        assert chosen >= strongest - 1e-9
    assert c > cs[0] and chosen > strongest  # wrong prompts: every criterion moves away from them


def test_one_standard_error_rule_pulls_at_least_as_hard_and_stays_within_one_se_of_the_lowest_loss() -> None:
    from slap_edge.adapt.fit import choose_c, clip_log_losses, out_of_fold

    x, y = _data(40, 16, 2, seed=3, shift=0.2)
    groups = np.array([f"s{i // 2}" for i in range(40)], dtype=object)
    folds, _ = speaker_folds(y, groups, 5, 0)
    prior = 20.0 * np.eye(2, 16)  # prompts that point the right way, loosely
    cs = (0.001, 0.01, 0.1, 1.0, 10.0, 100.0)
    c_best, _, _ = choose_c(x, y, 2, prior, folds, cs, criterion="guarded")
    c_1se, oof, decided = choose_c(x, y, 2, prior, folds, cs, criterion="guarded_1se")
    assert decided and c_1se < c_best  # on these clips the rule bites: a stronger pull within one SE
    diff = clip_log_losses(oof, y) - clip_log_losses(out_of_fold(x, y, 2, c_best, prior, folds), y)
    assert diff.mean() <= diff.std(ddof=1) / np.sqrt(diff.size) + 1e-9
    section, info = fit_section(
        "s",
        x,
        ["a" if v == 0 else "b" for v in y],
        groups.tolist(),
        ("a", "b"),
        {"a": np.eye(2, 16)[0], "b": np.eye(2, 16)[1]},
        20.0,
        AdaptConfig(criterion="guarded_1se"),
    )
    assert info["c_chosen_by"] == "cross-validation (guarded_1se)" and info["head"] == "prior"


def test_decision_uses_a_calibrated_threshold_per_label() -> None:
    cfg = DecisionConfig(smoothing_s=0.0, enter_prob=0.55, margin=0.1, min_dwell_s=0.0)
    strict = SectionDecision("s", ("a", "b"), cfg, 0.5, enter_probs=np.array([0.95, np.nan]))
    assert strict.update(np.array([0.9, 0.1])) is None  # a is below its calibrated 0.95
    assert strict.update(np.array([0.2, 0.8])).label == "b"  # b keeps enter_prob 0.55
    assert strict.update(np.array([0.97, 0.03])).label == "a"
    with pytest.raises(ValueError, match="enter_probs"):
        SectionDecision("s", ("a", "b"), cfg, 0.5, enter_probs=np.array([0.5]))


def test_logit_calibration_recovers_scale_and_offsets_and_keeps_the_logits_without_clips() -> None:
    from slap_edge.adapt.logistic import fit_logit_calibration, softmax64

    rng = np.random.default_rng(3)
    z = rng.normal(scale=2.0, size=(4000, 3))
    true_a, true_b = 0.5, np.array([1.0, -0.5, -0.5])
    p = softmax64(true_a * z + true_b)
    y = np.array([rng.choice(3, p=row) for row in p])
    a, b = fit_logit_calibration(z, y)
    assert a == pytest.approx(true_a, abs=0.05)
    np.testing.assert_allclose(b - b.mean(), true_b - true_b.mean(), atol=0.1)
    a0, b0 = fit_logit_calibration(np.zeros((0, 3)), np.zeros(0, dtype=int))
    assert a0 == 1.0 and np.all(b0 == 0.0)
    # Separable clips: the priors keep the fit finite.
    a_sep, b_sep = fit_logit_calibration(np.array([[1.0, -1.0], [-1.0, 1.0]]), np.array([0, 1]))
    assert np.isfinite(a_sep) and np.all(np.isfinite(b_sep)) and a_sep > 1.0
    with pytest.raises(ValueError, match="labels must be in"):
        fit_logit_calibration(z[:2], np.array([0, 3]))


def test_select_candidate_keeps_zero_shot_unless_another_is_strictly_better() -> None:
    from slap_edge.adapt.fit import Candidate, select_candidate

    def cands(**f1: float | None) -> dict[str, Candidate]:
        return {n: Candidate(n, None, None, v, None) for n, v in f1.items()}

    assert select_candidate(cands(zero_shot=0.8, calibrated=0.8, prior=0.8, calibrated_prior=0.8)) == "zero_shot"
    assert select_candidate(cands(zero_shot=0.8, calibrated=0.9, prior=0.7, calibrated_prior=0.9)) == "calibrated"
    assert select_candidate(cands(zero_shot=0.8, calibrated=0.85, prior=0.95, calibrated_prior=0.9)) == "prior"
    assert select_candidate(cands(zero_shot=None, calibrated=None, prior=None, calibrated_prior=None)) == "zero_shot"


def _offset_site(n: int = 60, d: int = 16, seed: int = 7) -> tuple[np.ndarray, np.ndarray, list[str], dict]:
    """Clips whose classes differ along axis 0 - axis 1 as the prompts say, but whose boundary is shifted: at this
    'site' every clip leans toward class a's prompt, so zero-shot calls most b clips a."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    x = rng.normal(scale=0.05, size=(n, d))
    x[:, 0] += 0.5 + np.where(y == 0, 0.15, -0.15)
    x[:, 1] += 0.5 - np.where(y == 0, 0.15, -0.15)
    x[:, 0] += 0.4  # the site's offset
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    speakers = [f"spk{i}" for i in range(n)]
    return x, y, speakers, {"a": np.eye(d)[0], "b": np.eye(d)[1]}


@pytest.mark.parametrize("variant", ["auto", "calibrated"])
def test_a_shifted_site_gets_a_fitted_head_and_a_matching_site_keeps_zero_shot(variant: str) -> None:
    from slap_edge.eval.metrics import macro_f1

    x, y, speakers, vectors = _offset_site()
    labels = ("a", "b")
    head, info = fit_section("s", x, [labels[i] for i in y], speakers, labels, vectors, 20.0, AdaptConfig(variant))
    cv = info["cv_macro_f1"]
    assert info["head"] != "zero_shot" and cv[info["head"]] > cv["zero_shot"]
    assert variant == "auto" or info["head"] == "calibrated"
    fresh_x, fresh_y, _, _ = _offset_site(seed=8)  # other clips of the same site
    zs = (fresh_x @ np.stack([vectors["a"], vectors["b"]]).T).argmax(1)
    adapted = [labels.index(v) for v in head.predict(fresh_x)]
    assert macro_f1(fresh_y.tolist(), adapted, [0, 1]) > macro_f1(fresh_y.tolist(), zs.tolist(), [0, 1]) + 0.2

    # Prompts that already separate the clips perfectly: nothing can beat them, so the exact zero-shot head is kept.
    x2, y2 = x.copy(), y.copy()
    x2[:, 0] = np.where(y2 == 0, 1.0, 0.0)
    x2[:, 1] = 1.0 - x2[:, 0]
    x2[:, 2:] = 0.0
    head, info = fit_section("s", x2, [labels[i] for i in y2], speakers, labels, vectors, 20.0, AdaptConfig(variant))
    assert info["head"] == "zero_shot" and "no gain" in info["why"]
    np.testing.assert_array_equal(head.weights, (20.0 * np.stack([vectors["a"], vectors["b"]])).astype(np.float32))
    np.testing.assert_array_equal(head.bias, np.zeros(2, np.float32))
    with pytest.raises(ValueError, match="variant must be one of"):
        AdaptConfig(variant="best")
