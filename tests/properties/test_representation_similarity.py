"""Linear CKA with the minibatch unbiased HSIC estimator (Kornblith et al. 2019; Nguyen et al. 2021)."""

import numpy as np
import pytest

from beyond_imagenet.properties.representation_similarity.compute import cka_matrix, hsic1, linear_cka, minibatches

RNG = np.random.default_rng(0)
X = RNG.standard_normal((512, 20))


def _full_batch_cka(x, y):
    """Biased full-batch linear CKA by its textbook formula: ||Yᵀ X||_F² / (||Xᵀ X||_F ||Yᵀ Y||_F), centred."""
    x, y = x - x.mean(0), y - y.mean(0)
    return np.linalg.norm(y.T @ x) ** 2 / (np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y))


def test_a_representation_is_fully_similar_to_itself():
    assert linear_cka(X, X, batch_size=128) == pytest.approx(1.0)


def test_invariant_to_orthogonal_transforms_and_isotropic_scaling():
    q, _ = np.linalg.qr(RNG.standard_normal((20, 20)))
    y = X @ np.diag(np.linspace(1, 3, 20)) + 0.5 * RNG.standard_normal((512, 20))
    base = linear_cka(X, y, 128)
    assert linear_cka(X @ q, y, 128) == pytest.approx(base, abs=1e-10)
    assert linear_cka(7.5 * X, y, 128) == pytest.approx(base, abs=1e-10)


def test_not_invariant_to_an_invertible_non_orthogonal_map():
    stretch = np.eye(20)
    stretch[5, 5] = 50.0  # invertible, not orthogonal: a direction Y does not use dominates the Gram matrix
    y = X[:, :5] + 0.1 * RNG.standard_normal((512, 5))
    assert linear_cka(X, y, 128) > 0.4 and linear_cka(X @ stretch, y, 128) < 0.05


def test_minibatch_estimate_agrees_with_the_full_batch_one():
    y = X @ RNG.standard_normal((20, 8)) + 2.0 * RNG.standard_normal((512, 8))
    assert linear_cka(X, y, batch_size=64) == pytest.approx(_full_batch_cka(X, y), abs=0.03)


def _hsic_u_statistic(k, l):
    """HSIC_1 as the U-statistic it is (Song et al. 2012): the mean over ordered 4-tuples of distinct images
    of k_ij l_ij + k_ij l_qr - 2 k_ij l_iq, by brute force."""
    import itertools

    terms = [k[i, j] * l[i, j] + k[i, j] * l[q, r] - 2 * k[i, j] * l[i, q]
             for i, j, q, r in itertools.permutations(range(len(k)), 4)]
    return float(np.mean(terms))


def test_hsic1_equals_its_u_statistic_on_a_small_example():
    x, y = RNG.standard_normal((6, 3)), RNG.standard_normal((6, 2))
    k, l = x @ x.T, y @ y.T
    assert hsic1(k, l) == pytest.approx(_hsic_u_statistic(k, l), rel=1e-10)
    assert hsic1(k, k) == pytest.approx(_hsic_u_statistic(k, k), rel=1e-10)


def test_a_layers_by_layers_map_is_symmetric_with_a_unit_diagonal():
    layers = [X, X @ RNG.standard_normal((20, 10)), np.tanh(X[:, :7])]
    matrix = cka_matrix(layers, layers, 100)
    np.testing.assert_allclose(np.diag(matrix), 1.0)
    np.testing.assert_allclose(matrix, matrix.T, atol=1e-12)


def test_minibatches_cover_every_image_once_and_none_is_too_small():
    parts = minibatches(1030, 256)
    assert sorted(np.concatenate(parts).tolist()) == list(range(1030)) and min(map(len, parts)) >= 4
    assert len(minibatches(9, 256)) == 1
    with pytest.raises(ValueError, match="at least 4"):
        minibatches(3, 256)
