"""selector.openai_client: the one place that builds OpenAI-compatible clients, resolves the API
key, writes the loggable URL and scrubs keys from server text. No network: a refused loopback
port stands in for a server."""

from __future__ import annotations

import logging
import socket

import openai
import pytest

from selector.openai_client import PLACEHOLDER_KEY, MissingAPIKeyError, connect, public_url, scrub

KEY = "sk-test-SECRET-0123456789abcdef"


@pytest.fixture
def no_env(monkeypatch):
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "MY_KEY"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_key_from_argument_then_named_environment_variable(no_env):
    no_env.setenv("MY_KEY", "from-env-MY")
    no_env.setenv("OPENAI_API_KEY", "from-env-default")
    assert connect(api_key="given", api_key_env="MY_KEY").client.api_key == "given"
    assert connect(api_key_env="MY_KEY").client.api_key == "from-env-MY"
    assert connect().client.api_key == "from-env-default"


def test_missing_key_is_one_clear_error_naming_the_variable(no_env):
    with pytest.raises(MissingAPIKeyError, match=r"^the judge: no API key: pass api_key or set MY_KEY") as info:
        connect(api_key_env="MY_KEY", who="the judge")
    assert isinstance(info.value, ValueError) and "\n" not in str(info.value)
    with pytest.raises(MissingAPIKeyError):
        connect(api_key="", base_url="")  # an empty base URL is no base URL


def test_local_server_without_a_key_gets_the_placeholder(no_env):
    connection = connect("http://127.0.0.1:9/v1")
    assert connection.client.api_key == PLACEHOLDER_KEY and connection.base_url == "http://127.0.0.1:9/v1"
    assert connection.scrub("EMPTY stays") == "EMPTY stays"


@pytest.mark.parametrize(("setting", "value"), [("max_retries", -1), ("timeout", 0)])
def test_bad_retry_settings_are_named(no_env, setting, value):
    with pytest.raises(ValueError, match=setting):
        connect("http://127.0.0.1:9/v1", **{setting: value})


def test_key_never_in_repr_logs_or_scrubbed_errors(no_env, caplog):
    caplog.set_level(logging.DEBUG)
    connection = connect(f"http://127.0.0.1:{_closed_port()}/v1", api_key=KEY, max_retries=0, timeout=2)
    assert connection.client.api_key == KEY  # it did reach the client
    with pytest.raises(openai.APIConnectionError) as info:
        connection.client.models.list()
    texts = [repr(connection), str(connection), caplog.text, connection.scrub(f"{info.value}: echoed {KEY}")]
    for text in texts:
        assert KEY not in text and "SECRET" not in text


def test_the_async_client_follows_the_same_key_rules(no_env):
    no_env.setenv("MY_KEY", KEY)
    connection = connect("http://127.0.0.1:9/v1", api_key_env="MY_KEY", max_retries=0, asynchronous=True)
    assert isinstance(connection.client, openai.AsyncOpenAI) and connection.client.api_key == KEY
    assert connection.scrub(f"bad key {KEY}") == "bad key ***" and KEY not in repr(connection)
    keyless = connect("http://127.0.0.1:9/v1", api_key_env="UNSET_KEY_VARIABLE", asynchronous=True)
    assert keyless.client.api_key == PLACEHOLDER_KEY


def test_scrub_removes_given_secrets_and_anything_key_shaped():
    text = f"bad key {KEY}; also sk-other-1234567 and token abc123xyz; sk-no"
    assert scrub(text, ["abc123xyz", ""]) == "bad key sk-***; also sk-*** and token ***; sk-no"


@pytest.mark.parametrize(
    ("url", "public"),
    [
        ("https://user:pw@example.com:8443/v1/?api-key=abc#x", "https://example.com:8443/v1"),
        ("http://127.0.0.1:8000/v1/", "http://127.0.0.1:8000/v1"),
        ("http://[::1]:9/v1", "http://[::1]:9/v1"),
        ("https://api.openai.com/v1", "https://api.openai.com/v1"),
        ("http://host:notaport/v1", "http://host/v1"),
    ],
)
def test_public_url_drops_credentials_query_and_fragment(url, public):
    assert public_url(url) == public
