"""Chat content with images, converted for each kind of model backend.

Messages (:data:`mtenvs.core.agent.Message`) carry a ``str`` content, or, for an
observation with an image, a list of parts in the Hugging Face multimodal chat format
(``{"type": "image", "image": PIL.Image}``, ``{"type": "text", "text": …}``; see
:func:`mtenvs.core.agent.user_message`). This module turns them into what a backend takes:

* :func:`openai_message`: OpenAI chat parts, an image as an ``image_url`` part holding a
  ``data:image/png;base64,…`` URL (what vLLM, SGLang and OpenAI's API accept);
* :func:`parts_message`: every content a list of parts (what multimodal processors' chat
  templates iterate over, even for a plain-text system prompt);
* :func:`text_message`: the text parts joined (for text-only models).

Pillow is imported only when an image is encoded.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping
from typing import Any

from mtenvs.core.agent import Message, message_text

__all__ = [
    "has_images",
    "image_data_url",
    "openai_message",
    "parts_message",
    "text_message",
]


def has_images(message: Mapping[str, Any]) -> bool:
    """Whether the message's content holds an image part."""
    content = message.get("content")
    return isinstance(content, list) and any(_is_image(p) for p in content)


def _is_image(part: object) -> bool:
    return isinstance(part, Mapping) and part.get("type") == "image"


def image_data_url(image: Any) -> str:
    """A ``data:image/png;base64,…`` URL of a ``PIL.Image`` or an ``HxWxC`` ``uint8`` array.

    PNG is lossless, so the server decodes exactly the pixels the env rendered.
    """
    from PIL import Image

    if not isinstance(image, Image.Image):
        import numpy as np

        image = Image.fromarray(np.asarray(image, dtype=np.uint8))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _openai_part(part: Any) -> Any:
    if not isinstance(part, Mapping):
        return part
    kind = part.get("type")
    if kind == "text":
        return {"type": "text", "text": str(part.get("text", ""))}
    if kind == "image":
        # The Hugging Face format also names an image by "url" (or puts a URL in "image").
        source = part.get("url", part.get("image"))
        url = source if isinstance(source, str) else image_data_url(source)
        return {"type": "image_url", "image_url": {"url": url}}
    return dict(part)  # already an OpenAI part (image_url, input_audio, …)


def openai_message(message: Mapping[str, Any]) -> Message:
    """The message as the OpenAI chat API takes it: string content unchanged, each image
    part an ``image_url`` part with a PNG data URL, each text part ``{"type": "text", …}``."""
    content = message.get("content")
    if not isinstance(content, list):
        return dict(message)
    return {**message, "content": [_openai_part(p) for p in content]}


def parts_message(message: Mapping[str, Any]) -> Message:
    """The message with its content as a list of parts (a string becomes one text part)."""
    content = message.get("content")
    if isinstance(content, list):
        return dict(message)
    text = "" if content is None else str(content)
    return {**message, "content": [{"type": "text", "text": text}]}


def text_message(message: Mapping[str, Any]) -> Message:
    """The message with its content as a string: the text parts joined, images left out."""
    if isinstance(message.get("content"), list):
        return {**message, "content": message_text(message)}
    return dict(message)
