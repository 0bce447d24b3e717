"""`check_world_model`: does a world model keep the perceive / predict contract agents rely on?

In the spirit of Gymnasium's `check_env`: it asks the model about the first steps of a real
game and raises `ContractError` saying what was expected and what came instead.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

from implement.envs.base import Env
from implement.envs.games import Game
from implement.errors import ContractError
from implement.metaicl import Conditions
from implement.state import StateError, SymbolicState
from implement.world_model.base import Perceived, WorldModel, is_information_gathering
from implement.world_model.perception import initial_state


def check_world_model(model: WorldModel, env: Env, game: Game) -> None:
    """Check `model` on `game`'s first state: predictions of an information-gathering action
    (exactly n states for n = 1 and 3) and of a certain one (1 to n states), and the
    perception of the action's real outcome. Every state must serialize and round-trip.

    Runs its own event loop: call it outside one (from a test or a script).
    """
    asyncio.run(_check(model, env, game))


async def _check(model: WorldModel, env: Env, game: Game) -> None:
    name = getattr(model, "name", None)
    if not isinstance(name, str) or not name:
        raise ContractError(f"world model name: expected a non-empty str, got {name!r}")
    _, observation = env.reset(game)
    state = initial_state(observation.text)
    gathering = [c for c in observation.admissible_commands if is_information_gathering(state, c)]
    if not gathering:
        raise ContractError(
            f"{game.id}: expected an information-gathering command among the first admissible ones, got "
            f"{list(observation.admissible_commands)}"
        )
    action = gathering[0]
    for n, conditions in ((1, None), (3, None), (3, Conditions())):
        predicted = await model.predict(state, action, conditions, n=n)
        _states(f"predict({action!r}, n={n})", predicted)
        if len(predicted) != n:
            raise ContractError(f"predict({action!r}, n={n}): expected {n} states, got {len(predicted)}")
    certain = "look"
    predicted = await model.predict(state, certain, None, n=3)
    _states(f"predict({certain!r}, n=3)", predicted)
    if not 1 <= len(predicted) <= 3:
        raise ContractError(f"predict({certain!r}, n=3): expected 1 to 3 states, got {len(predicted)}")
    after = env.step(action)
    perceived = await model.perceive(
        state, Perceived(after.action or action, after.text, succeeded=after.succeeded)
    )
    _states(f"perceive({action!r})", [perceived])


def _states(call: str, states: object) -> None:
    if not isinstance(states, Sequence):
        raise ContractError(f"{call}: expected a list of SymbolicState, got {type(states).__name__}")
    for state in states:
        if not isinstance(state, SymbolicState):
            raise ContractError(f"{call}: expected SymbolicState, got {type(state).__name__}")
        data = state.to_dict()
        try:
            text = json.dumps(data)
        except (TypeError, ValueError) as exc:
            raise ContractError(f"{call}: expected a JSON-serializable state, got {exc}") from exc
        try:
            again = SymbolicState.from_json(text)
        except StateError as exc:
            raise ContractError(f"{call}: expected a state that reads back from its JSON, got {exc}") from exc
        if again != state:
            raise ContractError(f"{call}: expected the state to survive JSON, got {again!r} from {state!r}")
