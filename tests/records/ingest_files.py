"""Departmental files for the ingestion tests, written programmatically into tmp_path."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import orjson

from tests.subjects.factories import uscc

AUTHORITY_CODE = uscc(4711, prefix="11", division="370200")

PENALTY_HEADER_ZH = [
    "行政相对人名称",
    "统一社会信用代码",
    "行政处罚决定书文号",
    "违法行为类型",
    "违法事实",
    "处罚依据",
    "处罚类别",
    "罚款金额（万元）",
    "处罚决定日期",
    "处罚机关",
    "处罚机关统一社会信用代码",
]
PENALTY_FIELDS = [
    "subject_name",
    "subject_code",
    "decision_no",
    "violation_type",
    "facts",
    "legal_basis",
    "penalty_category",
    "fine_amount",
    "decision_date",
    "authority",
    "authority_code",
]


def penalty(n: int, name: str, **over: Any) -> dict[str, Any]:
    """A valid admin_penalty row about subject ``uscc(n)`` named ``name``."""
    row = {
        "subject_name": name,
        "subject_code": uscc(n),
        "decision_no": f"青市监罚〔2024〕{n}号",
        "violation_type": "虚假宣传",
        "facts": "在网店发布虚假广告",
        "legal_basis": "《广告法》第五十五条",
        "penalty_category": "罚款",
        "fine_amount": "1.5",
        "decision_date": "2024-03-01",
        "authority": "青岛市市场监督管理局",
        "authority_code": AUTHORITY_CODE,
    }
    row.update(over)
    return row


def rows_to_cells(rows: list[dict[str, Any]], fields: list[str]) -> list[list[str]]:
    return [[str(r.get(f, "")) for f in fields] for r in rows]


def write_csv(
    path: Path,
    rows: list[dict[str, Any]],
    *,
    header: list[str] | None = None,
    fields: list[str] | None = None,
    encoding: str = "utf-8",
) -> Path:
    fields = fields or (list(rows[0]) if rows else PENALTY_FIELDS)
    header = header or fields
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows_to_cells(rows, fields))
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def write_xlsx(path: Path, rows: list[dict[str, Any]], *, header: list[str] | None = None) -> Path:
    import openpyxl

    fields = list(rows[0])
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(header or fields)
    for r in rows:
        ws.append([r.get(f) for f in fields])
    wb.save(path)
    return path


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path
