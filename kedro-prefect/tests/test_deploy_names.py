"""`make deploy DEPLOYMENT=...`: a name Prefect accepts, and a near miss of a configured one caught
before it silently registers a new deployment."""

from __future__ import annotations

import pytest

from kedro_prefect.config import PrefectConfig, PrefectConfigError, parse_prefect_config
from kedro_prefect.operations.deploy import check_deployment_name, one_edit_apart


@pytest.fixture
def config() -> PrefectConfig:
    return parse_prefect_config({"deployments": [{"name": "default"}, {"name": "daily-reports"}]})


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("daily-report", "daily-reports"),  # one inserted
        ("daily-reportss", "daily-reports"),  # one removed
        ("daily-rep0rts", "daily-reports"),  # one replaced
        ("xdefault", "default"),  # at the start
    ],
)
def test_one_insertion_removal_or_replacement_is_one_edit_apart_either_way(a: str, b: str):
    assert one_edit_apart(a, b)
    assert one_edit_apart(b, a)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("default", "default"),  # the same name is no near miss
        ("daily-repo", "daily-reports"),  # two removed
        ("dialy-reports", "daily-reports"),  # a swap is two replacements
        ("weekly", "daily-reports"),
        ("", "ab"),
    ],
)
def test_names_further_apart_or_equal_are_not_one_edit_apart(a: str, b: str):
    assert not one_edit_apart(a, b)


def test_a_near_miss_without_options_of_its_own_suggests_the_configured_name(config: PrefectConfig):
    with pytest.raises(PrefectConfigError) as caught:
        check_deployment_name("daily-report", config, has_own_options=False)
    assert str(caught.value) == (
        "prefect.yml has no deployment 'daily-report'; did you mean 'daily-reports'? "
        "To register a new deployment 'daily-report', give it options (e.g. PIPELINE=...)."
    )


def test_a_near_miss_with_options_of_its_own_is_a_new_deployment(config: PrefectConfig):
    check_deployment_name("daily-report", config, has_own_options=True)


@pytest.mark.parametrize("name", ["default", "daily-reports", "weekly-reports", "v1.2_nightly"])
def test_configured_names_and_names_far_from_them_pass(config: PrefectConfig, name: str):
    check_deployment_name(name, config, has_own_options=False)


def test_the_first_near_name_in_file_order_is_suggested():
    config = parse_prefect_config({"deployments": [{"name": "run-b"}, {"name": "run-a"}]})
    with pytest.raises(PrefectConfigError, match="did you mean 'run-b'"):
        check_deployment_name("run-c", config, has_own_options=False)


@pytest.mark.parametrize("name", ["bad/name", "has space", "-leading-dash", ".hidden", "é"])
def test_a_name_prefect_would_refuse_gives_one_line_saying_what_is_allowed(config: PrefectConfig, name: str):
    with pytest.raises(PrefectConfigError) as caught:
        check_deployment_name(name, config, has_own_options=True)
    assert str(caught.value) == (
        f"Deployment name '{name}' is not valid: use letters, digits, '.', '_' and '-', starting with a "
        "letter or digit (it becomes part of the deployment's URL)."
    )
