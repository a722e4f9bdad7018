"""Dataset roles: the schema accepts exactly the catalog's roles, every public source is a role, keys follow roles."""

from beyond_imagenet.catalog.public_datasets import DATASET_SOURCES, REAL_LABELS
from beyond_imagenet.catalog.roles import DATASET_ROLES, SHIFTED_SETS, IMAGENET_REAL, key_of, vtab_task_of
from beyond_imagenet.catalog.vtab import VTAB_TASKS
from beyond_imagenet.config.schema import load_schema


def test_the_schema_accepts_exactly_the_catalogs_roles():
    assert set(load_schema()["$defs"]["dataset"]["properties"]["role"]["enum"]) == set(DATASET_ROLES)


def test_every_public_source_is_named_by_a_role():
    assert set(DATASET_SOURCES) - {REAL_LABELS} <= set(DATASET_ROLES)


def test_the_seven_shifted_sets_are_roles_or_relabelled_val():
    assert len(SHIFTED_SETS) == 7 and set(SHIFTED_SETS) - {IMAGENET_REAL} <= set(DATASET_ROLES)


def test_a_vtab_role_names_its_task_and_nothing_else_does():
    assert [vtab_task_of(f"vtab_{task}") for task in VTAB_TASKS] == list(VTAB_TASKS)
    assert vtab_task_of("vtab_counting") is None and vtab_task_of(None) is None and vtab_task_of("imagenet_a") is None


def test_rows_are_keyed_by_role_else_by_id():
    assert key_of("my_set", "imagenet_a") == "imagenet_a" and key_of("my_set", None) == "my_set"
