"""YAML that remembers where things are: configuration files refuse a problem with its line.

``load(text)`` parses one document into ``LineMap`` / ``LineSeq`` (a dict / list carrying the
1-based ``line`` of the node, and for a mapping ``key_lines``: key → line). A duplicate key or a
syntax error raises ``YamlLineError`` with the line; callers turn it into their own error.
"""

from __future__ import annotations

from typing import Any

import yaml


class YamlLineError(Exception):
    def __init__(self, line: int | None, message: str):
        self.line, self.message = line, message
        super().__init__(f"{line}: {message}" if line else message)


class LineMap(dict):
    line: int = 0
    key_lines: dict[Any, int]


class LineSeq(list):
    line: int = 0


class _Loader(yaml.SafeLoader):
    pass


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> LineMap:
    out = LineMap()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in out:
            raise YamlLineError(key_node.start_mark.line + 1, f"duplicate key {key!r}")
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = key_node.start_mark.line + 1
    return out


def _construct_seq(loader: _Loader, node: yaml.SequenceNode) -> LineSeq:
    out = LineSeq(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_map)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_seq)


def load(text: str) -> Any:
    """One YAML document with line numbers; raises YamlLineError."""
    loader = _Loader(text)
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise YamlLineError(mark.line + 1 if mark else None, str(exc.problem)) from exc
    except yaml.YAMLError as exc:
        raise YamlLineError(None, str(exc)) from exc
    finally:
        loader.dispose()
