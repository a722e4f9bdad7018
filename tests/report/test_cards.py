"""Cards: the weakest classes line comes from the class-balance property's per-class rows, lowest first."""

import pandas as pd

from beyond_imagenet.report.cards import weakest_classes
from beyond_imagenet.store.rows import metric_frame


def test_weakest_classes_are_the_lowest_per_class_top1_of_the_model_by_name():
    rows = [{"model": model, "property": "class_balance", "dataset": "val", "key": f"class/{wnid}",
             "metric": "class_top1_pct", "value": value, "n": 50}
            for model, wnid, value in [("a", "n01440764", 80.0), ("a", "n01443537", 10.0), ("a", "n02099601", 10.0),
                                       ("b", "n01440764", 0.0)]]
    rows.append({"model": "a", "property": "class_balance", "dataset": "val", "key": "imagenet_val",
                 "metric": "class_balance", "value": 0.7, "n": 150})
    (line,) = weakest_classes(metric_frame(rows), "a", count=2)
    # ties by wnid: goldfish (n01443537) before golden retriever; model b's tench is not model a's
    # the dataset named by its rows' key (its role): a renamed dataset id changes no card
    assert line == ("weakest classes on imagenet_val (top-1 of the class): goldfish 10.0% (n 50); golden retriever "
                    "10.0% (n 50)")
    assert weakest_classes(pd.DataFrame(rows).iloc[:0], "a") == []
