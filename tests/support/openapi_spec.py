"""The served OpenAPI document, and checking a real answer against the operation it documents."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator
from multidict import CIMultiDictProxy
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from tests.conftest import Exporter

DOCUMENT = "urn:smoke-test-exporter:openapi"


def pointer(*parts: str) -> str:
    """A JSON pointer to ``parts`` (RFC 6901 escaping)."""
    return "".join("/" + part.replace("~", "~0").replace("/", "~1") for part in parts)


class Spec:
    """An OpenAPI document, and the check of one real answer against it."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        resource = DRAFT202012.create_resource(document)
        self._registry: Registry[Any] = Registry().with_resource(DOCUMENT, resource)

    def validator(self, at: str) -> Draft202012Validator:
        """A JSON Schema validator for the schema at the pointer ``at``, $refs resolved."""
        return Draft202012Validator(
            {"$ref": f"{DOCUMENT}#{at}"},
            registry=self._registry,
            format_checker=Draft202012Validator.FORMAT_CHECKER,
        )

    def resolve(self, at: str) -> tuple[str, dict[str, Any]]:
        """The object at ``at``, following a $ref: its own pointer and its value."""
        value: Any = self.document
        for part in at.split("/")[1:]:
            value = value[part.replace("~1", "/").replace("~0", "~")]
        if "$ref" in value:
            return self.resolve(value["$ref"].removeprefix("#"))
        return at, value

    def check(
        self,
        at: str,
        headers: CIMultiDictProxy[str] | Mapping[str, str],
        body: bytes,
        *,
        head: bool = False,
    ) -> None:
        """The answer matches the response object at ``at``: headers, media type, body."""
        at, response = self.resolve(at)
        for name in response.get("headers", {}):
            header_at, header = self.resolve(at + pointer("headers", name))
            if name not in headers:
                # Only Retry-After is optional: on a 503 that is a refusal, not a failed run.
                assert header["required"] is False, f"{name} missing at {at}"
                continue
            self.validator(header_at + "/schema").validate(headers[name])
        if head:
            assert body == b""
            return
        media = headers["Content-Type"].split(";", 1)[0]
        assert media in response["content"], f"{media} is not documented at {at}"
        text = body.decode("utf-8")
        content_at = at + pointer("content", media, "schema")
        instance = json.loads(text) if media.endswith("json") else text
        self.validator(content_at).validate(instance)


def operation(path: str, method: str, status: int) -> str:
    return pointer("paths", path, method, "responses", str(status))


async def answer(
    exporter: Exporter, method: str, path: str, **kwargs: Any
) -> tuple[int, CIMultiDictProxy[str], bytes]:
    async with exporter.client.request(method, path, **kwargs) as response:
        return response.status, response.headers, await response.read()


async def fetch_spec(exporter: Exporter) -> Spec:
    status, headers, body = await answer(exporter, "GET", "/openapi.json")
    assert status == 200
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    return Spec(json.loads(body))
