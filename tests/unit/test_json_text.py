"""JSON text made without ``json.dumps`` (audit and access lines, stored values) is exactly what it writes."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from chalicelib import audit, jsonbody
from chalicelib.routes import access_line

# Any text, lone surrogates (from %-decoded invalid UTF-8 in a name) and control characters included.
texts = st.text(alphabet=st.characters(codec=None), max_size=40)
details = st.dictionaries(st.text(max_size=10), st.none() | st.booleans() | st.integers() | st.text(max_size=10))


Detail = dict[str, audit.Detail]


def reference(
    action: str, actor: str, target: str, result: str, request_id: str | None, detail: Detail, time: str
) -> str:
    doc: dict[str, object] = {"action": action, "actor": actor, "target": target, "result": result}
    doc["request_id"] = request_id
    if detail:
        doc["detail"] = detail
    doc["time"] = time
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


@given(texts, texts, texts, texts, st.none() | texts, details, texts)
def test_a_line_is_what_json_dumps_writes(
    action: str, actor: str, target: str, result: str, request_id: str | None, detail: Detail, time: str
) -> None:
    line = audit.to_line(action, actor, target, result, request_id, detail, time or "t")
    assert line == reference(action, actor, target, result, request_id, detail, time or "t")
    assert json.loads(line)["target"] == target


def test_a_line_without_a_time_gets_now() -> None:
    doc = json.loads(audit.to_line("entity.write", "admin", 'db/"k"\n', "ok"))
    assert doc["target"] == 'db/"k"\n' and doc["request_id"] is None and "detail" not in doc
    assert doc["time"].endswith("+00:00")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_a_stored_value_is_what_json_dumps_writes(value: object) -> None:
    try:
        want = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        want.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: escaped, so that the text is valid UTF-8
        want = json.dumps(value, separators=(",", ":"))
    assert jsonbody.dumps(value) == want


@given(texts, st.none() | texts, st.integers(100, 599), st.floats(0, 1e6), st.none() | texts, st.none() | texts)
def test_an_access_line_is_what_json_dumps_writes(
    method: str, route: str | None, status: int, seconds: float, request_id: str | None, principal: str | None
) -> None:
    line = access_line(method, route, status, seconds, request_id, principal)
    doc = {"method": method, "route": route, "status": status, "ms": round(seconds * 1000, 2),
           "request_id": request_id, "principal": principal}  # fmt: skip
    assert line == json.dumps(doc)
