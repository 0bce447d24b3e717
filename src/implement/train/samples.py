"""The curated training samples: reading and checking `curated_samples_{mode}.jsonl`, the
seeded validation split, and each sample as a TRL conversational prompt-completion example
(the prompt is every message but the last, the completion is the assistant's answer).
"""

from __future__ import annotations

import base64
import io
import json
import logging
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from implement.errors import DataError
from implement.llm.base import message_text

logger = logging.getLogger(__name__)

MODES = ("perception", "prediction")
SAMPLE_FILES = {mode: f"curated_samples_{mode}.jsonl" for mode in MODES}
ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class Sample:
    """One curated training conversation (OpenAI-style messages, ending with the answer)."""

    mode: str
    game: str
    messages: list[dict[str, Any]]

    @property
    def has_image(self) -> bool:
        return any(
            part.get("type") == "image_url"
            for message in self.messages
            if isinstance(message["content"], list)
            for part in message["content"]
        )


def _part_ok(part: Any) -> bool:
    """An OpenAI-style content part: {"type": "text", "text": ...} or an image_url one."""
    if not isinstance(part, dict):
        return False
    if part.get("type") == "text":
        return isinstance(part.get("text"), str)
    image = part.get("image_url")
    return part.get("type") == "image_url" and isinstance(image, dict) and isinstance(image.get("url"), str)


def _sample_problem(record: Any) -> str | None:
    """Why a parsed JSON line is not a usable sample (None when it is)."""
    if not isinstance(record, dict):
        return "not a JSON object"
    if record.get("mode") not in MODES:
        return f"mode must be one of {', '.join(MODES)}, got {record.get('mode')!r}"
    messages = record.get("messages")
    if not isinstance(messages, list) or len(messages) < 2:
        return "messages must be a list of at least 2 messages"
    for message in messages:
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            return f"each message needs a role in {', '.join(ROLES)}"
        content = message.get("content")
        if not isinstance(content, str) and not (isinstance(content, list) and all(map(_part_ok, content))):
            return "each message content must be a string or a list of text and image_url parts"
    if messages[-1]["role"] != "assistant" or not isinstance(messages[-1]["content"], str):
        return "the last message must be the assistant's answer (a string)"
    return None


def load_samples(data_dir: str | Path) -> tuple[list[Sample], dict[str, int]]:
    """The valid samples of both modes and, per reason, the malformed lines skipped."""
    data_dir = Path(data_dir)
    expected = " and/or ".join(SAMPLE_FILES.values())
    if not data_dir.is_dir():
        raise DataError(f"training data directory {data_dir} not found; expected it to hold {expected}")
    paths = [data_dir / name for name in SAMPLE_FILES.values() if (data_dir / name).is_file()]
    if not paths:
        raise DataError(f"no curated samples in {data_dir}: expected {expected}")
    samples: list[Sample] = []
    skipped: Counter[str] = Counter()
    for path in paths:
        with path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                problem: str | None
                try:
                    record = json.loads(line)
                except ValueError:
                    problem, reason = "not valid JSON", "not_json"
                else:
                    problem = _sample_problem(record)
                    reason = "bad_sample"
                if problem is not None:
                    logger.warning("%s:%d: skipped, %s", path, number, problem)
                    skipped[reason] += 1
                    continue
                samples.append(Sample(record["mode"], str(record.get("game", "")), record["messages"]))
    if not samples:
        raise DataError(
            f"no valid training sample in {', '.join(map(str, paths))} "
            f"({sum(skipped.values())} malformed lines skipped; see the warnings)"
        )
    return samples, dict(skipped)


def split_samples(samples: list[Sample], fraction: float, seed: int) -> tuple[list[Sample], list[Sample]]:
    """Shuffle (seeded) and hold out `fraction` for validation: at least 1 of 2 or more samples."""
    shuffled = list(samples)
    random.Random(seed).shuffle(shuffled)
    n_eval = (
        0
        if len(shuffled) < 2 or fraction <= 0
        else min(len(shuffled) - 1, max(1, round(len(shuffled) * fraction)))
    )
    return shuffled[n_eval:], shuffled[:n_eval]


def _decode_image(url: str) -> Any:
    """A PIL image from a `data:image/...;base64,` URL (the frames curated samples carry)."""
    from PIL import Image

    if not url.startswith("data:image/"):
        raise DataError(f"only data:image/...;base64 frames can be trained on, got {url[:40]!r}...")
    try:
        return Image.open(io.BytesIO(base64.b64decode(url.partition(",")[2]))).convert("RGB")
    except (ValueError, OSError) as exc:
        raise DataError(f"a sample's frame is not a readable image: {exc}") from exc


def _vision_example(sample: Sample) -> dict[str, Any]:
    """TRL's vision format: every content a list of parts, {"type": "image"} where a frame
    was, the images alongside.

    Only for vision-language base models (Qwen2.5-VL) on a GPU; not exercised by the tests.
    """
    images: list[Any] = []
    messages = []
    for message in sample.messages:
        content = message["content"]
        given: list[dict[str, Any]] = (
            [{"type": "text", "text": content}] if isinstance(content, str) else content
        )
        parts: list[dict[str, Any]] = []
        for part in given:
            if part["type"] == "image_url":
                images.append(_decode_image(part["image_url"]["url"]))
                parts.append({"type": "image"})
            else:
                parts.append({"type": "text", "text": part["text"]})
        messages.append({"role": message["role"], "content": parts})
    return {"prompt": messages[:-1], "completion": messages[-1:], "images": images}


def to_example(sample: Sample, *, vision: bool) -> dict[str, Any]:
    """A sample as a TRL conversational prompt-completion example."""
    if vision:
        return _vision_example(sample)
    messages = [{"role": m["role"], "content": message_text(m)} for m in sample.messages]
    return {"prompt": messages[:-1], "completion": messages[-1:]}
