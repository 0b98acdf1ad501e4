"""MkDocs hooks: point mkdocstrings at the vendored aiohttp inventory.

aiohttp publishes its Sphinx inventory at docs.aiohttp.org, but the docs are built where
only package registries are reachable. ``scripts/inventories/aiohttp.inv`` is a minimal
inventory of the aiohttp names our pages mention, written from ``aiohttp.txt`` beside it
with ``sphobjinv convert zlib aiohttp.txt aiohttp.inv``; links go to aiohttp's stable docs.
mkdocstrings reads inventories by URL, so this hook gives it the file's absolute
``file://`` URL, before mkdocstrings' own ``on_config`` starts the downloads.
"""

from __future__ import annotations

from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import event_priority

INVENTORY = Path(__file__).resolve().parent / "inventories" / "aiohttp.inv"
BASE_URL = "https://docs.aiohttp.org/en/stable/"


@event_priority(100)  # before mkdocstrings, which downloads the inventories in on_config
def on_config(config: MkDocsConfig) -> MkDocsConfig:
    handlers = config.plugins["mkdocstrings"].config["handlers"]
    inventories = handlers.setdefault("python", {}).setdefault("inventories", [])
    inventories.append({"url": INVENTORY.as_uri(), "base_url": BASE_URL})
    return config
