"""Check a skill package against the rules Amazon documents for certification.

Sources (Alexa Skills Kit documentation): "Choose the Invocation Name for a Custom Skill" (invocation name
requirements), "Understand How Users Invoke Custom Skills" (launch phrases and connecting words, the forms of
example phrases), "Create Intents, Utterances, and Slots" and "Interaction Model Schema" (samples, slots, slot
types, required built-in intents), "Skill Manifest Schema" (publishing information, privacy and compliance,
the custom endpoint) and the certification checklist (https everywhere, icons of 108x108 and 512x512 pixels,
example phrases that are sample utterances).

``problems(files)`` returns one line per broken rule, naming the file and the field; an empty list means the
package passes. The language-specific word lists (launch words, connecting words, example phrase forms) come
from the locale data files, so a new locale brings its own.
"""
from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from skills.skill_package import build
from skills.skill_package.icons import png_size

# Words no invocation name may contain, in any language: wake words and "skill"/"app".
FORBIDDEN_WORDS = ("alexa", "amazon", "echo", "computer", "ziggy", "skill", "app")
# Host names that can never be a real public endpoint (RFC 2606 and RFC 6761 reserved names).
RESERVED_SUFFIXES = (".invalid", ".example", ".test", ".localhost", ".local", ".internal")
RESERVED_DOMAINS = ("localhost", "invalid", "example", "test", "example.com", "example.net", "example.org")
SSL_CERTIFICATE_TYPES = ("Trusted", "Wildcard", "SelfSigned")
REQUIRED_BUILT_INS = ("AMAZON.CancelIntent", "AMAZON.HelpIntent", "AMAZON.StopIntent",
                      "AMAZON.NavigateHomeIntent", "AMAZON.FallbackIntent")
INVOCATION_CHARS = 50
SAMPLE_CHARS = 200
SLOT_VALUE_CHARS = 140
NAME_CHARS = 50
SUMMARY_CHARS = 160
DESCRIPTION_CHARS = 4000
EXAMPLE_PHRASES = 3
KEYWORDS = 30

_LETTERS = r"[^\W\d_]"
_WORD = rf"{_LETTERS}(?:{_LETTERS}|['.\-])*"
_SLOT_REF = r"\{[A-Za-z_]+\}"
SAMPLE_RE = re.compile(rf"^(?:{_WORD}|{_SLOT_REF})(?: (?:{_WORD}|{_SLOT_REF}))*$")
INVOCATION_RE = re.compile(rf"^{_WORD}(?: {_WORD})*$")
NAME_RE = re.compile(r"^[A-Za-z][A-Za-z_]*$")


def _key(text: str) -> str:
    return " ".join(text.casefold().split())


# -- single values the CLI checks before building -----------------------------------------------------------


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be given to Amazon (not https, no host, a reserved or private host), or None."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower().rstrip(".")
        port = parts.port
    except ValueError:
        return f"{url!r} is not a URL"
    if parts.scheme != "https":
        return f"{url!r} is not an https URL; Alexa accepts only https"
    if not host:
        return f"{url!r} has no host name"
    if host.endswith(RESERVED_SUFFIXES) or any(host == d or host.endswith(f".{d}") for d in RESERVED_DOMAINS):
        return f"{url!r} is a placeholder or local host, which Alexa cannot reach"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None and not address.is_global:
        return f"{url!r} is a private or local address, which Alexa cannot reach"
    if parts.username or parts.password:
        return f"{url!r} carries a user name or password"
    if port not in (None, 443):
        return f"{url!r} uses port {port}; Alexa calls skill endpoints on port 443 only"
    return None


LAMBDA_ARN_RE = re.compile(r"^arn:aws:lambda:[a-z]{2}(?:-[a-z]+)+-\d:\d{12}:function:[A-Za-z0-9_-]{1,64}"
                           r"(?::[A-Za-z0-9_$-]{1,128})?$")


def endpoint_problem(value: str) -> str | None:
    """Why ``value`` is not a skill endpoint: an https URL Alexa can reach, or an AWS Lambda function ARN."""
    if value.startswith("arn:"):
        if LAMBDA_ARN_RE.match(value):
            return None
        return (f"{value!r} is not an AWS Lambda function ARN "
                "(arn:aws:lambda:<region>:<account>:function:<name>)")
    return url_problem(value)


def invocation_problems(name: str, locales: Iterable[str] | None = None) -> list[str]:
    """Why ``name`` is not an invocation name Amazon accepts in these locales (all known ones by default)."""
    locales = list(locales) if locales is not None else build.available_locales()
    found: list[str] = []
    if name != name.strip() or "  " in name:
        found.append(f"invocation name {name!r} has extra spaces")
    if not INVOCATION_RE.match(name.strip()) or name != name.lower():
        found.append(f"invocation name {name!r} may hold only lower-case letters, spaces, possessive apostrophes"
                     " and periods of spoken abbreviations (spell numbers out)")
    if not 2 <= len(name) <= INVOCATION_CHARS:
        found.append(f"invocation name {name!r} must be 2 to {INVOCATION_CHARS} characters")
    words = name.split()
    if len(words) < 2:
        found.append(f"invocation name {name!r} is one word; Amazon allows that only for a unique brand, "
                     "so use two or more words")
    lowered = [w.lower() for w in words]
    banned = sorted({w for w in lowered if w in FORBIDDEN_WORDS})
    if banned:
        found.append(f"invocation name {name!r} contains {', '.join(repr(w) for w in banned)} "
                     "(wake words and the words \"skill\" and \"app\" are not allowed)")
    for code in locales:
        rules = build.rules_for(code)
        launch = sorted({w for w in lowered if w in rules.get("launchWords", [])}
                        | {w for w in lowered if w in rules.get("connectingWords", [])})
        if launch:
            found.append(f"invocation name {name!r} contains the launch or connecting word"
                         f"{'s' if len(launch) > 1 else ''} {', '.join(repr(w) for w in launch)} ({code})")
        fillers = rules.get("twoWordFillers", [])
        if len(lowered) == 2 and any(w in fillers for w in lowered):
            found.append(f"invocation name {name!r} is two words, one an article, pronoun or preposition "
                         f"({code})")
    return list(dict.fromkeys(found))


# -- the package -------------------------------------------------------------------------------------------


def read_dir(path: str | Path) -> dict[str, bytes]:
    root = Path(path)
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def validate_dir(path: str | Path) -> list[str]:
    return problems(read_dir(path))


def _load(files: Mapping[str, bytes], path: str, found: list[str]) -> Any:
    try:
        return json.loads(files[path])
    except KeyError:
        found.append(f"{path}: missing")
    except (ValueError, UnicodeDecodeError) as exc:
        found.append(f"{path}: not valid JSON ({exc})")
    return None


def problems(files: Mapping[str, bytes]) -> list[str]:
    found: list[str] = []
    document = _load(files, "skill.json", found)
    if document is None:
        return found
    manifest = document.get("manifest") if isinstance(document, dict) else None
    if not isinstance(manifest, dict):
        return found + ["skill.json: no manifest object"]
    locales = _check_manifest(manifest, files, found)
    models: dict[str, dict[str, Any]] = {}
    for code in locales:
        path = f"{build.MODEL_DIR}/{code}.json"
        model = _load(files, path, found)
        if model is not None:
            language_model = (model.get("interactionModel") or {}).get("languageModel")
            if not isinstance(language_model, dict):
                found.append(f"{path}: no interactionModel.languageModel")
                continue
            models[code] = language_model
            _check_model(path, code, language_model, found)
            _check_examples(code, manifest, language_model, found)
    for path in files:
        if path.startswith(f"{build.MODEL_DIR}/") and path.endswith(".json"):
            code = path.rsplit("/", 1)[1][:-5]
            if code not in locales:
                found.append(f"{path}: a model for {code}, which skill.json does not publish")
    _check_same_shape(models, found)
    return found


def _check_url(where: str, url: Any, found: list[str]) -> None:
    if not isinstance(url, str) or not url:
        found.append(f"{where}: missing")
        return
    problem = url_problem(url)
    if problem:
        found.append(f"{where}: {problem}")


def _check_icon(where: str, uri: Any, size: int, files: Mapping[str, bytes], found: list[str]) -> None:
    if not isinstance(uri, str) or not uri:
        found.append(f"{where}: missing")
    elif uri.startswith("file://"):
        content = files.get(uri[len("file://"):])
        if content is None:
            found.append(f"{where}: {uri} is not in the package")
        elif png_size(content) != (size, size):
            found.append(f"{where}: {uri} must be a {size}x{size} PNG")
    else:
        _check_url(where, uri, found)


def _check_manifest(manifest: dict[str, Any], files: Mapping[str, bytes], found: list[str]) -> list[str]:
    where = "skill.json: manifest"
    if manifest.get("manifestVersion") != "1.0":
        found.append(f"{where}.manifestVersion: must be \"1.0\"")
    publishing = manifest.get("publishingInformation") or {}
    locales_info = publishing.get("locales") or {}
    if not locales_info:
        found.append(f"{where}.publishingInformation.locales: no locale")
    for code, info in locales_info.items():
        at = f"{where}.publishingInformation.locales.{code}"
        name = info.get("name")
        if not isinstance(name, str) or not 2 <= len(name) <= NAME_CHARS:
            found.append(f"{at}.name: required, 2 to {NAME_CHARS} characters")
        for key, limit in (("summary", SUMMARY_CHARS), ("description", DESCRIPTION_CHARS)):
            text = info.get(key)
            if not isinstance(text, str) or not text.strip():
                found.append(f"{at}.{key}: required")
            elif len(text) > limit:
                found.append(f"{at}.{key}: {len(text)} characters, at most {limit}")
        phrases = info.get("examplePhrases") or []
        if not 1 <= len(phrases) <= EXAMPLE_PHRASES:
            found.append(f"{at}.examplePhrases: 1 to {EXAMPLE_PHRASES} phrases")
        if len(info.get("keywords") or []) > KEYWORDS:
            found.append(f"{at}.keywords: at most {KEYWORDS}")
        _check_icon(f"{at}.smallIconUri", info.get("smallIconUri"), 108, files, found)
        _check_icon(f"{at}.largeIconUri", info.get("largeIconUri"), 512, files, found)
    if not publishing.get("isAvailableWorldwide") and not publishing.get("distributionCountries"):
        found.append(f"{where}.publishingInformation.distributionCountries: required unless available worldwide")
    for key in ("category", "testingInstructions"):
        if not publishing.get(key):
            found.append(f"{where}.publishingInformation.{key}: required")

    privacy = manifest.get("privacyAndCompliance") or {}
    for key in ("allowsPurchases", "usesPersonalInfo", "isChildDirected", "isExportCompliant", "containsAds"):
        if not isinstance(privacy.get(key), bool):
            found.append(f"{where}.privacyAndCompliance.{key}: required, true or false")
    for code in locales_info:
        at = f"{where}.privacyAndCompliance.locales.{code}"
        urls = (privacy.get("locales") or {}).get(code) or {}
        if privacy.get("usesPersonalInfo") or "privacyPolicyUrl" in urls:
            _check_url(f"{at}.privacyPolicyUrl", urls.get("privacyPolicyUrl"), found)
        if "termsOfUseUrl" in urls:
            _check_url(f"{at}.termsOfUseUrl", urls.get("termsOfUseUrl"), found)

    endpoints = [("apis.custom.endpoint", ((manifest.get("apis") or {}).get("custom") or {}).get("endpoint"))]
    if manifest.get("events"):
        endpoints.append(("events.endpoint", manifest["events"].get("endpoint")))
    for at, endpoint in endpoints:
        if not isinstance(endpoint, dict):
            found.append(f"{where}.{at}: missing")
            continue
        uri = endpoint.get("uri")
        if not isinstance(uri, str) or not uri:
            found.append(f"{where}.{at}.uri: missing")
            continue
        problem = endpoint_problem(uri)
        if problem:
            found.append(f"{where}.{at}.uri: {problem}")
        if uri.startswith("arn:"):
            if "sslCertificateType" in endpoint:
                found.append(f"{where}.{at}.sslCertificateType: only for an https endpoint, not a Lambda ARN")
        elif endpoint.get("sslCertificateType") not in SSL_CERTIFICATE_TYPES:
            found.append(f"{where}.{at}.sslCertificateType: one of {', '.join(SSL_CERTIFICATE_TYPES)}")
    return list(locales_info)


def _check_model(path: str, code: str, model: dict[str, Any], found: list[str]) -> None:
    name = model.get("invocationName")
    if not isinstance(name, str):
        found.append(f"{path}: invocationName missing")
    else:
        found.extend(f"{path}: {problem}" for problem in invocation_problems(name, [code]))

    types = {t.get("name"): t for t in model.get("types") or []}
    for type_name, slot_type in types.items():
        at = f"{path}: slot type {type_name}"
        if not isinstance(type_name, str) or not NAME_RE.match(type_name) or type_name.startswith("AMAZON"):
            found.append(f"{at}: a custom slot type name is letters and underscores, not AMAZON.*")
        values = slot_type.get("values") or []
        if not values:
            found.append(f"{at}: no values")
        ids: set[str] = set()
        owner: dict[str, str] = {}
        for value in values:
            ident = value.get("id")
            if ident in ids:
                found.append(f"{at}: id {ident!r} used twice")
            ids.add(ident)
            phrases = [value.get("name", {}).get("value", ""), *value.get("name", {}).get("synonyms", [])]
            for phrase in phrases:
                if not isinstance(phrase, str) or not phrase.strip():
                    found.append(f"{at}: an empty value or synonym in {ident!r}")
                    continue
                if len(phrase) > SLOT_VALUE_CHARS:
                    found.append(f"{at}: {phrase[:40]!r}... is over {SLOT_VALUE_CHARS} characters")
                key = _key(phrase)
                if key in owner and owner[key] != ident:
                    found.append(f"{at}: {phrase!r} belongs to both {owner[key]!r} and {ident!r}")
                owner.setdefault(key, ident)

    intents = model.get("intents") or []
    names = [i.get("name") for i in intents]
    for duplicate in sorted({n for n in names if names.count(n) > 1}):
        found.append(f"{path}: intent {duplicate} declared twice")
    for required in REQUIRED_BUILT_INS:
        if required not in names:
            found.append(f"{path}: required built-in intent {required} is missing")
    used_types: set[str] = set()
    sample_owner: dict[str, str] = {}
    # What the built-in intents already answer ("stop", "hilfe"): a custom sample saying it steals it.
    built_in_phrases = {_key(p) for p in build.rules_for(code).get("builtInPhrases", [])}
    for intent in intents:
        intent_name = intent.get("name") or ""
        at = f"{path}: {intent_name}"
        built_in = intent_name.startswith("AMAZON.")
        if not built_in and not NAME_RE.match(intent_name):
            found.append(f"{at}: an intent name is letters and underscores")
        slots = {}
        for slot in intent.get("slots") or []:
            slot_name, slot_type = slot.get("name", ""), slot.get("type", "")
            if not NAME_RE.match(slot_name):
                found.append(f"{at}: slot name {slot_name!r} is letters and underscores")
            if slot_name in slots:
                found.append(f"{at}: slot {slot_name} declared twice")
            slots[slot_name] = slot_type
            used_types.add(slot_type)
            if not slot_type.startswith("AMAZON.") and slot_type not in types:
                found.append(f"{at}: slot {slot_name} has type {slot_type}, which is neither defined nor built in")
        samples = intent.get("samples") or []
        if not built_in and not samples:
            found.append(f"{at}: a custom intent needs sample utterances")
        for sample in samples:
            if not isinstance(sample, str) or not SAMPLE_RE.match(sample):
                found.append(f"{at}: sample {sample!r} may hold only words (letters, apostrophes, periods, hyphens)"
                             " and {slot} references, single-spaced; spell numbers out")
                continue
            if len(sample) > SAMPLE_CHARS:
                found.append(f"{at}: sample {sample[:40]!r}... is over {SAMPLE_CHARS} characters")
            refs = re.findall(r"\{([A-Za-z_]+)\}", sample)
            for ref in sorted(set(refs)):
                if ref not in slots:
                    found.append(f"{at}: sample {sample!r} uses {{{ref}}}, which is not a slot of this intent")
                elif refs.count(ref) > 1:
                    found.append(f"{at}: sample {sample!r} uses {{{ref}}} more than once")
            words = set(_key(re.sub(_SLOT_REF, " ", sample)).split())
            if "alexa" in words:
                found.append(f"{at}: sample {sample!r} contains the wake word")
            key = _key(sample)
            if not built_in and key in built_in_phrases:
                found.append(f"{at}: sample {sample!r} is what a built-in intent answers")
            if key in sample_owner:
                where = "twice" if sample_owner[key] == intent_name else f"also in {sample_owner[key]}"
                found.append(f"{at}: sample {sample!r} is not unique ({where})")
            sample_owner.setdefault(key, intent_name)
    for unused in sorted(set(types) - used_types):
        found.append(f"{path}: slot type {unused} is defined but no slot uses it")


def _pattern(template: str, invocation: str, utterance: bool) -> re.Pattern[str]:
    text = re.escape(template.casefold()).replace(re.escape("{invocation}"), re.escape(invocation.casefold()))
    if utterance:
        text = text.replace(re.escape("{utterance}"), "(?P<utterance>.+)")
    return re.compile(f"^{text}$")


def _check_examples(code: str, manifest: dict[str, Any], model: dict[str, Any], found: list[str]) -> None:
    info = ((manifest.get("publishingInformation") or {}).get("locales") or {}).get(code) or {}
    phrases = info.get("examplePhrases") or []
    rules = build.rules_for(code)
    invocation = model.get("invocationName") or ""
    if not phrases or not rules:
        return
    at = f"skill.json: manifest.publishingInformation.locales.{code}.examplePhrases"
    # A sample that is nothing but a slot ("{pin}") would match any phrase, so it cannot vouch for one.
    samples = [re.compile("^" + re.sub(r"\\\{[A-Za-z_]+\\\}", ".+", re.escape(_key(s))) + "$")
               for i in model.get("intents") or [] for s in i.get("samples") or []
               if isinstance(s, str) and re.sub(_SLOT_REF, "", s).strip()]

    def normal(phrase: str) -> str:
        return _key(phrase).rstrip(".?!")

    first = normal(phrases[0])
    if not any(_pattern(t, invocation, False).match(first) for t in rules.get("launchPhrases", [])) and \
            not _matches_request(first, rules, invocation, samples):
        found.append(f"{at}[0]: {phrases[0]!r} must be the wake word, a launch phrase and the invocation name")
    for index, phrase in enumerate(phrases[1:], start=1):
        if not _matches_request(normal(phrase), rules, invocation, samples):
            found.append(f"{at}[{index}]: {phrase!r} is not \"Alexa\", a launch phrase, the invocation name and "
                         "one of this locale's sample utterances")


def _matches_request(phrase: str, rules: dict[str, Any], invocation: str, samples: list[re.Pattern[str]]) -> bool:
    for template in rules.get("requestPhrases", []):
        match = _pattern(template, invocation, True).match(phrase)
        if match and any(s.match(match.group("utterance").strip(" ,")) for s in samples):
            return True
    return False


def _check_same_shape(models: dict[str, dict[str, Any]], found: list[str]) -> None:
    """Every locale has the same intents, each with the same slots of the same types, and the same slot types."""
    def shape(model: dict[str, Any]) -> tuple:
        intents = tuple(sorted((i.get("name"), tuple(sorted((s.get("name"), s.get("type"))
                                                            for s in i.get("slots") or [])))
                               for i in model.get("intents") or []))
        return intents, tuple(sorted(t.get("name") for t in model.get("types") or []))

    if len(models) < 2:
        return
    codes = sorted(models)
    reference = shape(models[codes[0]])
    for code in codes[1:]:
        if shape(models[code]) != reference:
            found.append(f"{build.MODEL_DIR}/{code}.json: its intents, slots or slot types differ from {codes[0]}'s")
