"""registry announces its writes through hook points that complications fills in."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from registry import hooks


def _points() -> list[hooks.Hook]:
    return [value for value in vars(hooks).values() if isinstance(value, hooks.Hook)]


def test_every_hook_point_is_connected_once_the_apps_are_ready():
    assert _points()
    assert [point.name for point in _points() if not point.connected] == []


def test_it_refuses_to_call_a_hook_point_nobody_filled_in():
    @hooks.hook
    def unfilled(*, procedure_ids: list[int]) -> None:
        """A point for this test only."""

    with pytest.raises(hooks.HookNotConnected, match="unfilled"):
        unfilled(procedure_ids=[1])


def test_it_refuses_a_second_implementation_of_one_hook_point():
    @hooks.hook
    def point() -> int:
        raise NotImplementedError

    point.connect(lambda: 1)
    with pytest.raises(ImproperlyConfigured, match="already connected"):
        point.connect(lambda: 2)
    assert point() == 1
