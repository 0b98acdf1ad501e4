"""What a provider plugs into the bridge: a config that builds an adapter."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, Protocol

import attrs
from yarl import URL

if TYPE_CHECKING:
    from ..._base.models import UnifiedTask


__all__ = [
    "CommonSettings",
    "CredentialOption",
    "ErrorInfo",
    "ProviderAdapter",
    "ProviderConfig",
    "ProviderSpec",
    "Request",
    "UrlBuilder",
    "secrets_of",
]


class Request(NamedTuple):
    """One GET to send: the URL (already encoded) and the headers, secrets included.

    A named tuple, since one is built per request; its repr leaves the headers out.
    """

    url: URL
    headers: Mapping[str, str]

    def __repr__(self) -> str:
        return f"Request(url={str(self.url)!r})"


class UrlBuilder:
    """Builds ``{prefix}{tail}{query}`` URLs for one endpoint, one per request.

    ``prefix`` (an encoded base URL and path, without a query) and ``query`` (encoded,
    with its ``?``, or empty) are parsed once; each call only swaps the path in, which
    costs about a third of parsing the whole URL again. ``tail`` must be encoded
    already (a checked id, quoted where needed).
    """

    __slots__ = ("_path", "_template")

    def __init__(self, prefix: str, query: str = "") -> None:
        self._template = URL(f"{prefix}_{query}", encoded=True)
        self._path = self._template.raw_path[:-1]

    def __call__(self, tail: str) -> URL:
        return self._template.with_path(self._path + tail, encoded=True, keep_query=True)


#: ``new_request(Request, (url, headers))``: a `Request` without the Python-level
#: ``__new__`` of a named tuple (one is built per request).
new_request = tuple.__new__


@attrs.frozen(slots=True)
class ErrorInfo:
    """What a provider's error body says: its title, detail and parsed model."""

    title: str | None = None
    detail: str | None = None
    body: object | None = None


class CommonSettings(Protocol):
    """What every provider's config holds beside its credentials and limits: where.

    A provider's own settings protocol extends this one with its credentials; its
    limits reach the gate as a `Limits` value, not through the adapter.
    """

    @property
    def base_url(self) -> str: ...


class ProviderAdapter(Protocol):
    """Turns task ids into requests and answers into `UnifiedTask`s for one provider."""

    @property
    def name(self) -> str:
        """The provider's name, as used in refs (``"cakewalk"``)."""

    def check_id(self, task_id: object) -> str:
        """Return the task id to send, or raise `InvalidTaskIdError`."""

    def request(self, task_id: str) -> Request:
        """Build the GET for a checked task id."""

    def decode_task(self, body: bytes, task_id: str) -> UnifiedTask[Any]:
        """Decode a 2xx body; raise `SchemaError` when it does not fit the spec."""

    def decode_error(self, body: bytes) -> ErrorInfo:
        """Read an error body leniently; never raises."""


class ProviderConfig(Protocol):
    """A provider's settings: what `TaskBridge` is given for one provider.

    Besides these members, the command line sets ``max_concurrency`` and
    ``requests_per_minute`` with `attrs.evolve`, so a config is an attrs class
    with those two keyword fields.
    """

    provider: ClassVar[str]

    @property
    def max_concurrency(self) -> int:
        """Requests in flight at once."""

    @property
    def requests_per_minute(self) -> float | None:
        """The client-side rate limit, or ``None`` for none."""

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every secret value this config holds (keys, tokens, passwords).

        The bridge redacts exactly these from errors, logs and their causes: a
        credential not listed here is not protected.
        """

    def adapter(self) -> ProviderAdapter:
        """Build the adapter that serves this configuration."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ProviderConfig | None:
        """Read ``TASKBRIDGE_<PROVIDER>_*``; ``None`` when the credentials are absent."""


def secrets_of(config: object) -> tuple[str, ...]:
    """Return the secrets ``config`` declares, checked; `ConfigurationError` if it declares none.

    Read from ``config.secrets`` only, never by guessing attribute names.
    """
    from ..._base.errors import ConfigurationError

    owner = type(config).__name__
    try:
        values = config.secrets  # type: ignore[attr-defined]
    except AttributeError:
        raise ConfigurationError(
            f"{owner} must declare its secrets: a `secrets` property (a tuple of strings)"
        ) from None
    if isinstance(values, str) or not isinstance(values, (tuple, list, frozenset, set)):
        raise ConfigurationError(f"{owner}.secrets must be a tuple of strings")
    if not all(isinstance(v, str) for v in values):
        raise ConfigurationError(f"{owner}.secrets must be a tuple of strings")
    return tuple(v for v in values if v)


@attrs.frozen
class CredentialOption:
    """One credential setting: its command-line option and environment variable.

    Args:
        option: the command-line option, ``--<provider>-<what>``.
        env: the environment variable it stands for (``TASKBRIDGE_<PROVIDER>_<WHAT>``);
            the option wins over the variable.
        help: one line for ``--help``.
        required: whether the provider cannot be configured without it.
    """

    option: str
    env: str
    help: str
    required: bool = True


@attrs.frozen
class ProviderSpec:
    """Everything taskbridge knows about one provider; one per provider, registered
    built in or through the ``taskbridge.providers`` entry-point group.

    Args:
        name: the provider's name in refs, lower case (``"cakewalk"``).
        title: its display name (``"Cakewalk"``).
        config: the config class (`ProviderConfig`): ``from_env``, ``secrets``, ``adapter``.
        credentials: the settings read from the environment, in ``--help`` order.
        max_concurrency: the config's default requests in flight.
        requests_per_minute: the config's default rate limit (``None``: none).
        emulator: ``"module:attribute"`` of the sandbox emulator factory, imported only
            when a sandbox starts; ``None`` when the provider has none.
        ids_may_contain_spaces: whether a task id may hold spaces (the command line
            reads ``PROVIDER TASK_ID`` lines).
        detail_format: returns the detail model and its cattrs converter factory
            (called with ``detailed_validation=``), for `UnifiedTask.to_dict` and
            `UnifiedTask.from_dict`; ``None``: its tasks do not serialize.
        unified: the unified fields ``(id, status, provider_status, kind, created_at,
            updated_at)`` of a task with a given detail, as the adapter derives them
            (``id`` ``""`` when the detail names none); `UnifiedTask.from_dict` refuses
            data whose top level disagrees. An adapter built on `TaskAdapter` has it:
            ``unified=MyAdapter.unified_of``. ``None``: not checked.
    """

    name: str
    title: str
    config: type[ProviderConfig]
    credentials: tuple[CredentialOption, ...]
    max_concurrency: int = 16
    requests_per_minute: float | None = None
    emulator: str | None = None
    ids_may_contain_spaces: bool = True
    detail_format: Callable[[], tuple[type[Any], Callable[..., Any]]] | None = None
    unified: Callable[[Any], tuple[Any, ...]] | None = None

    @property
    def env_vars(self) -> tuple[str, ...]:
        """The environment variables ``config.from_env`` reads."""
        return tuple(c.env for c in self.credentials)

    @property
    def required_env(self) -> tuple[str, ...]:
        """The variables without which the provider is not configured."""
        return tuple(c.env for c in self.credentials if c.required)

    def from_env(self, environ: Mapping[str, str]) -> ProviderConfig | None:
        """The provider's config from ``environ``, or ``None`` when it is not set."""
        return self.config.from_env(environ)

    def secrets(self, config: ProviderConfig) -> tuple[str, ...]:
        """The secrets ``config`` holds (what redaction hides)."""
        return secrets_of(config)

    def adapter(self, config: ProviderConfig) -> ProviderAdapter:
        """Build the adapter that serves ``config``."""
        return config.adapter()
