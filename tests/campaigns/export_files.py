"""Ads Manager export files for import tests, down to the bytes: CSV text, and XLSX workbooks written as raw XML
(openpyxl's writer cannot put a DTD, a `_x0000_` escape, a lying <dimension> or a numeric cell of "1E+400" in a
sheet; these builders can)."""

import csv
import dataclasses
import io
import re
import zipfile
from xml.sax.saxutils import escape

from openpyxl.utils import get_column_letter

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
_DOC_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"
# What XML 1.0 cannot carry; Excel writes such characters as _xHHHH_, which openpyxl reads back.
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclasses.dataclass(frozen=True)
class Raw:
    """A cell's XML as it is: `Raw("<v>1E+400</v>")`, `Raw("<is><t>&a;</t></is>", ' t="inlineStr"')`."""

    inner: str
    attrs: str = ""


def csv_bytes(rows: list[list], *, encoding: str = "utf-8") -> bytes:
    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode(encoding)


def xlsx_text_as_read(value: str) -> str:
    """What openpyxl reads back from `value` written into a sheet: characters XML cannot carry as Excel escapes
    them ("_x0007_", which openpyxl 3.1 leaves as it is), line breaks as the XML parser normalises them."""
    return _NOT_XML.sub(lambda m: f"_x{ord(m.group()):04X}_", value).replace("\r\n", "\n").replace("\r", "\n")


def _text(value: str) -> str:
    return escape(_NOT_XML.sub(lambda m: f"_x{ord(m.group()):04X}_", value))


def _cell(ref: str, value, shared: list[str] | None) -> str:
    if isinstance(value, Raw):
        return f'<c r="{ref}"{value.attrs}>{value.inner}</c>'
    if isinstance(value, bool):
        return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
    if isinstance(value, int | float):
        return f'<c r="{ref}"><v>{value!r}</v></c>'
    if shared is not None:
        shared.append(str(value))
        return f'<c r="{ref}" t="s"><v>{len(shared) - 1}</v></c>'
    return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{_text(str(value))}</t></is></c>'


def xlsx_raw(
    rows: list[list],
    *,
    shared_strings: bool = False,
    prolog: str = "",
    dimension: str = "",
    row_numbers: list[int] | None = None,
    extra_parts: dict[str, bytes] | None = None,
) -> bytes:
    """A workbook whose first sheet holds `rows` (None cells are left out). Strings go inline, or into the
    shared strings part; `prolog` goes between the XML declaration and <worksheet> (a DOCTYPE, say);
    `row_numbers` are the sheet rows the rows go to (default 1, 2, 3, …)."""
    shared: list[str] | None = [] if shared_strings else None
    numbers = row_numbers or list(range(1, len(rows) + 1))
    sheet_rows = []
    for number, cells in zip(numbers, rows, strict=True):
        xml = "".join(
            _cell(f"{get_column_letter(col)}{number}", value, shared)
            for col, value in enumerate(cells, start=1)
            if value is not None and value != ""
        )
        sheet_rows.append(f'<row r="{number}">{xml}</row>')
    dimension_xml = f'<dimension ref="{dimension}"/>' if dimension else ""
    sheet = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>{prolog}<worksheet xmlns="{_MAIN}">'
        f"{dimension_xml}<sheetData>{''.join(sheet_rows)}</sheetData></worksheet>"
    )
    overrides = [
        f'<Override PartName="/xl/workbook.xml" ContentType="{_CT}.sheet.main+xml"/>',
        f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{_CT}.worksheet+xml"/>',
    ]
    workbook_rels = [f'<Relationship Id="rId1" Type="{_DOC_RELS}/worksheet" Target="worksheets/sheet1.xml"/>']
    parts = {
        "_rels/.rels": (
            f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{_RELS}">'
            f'<Relationship Id="rId1" Type="{_DOC_RELS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{_MAIN}" xmlns:r="{_DOC_RELS}">'
            '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/worksheets/sheet1.xml": sheet,
    }
    if shared is not None:
        overrides.append(f'<Override PartName="/xl/sharedStrings.xml" ContentType="{_CT}.sharedStrings+xml"/>')
        workbook_rels.append(f'<Relationship Id="rId2" Type="{_DOC_RELS}/sharedStrings" Target="sharedStrings.xml"/>')
        items = "".join(f'<si><t xml:space="preserve">{_text(s)}</t></si>' for s in shared)
        parts["xl/sharedStrings.xml"] = (
            f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{_MAIN}" count="{len(shared)}">{items}</sst>'
        )
    parts["xl/_rels/workbook.xml.rels"] = (
        f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{_RELS}">{"".join(workbook_rels)}</Relationships>'
    )
    parts["[Content_Types].xml"] = (
        '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
        'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        f"{''.join(overrides)}</Types>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in {**parts, **(extra_parts or {})}.items():
            archive.writestr(name, data)
    return buffer.getvalue()
