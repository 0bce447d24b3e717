"""Every prompt template of the package, in one place and versioned.

Each module holds one component's prompt text and its `VERSION`, bumped with any change of
the text: `belief` (the LLM belief summarizer), `policy` (the LLM policy), `react` (ReAct and
Reflexion), `state_text` (the compact state both the policy and the `diff` world model
show), `world_model` (perception and prediction, also the training data's format), and
`schemas` (the JSON schema of every answer, sent where the backend decodes under schemas).
`prompt_versions()` is what runs (`run.json`) and training outputs (`implement_train.json`)
record.

The agents' prompts are built for prompt caches (llama.cpp's prefix reuse, OpenAI's automatic
cache): one system text for every request of a run, then what is fixed for the episode, then
what only grows, and what changes each step or round last, so consecutive requests share the
longest prefix (`bench/prompt_tokens.py` measures it).
"""

from __future__ import annotations


def prompt_versions() -> dict[str, str]:
    """Prompt module name -> its version."""
    # imported here: the prompt modules import the components they describe, which import this package
    from implement.prompts import belief, policy, react, schemas, state_text, world_model

    modules = (belief, policy, react, schemas, state_text, world_model)
    return {module.__name__.rsplit(".", 1)[1]: module.VERSION for module in modules}


__all__ = ["prompt_versions"]
