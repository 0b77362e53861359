"""Which node tags reach a task run: only those a Prefect tag concurrency limit governs."""

from __future__ import annotations

from kedro_prefect.execution.tag_limits import limited_tags, tags_with_limits


def test_only_tags_with_a_tag_limit_are_kept():
    names = ["tag:cleaning", "tag:other", "work-pool:p", "cleaning-db"]
    assert tags_with_limits({"cleaning", "reporting"}, names) == {"cleaning"}


def test_a_global_limit_named_like_a_tag_does_not_count():
    # Only a "tag:" limit limits tasks by tag; a global limit called "reporting" is someone else's.
    assert tags_with_limits({"reporting"}, ["reporting"]) == frozenset()


def test_no_tags_asks_no_server(monkeypatch):
    # Without a server Prefect would start an ephemeral one and answer "no limits" all the same,
    # so a client being made at all is the failure.
    import prefect.client.orchestration

    def no_client(*args, **kwargs):
        raise AssertionError("a pipeline without tags must not ask the server")

    monkeypatch.setattr(prefect.client.orchestration, "get_client", no_client)
    assert limited_tags([]) == frozenset()
