"""OOD detection: the scores, the ImageNet-O protocol (logits and in-distribution images restricted to its 200
classes), and the metrics equal to scikit-learn on the same restricted scores."""

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from beyond_imagenet.catalog.labels import imagenet_subset
from beyond_imagenet.properties.ood_detection.compute import (
    compute,
    confidences,
    headlines,
)
from beyond_imagenet.store.cache import CachedOutputs

DATASETS = {"imagenet_val": {"role": "imagenet_val"}, "imagenet_o": {"role": "imagenet_o"}}


def _cache(dataset, logits, labels, label_space="imagenet1k"):
    ids = np.array([f"{dataset}/{k}.JPEG" for k in range(len(labels))], dtype=object)
    return CachedOutputs(np.asarray(logits, np.float32), np.asarray(labels), ids, None,
                         {"dataset": dataset, "view": "standard", "part": None, "label_space": label_space})


def test_scores_by_hand():
    logits = np.array([[2.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    found = confidences(logits)
    assert found["msp"] == pytest.approx([np.exp(2) / (np.exp(2) + 2), 1 / 3])
    assert found["max_logit"].tolist() == [2.0, 1.0]
    assert found["energy"] == pytest.approx([np.log(np.exp(2) + 2), 1 + np.log(3)])


def _world(rng):
    subset = imagenet_subset("imagenet_o")
    outside = np.setdiff1d(np.arange(1000), subset)
    val_labels = np.r_[rng.choice(subset, 60), rng.choice(outside, 40)]
    val_logits = rng.normal(size=(100, 1000))
    val_logits[np.arange(100), val_labels] += 4.0  # confident on val
    ood_logits = rng.normal(size=(30, 1000))
    ood_logits[:, outside[0]] += 9.0  # OOD images: confident only on a class outside the 200
    return subset, val_labels, val_logits, ood_logits


def test_imagenet_o_protocol_restricts_classes_and_in_distribution_images():
    rng = np.random.default_rng(0)
    subset, val_labels, val_logits, ood_logits = _world(rng)
    caches = [_cache("imagenet_val", val_logits, val_labels),
              _cache("imagenet_o", ood_logits, np.full(30, subset[0]), label_space="imagenet_o")]
    rows, outcomes = compute("m", caches, {}, DATASETS)
    aupr = rows[(rows["key"] == "imagenet_o/msp") & (rows["metric"] == "aupr_pct")].iloc[0]
    assert aupr["n"] == 60 + 30  # only val images of the 200 classes are in-distribution
    inside = np.isin(val_labels, subset)
    msp_in = confidences(val_logits[inside][:, subset])["msp"]
    msp_out = confidences(ood_logits[:, subset])["msp"]  # the class outside the 200 does not count
    y = np.r_[np.zeros(len(msp_in)), np.ones(len(msp_out))]
    assert aupr["value"] / 100 == pytest.approx(average_precision_score(y, -np.r_[msp_in, msp_out]), abs=1e-12)
    auroc = rows[(rows["key"] == "imagenet_o/energy") & (rows["metric"] == "auroc_pct")]["value"].iloc[0]
    energy = confidences(np.r_[val_logits[inside][:, subset], ood_logits[:, subset]])["energy"]
    assert auroc / 100 == pytest.approx(roc_auc_score(y, -energy), abs=1e-12)
    assert set(outcomes) == {("imagenet_o", f"imagenet_o/{s}", m) for s in ("msp", "max_logit", "energy")
                             for m in ("aupr_pct", "auroc_pct", "fpr95_pct")}
    # unrestricted, the OOD images' one confident logit would make them look in-distribution
    unrestricted, _ = compute("m", caches[:1] + [_cache("imagenet_o", ood_logits, np.full(30, subset[0]))], {},
                              DATASETS)
    assert unrestricted[(unrestricted["key"] == "imagenet_o/msp") & (unrestricted["metric"] == "aupr_pct")][
        "value"].iloc[0] < aupr["value"]


def test_no_in_distribution_image_is_an_error_naming_it():
    rng = np.random.default_rng(1)
    subset, _, val_logits, ood_logits = _world(rng)
    outside = np.setdiff1d(np.arange(1000), subset)
    caches = [_cache("imagenet_val", val_logits, np.full(100, outside[3])),
              _cache("imagenet_o", ood_logits, np.full(30, subset[0]), label_space="imagenet_o")]
    with pytest.raises(ValueError, match="nothing is in-distribution"):
        compute("m", caches, {}, DATASETS)
    with pytest.raises(ValueError, match="role: imagenet_val"):
        compute("m", caches[1:], {}, {"imagenet_o": {"role": "imagenet_o"}})


def test_headline_is_the_msp_aupr_on_imagenet_o():
    (headline,) = headlines({}, DATASETS)
    assert (headline.key, headline.metric, headline.dataset, headline.missing) == (
        "imagenet_o/msp", "aupr_pct", "imagenet_o", "")
    assert headlines({}, {"imagenet_val": {"role": "imagenet_val"}})[0].missing


def test_an_ood_set_of_ones_own_is_scored_over_all_1000_classes():
    rng = np.random.default_rng(2)
    _, val_labels, val_logits, ood_logits = _world(rng)
    own = [_cache("imagenet_val", val_logits, val_labels), _cache("mine", ood_logits, np.full(30, -1), "none")]
    full = [own[0], _cache("mine", ood_logits, np.full(30, 0))]
    datasets = {"imagenet_val": {"role": "imagenet_val"}, "mine": {}}
    rows_none, _ = compute("m", own, {}, datasets)
    rows_full, _ = compute("m", full, {}, datasets)
    assert rows_none["value"].tolist() == rows_full["value"].tolist() and (rows_none["n"] == 130).all()
