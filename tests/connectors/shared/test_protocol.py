"""The protocol's apply(): what every acting connector checks before it changes anything."""

from __future__ import annotations

from typing import ClassVar, Literal

import pytest

from iam_gov.connectors.shared.options import LiveOrExportOptions
from iam_gov.connectors.shared.protocol import ActionNotSupported, Connector, Permissions
from iam_gov.errors import ConfigError, ConnectorError
from iam_gov.model import Action, ActionKind, ActionOutcome, ActionResult, SystemSnapshot


class Options(LiveOrExportOptions):
    type: Literal["door"]


class Door(Connector[Options]):
    """Acts by calling ``act``, which a test sets; records what it was asked to do."""

    type_name = "door"
    options_model = Options
    permissions: ClassVar[Permissions] = Permissions(collect=("read",), apply=("write",))
    capabilities = frozenset({ActionKind.DISABLE_ACCOUNT})

    def __init__(self, mode: Literal["live", "export"], problem: Exception | None = None):
        super().__init__("front", Options(type="door", mode=mode))
        self.problem = problem
        self.done: list[Action] = []

    def collect(self) -> SystemSnapshot:
        raise NotImplementedError

    def carry_out(self, action: Action) -> ActionResult:
        if self.problem is not None:
            raise self.problem
        self.done.append(action)
        return ActionResult(action=action, outcome=ActionOutcome.APPLIED, message="disabled")


def action(kind: ActionKind = ActionKind.DISABLE_ACCOUNT, system: str = "front") -> Action:
    return Action(kind=kind, system=system, account_id="u1", reason="left")


def test_an_action_it_may_take_is_carried_out() -> None:
    door = Door("live")

    assert door.apply(action()).outcome is ActionOutcome.APPLIED
    assert door.done == [action()]


def test_a_kind_of_action_it_cannot_take_is_refused_outright() -> None:
    with pytest.raises(ActionNotSupported, match="door connector cannot remove-grant"):
        Door("live").apply(action(ActionKind.REMOVE_GRANT))


@pytest.mark.parametrize(
    ("door", "asked", "message"),
    [
        (Door("live"), action(system="back"), "this connector serves system 'front'"),
        (Door("export"), action(), 'an export cannot be changed: actions need mode = "live"'),
        (Door("live", ConnectorError("front: unreachable")), action(), "front: unreachable"),
        (Door("live", ConfigError("no secret in FRONT_TOKEN")), action(), "no secret in FRONT"),
    ],
)
def test_what_it_cannot_do_here_and_now_fails_saying_why_and_changes_nothing(
    door: Door, asked: Action, message: str
) -> None:
    result = door.apply(asked)

    assert result.outcome is ActionOutcome.FAILED
    assert message in result.message
    assert door.done == []
