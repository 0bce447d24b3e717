"""Tokens per world-model prediction: the paper's full next state vs the compact diff.

Real transitions: seeded valid_seen games (as `implement wm eval` plays them: walkthroughs with
seeded detours, on the real engine; without valid_seen installed, the built test games, and the
table says so). Each transition is asked both ways, `[PRE]` and `[PER]`, with the prompts
`LLMWorldModel` sends (`world_model.format` state and diff), and answered with the truth: the
next state, or `state_diff` from the state before. Counted with the SmolLM2-135M tokenizer:
answers as plain text, prompts with the GGUF's chat template (`prompt_tokens.Tokenizer`).

    python bench/wm_tokens.py [--games 10] [--seed 0] [--archives ../shared/alfworld]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from statistics import mean

from implement.envs.alfworld import AlfworldEnv
from implement.prompts.world_model import (
    DIFF,
    STATE,
    answer_message,
    perception_messages,
    prediction_messages,
)
from implement.world_model.base import closed_unvisited_target
from implement.world_model.evaluate import Transition, play_transitions

sys.path.insert(0, str(Path(__file__).resolve().parent))
from prompt_tokens import Tokenizer, pick_games


def counts(t: Transition, format: str, tokenize: Tokenizer) -> dict[str, int]:
    """Prompt and answer tokens of the transition's `[PRE]` and `[PER]` requests in `format`."""
    diff_from = t.before if format == DIFF else None
    answer = str(answer_message(t.after, diff_from=diff_from)["content"])
    answer_tokens = len(tokenize.llama.tokenize(answer.encode(), add_bos=False, special=True))
    closed = closed_unvisited_target(t.before, t.action)
    pre = prediction_messages(t.before, t.action, None, imagine_opened=closed, format=format)
    observation = "(the environment's answer)"  # the same text in both formats
    per = perception_messages(t.before, t.action, observation, succeeded=t.succeeded, format=format)
    return {"answer": answer_tokens, "pre prompt": len(tokenize(pre)), "per prompt": len(tokenize(per))}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--games", type=int, default=10, help="games of valid_seen to play (seeded sample)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the game sample and the detours")
    parser.add_argument("--data-root", help="ALFWorld data root holding valid_seen (default: ALFWorld's)")
    parser.add_argument("--archives", help="folder of <split>.tar.xz to unpack valid_seen from if missing")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="wm-tokens-") as tmp:
        games, where = pick_games(args, Path(tmp))
        env = AlfworldEnv(privileged=True, max_steps=200)
        transitions = [t for game in games for t in play_transitions(env, game, seed=args.seed)]
    tokenize = Tokenizer()
    rows = {f: [counts(t, f, tokenize) for t in transitions] for f in (STATE, DIFF)}
    print(f"world-model tokens per prediction (SmolLM2 tokenizer): {len(games)} games of {where},")
    print(f"{len(transitions)} transitions; the true answer of each, in both formats")
    print(f"{'':28}{'state':>9}{'diff':>9}{'diff/state':>12}")
    for key in ("answer", "pre prompt", "per prompt"):
        full, diff = (mean(row[key] for row in rows[f]) for f in (STATE, DIFF))
        print(f"{key + ' tokens (mean)':28}{full:9.1f}{diff:9.1f}{diff / full:11.3f}x")
    largest = {f: max(row["answer"] for row in rows[f]) for f in (STATE, DIFF)}
    print(f"largest answer: state {largest[STATE]} tokens, diff {largest[DIFF]} tokens")


if __name__ == "__main__":
    main()
