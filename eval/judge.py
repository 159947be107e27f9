"""The ActivityNet-QA judge: an LLM decides whether a free-text answer matches the reference.

The prompt is the Video-ChatGPT protocol that lmms-eval uses (docs/evaluation.md, "The
ActivityNet-QA judge"), kept word for word, oddities included, because the judge's wording moves
the numbers; for the same reason the judge model is a setting (lmms-eval's default since 0.4 is
`gpt-4o-2024-11-20`, before it `gpt-3.5-turbo-0613`) and every verdict records the model asked and
the model that answered.

`structured=True` additionally asks the server for a JSON object through `response_format`
(OpenAI structured outputs; vLLM supports it too); the prompt is unchanged, and the reply is
parsed the same defensive way either way: the text between the first "{" and the next "}",
read as JSON or as a Python literal, `pred` yes/no, `score` an integer 0-5 (a fractional score
is truncated, as lmms-eval's `int(score)` does). A reply that cannot be read, or a request that
fails after the client's retries, gives a verdict with `error` set and no `pred`: the metrics
count it as not answered (wrong in `accuracy`, 0 in the mean score, like lmms-eval's
("no", 0)), and report how many there were.

The API key comes from `api_key` or the environment variable `api_key_env`; it stays inside the
client and is scrubbed from every error message (some servers echo the key they were sent): the
connection is `selector.openai_client`'s.
"""

from __future__ import annotations

import ast
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

import openai

from selector.openai_client import DEFAULT_API_KEY_ENV, connect

log = logging.getLogger(__name__)

DEFAULT_JUDGE_MODEL = "gpt-4o-2024-11-20"
JUDGE_PROMPT_VERSION = "activitynetqa-video-chatgpt-v1"

SYSTEM_PROMPT = (
    "You are an intelligent chatbot designed for evaluating the correctness of generative outputs for question-answer pairs. "
    "Your task is to compare the predicted answer with the correct answer and determine if they match meaningfully. Here's how you can accomplish the task:"
    "------"
    "##INSTRUCTIONS: "
    "- Focus on the meaningful match between the predicted answer and the correct answer.\n"
    "- Consider synonyms or paraphrases as valid matches.\n"
    "- Evaluate the correctness of the prediction compared to the answer."
)
USER_PROMPT = (
    "Please evaluate the following video-based question-answer pair:\n\n"
    "Question: {question}\n"
    "Correct Answer: {answer}\n"
    "Predicted Answer: {prediction}\n\n"
    "Provide your evaluation only as a yes/no and score where the score is an integer value between 0 and 5, with 5 indicating the highest meaningful match. "
    "Please generate the response in the form of a Python dictionary string with keys 'pred' and 'score', where value of 'pred' is  a string of 'yes' or 'no' and value of 'score' is in INTEGER, not STRING."
    "DO NOT PROVIDE ANY OTHER OUTPUT TEXT OR EXPLANATION. Only provide the Python dictionary string. "
    "For example, your response should look like this: {{'pred': 'yes', 'score': 4.8}}."
)
RESPONSE_FORMAT: dict[str, Any] = {
    "type": "json_schema",
    "json_schema": {
        "name": "judgement",
        "schema": {
            "type": "object",
            "properties": {"pred": {"type": "string", "enum": ["yes", "no"]}, "score": {"type": "integer"}},
            "required": ["pred", "score"],
            "additionalProperties": False,
        },
        "strict": True,
    },
}


@dataclass
class Verdict:
    """The judge's decision on one answer.

    Attributes:
        pred: "yes" (the answer matches) or "no"; None when no verdict could be had.
        score: 0-5; None when no verdict could be had.
        judge_model: the model asked for.
        served_model: the model the server says answered (a dated snapshot, usually).
        prompt_version: which prompt produced it.
        raw: the judge's reply text, when there was one.
        error: why there is no verdict.
    """

    pred: str | None
    score: int | None
    judge_model: str
    served_model: str | None = None
    prompt_version: str = JUDGE_PROMPT_VERSION
    raw: str | None = None
    error: str | None = None

    @property
    def correct(self) -> bool | None:
        return None if self.pred is None else self.pred == "yes"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_verdict(text: str) -> tuple[str, int]:
    """`(pred, score)` from a judge reply, or ValueError saying what is wrong with it."""
    start = text.find("{")
    end = text.find("}", start)
    if start == -1 or end == -1:
        raise ValueError("no {...} in the reply")
    literal = text[start : end + 1]
    try:
        value = json.loads(literal)
    except ValueError:
        try:
            value = ast.literal_eval(literal)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            raise ValueError(f"{literal[:80]!r} is neither JSON nor a Python literal") from None
    if not isinstance(value, dict):
        raise ValueError(f"{literal[:80]!r} is not a dictionary")
    pred = str(value.get("pred", "")).strip().strip("'\"").lower()
    if pred not in ("yes", "no"):
        raise ValueError(f"pred {value.get('pred')!r} is not yes/no")
    try:
        score = int(float(value.get("score")))
    except (TypeError, ValueError):
        raise ValueError(f"score {value.get('score')!r} is not a number") from None
    if not 0 <= score <= 5:
        raise ValueError(f"score {score} is outside 0-5")
    return pred, score


class ActivityNetJudge:
    """Judges open-ended answers through any OpenAI-compatible chat endpoint."""

    def __init__(
        self,
        model: str = DEFAULT_JUDGE_MODEL,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        api_key_env: str = DEFAULT_API_KEY_ENV,
        structured: bool = True,
        max_tokens: int = 64,
        max_retries: int = 5,
        timeout: float = 60.0,
    ) -> None:
        """`base_url` None is OpenAI itself, which needs a key; a local server (vLLM) without
        authentication needs none. Retries (429, 5xx, timeouts) are the client's."""
        self._connection = connect(
            base_url, api_key=api_key, api_key_env=api_key_env, max_retries=max_retries, timeout=timeout, who="ActivityNetJudge"
        )
        self.model = model
        self.structured = structured
        self.max_tokens = max_tokens
        self.base_url = self._connection.base_url
        self.max_retries = max_retries
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"ActivityNetJudge(model={self.model!r}, base_url={self.base_url!r})"

    def settings(self) -> dict[str, Any]:
        """Everything that shapes a verdict, for the run record (never the key)."""
        return {
            "judge_model": self.model,
            "base_url": self.base_url,
            "prompt_version": JUDGE_PROMPT_VERSION,
            "structured": self.structured,
            "temperature": 0,
            "max_tokens": self.max_tokens,
            "max_retries": self.max_retries,
            "timeout": self.timeout,
        }

    def judge(self, question: str, answer: str, prediction: str) -> Verdict:
        """One verdict; never raises for server or reply trouble (see `Verdict.error`)."""
        messages = [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": USER_PROMPT.format(question=question, answer=answer, prediction=prediction)},
        ]
        extra = {"response_format": RESPONSE_FORMAT} if self.structured else {}
        try:
            completion = self._connection.client.chat.completions.create(
                model=self.model, messages=messages, temperature=0, max_tokens=self.max_tokens, **extra
            )
        except openai.OpenAIError as error:
            message = self._connection.scrub(f"{type(error).__name__}: {error}")[:300]
            log.warning("judge request failed at %s (model %s): %s", self.base_url, self.model, message)
            return Verdict(None, None, self.model, error=f"request failed: {message}")
        served = getattr(completion, "model", None)
        content = completion.choices[0].message.content if completion.choices else None
        if not content:
            return Verdict(None, None, self.model, served, error="empty reply")
        try:
            pred, score = parse_verdict(content)
        except ValueError as error:
            return Verdict(None, None, self.model, served, raw=content, error=f"unreadable reply: {error}")
        return Verdict(pred, score, self.model, served, raw=content)

    def judge_many(self, items: list[tuple[str, str, str]], concurrency: int = 8) -> list[Verdict]:
        """Verdicts for `(question, answer, prediction)` triples, in order, `concurrency` requests
        at a time (thousands of sequential requests would take hours)."""
        if concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            return list(pool.map(lambda item: self.judge(*item), items))


__all__ = ["ActivityNetJudge", "DEFAULT_JUDGE_MODEL", "JUDGE_PROMPT_VERSION", "Verdict", "parse_verdict"]
