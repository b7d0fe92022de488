"""LoadGen's TestSettings from the container contract's config directory.

Shared by every harness in this package (the image classifiers and the LLM endpoint
harness), so it imports nothing heavy: the LLM image has no numpy.

Order: LoadGen's built-in mlperf.conf < config_dir/mlperf.conf (if any) < user.conf.
FromConfig's conf_type: 1 = the user.conf (the first such call also loads the built-in
mlperf.conf; a second such call logs an ERROR that invalidates the run); 2 = any other
file, applied on top without that bookkeeping (what LoadGen itself uses for audit.config).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Protocol

from .errors import HarnessError

USER_CONF = "user.conf"
MLPERF_CONF = "mlperf.conf"
CONF_USER = 1
CONF_EXTRA = 2
CONF_BUILTIN_ONLY = 0


class LoadGenTarget(Protocol):
    """What of a harness's contract decides its TestSettings."""

    @property
    def loadgen_model(self) -> str: ...
    @property
    def scenario(self) -> str: ...
    @property
    def mode(self) -> str: ...
    @property
    def config_dir(self) -> Path: ...


def configure(lg: Any, contract: LoadGenTarget, say: Callable[[str], None]) -> Any:
    settings = lg.TestSettings()
    model, scenario = contract.loadgen_model, contract.scenario
    user_conf = contract.config_dir / USER_CONF
    mlperf_conf = contract.config_dir / MLPERF_CONF
    if user_conf.is_file():
        _from_config(settings, user_conf, model, scenario, CONF_USER)
        if mlperf_conf.is_file():
            # The built-in rules are already loaded; lay the file on top, then the user's
            # settings again so they keep the last word. conf_type 2 never counts as a
            # second user.conf, so the run stays valid.
            say(f"applying {mlperf_conf} over LoadGen's built-in mlperf.conf")
            _from_config(settings, mlperf_conf, model, scenario, CONF_EXTRA)
            _from_config(settings, user_conf, model, scenario, CONF_EXTRA)
    else:
        say(f"no {user_conf}: LoadGen's built-in settings only")
        settings.FromConfig("", model, scenario, CONF_BUILTIN_ONLY)
        if mlperf_conf.is_file():
            say(f"applying {mlperf_conf} over LoadGen's built-in mlperf.conf")
            _from_config(settings, mlperf_conf, model, scenario, CONF_EXTRA)
    settings.scenario = getattr(lg.TestScenario, scenario)
    settings.mode = getattr(lg.TestMode, contract.mode)
    return settings


def _from_config(settings: Any, path: Path, model: str, scenario: str, conf_type: int) -> None:
    code = settings.FromConfig(str(path), model, scenario, conf_type)
    if code != 0:
        raise HarnessError(f"LoadGen rejected {path} (code {code})", hint="lines are `model.scenario.key = number`")
