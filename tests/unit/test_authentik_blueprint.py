"""The authentik blueprint (config/authentik/portal.yaml) against authentik's published schema.

Two kinds of checks:
- the file is a valid blueprint for authentik 2026.2.2: every entry validated against the JSON
  schema that authentik publishes for blueprints, after authentik's YAML tags (!KeyOf, !Find, !Env,
  !Context, !Format, !If, ...) were replaced by placeholder values of the type authentik would
  resolve them to (a UUID string for most primary keys, an integer for providers);
- the blueprint reproduces the documented journey and logout behaviour: stage order, TOTP setup,
  12-hour session, Continue page, the OIDC provider's redirect URI, signing key, scopes,
  back-channel logout and an invalidation flow that really ends the authentik session;
- applying it behaves as on a real authentik (traps found on 2026.2.2): a small model of
  authentik's importer (entries in order, conditions first, ``state: created``, !KeyOf only to
  entries already applied, !Find into a fresh install's objects, !Env from the worker's
  environment, each entry checked against the schema) applies the blueprint to a model of a fresh
  install. It shows which flow authentik's own users and admins get on a host (authentik falls
  back to the alphabetically first flow when the host's brand has none), and which error a
  deployer reads when a variable is missing.

Everything these tests read is inside the repository (the schema copy in tests/data).
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import uuid
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
BLUEPRINT_PATH = REPO_ROOT / "config" / "authentik" / "portal.yaml"
README_PATH = REPO_ROOT / "config" / "authentik" / "README.md"
# authentik's published blueprint schema of 2026.2.2, committed with the tests; its digest pins
# the exact file that was downloaded, so an edited copy cannot pass the tests silently.
SCHEMA_PATH = REPO_ROOT / "tests" / "data" / "authentik-blueprint-schema.json"
SCHEMA_SHA256 = "b01c3d5f7ebe609d33baa2742ac329f1dd96f3b16cd1dafbeea905822b9bab1d"

CLIENT_ID = "customer-portal"
BRAND = "Example Business"
BASE_URL = "https://portal.example.com"
# What authentik's worker has in its environment in a correct deployment.
ENV = {"PORTAL_BASE_URL": BASE_URL, "PORTAL_OIDC_CLIENT_SECRET": "s3cret-from-the-environment"}
AUTHENTIK_HOST = "auth.example.com"


# --------------------------------------------------------------------------- YAML tags
class Tag:
    """Base class of the objects that stand for authentik's YAML tags."""


@dataclass
class KeyOf(Tag):
    ref: str


@dataclass
class Find(Tag):
    model: Any
    query: list[list[Any]]


@dataclass
class FindObject(Find):
    pass


@dataclass
class Env(Tag):
    key: Any
    default: Any = None


@dataclass
class File(Tag):
    path: Any
    default: Any = None


@dataclass
class Context(Tag):
    key: Any
    default: Any = None


@dataclass
class Format(Tag):
    template: Any
    args: list[Any]


@dataclass
class If(Tag):
    condition: Any
    when_true: Any = True
    when_false: Any = False


@dataclass
class Condition(Tag):
    mode: Any
    args: list[Any]


@dataclass
class ParseJSON(Tag):
    raw: str


@dataclass
class AtIndex(Tag):
    obj: Any
    attribute: Any
    default: Any = None
    has_default: bool = False


@dataclass
class Unsupported(Tag):
    """!Enumerate, !Value, !Index: accepted by the loader, but not resolved by these tests."""

    tag: str
    value: Any


class BlueprintLoader(yaml.SafeLoader):
    """A SafeLoader that accepts the tags of authentik's BlueprintLoader."""


def _items(loader: yaml.SafeLoader, node: yaml.Node) -> list[Any]:
    if isinstance(node, yaml.SequenceNode):
        return [loader.construct_object(child, deep=True) for child in node.value]
    return [loader.construct_scalar(node)]


def _key_with_default(cls: type[Tag]):
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> Tag:
        items = _items(loader, node)
        return cls(items[0], items[1] if len(items) > 1 else None)

    return construct


def _find(cls: type[Find]):
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> Tag:
        model, *query = _items(loader, node)
        return cls(model, [list(condition) for condition in query])

    return construct


def _head_and_rest(cls: type[Tag]):
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> Tag:
        head, *rest = _items(loader, node)
        return cls(head, rest)

    return construct


def _if(loader: yaml.SafeLoader, node: yaml.Node) -> Tag:
    items = _items(loader, node)
    return If(*items) if len(items) > 1 else If(items[0])


def _at_index(loader: yaml.SafeLoader, node: yaml.Node) -> Tag:
    items = _items(loader, node)
    if len(items) > 2:
        return AtIndex(items[0], items[1], items[2], has_default=True)
    return AtIndex(items[0], items[1])


def _unsupported(tag: str):
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> Tag:
        return Unsupported(tag, _items(loader, node))

    return construct


BlueprintLoader.add_constructor("!KeyOf", lambda loader, node: KeyOf(loader.construct_scalar(node)))
BlueprintLoader.add_constructor("!Find", _find(Find))
BlueprintLoader.add_constructor("!FindObject", _find(FindObject))
BlueprintLoader.add_constructor("!Env", _key_with_default(Env))
BlueprintLoader.add_constructor("!File", _key_with_default(File))
BlueprintLoader.add_constructor("!Context", _key_with_default(Context))
BlueprintLoader.add_constructor("!Format", _head_and_rest(Format))
BlueprintLoader.add_constructor("!If", _if)
BlueprintLoader.add_constructor("!Condition", _head_and_rest(Condition))
BlueprintLoader.add_constructor(
    "!ParseJSON", lambda loader, node: ParseJSON(loader.construct_scalar(node))
)
BlueprintLoader.add_constructor("!AtIndex", _at_index)
for _name in ("!Enumerate", "!Value", "!Index"):
    BlueprintLoader.add_constructor(_name, _unsupported(_name))


# --------------------------------------------------------------------------- placeholders
def _has_integer_pk(model: str) -> bool:
    """Providers and users have integer primary keys in authentik; everything else a UUID."""
    app, _, name = model.partition(".")
    return (app.startswith("authentik_providers_") and name.endswith("provider")) or (
        model == "authentik_core.user"
    )


def placeholder_pk(model: str, seed: str) -> int | str:
    if _has_integer_pk(model):
        return zlib.crc32(f"{model}/{seed}".encode()) % 1_000_000 + 1
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{model}/{seed}"))


_COMPARATORS = {
    "AND": all,
    "NAND": lambda args: not all(args),
    "OR": any,
    "NOR": lambda args: not any(args),
    "XOR": lambda args: sum(args) % 2 == 1,
    "XNOR": lambda args: sum(args) % 2 == 0,
}


class ApplyFailed(Exception):
    """What authentik logs when an entry is invalid; nothing of the blueprint is kept."""


class Resolver:
    """Resolve tags the way authentik would, with placeholders for what needs a database.

    Without ``env`` (shape checks): !Env gives its default, or "<env NAME>" when it has none;
    !KeyOf gives a placeholder key; !Find gives a placeholder key. With ``env`` (applying): !Env
    gives ``env[NAME] or default`` as authentik does (so None when unset); !KeyOf resolves only to
    an entry already applied and otherwise fails with authentik's message; !Find looks into the
    model of an authentik install and gives None when nothing matches.
    """

    def __init__(
        self,
        document: dict[str, Any],
        *,
        env: Mapping[str, str] | None = None,
        context: Mapping[str, Any] | None = None,
        authentik: FakeAuthentik | None = None,
    ) -> None:
        self.context = {**(document.get("context") or {}), **(context or {})}
        self.model_of = {
            entry["id"]: entry["model"] for entry in entries_of(document) if "id" in entry
        }
        self.env = env
        self.authentik = authentik
        self.applied: dict[str, int | str] = {}

    def __call__(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {self(key): self(inner) for key, inner in value.items()}
        if isinstance(value, list):
            return [self(inner) for inner in value]
        if isinstance(value, Tag):
            return self._tag(value)
        return value

    def _tag(self, tag: Tag) -> Any:
        if isinstance(tag, KeyOf):
            if self.authentik is not None:
                if tag.ref not in self.applied:
                    raise ApplyFailed(
                        f"KeyOf: failed to find entry with `id` of `{tag.ref}` and a model instance"
                    )
                return self.applied[tag.ref]
            return placeholder_pk(self.model_of.get(tag.ref, "authentik_core.group"), tag.ref)
        if isinstance(tag, FindObject):
            return {}
        if isinstance(tag, Find):
            model, query = str(self(tag.model)), self(tag.query)
            if self.authentik is not None:
                return self.authentik.find_pk(model, query)
            return placeholder_pk(model, json.dumps(query))
        if isinstance(tag, Env):
            if self.env is not None:
                return self.env.get(tag.key) or self(tag.default)
            return self(tag.default) if tag.default is not None else f"<env {tag.key}>"
        if isinstance(tag, File):
            return self(tag.default) if tag.default is not None else f"<file {tag.path}>"
        if isinstance(tag, Context):
            return self(self.context.get(tag.key, tag.default))
        if isinstance(tag, Format):
            return str(self(tag.template)) % tuple(self(arg) for arg in tag.args)
        if isinstance(tag, If):
            return self(tag.when_true if self(tag.condition) else tag.when_false)
        if isinstance(tag, Condition):
            return _COMPARATORS[str(tag.mode).upper()](tuple(bool(self(a)) for a in tag.args))
        if isinstance(tag, ParseJSON):
            return json.loads(tag.raw)
        if isinstance(tag, AtIndex):
            obj, attribute = self(tag.obj), self(tag.attribute)
            try:
                return obj[attribute]
            except (IndexError, KeyError):
                if tag.has_default:
                    return self(tag.default)
                raise
        raise AssertionError(f"{tag!r}: these tests cannot resolve this tag")


# --------------------------------------------------------------------------- a model of authentik
# Foreign keys that authentik's serializers accept as null although the published schema types
# them as plain UUID strings (a brand without a recovery flow is authentik's own default).
NULLABLE_FIELDS = {
    ("authentik_brands.brand", name)
    for name in ("flow_recovery", "flow_unenrollment", "flow_device_code")
}


@dataclass
class FakeAuthentik:
    """The objects of an authentik install that the blueprint can see, by model."""

    objects: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @classmethod
    def fresh(cls) -> FakeAuthentik:
        """What a fresh 2026.2 install has that matters here (its default blueprints)."""
        fake = cls()
        for slug, designation in (
            ("default-authentication-flow", "authentication"),
            ("default-invalidation-flow", "invalidation"),
            ("default-user-settings-flow", "stage_configuration"),
            ("default-provider-authorization-implicit-consent", "authorization"),
            ("default-provider-invalidation-flow", "invalidation"),
            ("default-source-authentication", "authentication"),
        ):
            fake.add("authentik_flows.flow", {"slug": slug, "designation": designation})
        fake.add(
            "authentik_brands.brand",
            {
                "domain": "authentik-default",
                "default": True,
                "branding_title": "authentik",
                "flow_authentication": fake.find_pk(
                    "authentik_flows.flow", [["slug", "default-authentication-flow"]]
                ),
                "flow_invalidation": fake.find_pk(
                    "authentik_flows.flow", [["slug", "default-invalidation-flow"]]
                ),
                "flow_user_settings": fake.find_pk(
                    "authentik_flows.flow", [["slug", "default-user-settings-flow"]]
                ),
            },
        )
        fake.add(
            "authentik_crypto.certificatekeypair", {"name": "authentik Self-signed Certificate"}
        )
        for scope in ("openid", "profile", "email"):
            fake.add(
                "authentik_providers_oauth2.scopemapping",
                {"managed": f"goauthentik.io/providers/oauth2/scope-{scope}"},
            )
        return fake

    def add(self, model: str, fields: dict[str, Any]) -> dict[str, Any]:
        seed = (
            f"{len(self.objects.get(model, []))}/{json.dumps(fields, sort_keys=True, default=str)}"
        )
        obj = {"pk": placeholder_pk(model, seed), **fields}
        self.objects.setdefault(model, []).append(obj)
        return obj

    def find(self, model: str, query: list[list[Any]] | dict[str, Any]) -> dict[str, Any] | None:
        pairs = query.items() if isinstance(query, dict) else [tuple(pair) for pair in query]
        for obj in self.objects.get(model, []):
            if all(obj.get(key) == value for key, value in pairs):
                return obj
        return None

    def find_pk(self, model: str, query: list[list[Any]]) -> int | str | None:
        obj = self.find(model, query)
        return obj["pk"] if obj else None

    def slug_of(self, pk: Any) -> str | None:
        flow = self.find("authentik_flows.flow", {"pk": pk}) if pk else None
        return flow["slug"] if flow else None

    def flow_for(self, host: str, designation: str) -> str | None:
        """The flow authentik uses on ``host`` for a brand flow (authentication, invalidation,
        user_settings): the brand whose domain ends the host, else the default brand; when that
        brand has no such flow, authentication and invalidation fall back to the first flow of
        that designation by slug (authentik's ToDefaultFlow), user settings to none."""
        brands = self.objects.get("authentik_brands.brand", [])
        matching = [b for b in brands if not b.get("default") and host.endswith(b["domain"])]
        brand = (matching or [b for b in brands if b.get("default")])[0]
        slug = self.slug_of(brand.get(f"flow_{designation}"))
        if slug or designation == "user_settings":
            return slug
        candidates = sorted(
            flow["slug"]
            for flow in self.objects.get("authentik_flows.flow", [])
            if flow.get("designation") == designation
        )
        return candidates[0] if candidates else None


def apply_blueprint(
    text: str,
    *,
    env: Mapping[str, str],
    context: Mapping[str, Any] | None = None,
    authentik: FakeAuthentik | None = None,
) -> FakeAuthentik:
    """Apply as authentik's importer does, on a copy: all entries or none (ApplyFailed)."""
    document = load_blueprint(text)
    result = copy.deepcopy(authentik or FakeAuthentik.fresh())
    resolve = Resolver(document, env=env, context=context, authentik=result)
    for entry in entries_of(document):
        conditions = resolve(entry.get("conditions", []))
        if not all(conditions):
            continue
        model = entry["model"]
        identifiers = resolve(entry["identifiers"])
        existing = result.find(model, identifiers)
        if existing and entry.get("state", "present") == "created":
            continue
        attrs = resolve(entry.get("attrs") or {})
        checked = {
            key: value
            for key, value in attrs.items()
            if not (value is None and (model, key) in NULLABLE_FIELDS)
        }
        errors = schema_errors(
            {
                "version": 1,
                "entries": [
                    {
                        **entry,
                        "conditions": conditions,
                        "identifiers": identifiers,
                        "attrs": checked,
                    }
                ],
            }
        )
        if errors:
            raise ApplyFailed(f"entry invalid: {errors}")
        obj = existing or result.add(model, {})
        obj.update({**attrs, **identifiers})
        if "id" in entry:
            resolve.applied[entry["id"]] = obj["pk"]
    return result


# --------------------------------------------------------------------------- loading
def entries_of(document: dict[str, Any]) -> list[dict[str, Any]]:
    entries = document["entries"]
    if isinstance(entries, dict):
        return [entry for section in entries.values() for entry in section]
    return list(entries)


def load_blueprint(text: str) -> dict[str, Any]:
    return yaml.load(text, Loader=BlueprintLoader)  # noqa: S506 - a SafeLoader subclass


@cache
def schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def schema_errors(document: dict[str, Any]) -> list[str]:
    """Validation errors of a tag-resolved blueprint: per entry first (readable), then whole."""
    full = schema()
    branches = {
        branch["properties"]["model"]["const"]: branch
        for branch in full["$defs"]["blueprint_entry"]["oneOf"]
    }
    checker = jsonschema.FormatChecker()
    errors = []
    for index, entry in enumerate(entries_of(document)):
        model = entry.get("model")
        if model not in branches:
            errors.append(f"entry {index}: model {model!r} is not in authentik's schema")
            continue
        validator = jsonschema.Draft7Validator(
            {**branches[model], "$defs": full["$defs"]}, format_checker=checker
        )
        for error in validator.iter_errors(entry):
            where = "/".join(str(part) for part in error.absolute_path)
            errors.append(f"entry {index} ({model}) {where}: {error.message}")
    if not errors:
        validator = jsonschema.Draft7Validator(full, format_checker=checker)
        errors = [error.message for error in validator.iter_errors(document)]
    return errors


class Blueprint:
    """The raw blueprint (tags kept) and helpers to read it."""

    def __init__(self, text: str, context: Mapping[str, Any] | None = None) -> None:
        self.raw = load_blueprint(text)
        self.resolve = Resolver(self.raw, env=ENV, context=context)
        self.entries = entries_of(self.raw)

    def by_id(self, entry_id: str) -> dict[str, Any]:
        matches = [entry for entry in self.entries if entry.get("id") == entry_id]
        assert len(matches) == 1, f"expected one entry with id {entry_id!r}, got {len(matches)}"
        return matches[0]

    def of_model(self, model: str) -> list[dict[str, Any]]:
        return [entry for entry in self.entries if entry["model"] == model]

    def one(self, model: str) -> dict[str, Any]:
        matches = self.of_model(model)
        assert len(matches) == 1, f"expected one {model}, got {len(matches)}"
        return matches[0]

    @staticmethod
    def fields(entry: dict[str, Any]) -> dict[str, Any]:
        """What authentik saves: attrs with the identifiers merged over them (tags kept)."""
        return {**(entry.get("attrs") or {}), **(entry.get("identifiers") or {})}

    def value(self, entry: dict[str, Any], name: str) -> Any:
        return self.resolve(self.fields(entry).get(name))

    def flow(self, designation: str) -> dict[str, Any]:
        flows = [
            entry
            for entry in self.of_model("authentik_flows.flow")
            if self.value(entry, "designation") == designation
        ]
        assert len(flows) == 1, f"expected one {designation} flow, got {len(flows)}"
        return flows[0]

    def stages_of(self, flow: dict[str, Any]) -> list[dict[str, Any]]:
        """The stage entries bound to a flow, in binding order."""
        bindings = []
        for binding in self.of_model("authentik_flows.flowstagebinding"):
            fields = self.fields(binding)
            if fields.get("target") == KeyOf(flow["id"]):
                stage = fields.get("stage")
                assert isinstance(stage, KeyOf), f"binding stage is not a !KeyOf: {stage!r}"
                bindings.append((self.resolve(fields.get("order")), self.by_id(stage.ref)))
        orders = [order for order, _ in bindings]
        assert len(set(orders)) == len(orders), f"two bindings share an order: {orders}"
        return [stage for _, stage in sorted(bindings, key=lambda pair: pair[0])]

    def provider(self) -> dict[str, Any]:
        return self.one("authentik_providers_oauth2.oauth2provider")


@cache
def blueprint_text() -> str:
    return BLUEPRINT_PATH.read_text(encoding="utf-8")


@pytest.fixture
def bp() -> Blueprint:
    return Blueprint(blueprint_text())


def _walk(value: Any):
    yield value
    if isinstance(value, dict):
        for inner in value.values():
            yield from _walk(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _walk(inner)
    elif isinstance(value, Tag):
        for inner in vars(value).values():
            yield from _walk(inner)


def parse_duration(text: str) -> timedelta:
    """authentik's "hours=1;minutes=2;seconds=3" format."""
    parts = {}
    for part in str(text).split(";"):
        unit, _, amount = part.partition("=")
        parts[unit.strip()] = float(amount)
    return timedelta(**parts)


# --------------------------------------------------------------------------- the loader itself
def test_loader_accepts_authentik_tags_and_resolves_them_to_typed_placeholders() -> None:
    text = """
version: 1
context:
  base: !Env [PORTAL_BASE_URL, "https://portal.example.com"]
  flag: true
entries:
  - model: authentik_providers_oauth2.oauth2provider
    id: p
    identifiers: {name: p}
    attrs:
      signing_key: !Find [authentik_crypto.certificatekeypair, [name, x]]
      logout_uri: !Format ["%s/x", !Context base]
      client_secret: !Env SECRET_WITHOUT_DEFAULT
      client_type: !If [!Condition [AND, !Context flag], confidential, public]
      name: !AtIndex [[a, b], 1]
  - model: authentik_core.application
    identifiers: {slug: a}
    attrs:
      provider: !KeyOf p
      meta_description: !ParseJSON '"text"'
"""
    document = load_blueprint(text)
    resolved = Resolver(document)(document)
    provider, application = resolved["entries"]
    uuid.UUID(provider["attrs"]["signing_key"])
    assert provider["attrs"]["logout_uri"] == "https://portal.example.com/x"
    assert provider["attrs"]["client_secret"] == "<env SECRET_WITHOUT_DEFAULT>"
    assert provider["attrs"]["client_type"] == "confidential"
    assert provider["attrs"]["name"] == "b"
    assert isinstance(application["attrs"]["provider"], int)
    assert application["attrs"]["meta_description"] == "text"
    assert schema_errors(resolved) == []


def test_schema_validation_catches_a_wrong_type_and_an_unknown_model() -> None:
    bad = {
        "version": 1,
        "entries": [
            {
                "model": "authentik_stages_authenticator_totp.authenticatortotpstage",
                "identifiers": {"name": "x"},
                "attrs": {"digits": "7"},
            },
            {"model": "authentik_stages_nonexistent.stage", "identifiers": {"name": "y"}},
        ],
    }
    errors = schema_errors(bad)
    assert any("digits" in error for error in errors), errors
    assert any("not in authentik's schema" in error for error in errors), errors


# --------------------------------------------------------------------------- schema validity
def test_schema_is_authentik_2026_2_2() -> None:
    assert schema()["title"] == "authentik 2026.2.2 Blueprint schema"


def test_schema_copy_is_the_published_file_unchanged() -> None:
    assert hashlib.sha256(SCHEMA_PATH.read_bytes()).hexdigest() == SCHEMA_SHA256


OPTIONAL_PARTS = {
    "create_brand": True,
    "brand_domain": AUTHENTIK_HOST,
    "register_post_logout_uri": True,
}


@pytest.mark.parametrize("context", [{}, OPTIONAL_PARTS], ids=["defaults", "optional-parts-on"])
def test_blueprint_is_valid_against_authentiks_published_schema(context: dict[str, Any]) -> None:
    bp = Blueprint(blueprint_text(), context)
    active = [entry for entry in bp.entries if all(bp.resolve(entry.get("conditions", [])))]
    assert schema_errors({**bp.raw, "entries": bp.resolve(active)}) == []


def test_required_setting_entries_are_valid_entries_too(bp: Blueprint) -> None:
    required = [entry for entry in bp.entries if is_required_setting_entry(entry)]
    assert len(required) == 4
    assert schema_errors({"version": 1, "entries": bp.resolve(required)}) == []


def test_blueprint_has_version_metadata_and_complete_entries(bp: Blueprint) -> None:
    assert bp.raw["version"] == 1
    assert bp.raw["metadata"]["name"]
    assert bp.entries
    for entry in bp.entries:
        assert {"model", "identifiers", "attrs"} <= set(entry), entry
        assert entry["identifiers"], entry


def is_required_setting_entry(entry: dict[str, Any]) -> bool:
    """Entries that exist only to stop the blueprint, with a readable reason, when a setting is
    missing: their !KeyOf names no entry on purpose."""
    return str(entry.get("id", "")).startswith("required-")


def test_ids_are_unique_and_every_keyof_points_to_an_earlier_entry(bp: Blueprint) -> None:
    seen: set[str] = set()
    ids = {entry.get("id") for entry in bp.entries}
    for entry in bp.entries:
        for value in _walk(entry):
            if not isinstance(value, KeyOf):
                continue
            if is_required_setting_entry(entry):
                assert value.ref not in ids, f"{entry['id']} must always fail, yet names an entry"
            else:
                assert value.ref in seen, f"!KeyOf {value.ref} before (or without) its entry"
        if "id" in entry:
            assert entry["id"] not in seen, f"duplicate id {entry['id']}"
            seen.add(entry["id"])


def test_no_tags_that_depend_on_files_or_loops(bp: Blueprint) -> None:
    assert not any(isinstance(value, Unsupported | File) for value in _walk(bp.raw))


# --------------------------------------------------------------------------- the journey
def test_authentication_flow_is_username_then_password_then_totp_then_login(
    bp: Blueprint,
) -> None:
    flow = bp.flow("authentication")
    assert [stage["model"] for stage in bp.stages_of(flow)] == [
        "authentik_stages_identification.identificationstage",
        "authentik_stages_password.passwordstage",
        "authentik_stages_authenticator_validate.authenticatorvalidatestage",
        "authentik_stages_user_login.userloginstage",
    ]
    assert bp.value(flow, "title") == f"Welcome to {BRAND} Auth!"


def test_identification_asks_the_username_only_and_password_on_its_own_page(
    bp: Blueprint,
) -> None:
    identification = bp.one("authentik_stages_identification.identificationstage")
    assert bp.value(identification, "user_fields") == ["username"]
    # With password_stage set, authentik would show the password field on the username page.
    assert bp.value(identification, "password_stage") is None
    password = bp.one("authentik_stages_password.passwordstage")
    assert "authentik.core.auth.InbuiltBackend" in bp.value(password, "backends")


def test_totp_validation_configures_a_missing_authenticator_with_a_six_digit_totp_setup(
    bp: Blueprint,
) -> None:
    validation = bp.one("authentik_stages_authenticator_validate.authenticatorvalidatestage")
    assert bp.value(validation, "not_configured_action") == "configure"
    assert bp.value(validation, "device_classes") == ["totp"]
    setup = bp.one("authentik_stages_authenticator_totp.authenticatortotpstage")
    assert bp.fields(validation)["configuration_stages"] == [KeyOf(setup["id"])]
    assert bp.value(setup, "digits") == "6"
    # A code on every login: no skipping because a device was used recently.
    assert parse_duration(bp.value(validation, "last_auth_threshold") or "seconds=0") == (
        timedelta(0)
    )


def test_user_login_makes_a_twelve_hour_sso_session(bp: Blueprint) -> None:
    login = bp.one("authentik_stages_user_login.userloginstage")
    assert bp.value(login, "session_duration") == "hours=12"
    assert parse_duration(bp.value(login, "session_duration")) == timedelta(hours=12)
    remember = bp.value(login, "remember_me_offset")
    assert remember is None or parse_duration(remember) == timedelta(0)


def test_authorization_flow_shows_the_continue_page_on_every_login(bp: Blueprint) -> None:
    flow = bp.flow("authorization")
    stages = bp.stages_of(flow)
    assert [stage["model"] for stage in stages] == ["authentik_stages_consent.consentstage"]
    assert bp.value(stages[0], "mode") == "always_require"
    assert bp.value(flow, "authentication") == "require_authenticated"


def test_invalidation_flow_ends_the_authentik_session(bp: Blueprint) -> None:
    flow = bp.flow("invalidation")
    models = [stage["model"] for stage in bp.stages_of(flow)]
    assert "authentik_stages_user_logout.userlogoutstage" in models


def test_brand_title_names_the_authenticator_entry() -> None:
    bp = Blueprint(blueprint_text(), OPTIONAL_PARTS)
    brand = bp.one("authentik_brands.brand")
    assert bp.value(brand, "branding_title") == BRAND
    assert bp.value(brand, "domain") == AUTHENTIK_HOST
    # Never turns an existing brand into (or out of) the default brand.
    assert "default" not in bp.fields(brand)


# --------------------------------------------------------------------------- the OIDC provider
def _base_url(bp: Blueprint) -> str:
    base = bp.resolve(Context("portal_base_url"))
    assert isinstance(base, str) and base.startswith("https://") and not base.endswith("/")
    return base


def test_provider_is_a_confidential_client_with_a_fixed_id_and_no_literal_secret(
    bp: Blueprint,
) -> None:
    provider = bp.provider()
    assert bp.value(provider, "client_type") == "confidential"
    assert bp.value(provider, "client_id") == CLIENT_ID
    secret = bp.fields(provider)["client_secret"]
    if isinstance(secret, Context):
        secret = bp.raw["context"][secret.key]
    assert isinstance(secret, Env) and secret.default is None, (
        "the client secret must come from the environment, with no default in the file"
    )


def test_provider_redirect_uri_is_strict_base_url_auth_callback(bp: Blueprint) -> None:
    provider = bp.provider()
    assert bp.value(provider, "redirect_uris") == [
        {"matching_mode": "strict", "url": f"{_base_url(bp)}/auth/callback"}
    ]
    # The base URL comes from the environment of authentik's worker, with no fallback.
    base = bp.raw["context"]["portal_base_url"]
    assert isinstance(base, Env) and base.key == "PORTAL_BASE_URL" and base.default is None


def test_provider_signs_with_a_key_pair_not_the_client_secret(bp: Blueprint) -> None:
    signing_key = bp.fields(bp.provider()).get("signing_key")
    assert isinstance(signing_key, Find | KeyOf), "without signing_key authentik uses HS256"
    if isinstance(signing_key, Find):
        assert signing_key.model == "authentik_crypto.certificatekeypair"
        assert bp.resolve(signing_key.query) == [["name", "authentik Self-signed Certificate"]]
    else:
        assert bp.by_id(signing_key.ref)["model"] == "authentik_crypto.certificatekeypair"


def test_provider_maps_the_openid_profile_and_email_scopes(bp: Blueprint) -> None:
    mappings = bp.fields(bp.provider())["property_mappings"]
    assert all(
        isinstance(m, Find) and m.model == "authentik_providers_oauth2.scopemapping"
        for m in mappings
    )
    managed = sorted(bp.resolve(m.query)[0][1] for m in mappings if m.query[0][0] == "managed")
    assert managed == [
        f"goauthentik.io/providers/oauth2/scope-{scope}" for scope in ("email", "openid", "profile")
    ]


def test_provider_sends_back_channel_logout_to_the_portal(bp: Blueprint) -> None:
    provider = bp.provider()
    assert bp.value(provider, "logout_method") == "backchannel"
    assert bp.value(provider, "logout_uri") == f"{_base_url(bp)}/auth/backchannel-logout"
    # authentik only notifies for unexpired access tokens of the ending session.
    validity = parse_duration(bp.value(provider, "access_token_validity"))
    assert validity >= timedelta(hours=12)


def test_provider_uses_the_portal_flows_and_a_per_provider_issuer(bp: Blueprint) -> None:
    provider = bp.provider()
    fields = bp.fields(provider)
    assert fields["authentication_flow"] == KeyOf(bp.flow("authentication")["id"])
    assert fields["authorization_flow"] == KeyOf(bp.flow("authorization")["id"])
    assert fields["invalidation_flow"] == KeyOf(bp.flow("invalidation")["id"])
    assert bp.value(provider, "issuer_mode") == "per_provider"
    assert bp.value(provider, "include_claims_in_id_token") is True


def test_application_uses_the_provider_and_the_documented_slug(bp: Blueprint) -> None:
    application = bp.one("authentik_core.application")
    assert bp.fields(application)["provider"] == KeyOf(bp.provider()["id"])
    assert bp.value(application, "slug") == "customer-portal"
    assert bp.value(application, "meta_launch_url") == _base_url(bp)


# --------------------------------------------------------------------------- applying it (traps)
def without(name: str) -> dict[str, str]:
    return {key: value for key, value in ENV.items() if key != name}


def test_applies_on_a_fresh_install_with_both_variables_set() -> None:
    after = apply_blueprint(blueprint_text(), env=ENV)
    provider = after.find("authentik_providers_oauth2.oauth2provider", {"name": "Customer Portal"})
    assert provider is not None
    assert provider["client_secret"] == ENV["PORTAL_OIDC_CLIENT_SECRET"]
    assert provider["logout_uri"] == f"{BASE_URL}/auth/backchannel-logout"


def test_the_model_of_authentik_falls_back_to_the_first_flow_by_slug() -> None:
    """The trap itself, shown on the model: a brand for the host without flows."""
    fake = FakeAuthentik.fresh()
    fake.add("authentik_flows.flow", {"slug": "a-portal-flow", "designation": "authentication"})
    fake.add("authentik_brands.brand", {"domain": AUTHENTIK_HOST, "branding_title": "x"})
    assert fake.flow_for(AUTHENTIK_HOST, "authentication") == "a-portal-flow"
    assert fake.flow_for(AUTHENTIK_HOST, "user_settings") is None
    assert fake.flow_for("other.example.net", "authentication") == "default-authentication-flow"


@pytest.mark.parametrize("host", [AUTHENTIK_HOST, "sso.example.org"])
def test_by_default_authentiks_own_users_and_admins_sign_in_as_before(host: str) -> None:
    before = FakeAuthentik.fresh()
    after = apply_blueprint(blueprint_text(), env=ENV, authentik=before)
    assert after.objects["authentik_brands.brand"] == before.objects["authentik_brands.brand"]
    assert after.flow_for(host, "authentication") == "default-authentication-flow"
    assert after.flow_for(host, "invalidation") == "default-invalidation-flow"
    assert after.flow_for(host, "user_settings") == "default-user-settings-flow"


def test_a_created_brand_gets_every_flow_and_keeps_authentiks_own_login() -> None:
    after = apply_blueprint(blueprint_text(), env=ENV, context=OPTIONAL_PARTS)
    brand = after.find("authentik_brands.brand", {"domain": AUTHENTIK_HOST})
    assert brand is not None and brand["branding_title"] == BRAND
    flows = {"authentication", "invalidation", "user_settings", "recovery", "unenrollment"}
    assert {f"flow_{name}" for name in flows | {"device_code"}} <= set(brand)
    assert after.flow_for(AUTHENTIK_HOST, "authentication") == "default-authentication-flow"
    assert after.flow_for(AUTHENTIK_HOST, "invalidation") == "default-invalidation-flow"
    assert after.flow_for(AUTHENTIK_HOST, "user_settings") == "default-user-settings-flow"
    portal_flows = {
        flow["pk"]
        for flow in after.objects["authentik_flows.flow"]
        if flow["slug"].startswith("customer-portal-")
    }
    assert not portal_flows & {brand[f"flow_{name}"] for name in flows}


def test_create_brand_never_changes_a_brand_that_exists() -> None:
    before = FakeAuthentik.fresh()
    own_login = before.add(
        "authentik_flows.flow", {"slug": "company-login", "designation": "authentication"}
    )
    before.add(
        "authentik_brands.brand",
        {
            "domain": AUTHENTIK_HOST,
            "branding_title": "Company",
            "flow_authentication": own_login["pk"],
        },
    )
    after = apply_blueprint(blueprint_text(), env=ENV, context=OPTIONAL_PARTS, authentik=before)
    assert after.objects["authentik_brands.brand"] == before.objects["authentik_brands.brand"]
    assert after.flow_for(AUTHENTIK_HOST, "authentication") == "company-login"


@pytest.mark.parametrize(
    ("env", "context", "named"),
    [
        (without("PORTAL_OIDC_CLIENT_SECRET"), {}, "PORTAL_OIDC_CLIENT_SECRET"),
        ({**ENV, "PORTAL_OIDC_CLIENT_SECRET": ""}, {}, "PORTAL_OIDC_CLIENT_SECRET"),
        (without("PORTAL_BASE_URL"), {}, "PORTAL_BASE_URL"),
        ({}, {}, "PORTAL_BASE_URL"),
        (ENV, {"create_brand": True}, "brand_domain"),
        (
            ENV,
            {**OPTIONAL_PARTS, "brand_authentication_flow": "no-such-flow"},
            "brand_authentication_flow",
        ),
    ],
    ids=[
        "no-secret",
        "empty-secret",
        "no-base-url",
        "nothing-set",
        "brand-no-domain",
        "brand-bad-flow",
    ],
)
def test_a_missing_setting_stops_the_blueprint_naming_it(
    env: dict[str, str], context: dict[str, Any], named: str
) -> None:
    """authentik reports only the first invalid entry: it must name what to set."""
    with pytest.raises(ApplyFailed) as failure:
        apply_blueprint(blueprint_text(), env=env, context=context)
    assert named in str(failure.value)


def test_the_client_secret_may_come_from_the_instance_context_instead() -> None:
    env = without("PORTAL_OIDC_CLIENT_SECRET")
    after = apply_blueprint(blueprint_text(), env=env, context={"client_secret": "from-context"})
    provider = after.find("authentik_providers_oauth2.oauth2provider", {"name": "Customer Portal"})
    assert provider is not None and provider["client_secret"] == "from-context"


def test_no_setting_falls_back_to_a_host_of_someone_else(bp: Blueprint) -> None:
    envs = [value for value in _walk(bp.raw) if isinstance(value, Env)]
    assert envs and all(env.default is None for env in envs), "a required value with a default"
    for key, value in bp.raw["context"].items():
        if isinstance(value, str):
            assert "://" not in value and not re.search(r"\.[a-z]{2,}$", value), key


def test_post_logout_uri_is_registered_only_when_asked_and_typed_logout() -> None:
    default = Blueprint(blueprint_text())
    assert default.raw["context"]["register_post_logout_uri"] is False
    assert default.value(default.provider(), "redirect_uris") == [
        {"matching_mode": "strict", "url": f"{BASE_URL}/auth/callback"}
    ]
    on = Blueprint(blueprint_text(), {"register_post_logout_uri": True})
    assert on.value(on.provider(), "redirect_uris") == [
        {
            "matching_mode": "strict",
            "url": f"{BASE_URL}/auth/callback",
            "redirect_uri_type": "authorization",
        },
        {"matching_mode": "strict", "url": f"{BASE_URL}/logged-out", "redirect_uri_type": "logout"},
    ]


def bindings_of(after: FakeAuthentik) -> list[dict[str, Any]]:
    return after.objects.get("authentik_policies.policybinding", [])


def test_by_default_every_user_may_reach_the_portal() -> None:
    assert Blueprint(blueprint_text()).raw["context"]["allowed_group"] == ""
    after = apply_blueprint(blueprint_text(), env=ENV)
    assert bindings_of(after) == []


def test_allowed_group_binds_a_new_group_to_the_application() -> None:
    after = apply_blueprint(blueprint_text(), env=ENV, context={"allowed_group": "customers"})
    group = after.find("authentik_core.group", {"name": "customers"})
    application = after.find("authentik_core.application", {"slug": "customer-portal"})
    assert group is not None and application is not None
    [binding] = bindings_of(after)
    assert binding["target"] == application["pk"]
    assert binding["group"] == group["pk"]
    assert binding["enabled"] is True and binding["negate"] is False
    assert binding["failure_result"] is False  # a policy error refuses, never admits


def test_allowed_group_never_changes_a_group_that_exists() -> None:
    before = FakeAuthentik.fresh()
    existing = before.add("authentik_core.group", {"name": "customers", "users": [7, 8]})
    after = apply_blueprint(
        blueprint_text(), env=ENV, context={"allowed_group": "customers"}, authentik=before
    )
    assert after.objects["authentik_core.group"] == [existing]
    [binding] = bindings_of(after)
    assert binding["group"] == existing["pk"]


def test_the_profile_scope_that_carries_groups_is_mapped_and_the_readme_says_so(
    bp: Blueprint,
) -> None:
    mappings = bp.value(bp.provider(), "property_mappings")
    profile = placeholder_pk(
        "authentik_providers_oauth2.scopemapping",
        json.dumps([["managed", "goauthentik.io/providers/oauth2/scope-profile"]]),
    )
    assert profile in mappings
    assert bp.value(bp.provider(), "include_claims_in_id_token") is True
    readme = README_PATH.read_text(encoding="utf-8")
    assert "`groups` claim with the **profile** scope" in readme
    assert "PORTAL_ALLOWED_GROUPS=customers" in readme


def test_readme_blueprint_and_portal_check_tell_one_post_logout_story() -> None:
    from portal.checklist import AUTHENTIK_POST_LOGOUT_NOTE

    readme = README_PATH.read_text(encoding="utf-8")
    assert "register_post_logout_uri" in load_blueprint(blueprint_text())["context"]
    for text in (readme, AUTHENTIK_POST_LOGOUT_NOTE):
        assert "register_post_logout_uri: true" in text
        assert "2026.5" in text
        assert "overwrit" in text  # a URI added by hand does not survive the next apply


def test_readme_uses_only_ak_options_that_exist_in_2026_2() -> None:
    readme = README_PATH.read_text(encoding="utf-8")
    assert "--dry-run" not in readme.replace("`--dry-run` does not exist", "")
    commands = re.findall(r"ak apply_blueprint[^\n`]*", readme)
    assert commands
    assert all(not re.search(r"\s--?[a-z]", command) for command in commands), commands
