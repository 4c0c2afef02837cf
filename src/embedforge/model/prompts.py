"""Choosing the prompt of one call: an explicit prompt, a named one, or the model's default."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)


def resolve_prompt(
    prompts: dict[str, str], default_prompt_name: str | None, prompt_name: str | None, prompt: str | None
) -> str | None:
    """Pick the prompt text for one call: ``prompt`` wins, then ``prompt_name``, then the default.

    Args:
        prompts: The model's named prompts.
        default_prompt_name: The model's default prompt name, or None.
        prompt_name: The name asked for in this call, or None.
        prompt: The text given in this call, or None.

    Returns:
        The prompt text, or None for no prompt.

    Raises:
        ValueError: If ``prompt_name`` is not one of the model's prompts.
    """
    if prompt is not None:
        if prompt_name is not None:
            logger.warning("Got both prompt and prompt_name; using prompt and ignoring prompt_name.")
        return prompt
    if prompt_name is not None:
        if prompt_name not in prompts:
            raise ValueError(
                f"Expected prompt_name to be one of the model's prompts {sorted(prompts)}, got "
                f"{prompt_name!r}. Pass one of those names, pass the text itself as prompt=, or set "
                "model.prompts[name] = text first."
            )
        return prompts[prompt_name]
    if default_prompt_name is not None:
        return prompts.get(default_prompt_name)
    return None
