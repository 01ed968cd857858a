"""CSV export of QA flags that is safe to open in a spreadsheet.

Transcript text and reviewer comments end up in the file, and a cell that starts with
``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return, which some spreadsheets skip
before such a character) is run as a formula by Excel, LibreOffice and Google Sheets:
"CSV injection". Every such cell gets a leading single quote, which spreadsheets show as
text and never evaluate (OWASP's advice).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# Excel reads a CSV without a byte-order mark as the local code page and garbles Chinese.
UTF8_BOM = "\ufeff"


def neutralize(cell: str) -> str:
    """The cell as a spreadsheet will show it as text, never run it as a formula."""
    return "'" + cell if cell.startswith(FORMULA_TRIGGERS) else cell


def to_csv(rows: Iterable[Sequence[str]]) -> str:
    """Rows as CSV text (RFC 4180 quoting), every cell neutralized."""
    buffer = io.StringIO()
    buffer.write(UTF8_BOM)
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow([neutralize(cell) for cell in row])
    return buffer.getvalue()
