"""A settings file plus `key=value` overrides (`selector.settings_file`), as `frame-selector train`
reads its configuration."""

import re
from dataclasses import dataclass, field

import pytest

from selector.settings_file import load_settings, settings_values


@dataclass
class Settings:
    name: str = ""
    rate: float = 1e-3
    steps: int = 10
    weights: dict = field(default_factory=dict)
    flag: bool = False


def test_the_file_then_the_overrides_then_the_keyword_values(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("name: from-file\nrate: 1e-5\nsteps: 3\n")
    settings = load_settings(Settings, str(path), ["steps=7", "weights={spatial: 1}", "flag=true"], name="keyword", rate=None)
    # YAML reads 1e-5 as a string; a number field takes it as a number. None leaves a value as it is.
    assert settings == Settings(name="keyword", rate=1e-5, steps=7, weights={"spatial": 1}, flag=True)
    assert settings_values(None, ["a=1", "b = x=y"]) == {"a": 1, "b": "x=y"}


@pytest.mark.parametrize("overrides, text, message", [
    (["rte=1"], "", "unknown widget setting(s): rte"),
    (["steps=many"], "", "steps must be a number, not 'many'"),
    (["steps"], "", "override 'steps' is not key=value"),
    ([], "- a list\n", "is not a mapping"),
])
def test_each_error_is_one_line_naming_what_is_wrong(tmp_path, overrides, text, message):
    path = tmp_path / "run.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=re.escape(message)):
        load_settings(Settings, str(path), overrides, what="widget setting")
