"""The credit information catalogue: datasets, their field schemas and code lists.

Loaded from ``catalogue/datasets.yaml`` and ``catalogue/codelists.yaml`` on first use and cached
for the life of the process. A bad file fails loudly (:class:`CatalogueError`) naming the file,
the dataset and the problem: the catalogue is configuration that decides what departments may
submit, so a silent default would be worse than a crash at start-up.

Headers: a column may be headed by the field's ``name`` or its ``label_zh``; both are compared
after :func:`normalize_header` (BOM and spaces stripped, full-width brackets and ASCII folded,
case ignored). Code-list cells may hold the code or its Chinese label.

Every ``record`` dataset also accepts an optional integer ``version`` column (aliases
``record_version``, 版本号): a row with a greater version than the stored record is an update.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from qualitycity.subjects.codelists import DISTRICTS, INDUSTRY_DIVISIONS, SUBJECT_TYPES

CATALOGUE_DIR = Path(__file__).parent / "catalogue"
DATASETS_FILE = CATALOGUE_DIR / "datasets.yaml"
CODELISTS_FILE = CATALOGUE_DIR / "codelists.yaml"

FIELD_TYPES = frozenset(
    {
        "string",
        "text",
        "subject_code",
        "subject_name",
        "person_name",
        "resident_id",
        "uscc",
        "date",
        "decimal",
        "integer",
        "code",
        "district",
        "industry",
        "subject_type",
    }
)
KINDS = frozenset({"record", "registration"})
POLARITIES = frozenset({"positive", "negative", "neutral"})
KEY_ROLES = ("subject_code", "subject_name", "record_id", "decision_date")
VERSION_FIELD = "version"


class CatalogueError(Exception):
    """The catalogue files are not valid; the message names the file, dataset and problem."""


# Full-width ASCII → half-width, ideographic space → nothing, plus the brackets people type.
_HEADER_TABLE = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_HEADER_TABLE.update(
    {
        ord("\ufeff"): None,
        ord("\u3000"): None,
        ord(" "): None,
        ord("\t"): None,
        ord("\u00a0"): None,
        ord("【"): "[",
        ord("】"): "]",
        ord("〔"): "(",
        ord("〕"): ")",
    }
)


def normalize_header(value: Any) -> str:
    """A header cell as compared with field names and labels."""
    if value is None:
        return ""
    return str(value).translate(_HEADER_TABLE).strip().lower()


@dataclass(frozen=True)
class Field:
    name: str
    label_zh: str
    type: str
    required: bool = False
    codelist: str | None = None
    allow_future: bool = False
    min: float | None = None
    max: float | None = None
    aliases: tuple[str, ...] = ()
    # code list: accepted cell (normalised) → code
    codes: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def headers(self) -> tuple[str, ...]:
        return (self.name, self.label_zh, *self.aliases)


@dataclass(frozen=True)
class Derivation:
    """A per-row value taken from a code-list field: ``{field, map}``."""

    field: str
    map: dict[str, Any]


@dataclass(frozen=True)
class Dataset:
    code: str
    name_zh: str
    name_en: str
    kind: str
    category: str
    polarity: str
    severity: int
    public: bool
    departments: tuple[str, ...]
    keys: dict[str, str]
    fields: tuple[Field, ...]
    legal_basis: str = ""
    double_publicity: bool = False
    subject_types: tuple[str, ...] = ()
    severity_from: Derivation | None = None
    polarity_from: Derivation | None = None
    public_when: Derivation | None = None  # map: value → True

    @property
    def is_registration(self) -> bool:
        return self.kind == "registration"

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @functools.cached_property
    def header_index(self) -> dict[str, str]:
        """Normalised header text → field name."""
        index: dict[str, str] = {}
        for f in self.fields:
            for h in f.headers:
                index[normalize_header(h)] = f.name
        return index

    @property
    def required_fields(self) -> list[str]:
        return [f.name for f in self.fields if f.required]

    def match_header(self, cells: list[Any]) -> tuple[list[str | None], list[str], list[str]]:
        """Map header cells to field names.

        Returns (field name or None per column, missing required field names, unknown cells).
        Blank header cells are ignored (columns left over from spreadsheets); a field named by
        two columns is reported as unknown the second time.
        """
        mapping: list[str | None] = []
        seen: set[str] = set()
        unknown: list[str] = []
        for cell in cells:
            key = normalize_header(cell)
            name = self.header_index.get(key)
            if not key:
                mapping.append(None)
                continue
            if name is None or name in seen:
                unknown.append(str(cell).strip())
                mapping.append(None)
                continue
            seen.add(name)
            mapping.append(name)
        missing = [f.name for f in self.fields if f.required and f.name not in seen]
        return mapping, missing, unknown

    def allowed(self, department_code: str) -> bool:
        return department_code in self.departments

    def derive(self, data: dict[str, Any]) -> tuple[str, int, bool]:
        """(polarity, severity, is_public) of a row's normalised data."""
        polarity, severity, public = self.polarity, self.severity, self.public
        if self.polarity_from is not None:
            polarity = self.polarity_from.map.get(data.get(self.polarity_from.field), polarity)
        if self.severity_from is not None:
            severity = self.severity_from.map.get(data.get(self.severity_from.field), severity)
        if self.public_when is not None:
            public = public or data.get(self.public_when.field) in self.public_when.map
        return polarity, severity, public

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name_zh": self.name_zh,
            "name_en": self.name_en,
            "kind": self.kind,
            "category": self.category,
            "polarity": self.polarity,
            "severity": self.severity,
            "public": self.public,
            "double_publicity": self.double_publicity,
            "departments": list(self.departments),
            "keys": dict(self.keys),
            "legal_basis": self.legal_basis,
            "fields": [
                {
                    "name": f.name,
                    "label_zh": f.label_zh,
                    "type": f.type,
                    "required": f.required,
                    **({"codelist": f.codelist} if f.codelist else {}),
                    **({"allow_future": True} if f.allow_future else {}),
                    **({"min": f.min} if f.min is not None else {}),
                    **({"max": f.max} if f.max is not None else {}),
                }
                for f in self.fields
            ],
        }


@dataclass(frozen=True)
class Catalogue:
    datasets: dict[str, Dataset]
    codelists: dict[str, dict[str, str]]


def _code_map(pairs: dict[str, str]) -> dict[str, str]:
    """Accepted cell (normalised) → code, for a code → label mapping."""
    out: dict[str, str] = {}
    for code, label in pairs.items():
        out[normalize_header(code)] = code
        out[normalize_header(label)] = code
    return out


def _builtin_codes(ftype: str) -> dict[str, str]:
    if ftype == "district":
        return _code_map({k: v[0] for k, v in DISTRICTS.items()})
    if ftype == "subject_type":
        return _code_map({k: v[0] for k, v in SUBJECT_TYPES.items()})
    if ftype == "industry":
        return _code_map({k: v[0] for k, v in INDUSTRY_DIVISIONS.items()})
    return {}


def _load_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CatalogueError(f"{path}: cannot be read: {exc}") from exc
    except yaml.YAMLError as exc:
        raise CatalogueError(f"{path}: is not valid YAML: {exc}") from exc


def load_catalogue(
    datasets_file: Path = DATASETS_FILE, codelists_file: Path = CODELISTS_FILE
) -> Catalogue:
    """Read and validate both files; raise CatalogueError naming file, dataset and problem."""
    raw_lists = _load_yaml(codelists_file)
    if not isinstance(raw_lists, dict):
        raise CatalogueError(f"{codelists_file}: must be a mapping of code list → codes")
    codelists: dict[str, dict[str, str]] = {}
    for name, entries in raw_lists.items():
        if not isinstance(entries, dict) or not entries:
            raise CatalogueError(f"{codelists_file}: code list {name!r} must map codes to labels")
        codelists[str(name)] = {str(k): str(v) for k, v in entries.items()}

    raw = _load_yaml(datasets_file)
    if not isinstance(raw, list):
        raise CatalogueError(f"{datasets_file}: must be a list of datasets")
    datasets: dict[str, Dataset] = {}
    for position, entry in enumerate(raw, 1):
        where = f"{datasets_file}: dataset #{position}"
        if not isinstance(entry, dict):
            raise CatalogueError(f"{where}: must be a mapping")
        code = entry.get("code")
        if code:
            where = f"{datasets_file}: dataset {code!r}"
        ds = _parse_dataset(entry, codelists, where)
        if ds.code in datasets:
            raise CatalogueError(f"{where}: the code is used twice")
        datasets[ds.code] = ds
    return Catalogue(datasets=datasets, codelists=codelists)


def _parse_dataset(entry: dict, codelists: dict[str, dict[str, str]], where: str) -> Dataset:
    def need(key: str) -> Any:
        if entry.get(key) in (None, ""):
            raise CatalogueError(f"{where}: missing {key!r}")
        return entry[key]

    kind = need("kind")
    if kind not in KINDS:
        raise CatalogueError(f"{where}: kind {kind!r} is not one of {sorted(KINDS)}")
    polarity = need("polarity")
    if polarity not in POLARITIES:
        raise CatalogueError(f"{where}: polarity {polarity!r} is not one of {sorted(POLARITIES)}")
    severity = entry.get("severity", 0)
    if not isinstance(severity, int) or not 0 <= severity <= 3:
        raise CatalogueError(f"{where}: severity must be an integer 0..3")
    departments = need("departments")
    if not isinstance(departments, list) or not all(isinstance(d, str) for d in departments):
        raise CatalogueError(f"{where}: departments must be a list of department codes")

    fields: list[Field] = []
    names: set[str] = set()
    raw_fields = need("fields")
    if not isinstance(raw_fields, list):
        raise CatalogueError(f"{where}: fields must be a list")
    for i, rf in enumerate(raw_fields, 1):
        if not isinstance(rf, dict) or not rf.get("name") or not rf.get("type"):
            raise CatalogueError(f"{where}: field #{i} needs at least a name and a type")
        fname, ftype = str(rf["name"]), str(rf["type"])
        if fname in names:
            raise CatalogueError(f"{where}: field {fname!r} is defined twice")
        if ftype not in FIELD_TYPES:
            raise CatalogueError(
                f"{where}: field {fname!r} has unknown type {ftype!r} "
                f"(valid: {', '.join(sorted(FIELD_TYPES))})"
            )
        codes: dict[str, str] = _builtin_codes(ftype)
        codelist = rf.get("codelist")
        if ftype == "code":
            if not codelist or codelist not in codelists:
                raise CatalogueError(
                    f"{where}: field {fname!r} refers to unknown code list {codelist!r}"
                )
            codes = _code_map(codelists[codelist])
        for bound in ("min", "max"):
            if bound in rf and not isinstance(rf[bound], int | float):
                raise CatalogueError(f"{where}: field {fname!r}: {bound} must be a number")
        names.add(fname)
        fields.append(
            Field(
                name=fname,
                label_zh=str(rf.get("label_zh") or fname),
                type=ftype,
                required=bool(rf.get("required", False)),
                codelist=codelist,
                allow_future=bool(rf.get("allow_future", False)),
                min=rf.get("min"),
                max=rf.get("max"),
                aliases=tuple(rf.get("aliases") or ()),
                codes=codes,
            )
        )
    if kind == "record" and VERSION_FIELD not in names:
        fields.append(
            Field(
                name=VERSION_FIELD,
                label_zh="版本号",
                type="integer",
                min=1,
                max=1_000_000,
                aliases=("record_version", "版本"),
            )
        )
        names.add(VERSION_FIELD)

    keys = need("keys")
    if not isinstance(keys, dict):
        raise CatalogueError(f"{where}: keys must be a mapping")
    for role in KEY_ROLES:
        if role not in keys:
            raise CatalogueError(f"{where}: keys.{role} is missing")
        if keys[role] not in names:
            raise CatalogueError(f"{where}: keys.{role} names unknown field {keys[role]!r}")
    code_field = next(f for f in fields if f.name == keys["subject_code"])
    if code_field.type not in ("subject_code", "resident_id", "uscc"):
        raise CatalogueError(f"{where}: keys.subject_code must be a subject_code field")

    by_name = {f.name: f for f in fields}

    def derivation(key: str, values_ok) -> Derivation | None:
        spec = entry.get(key)
        if spec is None:
            return None
        if not isinstance(spec, dict) or spec.get("field") not in by_name:
            raise CatalogueError(f"{where}: {key}.field must name a field of the dataset")
        f = by_name[spec["field"]]
        if key == "public_when":
            values = spec.get("values")
            if not isinstance(values, list):
                raise CatalogueError(f"{where}: public_when.values must be a list")
            mapping = {str(v): True for v in values}
        else:
            mapping = spec.get("map")
            if not isinstance(mapping, dict):
                raise CatalogueError(f"{where}: {key}.map must be a mapping")
            mapping = {str(k): v for k, v in mapping.items()}
        if f.codes:
            valid = set(f.codes.values())
            bad = [k for k in mapping if k not in valid]
            if bad:
                raise CatalogueError(
                    f"{where}: {key} maps values {bad} that are not codes of field {f.name!r}"
                )
        for v in mapping.values():
            if not values_ok(v):
                raise CatalogueError(f"{where}: {key} has an invalid value {v!r}")
        return Derivation(field=f.name, map=mapping)

    subject_types = tuple(entry.get("subject_types") or ())
    bad_types = [t for t in subject_types if t not in SUBJECT_TYPES]
    if bad_types:
        raise CatalogueError(f"{where}: unknown subject_types {bad_types}")

    return Dataset(
        code=str(need("code")),
        name_zh=str(need("name_zh")),
        name_en=str(need("name_en")),
        kind=kind,
        category=str(need("category")),
        polarity=polarity,
        severity=severity,
        public=bool(entry.get("public", True)),
        departments=tuple(departments),
        keys={role: str(keys[role]) for role in KEY_ROLES},
        fields=tuple(fields),
        legal_basis=str(entry.get("legal_basis") or ""),
        double_publicity=bool(entry.get("double_publicity", False)),
        subject_types=subject_types,
        severity_from=derivation("severity_from", lambda v: isinstance(v, int) and 0 <= v <= 3),
        polarity_from=derivation("polarity_from", lambda v: v in POLARITIES),
        public_when=derivation("public_when", lambda v: True),
    )


@functools.cache
def catalogue() -> Catalogue:
    """The catalogue, loaded and validated once per process."""
    return load_catalogue()


def datasets() -> list[Dataset]:
    """Every dataset, registration datasets first, in file order otherwise."""
    items = list(catalogue().datasets.values())
    return sorted(items, key=lambda d: 0 if d.is_registration else 1)


def get_dataset(code: str) -> Dataset:
    """The dataset with this code; raises NotFound (``unknown_dataset``)."""
    ds = catalogue().datasets.get(code)
    if ds is None:
        from qualitycity.core.errors import NotFound

        raise NotFound(
            f"Unknown dataset: {code}",
            code="unknown_dataset",
            details={"valid": sorted(catalogue().datasets)},
        )
    return ds
